"""Euler samplers of the σ-ODE: ``euler`` (deterministic) and ``euler_ancestral``.

Notation: (a, b) = scaler(λ), (a′, b′) = scaler(λ′), σ = b/a = e^(−λ/2), h = (λ′ − λ)/2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.noise import randn_like
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import Levels, combine, combine_rows, compute, grid_streak, step_table


class EulerSampler(SamplerBase):
    """Euler's method on the probability-flow ODE in σ (Karras et al. 2022, "EDM", Alg. 1 / eq. 1).

    In y = x/a the ODE is dy/dσ = ε̂, so one step is y′ = y + (σ′ − σ)·ε̂, i.e.
    x′ = a′·x̂0 + b′·ε̂ for every input scaler: the same step as deterministic
    DDIM (Song et al. 2021) and as the Euler step of rectified flow in t
    (Liu et al. 2022), since all three are the first-order exponential
    integrator of the same ODE. Order 1; exact at λ = −∞ and λ′ = +∞.
    """

    name = "euler"

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
        if grid_streak(state, logsnr, logsnr_next) >= 1:  # on the grid: the run's (a′, b′), computed once
            c = step_table(state, scaler, "euler", 1, _euler_coefficients)
        else:
            c = torch.stack(_euler_coefficients([], Levels(scaler, logsnr, logsnr_next)))
        return combine_rows(c, [compute(x0), compute(eps)]).to(x.dtype)


def _euler_coefficients(etas: list[Tensor], lv: Levels) -> list[Tensor]:
    return [lv.a_next, lv.b_next]


def ancestral_split(h: Tensor, eta: float) -> tuple[Tensor, Tensor]:
    """(σ_down/σ′, σ_up/σ′) of an ancestral step of length h = (λ′ − λ)/2 (k-diffusion's split).

    σ_up = min(σ′, eta·σ′·√(1 − σ′²/σ²)), σ_down = √(σ′² − σ_up²); σ′/σ = e^(−h),
    so both ratios depend on h only and stay finite at λ = −∞ and λ′ = +∞.
    """
    up = (eta * torch.sqrt(-torch.expm1(-2 * h))).clamp(max=1.0)
    down = torch.sqrt((1 - up * up).clamp(min=0))
    return down, up


class AncestralSamplerBase(SamplerBase):
    """Samplers that add fresh noise each step: ``eta`` scales its share (0: none), ``s_noise`` its size."""

    stochastic = True

    def __init__(self, eta: float = 1.0, s_noise: float = 1.0) -> None:
        if eta < 0:
            raise ValueError(f"sampler {self.name!r}: eta must be ≥ 0, got {eta}")
        self.eta = eta
        self.s_noise = s_noise


class EulerAncestralSampler(AncestralSamplerBase):
    """Ancestral Euler: an Euler step to σ_down, then fresh noise of scale σ_up (Ho et al. 2020;
    the ancestral split of Song et al. 2021, "DDIM", eq. 16, in σ as in Karras et al. 2022).

    x′ = a′·x̂0 + b′·((σ_down/σ′)·ε̂ + s_noise·(σ_up/σ′)·z) with z ~ N(0, I) drawn from the
    generator. ``eta`` = 1 is DDPM's posterior variance, 0 is deterministic Euler.
    """

    name = "euler_ancestral"

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
        lv = Levels(scaler, logsnr, logsnr_next)
        down, up = ancestral_split(lv.h, self.eta)
        x0c = compute(x0)
        z = randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))
        return combine(
            [(lv.a_next, x0c), (lv.b_next * down, compute(eps)), (lv.b_next * up * self.s_noise, z)]
        ).to(x.dtype)


__all__ = ["EulerAncestralSampler", "EulerSampler", "ancestral_split"]
