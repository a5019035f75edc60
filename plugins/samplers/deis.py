"""DEIS: diffusion exponential integrator sampler (Zhang & Chen 2023, "Fast Sampling of
Diffusion Models with Exponential Integrator"), the multistep log-ρ variant."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import Tensor

from gdf_plugins.samplers.maths.adams import log_sigma_weights, t_weights
from gdf_plugins.samplers.maths.levels import Levels
from gdf_plugins.samplers.multistep import MultistepSampler, check_order, noise_form


class DEISSampler(MultistepSampler):
    """DEIS multistep: ε̂ polynomial in log ρ = log σ, integrated exactly (Zhang & Chen 2023, §3.3–4, Eq. 14).

    The exponential integrator of the noise-prediction ODE: with ρ = σ, y′ = y +
    ∫_σ^σ′ ε̂ dρ and ε̂ extrapolated from the last ``order`` levels by a
    polynomial in log ρ (diffusers' "logrho" DEIS). Order ≤ 3. log ρ = −∞ at
    σ′ = 0, so a last step into λ′ = +∞ uses a polynomial in ρ itself (the
    paper's ρAB) through the same levels.

    ``interpolation="t"`` takes ε̂ polynomial in t = σ/(1 + σ) instead (the
    level's rectified-flow time, as ``dpmpp_2m``'s ``"t"``), integrated exactly
    in σ (``maths.adams.t_weights``). Near σ = 0 log σ does not shrink with the
    step on a grid uniform in flow time (its last spans are log 2, log 3/2, …),
    so the log-ρ polynomial is second order there; t is. Measured in
    docs/samplers.md: third order on flow and VP grids, and less accurate than
    log ρ on Karras grids at few steps.
    """

    name = "deis"
    form = "noise"

    def __init__(
        self,
        order: Annotated[int, Field(ge=1, le=3)] = 3,
        warmup_corrector: bool = True,
        interpolation: Literal["log_rho", "t"] = "log_rho",
    ) -> None:
        self.warmup_corrector = warmup_corrector
        self.order = check_order(self.name, order, 3)
        if interpolation not in ("log_rho", "t"):
            raise ValueError(f"sampler {self.name!r}: interpolation must be 'log_rho' or 't', got {interpolation!r}")
        self.interpolation = interpolation

    def steps_toward_noise(self) -> bool:
        """``Reversible`` with ε̂ in t: y′ = y + ∫_σ^σ′ ε̂ dρ holds for σ′ > σ too, and the moments are
        exact for either sign of the step (``maths.adams.inverse_square_moments``). The log-ρ polynomial
        has no limit on a step into σ′ = ∞ (λ′ = −∞): it is extrapolated to log ρ = ∞ (on [8, 4, 0] then
        λ′ = −∞ against λ′ = −70: 39 apart for data N(0, 0.1²), ``inverts_to_reference``), so that variant
        does not claim it."""
        return self.interpolation == "t"

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        weights = t_weights if self.interpolation == "t" else log_sigma_weights
        return noise_form(weights(etas, lv.eta_next, active), lv)


__all__ = ["DEISSampler"]
