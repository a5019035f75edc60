"""iPNDM: improved pseudo numerical methods (Zhang & Chen 2023, "DEIS", §4 and App. C;
after Liu et al. 2022, "PNDM")."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor

from gdf_plugins.samplers.maths.adams import sigma_weights
from gdf_plugins.samplers.maths.levels import Levels
from gdf_plugins.samplers.multistep import MultistepSampler, check_order, noise_form

#: Adams–Bashforth coefficients for equal steps, newest first (Hairer et al., "Solving ODEs I", III.1).
AB_COEFFICIENTS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}


class IPNDMSampler(MultistepSampler):
    """iPNDM: Adams–Bashforth on dy/dσ = ε̂ with fixed equal-step coefficients (55, −59, 37, −9)/24
    and lower-order warm-up instead of PNDM's Runge–Kutta start (Zhang & Chen 2023, App. C).

    The fixed coefficients are exact for equal steps in σ; on a smoothly graded
    grid (Karras, exponential) the method is second order, whatever ``order``.
    ``variable_step=True`` uses the coefficients of the actual steps (iPNDM-v,
    order ``order`` on any smooth grid; then equal to ``lms``). Order ≤ 4. Where
    a history level repeats a newer one (a clamped schedule's flat end), the
    step takes the variable-step weights of the distinct levels.
    """

    name = "ipndm"
    form = "noise"

    def __init__(
        self, order: Annotated[int, Field(ge=1, le=4)] = 4, variable_step: bool = False, warmup_corrector: bool = True
    ) -> None:
        self.warmup_corrector = warmup_corrector
        self.order = check_order(self.name, order, 4)
        self.variable_step = variable_step

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        variable = sigma_weights([torch.exp(-e) for e in etas], lv.sigma_next, active)
        if self.variable_step:
            return noise_form(variable, lv)
        span = lv.sigma_next - lv.sigma
        distinct = torch.stack(active).all(0)
        fixed = [span * c for c in AB_COEFFICIENTS[len(etas)]]
        return noise_form([torch.where(distinct, f, v) for f, v in zip(fixed, variable)], lv)


__all__ = ["AB_COEFFICIENTS", "IPNDMSampler"]
