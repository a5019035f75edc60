"""Cosine schedules (Nichol & Dhariwal 2021), in the two forms of the original GDF."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Finite, NonNegative, OrderedPair, UnitInterval


def _clamp_or_norm(var: Tensor, clamp_range: tuple[float, float], norm_instead: bool) -> Tensor:
    """ᾱ kept inside ``clamp_range``: clamped, or (``norm_instead``) mapped affinely into it."""
    lo, hi = clamp_range
    if norm_instead:
        return var * (hi - lo) + lo
    return var.clamp(lo, hi)


class CosineSchedule(ScheduleBase):
    """ᾱ(t) = cos²((t + s)/(1 + s)·π/2) / cos²(s/(1 + s)·π/2), λ = log(ᾱ/(1 − ᾱ)) (Nichol & Dhariwal 2021).

    ᾱ is clamped to ``clamp_range`` (or, with ``norm_instead``, mapped affinely
    into it). Training draws t = clamp(1 − U + 0.001, 0.001, 1) as the original did.
    """

    name = "cosine"

    def __init__(
        self,
        s: NonNegative = 0.008,
        clamp_range: OrderedPair[UnitInterval] = (0.0001, 0.9999),
        norm_instead: bool = False,
        **kwargs,
    ) -> None:
        self.s = float(s)
        self.clamp_range = (float(clamp_range[0]), float(clamp_range[1]))  # bounds of ᾱ = a²
        self.norm_instead = norm_instead
        self._min_var = math.cos(self.s / (1 + self.s) * math.pi / 2) ** 2
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        var = torch.cos((self.s + t) / (1 + self.s) * (math.pi / 2)).clamp(0, 1) ** 2 / self._min_var
        var = _clamp_or_norm(var, self.clamp_range, self.norm_instead)
        return torch.log(var / (1 - var))

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        return (1 - torch.rand(batch_size, generator=generator) + 0.001).clamp(0.001, 1.0)

    def quantile_t(self, u: Tensor) -> Tensor:
        return (1 - u + 0.001).clamp(0.001, 1.0)


class CosineSchedule2(ScheduleBase):
    """λ = −2·log tan(t_min + t·(t_max − t_min)), with t_min = atan(e^(−hi/2)), t_max = atan(e^(−lo/2)).

    The cosine schedule of Nichol & Dhariwal 2021 written directly in λ and
    truncated to ``logsnr_range`` (as in Hoogeboom et al. 2023, "Simple Diffusion").
    """

    name = "cosine2"

    def __init__(self, logsnr_range: OrderedPair[Finite] = (-15, 15), **kwargs) -> None:
        lo, hi = logsnr_range
        self.logsnr_range = tuple(logsnr_range)
        self._t_min = math.atan(math.exp(-0.5 * hi))
        self._t_max = math.atan(math.exp(-0.5 * lo))
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        return -2 * torch.log(torch.tan(self._t_min + t * (self._t_max - self._t_min)))
