"""SD3's "mode sampling with heavy tails" training draw (Esser et al. 2024, §3.1, eq. 20)."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_plugins.schedules.logit_normal import check_range, rectified_flow_logsnr

#: f_mode is monotonic (a valid density) for −1 ≤ s ≤ 2/(π − 2).
MAX_SCALE = 2 / (math.pi - 2)


def f_mode(u: Tensor, scale: float) -> Tensor:
    """t = 1 − u − s·(cos²(π·u/2) − 1 + u)."""
    return 1 - u - scale * (torch.cos(math.pi / 2 * u) ** 2 - 1 + u)


class ModeSchedule(ScheduleBase):
    """t = f_mode(u; s) = 1 − u − s·(cos²(π·u/2) − 1 + u), u ~ U(0, 1), on λ(t) = 2·log((1 − t)/t).

    s > 0 puts more draws at mid noise levels (s = 0 is uniform t); SD3's
    ablation uses s = 1.29. Given t (sampling) it is the rectified-flow schedule
    clamped to ``logsnr_range``.
    """

    name = "mode"

    def __init__(
        self,
        scale: Annotated[float, Field(ge=-1, le=MAX_SCALE)] = 1.29,
        logsnr_range: tuple[float, float] = (-15.0, 15.0),
        **kwargs,
    ) -> None:
        if not -1 <= scale <= MAX_SCALE:
            raise ValueError(f"schedule 'mode': scale must be in [−1, 2/(π − 2) ≈ {MAX_SCALE:.4f}], got {scale}")
        self.scale = float(scale)
        self.logsnr_range = check_range(self.name, logsnr_range)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        return rectified_flow_logsnr(t, self.logsnr_range)

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        return f_mode(torch.rand(batch_size, generator=generator, dtype=torch.float64), self.scale).clamp(0, 1)

    def reference_draw(self, n: int, generator: torch.Generator) -> Tensor:
        """The documented law, for the testing kit: λ = 2·log((1 − t)/t) at t = f_mode(u), u ~ U(0, 1)."""
        t = f_mode(torch.rand(n, generator=generator, dtype=torch.float64), self.scale)
        return (2 * torch.log((1 - t) / t)).clamp(*self.logsnr_range)

    def quantile_t(self, u: Tensor) -> Tensor:
        """t at quantile u: f_mode decreases in u, so t = f_mode(1 − u)."""
        return f_mode(1 - u.to(torch.float64), self.scale).clamp(0, 1)


__all__ = ["ModeSchedule", "f_mode"]
