"""Euler samplers of the σ-ODE: ``euler`` (deterministic) and ``euler_ancestral``.

Notation: (a, b) = scaler(λ), (a′, b′) = scaler(λ′), σ = b/a = e^(−λ/2), h = (λ′ − λ)/2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase, StepRows
from gdf_core.noise import randn_like
from gdf_core.tensors import as_dtype
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers.ancestral import AncestralSamplerBase, ancestral_split
from gdf_plugins.samplers.maths.combine import combine_rows, compute
from gdf_plugins.samplers.maths.levels import Levels


def _rows(c: list[Tensor]) -> Tensor:
    return torch.stack(torch.broadcast_tensors(*c))


class EulerSampler(SamplerBase):
    """Euler's method on the probability-flow ODE in σ (Karras et al. 2022, "EDM", Alg. 1 / eq. 1).

    In y = x/a the ODE is dy/dσ = ε̂, so one step is y′ = y + (σ′ − σ)·ε̂, i.e.
    x′ = a′·x̂0 + b′·ε̂ for every input scaler: the same step as deterministic
    DDIM (Song et al. 2021) and as the Euler step of rectified flow in t
    (Liu et al. 2022), since all three are the first-order exponential
    integrator of the same ODE. Order 1; exact at λ = −∞ and λ′ = +∞.
    """

    name = "euler"

    def coefficients(self, lv: Levels) -> Tensor:
        return _rows([lv.a_next, lv.b_next])

    def steps_toward_noise(self) -> bool:
        """``Reversible``: the Euler step y′ = y + (σ′ − σ)·ε̂ holds for σ′ > σ too."""
        return True

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> StepRows:
        return StepRows(self.coefficients(Levels(scaler, logsnrs[:-1], logsnrs[1:])).transpose(0, 1))

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, eps = denoise(x, logsnr)
        plan = state.plan
        c = plan[state.step] if plan is not None else self.coefficients(Levels(scaler, logsnr, logsnr_next))
        return as_dtype(combine_rows(c, [compute(x0), compute(eps)]), x.dtype)


class EulerAncestralSampler(AncestralSamplerBase):
    """Ancestral Euler: an Euler step to σ_down, then fresh noise of scale σ_up (Ho et al. 2020;
    the ancestral split of Song et al. 2021, "DDIM", eq. 16, in σ as in Karras et al. 2022).

    x′ = a′·x̂0 + b′·((σ_down/σ′)·ε̂ + s_noise·(σ_up/σ′)·z) with z ~ N(0, I) drawn from the
    generator. ``eta`` = 1 is DDPM's posterior variance, 0 is deterministic Euler.
    """

    name = "euler_ancestral"

    def coefficients(self, lv: Levels) -> Tensor:
        down, up = ancestral_split(lv.h, self.eta)
        return _rows([lv.a_next, lv.b_next * down, lv.b_next * up * self.s_noise])

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> StepRows:
        return StepRows(self.coefficients(Levels(scaler, logsnrs[:-1], logsnrs[1:])).transpose(0, 1))

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, eps = denoise(x, logsnr)
        plan = state.plan
        c = plan[state.step] if plan is not None else self.coefficients(Levels(scaler, logsnr, logsnr_next))
        x0c = compute(x0)
        z = randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))
        return as_dtype(combine_rows(c, [x0c, compute(eps), z]), x.dtype)


__all__ = ["EulerAncestralSampler", "EulerSampler"]
