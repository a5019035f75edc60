"""Schedules linear in λ or in the interpolation weight t (rectified flow)."""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Finite, OrderedPair


class LinearSchedule(ScheduleBase):
    """λ linear in t: λ = hi + t·(lo − hi) over ``logsnr_range`` = (lo, hi)."""

    name = "linear"

    def __init__(self, logsnr_range: OrderedPair[Finite] = (-10, 10), **kwargs) -> None:
        self.logsnr_range = tuple(logsnr_range)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        lo, hi = self.logsnr_range
        return hi + t * (lo - hi)


class RectifiedFlowsSchedule(ScheduleBase):
    """x = (1 − t)·x0 + t·ε, so λ = 2·log((1 − t)/t), clamped to ``logsnr_range``.

    Rectified flow / flow matching (Liu et al. 2022; Lipman et al. 2023; Esser et al. 2024).
    Computed as 2·(log(1 − t) − log t), which is ±inf (never NaN) at the ends before the clamp.
    """

    name = "rectified_flows"

    def __init__(self, logsnr_range: OrderedPair[Finite] = (-15, 15), **kwargs) -> None:
        self.logsnr_range = tuple(logsnr_range)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        lam = 2 * (torch.log1p(-t) - torch.log(t))
        return lam.clamp(*self.logsnr_range)
