"""The square-root schedule (Li et al. 2022, "Diffusion-LM")."""

from __future__ import annotations

from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import NonNegative, OrderedPair, UnitInterval
from gdf_plugins.schedules.cosine import _clamp_or_norm


class SqrtSchedule(ScheduleBase):
    """ᾱ(t) = 1 − √(t + s), clamped (or normed) into ``clamp_range``; λ = log(ᾱ/(1 − ᾱ)) (Li et al. 2022)."""

    name = "sqrt"

    def __init__(
        self,
        s: NonNegative = 1e-4,
        clamp_range: OrderedPair[UnitInterval] = (0.0001, 0.9999),
        norm_instead: bool = False,
        **kwargs,
    ) -> None:
        self.s = s
        self.clamp_range = (float(clamp_range[0]), float(clamp_range[1]))  # bounds of ᾱ = a²
        self.norm_instead = norm_instead
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        var = _clamp_or_norm(1 - (t + self.s).sqrt(), self.clamp_range, self.norm_instead)
        return (var / (1 - var)).log()
