"""The inverse of the cosine schedule: the model is given t."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import NoiseCondBase
from gdf_core.domains import NonNegative, OrderedPair, UnitInterval
from gdf_core.tensors import as_dtype


class CosineTNoiseCond(NoiseCondBase):
    """t of the cosine schedule (Nichol & Dhariwal 2021): t = acos(√(ᾱ·m))/(π/2)·(1 + s) − s.

    ᾱ = σ(λ) clamped to ``clamp_range``, m = cos²(s/(1 + s)·π/2); the result is
    clamped to ``clamp_range`` too (the original used the one range for both).
    Evaluated in float64: near t = 0 the formula is a difference of two numbers ≈ s.
    """

    name = "cosine_t"
    inverts = "cosine"  # cond(cosine(t)) = t, checked by gdf_core.testing

    def __init__(self, s: NonNegative = 0.008, clamp_range: Optional[OrderedPair[UnitInterval]] = (0.0, 1.0), **kwargs) -> None:
        self.s = float(s)
        self._min_var = math.cos(self.s / (1 + self.s) * math.pi / 2) ** 2
        bounds = None if clamp_range is None else (float(clamp_range[0]), float(clamp_range[1]))
        super().__init__(clamp_range=bounds, **kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        var = torch.sigmoid(as_dtype(logsnr, torch.float64))
        if self.clamp_range is not None:
            var = var.clamp(*self.clamp_range)
        t = torch.acos((var * self._min_var).sqrt()) / (math.pi / 2) * (1 + self.s) - self.s
        return as_dtype(t, logsnr.dtype)
