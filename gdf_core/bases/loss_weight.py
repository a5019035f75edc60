"""Base of loss weights: the shared ``shift`` and ``clamp_range`` behaviour."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gdf_core.component import Component
from gdf_core.domains import NonNegative, OrderedPair
from gdf_core.tensors import log_shift, result_dtype, to_compute


class LossWeightBase(Component):
    """``weight(λ)``, evaluated at λ + 2·log(shift) and clamped to ``clamp_range`` when given.

    Computed and returned in float32 at least (float64 stays float64), whatever λ's dtype.

    ``clamp_range`` is a constructor parameter here (the original only took it
    as a call argument, which a declarative spec cannot reach); the call
    argument still overrides it.
    """

    kind = "loss_weight"

    def __init__(self, *, clamp_range: Optional[OrderedPair[NonNegative]] = None) -> None:
        self.clamp_range = clamp_range

    def weight(self, logsnr: Tensor) -> Tensor:
        """The weight at λ, in the compute dtype; override this."""
        raise NotImplementedError

    def __call__(
        self,
        logsnr: Tensor,
        *,
        shift: float = 1.0,
        clamp_range: Optional[tuple[float, float]] = None,
    ) -> Tensor:
        lam = to_compute(logsnr)
        if shift != 1:
            lam = lam + log_shift(shift)
        weight = self.weight(lam)
        bounds = clamp_range if clamp_range is not None else self.clamp_range
        if bounds is not None:
            weight = weight.clamp(*bounds)
        # float32 at least: a weight multiplies a float32 loss, and an fp16 weight overflows to inf at high λ.
        return weight.to(torch.promote_types(result_dtype(logsnr), torch.float32))
