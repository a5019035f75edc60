"""The original GDF's samplers: one model call per step, x′ from the model's x0 and ε at λ.

Notation: (a, b) = scaler(λ), (a′, b′) = scaler(λ′), λ′ the next (less noisy) level.
``prepare`` computes every step's coefficients of a run at once; ``update`` (the
original's call) computes one step's from its λ and λ′: the same numbers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import FirstOrderSampler, StepRows
from gdf_core.noise import randn_like
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype
from gdf_plugins.samplers.domains import NoiseAmount, check_noise_amount
from gdf_plugins.samplers.maths.combine import combine_rows, compute
from gdf_plugins.samplers.maths.levels import half_logsnr, same_level, scaler_coeffs


def ancestral_sigma(logsnr: Tensor, logsnr_next: Tensor, b_next: Tensor, eta: float) -> Tensor:
    """ς = eta·b′·√(1 − e^(λ − λ′)): the fresh-noise scale of a DDIM step (Song et al. 2021, eq. 16).

    The DDPM posterior std written in λ, so it holds for every scaler: for
    ``vp`` it equals the paper's (b′/b)·√(1 − a²/a′²); the original's form was
    wrong for ``lerp``. −expm1 keeps it exact for small steps; it is 0 at b′ = 0.
    """
    step = torch.nan_to_num(logsnr - logsnr_next, nan=0.0).clamp(max=0)  # λ = λ′ = +∞: no step, no noise
    ratio = (-torch.expm1(step)).clamp(min=0)
    return eta * b_next * ratio.sqrt()


class _PlannedFirstOrder(FirstOrderSampler):
    """A first-order sampler whose coefficients depend on λ, λ′ only: ``coefficients`` then ``apply``."""

    def coefficients(self, scaler: InputScaler, logsnr: Tensor, logsnr_next: Tensor) -> Tensor:
        raise NotImplementedError

    def apply(self, c: Tensor, x: Tensor, x0: Tensor, epsilon: Tensor, generator: Any) -> Tensor:
        raise NotImplementedError

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> StepRows:
        return StepRows(self.coefficients(scaler, logsnrs[:-1], logsnrs[1:]).transpose(0, 1))

    def update(
        self,
        x: Tensor,
        x0: Tensor,
        epsilon: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        generator: Any = None,
    ) -> Tensor:
        return self.apply(self.coefficients(scaler, logsnr, logsnr_next), x, x0, epsilon, generator)

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
        x0, epsilon = denoise(x, logsnr)
        plan = state.plan
        c = plan[state.step] if plan is not None else self.coefficients(scaler, logsnr, logsnr_next)
        return self.apply(c, x, x0, epsilon, generator)


class DDIMSampler(_PlannedFirstOrder):
    """x′ = a′·x0 + √(b′² − ς²)·ε + ς·z with ς = eta·b′·√(1 − e^(λ−λ′)) (Song et al. 2021, "DDIM").

    eta = 0 is the deterministic DDIM step x′ = a′·x0 + b′·ε; eta = 1 is ancestral (DDPM) sampling.
    """

    name = "ddim"

    def __init__(self, gdf: Any = None, *, eta: NoiseAmount = 0.0) -> None:
        self.eta = check_noise_amount(self.name, "eta", eta, " (the share of fresh noise)")
        super().__init__(gdf)

    @property  # type: ignore[override]
    def stochastic(self) -> bool:
        """Whether a step draws fresh noise: whenever eta > 0."""
        return self.eta > 0

    def steps_toward_noise(self) -> bool:
        """``Reversible``: with eta = 0, x′ = a′·x0 + b′·ε is the same ODE step whichever way λ goes (DDIM inversion)."""
        return self.eta == 0

    def coefficients(self, scaler: InputScaler, logsnr: Tensor, logsnr_next: Tensor) -> Tensor:
        """[a′, b′] (eta = 0) or [a′, √(b′² − ς²), ς]."""
        a_next, b_next = scaler_coeffs(scaler, logsnr_next)
        if self.eta == 0:
            return torch.stack(torch.broadcast_tensors(a_next, b_next))
        sigma = ancestral_sigma(logsnr.to(b_next.dtype), logsnr_next.to(b_next.dtype), b_next, self.eta)
        direction = (b_next * b_next - sigma * sigma).clamp(min=0).sqrt()
        return torch.stack(torch.broadcast_tensors(a_next, direction, sigma))

    def apply(self, c: Tensor, x: Tensor, x0: Tensor, epsilon: Tensor, generator: Any) -> Tensor:
        x0c = compute(x0)
        if self.eta == 0:
            return as_dtype(combine_rows(c, [x0c, compute(epsilon)]), x.dtype)
        return as_dtype(combine_rows(c, [x0c, compute(epsilon), randn_like(x0c, generator)]), x.dtype)


class DDPMSampler(DDIMSampler):
    """Ancestral sampling (Ho et al. 2020): the DDIM step with eta = 1."""

    name = "ddpm"

    def __init__(self, gdf: Any = None, *, eta: NoiseAmount = 1.0) -> None:
        super().__init__(gdf, eta=eta)


class LCMSampler(_PlannedFirstOrder):
    """x′ = a′·x0 + b′·z with fresh noise z: multistep consistency sampling (Luo et al. 2023, "LCM")."""

    name = "lcm"
    denoiser = "consistency"  # checked with a consistency function, not E[x0 | x]
    stochastic = True

    def coefficients(self, scaler: InputScaler, logsnr: Tensor, logsnr_next: Tensor) -> Tensor:
        """[stay, a′, b′]: x′ = a′·x0 + b′·z, or x itself across a repeated level (stay = 1; at λ = λ′ = +∞, x0)."""
        a_next, b_next = scaler_coeffs(scaler, logsnr_next)
        eta, eta_next = half_logsnr(logsnr), half_logsnr(logsnr_next)
        stay = (same_level(eta, eta_next) & ~torch.isposinf(eta_next)).to(a_next.dtype)
        return torch.stack(torch.broadcast_tensors(stay, a_next * (1 - stay), b_next * (1 - stay)))

    def apply(self, c: Tensor, x: Tensor, x0: Tensor, epsilon: Tensor, generator: Any) -> Tensor:
        x0c = compute(x0)
        return as_dtype(combine_rows(c, [compute(x), x0c, randn_like(x0c, generator)]), x.dtype)


__all__ = ["DDIMSampler", "DDPMSampler", "LCMSampler", "ancestral_sigma"]
