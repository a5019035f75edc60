"""Integer noise levels (timestep indices) from any continuous noise condition.

Difference from the original: the index is clamped to [0, steps − 1], so the
end of the continuous range (e.g. t = 1 at λ = −inf) gives steps − 1, a valid
index of an embedding table of ``steps`` rows, instead of ``steps``.
"""

from __future__ import annotations

from torch import Tensor

from gdf_core.bases import NoiseCondBase
from gdf_core.domains import Finite, IntRange, OrderedPair
from gdf_core.protocols import NoiseCond


class DiscreteNoiseCond(NoiseCondBase):
    """⌊steps·(c − lo)/(hi − lo)⌋ (truncated toward zero) of the inner condition c = noise_cond(λ), as int64.

    E.g. ``discrete`` of ``cosine_t`` gives the integer timesteps of DDPM-style
    models (Ho et al. 2020).
    """

    name = "discrete"
    example_spec = {"noise_cond": "cosine_t"}

    def __init__(
        self,
        noise_cond: NoiseCond,
        steps: IntRange(1) = 1000,  # type: ignore[valid-type]
        continuous_range: OrderedPair[Finite] = (0, 1),
        **kwargs,
    ) -> None:
        self.noise_cond = noise_cond
        self.steps = int(steps)
        self.continuous_range = tuple(continuous_range)
        super().__init__(**kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        lo, hi = self.continuous_range
        c = self.noise_cond(logsnr).to(logsnr.dtype)
        level = ((c - lo) / (hi - lo) * self.steps).long()
        return level.clamp(0, self.steps - 1)
