"""Base of guidances: the shared ``interval``, the scale schedule, dtypes and parameter checks.

``interval = (t_lo, t_hi)`` applies the guidance only at steps whose t lies in
[t_lo, t_hi] (guidance in a limited interval, Kynkäänniemi et al. 2024); outside
it the guided prediction is the conditional one and the engine makes no extra
model call. The original GDF's ``cfg_t_stop``/``cfg_t_start`` are that
interval's ends.

A ``scale`` is a number w, or a pair (w₁, w₀) interpolated linearly in the
step's t as w = w₁·t + w₀·(1 − t) (the original GDF's cfg pairs: w₁ at t = 1,
pure noise, w₀ at t = 0, data).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional, Union

from pydantic import AfterValidator, Field
from torch import Tensor

from gdf_core.component import Component
from gdf_core.domains import Finite
from gdf_core.guidance import Predictions
from gdf_core.tensors import compute_dtype

#: A finite number (bools and strings refused), as gdf's domains describe it.
Number = Annotated[Finite, Field(strict=True)]

#: A guidance weight: a number in [-1e4, 1e4] (beyond, w·(c − u) leaves float32's range).
Weight = Annotated[Finite, Field(strict=True, ge=-1e4, le=1e4)]

#: w, or (w at t = 1, w at t = 0).
Scale = Union[Weight, tuple[Weight, Weight]]

#: A t in [0, 1].
UnitT = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if pair[0] > pair[1]:
        raise ValueError(f"an interval is (t_lo, t_hi) with t_lo ≤ t_hi; got {pair}")
    return pair


#: (t_lo, t_hi) ⊂ [0, 1], or None for every step.
Interval = Optional[Annotated[tuple[UnitT, UnitT], AfterValidator(_ordered)]]


def scale_at(scale: Any, t: float) -> float:
    """The guidance weight at t: w, or w₁·t + w₀·(1 − t) for a pair (w₁, w₀)."""
    if isinstance(scale, (tuple, list)):
        return float(scale[0]) * t + float(scale[1]) * (1 - t)
    return float(scale)


class GuidanceBase(Component):
    """A guidance: ``guide(predictions, ...)`` in the compute dtype, applied inside ``interval``.

    Subclasses set ``space``, ``branches`` and ``neutral`` (the parameters at
    which the guided prediction is the conditional one, for the testing kit),
    store their parameters and call ``super().__init__(interval=...)`` last;
    the ``Component`` base checks every parameter against the domains of its
    type hints at construction.
    """

    kind = "guidance"
    space: ClassVar[str] = "pred"
    branches: ClassVar[tuple[str, ...]] = ("unconditional",)
    neutral: ClassVar[dict[str, Any]] = {"scale": 1.0}

    def __init__(self, *, interval: Interval = None) -> None:
        self.interval = interval

    def active(self, t: float) -> bool:
        """Whether the guidance applies at a step's t (always, without an interval)."""
        return self.interval is None or self.interval[0] <= t <= self.interval[1]

    def init_state(self) -> Any:
        """The per-run state (none: a stateless guidance)."""
        return None

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        """The guided prediction, all inputs in the compute dtype (float32 at least); override this."""
        raise NotImplementedError

    def __call__(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        cond = predictions.conditional
        if not self.active(t):
            return cond
        dtype = compute_dtype(cond)
        guided = self.guide(predictions.map(lambda p: p.to(dtype)), x=x, logsnr=logsnr, t=t, step=step, state=state)
        return guided.to(cond.dtype)


__all__ = ["GuidanceBase", "Interval", "Number", "Scale", "UnitT", "Weight", "scale_at"]
