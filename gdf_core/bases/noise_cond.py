"""Base of noise conditions: the shared ``shift`` and ``clamp_range`` behaviour."""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from gdf_core.component import Component
from gdf_core.domains import Finite, OrderedPair, Positive
from gdf_core.tensors import as_dtype, log_shift, result_dtype, to_compute


class NoiseCondBase(Component):
    """``cond(λ)`` evaluated at λ + 2·log(shift), then clamped to ``clamp_range`` when given.

    Note the sign: a noise condition's shift is the opposite of a schedule's,
    so ``cond(schedule(t, shift=s))`` with the same ``s`` gives back the
    unshifted condition.
    """

    kind = "noise_cond"

    def __init__(self, *, shift: Positive = 1.0, clamp_range: Optional[OrderedPair[Finite]] = None) -> None:
        self.shift = shift
        self.clamp_range = clamp_range

    def cond(self, logsnr: Tensor) -> Tensor:
        """The condition at λ, in the compute dtype; override this."""
        raise NotImplementedError

    def __call__(self, logsnr: Tensor) -> Tensor:
        lam = to_compute(logsnr)
        if self.shift != 1:
            lam = lam + log_shift(self.shift)
        cond = self.cond(lam)
        if self.clamp_range is not None:
            cond = cond.clamp(*self.clamp_range)
        return as_dtype(cond, result_dtype(logsnr)) if cond.is_floating_point() else cond
