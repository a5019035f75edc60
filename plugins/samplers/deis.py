"""DEIS: diffusion exponential integrator sampler (Zhang & Chen 2023, "Fast Sampling of
Diffusion Models with Exponential Integrator"), the multistep log-ρ variant."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor

from gdf_plugins.samplers.maths.adams import log_sigma_weights
from gdf_plugins.samplers.maths.levels import Levels
from gdf_plugins.samplers.multistep import MultistepSampler, check_order, noise_form


class DEISSampler(MultistepSampler):
    """DEIS multistep: ε̂ polynomial in log ρ = log σ, integrated exactly (Zhang & Chen 2023, §3.3–4, Eq. 14).

    The exponential integrator of the noise-prediction ODE: with ρ = σ, y′ = y +
    ∫_σ^σ′ ε̂ dρ and ε̂ extrapolated from the last ``order`` levels by a
    polynomial in log ρ (diffusers' "logrho" DEIS). Order ≤ 3. log ρ = −∞ at
    σ′ = 0, so a last step into λ′ = +∞ uses a polynomial in ρ itself (the
    paper's ρAB) through the same levels.
    """

    name = "deis"
    form = "noise"

    def __init__(self, order: Annotated[int, Field(ge=1, le=3)] = 3, warmup_corrector: bool = True) -> None:
        self.warmup_corrector = warmup_corrector
        self.order = check_order(self.name, order, 3)

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        return noise_form(log_sigma_weights(etas, lv.eta_next, active), lv)


__all__ = ["DEISSampler"]
