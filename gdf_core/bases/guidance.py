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

import inspect
import typing
from typing import Annotated, Any, ClassVar, Optional, Union

import pydantic
import torch
from pydantic import AfterValidator, Field
from torch import Tensor

from gdf_core.component import Component, constructor_parameters
from gdf_core.guidance import Predictions
from gdf_core.tensors import compute_dtype

#: A finite number (bools and strings refused).
Number = Annotated[float, Field(allow_inf_nan=False, strict=True)]

#: w, or (w at t = 1, w at t = 0).
Scale = Union[Number, tuple[Number, Number]]

#: A t in [0, 1].
UnitT = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if pair[0] > pair[1]:
        raise ValueError(f"an interval is (t_lo, t_hi) with t_lo ≤ t_hi; got {pair}")
    return pair


#: (t_lo, t_hi) ⊂ [0, 1], or None for every step.
Interval = Optional[Annotated[tuple[UnitT, UnitT], AfterValidator(_ordered)]]


_MODELS: dict[type, type[pydantic.BaseModel]] = {}


def parameters_model(cls: type) -> type[pydantic.BaseModel]:
    """The pydantic model of ``cls``'s constructor parameters, with the domains of their ``Annotated`` hints."""
    if cls in _MODELS:
        return _MODELS[cls]
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not object:
            hints.update(typing.get_type_hints(init, include_extras=True))
    fields = {
        pname: (hints.get(pname, Any), ... if p.default is inspect.Parameter.empty else p.default)
        for pname, p in constructor_parameters(cls).items()
    }
    model = pydantic.create_model(f"{cls.__name__}Parameters", __config__=pydantic.ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload]
    _MODELS[cls] = model
    return model  # type: ignore[no-any-return]


def scale_at(scale: Any, t: float) -> float:
    """The guidance weight at t: w, or w₁·t + w₀·(1 − t) for a pair (w₁, w₀)."""
    if isinstance(scale, (tuple, list)):
        return float(scale[0]) * t + float(scale[1]) * (1 - t)
    return float(scale)


class GuidanceBase(Component):
    """A guidance: ``guide(predictions, ...)`` in the compute dtype, applied inside ``interval``.

    Subclasses set ``space``, ``branches`` and ``neutral`` (the parameters at
    which the guided prediction is the conditional one, for the testing kit),
    store their parameters and call ``super().__init__(interval=...)`` last:
    every parameter is then checked against the domains of its type hints.
    """

    kind = "guidance"
    space: ClassVar[str] = "pred"
    branches: ClassVar[tuple[str, ...]] = ("unconditional",)
    neutral: ClassVar[dict[str, Any]] = {"scale": 1.0}

    def __init__(self, *, interval: Interval = None) -> None:
        self.interval = interval
        if not torch.compiler.is_compiling():  # pydantic cannot be traced; the eager call checks the same values
            self._check_parameters()

    def _check_parameters(self) -> None:
        try:
            checked = parameters_model(type(self)).model_validate(self.params)
        except pydantic.ValidationError as exc:
            by_parameter: dict[str, list[str]] = {}
            for e in exc.errors():
                by_parameter.setdefault(str(e["loc"][0]) if e["loc"] else "?", []).append(e["msg"])
            problems = "; ".join(
                f"{p} = {self.params.get(p)!r}: {', or: '.join(dict.fromkeys(msgs))}" for p, msgs in by_parameter.items()
            )
            raise ValueError(f"guidance {self.name!r}: {problems}") from None
        for pname in self.params:
            setattr(self, pname, getattr(checked, pname))

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


__all__ = ["GuidanceBase", "Interval", "Number", "Scale", "UnitT", "scale_at"]
