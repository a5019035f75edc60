"""DEIS: diffusion exponential integrator sampler (Zhang & Chen 2023, "Fast Sampling of
Diffusion Models with Exponential Integrator"), the multistep log-ρ variant."""

from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import Levels, log_sigma_weights
from gdf_plugins.samplers.dpmpp import check_order
from gdf_plugins.samplers.lms import multistep_eps_step


def _log_sigma(history: Sequence[tuple[Tensor, Tensor, Tensor]], lv: Levels) -> list[Tensor]:
    return log_sigma_weights([e for e, _, _ in history], lv.eta_next, lv.sigma)


class DEISSampler(SamplerBase):
    """DEIS multistep: ε̂ polynomial in log ρ = log σ, integrated exactly (Zhang & Chen 2023, §3.3–4, Eq. 14).

    The exponential integrator of the noise-prediction ODE: with ρ = σ, y′ = y +
    ∫_σ^σ′ ε̂ dρ and ε̂ extrapolated from the last ``order`` levels by a
    polynomial in log ρ (diffusers' "logrho" DEIS). Order ≤ 3, lower order on the
    first steps (the first corrected at the second level when ``warmup_corrector``). log ρ = −∞ at σ′ = 0, so a last step into λ′ = +∞ uses a
    polynomial in ρ itself (the paper's ρAB) through the same levels.
    """

    name = "deis"

    def __init__(self, order: int = 3, warmup_corrector: bool = True) -> None:
        self.warmup_corrector = warmup_corrector
        self.order = check_order(self.name, order, 3)

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
        return multistep_eps_step(
            denoise, x, logsnr, logsnr_next, scaler, state, self.order, _log_sigma, self.warmup_corrector
        )


__all__ = ["DEISSampler"]
