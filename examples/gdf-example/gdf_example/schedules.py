"""The logit-normal schedule of Stable Diffusion 3."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from gdf_core import ScheduleBase
from gdf_core.domains import Finite, OrderedPair, Positive


class LogitNormalSchedule(ScheduleBase):
    """Rectified flow's λ(t) = 2·log((1 − t)/t), trained on t = sigmoid(u), u ~ N(mu, std²).

    The logit-normal training draw of Stable Diffusion 3 (Esser et al. 2024,
    "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis",
    §3.1): mid-range noise levels are drawn most often. Since λ = −2·logit(t),
    a draw is λ = −2u. Given t (sampling) it is the rectified-flow schedule,
    clamped to ``logsnr_range``; use it with the ``lerp`` input scaler.
    gdf ships the same draw as its built-in ``logit_normal``; this copy, named
    after the paper's lognorm(m, s), shows how a plugin writes one.
    """

    name = "lognorm"

    def __init__(
        self,
        mu: Finite = 0.0,
        std: Positive = 1.0,
        logsnr_range: OrderedPair[Finite] = (-15.0, 15.0),
        **kwargs,
    ) -> None:
        self.mu = mu
        self.std = std
        self.logsnr_range = tuple(logsnr_range)
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        lam = 2 * (torch.log1p(-t) - torch.log(t))  # ±inf, never NaN, at t = 0 and t = 1
        return lam.clamp(*self.logsnr_range)

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """t = sigmoid(u), u ~ N(mu, std²), in float64 so that λ = −2u survives the round trip."""
        u = torch.randn(batch_size, generator=generator, dtype=torch.float64) * self.std + self.mu
        return torch.sigmoid(u)

    def reference_draw(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """λ = −2u, u ~ N(mu, std²), clamped and shifted: the documented draw, written out for gdf's testing kit."""
        u = torch.randn(batch_size, generator=generator, dtype=torch.float64) * self.std + self.mu
        lam = (-2 * u).clamp(*self.logsnr_range) - 2 * math.log(self.shift)
        return lam.clamp(*self.limits) if self.limits is not None else lam
