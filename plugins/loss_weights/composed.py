"""Products and quotients of loss weights."""

from __future__ import annotations

from typing import Any, Sequence, Union

import torch
from torch import Tensor

from gdf_core.bases import LossWeightBase
from gdf_core.protocols import LossWeight


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def _raw_weight(component: Any, logsnr: Tensor) -> Tensor:
    """The unshifted, unclamped weight: ``weight`` where the component has it, else its call."""
    if hasattr(component, "weight"):
        return component.weight(logsnr)
    return component(logsnr)


class ComposedLossWeight(LossWeightBase):
    """w = Π mul_i(λ) / Π div_j(λ), e.g. ``p2 · sigmoid / snr``.

    The inner weights are evaluated unshifted (their raw ``weight``); the outer
    call applies the shift once, and its clamp_range to the result.
    """

    name = "composed"
    example_spec = {"mul": ["p2", "sigmoid"], "div": "sech"}

    def __init__(
        self,
        div: Union[LossWeight, Sequence[LossWeight]],
        mul: Union[LossWeight, Sequence[LossWeight]],
        **kwargs,
    ) -> None:
        self.div = _as_tuple(div)
        self.mul = _as_tuple(mul)
        for part in (*self.div, *self.mul):
            if not callable(part):
                raise TypeError(
                    f"loss_weight 'composed': div and mul take loss weights (or lists of them), got {part!r}"
                )
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        numerator = torch.ones_like(logsnr)
        for m in self.mul:
            numerator = numerator * _raw_weight(m, logsnr).to(logsnr.dtype)
        denominator = torch.ones_like(logsnr)
        for d in self.div:
            denominator = denominator * _raw_weight(d, logsnr).to(logsnr.dtype)
        return numerator / denominator
