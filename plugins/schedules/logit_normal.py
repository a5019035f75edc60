"""SD3's logit-normal training draw on the rectified-flow schedule (Esser et al. 2024, §3.1)."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import ScheduleBase

Finite = Annotated[float, Field(allow_inf_nan=False)]


def rectified_flow_logsnr(t: Tensor, logsnr_range: tuple[float, float]) -> Tensor:
    """λ(t) = 2·log((1 − t)/t) of x = (1 − t)·x0 + t·ε, clamped to ``logsnr_range`` (±inf, never NaN, at the ends)."""
    return (2 * (torch.log1p(-t) - torch.log(t))).clamp(*logsnr_range)


def check_range(name: str, logsnr_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in logsnr_range)
    if not lo < hi or math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"schedule {name!r}: logsnr_range must be (low, high) with low < high, got {tuple(logsnr_range)}")
    return lo, hi


class LogitNormalSchedule(ScheduleBase):
    """t = sigmoid(u), u ~ N(mu, std²), on λ(t) = 2·log((1 − t)/t) (Esser et al. 2024, eq. 19, "lognorm(m, s)").

    The density of t is π(t; m, s) = 1/(s·√(2π))·1/(t(1 − t))·exp(−(logit t − m)²/(2s²));
    since λ = −2·logit(t), a draw is λ = −2u ~ N(−2·mu, 4·std²). SD3 trains with
    mu = 0, std = 1. Given t (sampling) it is the rectified-flow schedule clamped
    to ``logsnr_range``; use it with the ``lerp`` scaler and the ``rectified_flows`` target.
    """

    name = "logit_normal"

    def __init__(
        self,
        mu: Finite = 0.0,
        std: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0,
        logsnr_range: tuple[float, float] = (-15.0, 15.0),
        **kwargs,
    ) -> None:
        if not (math.isfinite(std) and std > 0) or not math.isfinite(mu):
            raise ValueError(f"schedule 'logit_normal': mu must be finite and std finite and > 0, got mu={mu}, std={std}")
        self.mu = float(mu)
        self.std = float(std)
        self.logsnr_range = check_range(self.name, logsnr_range)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        return rectified_flow_logsnr(t, self.logsnr_range)

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """t = sigmoid(mu + std·z), in float64 so that λ = −2u survives the round trip."""
        return torch.sigmoid(torch.randn(batch_size, generator=generator, dtype=torch.float64) * self.std + self.mu)

    def reference_draw(self, n: int, generator: torch.Generator) -> Tensor:
        """The documented law, for the testing kit: λ = −2u, u ~ N(mu, std²), clamped to the range."""
        return (-2 * (torch.randn(n, generator=generator, dtype=torch.float64) * self.std + self.mu)).clamp(*self.logsnr_range)

    def quantile_t(self, u: Tensor) -> Tensor:
        """t at quantile u: sigmoid(mu + std·Φ⁻¹(u))."""
        return torch.sigmoid(torch.special.ndtri(u.to(torch.float64)) * self.std + self.mu)


__all__ = ["LogitNormalSchedule", "check_range", "rectified_flow_logsnr"]
