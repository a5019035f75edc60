"""iPNDM: improved pseudo numerical methods (Zhang & Chen 2023, "DEIS", §4 and App. C;
after Liu et al. 2022, "PNDM")."""

from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import Levels, sigma_ab_weights
from gdf_plugins.samplers.dpmpp import check_order
from gdf_plugins.samplers.lms import multistep_eps_step

#: Adams–Bashforth coefficients for equal steps, newest first (Hairer et al., "Solving ODEs I", III.1).
AB_COEFFICIENTS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}


def _fixed(history: Sequence[tuple[Tensor, Tensor, Tensor]], lv: Levels) -> list[Tensor]:
    span = lv.sigma_next - lv.sigma
    return [span * c for c in AB_COEFFICIENTS[len(history)]]


def _variable(history: Sequence[tuple[Tensor, Tensor, Tensor]], lv: Levels) -> list[Tensor]:
    return sigma_ab_weights([s for _, s, _ in history], lv.sigma_next)


class IPNDMSampler(SamplerBase):
    """iPNDM: Adams–Bashforth on dy/dσ = ε̂ with fixed equal-step coefficients (55, −59, 37, −9)/24
    and lower-order warm-up instead of PNDM's Runge–Kutta start (Zhang & Chen 2023, App. C).

    The fixed coefficients are exact for equal steps in σ; on a smoothly graded
    grid (Karras, exponential) the method is second order, whatever ``order``.
    ``variable_step=True`` uses the coefficients of the actual steps (iPNDM-v,
    order ``order`` on any smooth grid; then equal to ``lms``). Order ≤ 4.
    """

    name = "ipndm"

    def __init__(self, order: int = 4, variable_step: bool = False, warmup_corrector: bool = True) -> None:
        self.warmup_corrector = warmup_corrector
        self.order = check_order(self.name, order, 4)
        self.variable_step = variable_step

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
        weights = _variable if self.variable_step else _fixed
        return multistep_eps_step(
            denoise, x, logsnr, logsnr_next, scaler, state, self.order, weights, self.warmup_corrector
        )


__all__ = ["AB_COEFFICIENTS", "IPNDMSampler"]
