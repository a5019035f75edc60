"""A schedule that blends two others along t."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Positive
from gdf_core.protocols import Schedule


class InterpolatedSchedule(ScheduleBase):
    """λ(t) = t·λ₁(t; shift₁) + (1 − t)·λ₂(t; shift₂): ``scheduler2`` near the data, ``scheduler1`` near noise.

    t is clamped to [1e−7, 1 − 1e−7] so that an infinite λ at an end is never
    multiplied by 0. Training draws t = 1 − U.
    """

    name = "interpolated"
    example_spec = {"scheduler1": "cosine", "scheduler2": "linear"}

    def __init__(
        self,
        scheduler1: Schedule,
        scheduler2: Schedule,
        shifts: tuple[Positive, Positive] = (1.0, 1.0),
        **kwargs,
    ) -> None:
        self.scheduler1 = scheduler1
        self.scheduler2 = scheduler2
        self.shifts = tuple(float(s) for s in shifts)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        t = t.clamp(1e-7, 1 - 1e-7)
        lam1 = self.scheduler1(t, shift=self.shifts[0]).to(t.dtype)
        lam2 = self.scheduler2(t, shift=self.shifts[1]).to(t.dtype)
        return t * lam1 + (1 - t) * lam2

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        return 1 - torch.rand(batch_size, generator=generator)

    def quantile_t(self, u: Tensor) -> Tensor:
        return 1 - u
