"""Parameter domains: the constrained types components declare in their signatures.

A component says what each parameter may be in its type hint, with pydantic's
constrained types (``annotated_types`` bounds, ``AllowInfNan``, validators):

    def __init__(self, s: NonNegative = 0.008, clamp_range: OrderedPair[UnitInterval] = (1e-4, 0.9999)): ...

``Annotated[float, Field(gt=0)]`` written by hand works the same. The spec
validates these hints (``gdf_core.spec``), so does direct construction of a
``Component``; the JSON Schema, ``gdf show`` and the docs print ``describe``;
the testing kit draws valid and invalid values from ``domain_of``.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Optional, TypeVar, Union

import annotated_types as at
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan


# -- the types components use ------------------------------------------------------
#: A finite real number.
Finite = Annotated[float, AllowInfNan(False)]
#: A finite number > 0.
Positive = Annotated[float, at.Gt(0), AllowInfNan(False)]
#: A finite number ≥ 0.
NonNegative = Annotated[float, at.Ge(0), AllowInfNan(False)]
#: A number in [0, 1].
UnitInterval = Annotated[float, at.Ge(0), at.Le(1), AllowInfNan(False)]
#: A number in (0, 1): a probability that is neither 0 nor 1 (a β of a noise schedule).
OpenUnitInterval = Annotated[float, at.Gt(0), at.Lt(1), AllowInfNan(False)]
#: An integer ≥ 1.
PositiveInt = Annotated[int, at.Ge(1)]

#: The range of a time or resolution shift factor s (λ moves by at most ±27.6; beyond, the shifted
#: grid's levels round to λ = ±∞ in float64), and of its μ = log s (13.8 ≤ ln 10⁶).
MIN_SHIFT, MAX_SHIFT, MAX_LOG_SHIFT = 1e-6, 1e6, 13.8
SHIFT_RANGE = "[1e-6, 1e6]"  # the two bounds as messages write them
ShiftFactor = Annotated[float, at.Ge(MIN_SHIFT), at.Le(MAX_SHIFT), AllowInfNan(False)]
LogShift = Annotated[float, at.Ge(-MAX_LOG_SHIFT), at.Le(MAX_LOG_SHIFT), AllowInfNan(False)]


def check_shift(owner: str, what: str, value: float, *, log: bool = False) -> None:
    """A ValueError naming ``owner`` and ``what`` unless ``value`` is a shift s in [MIN_SHIFT, MAX_SHIFT]
    (``log``: a μ = log s, |μ| ≤ MAX_LOG_SHIFT)."""
    inside = abs(value) <= MAX_LOG_SHIFT if log else MIN_SHIFT <= value <= MAX_SHIFT
    if not inside:
        allowed = f"in [-{MAX_LOG_SHIFT}, {MAX_LOG_SHIFT}] (the shift e^μ in {SHIFT_RANGE})" if log else f"in {SHIFT_RANGE}"
        raise ValueError(f"{owner}: {what} must be a number {allowed}, got {value!r}")


def _nonzero(value: float) -> float:
    if value == 0:
        raise ValueError("must not be 0")
    return value


#: A finite number other than 0 (a divisor).
NonZero = Annotated[float, AllowInfNan(False), AfterValidator(_nonzero)]


def IntRange(low: int, high: Optional[int] = None) -> Any:  # noqa: N802 (a type, named as one)
    """An integer in [low, high] (no upper bound when ``high`` is None)."""
    bounds: list[Any] = [at.Ge(low)] + ([at.Le(high)] if high is not None else [])
    return Annotated[(int, *bounds)]  # type: ignore[return-value]


def _ascending(pair: tuple[Any, ...]) -> tuple[Any, ...]:
    if not all(a < b for a, b in zip(pair, pair[1:])):
        raise ValueError("must be in increasing order (low < high)")
    return pair


_T = TypeVar("_T")

#: ``OrderedPair[Finite]``: a pair (low, high) of its element type with low < high.
OrderedPair = Annotated[tuple[_T, _T], AfterValidator(_ascending)]

#: ``Knots[UnitInterval]``: 2 to 10 000 values of its element type, strictly increasing (a curve's knots).
Knots = Annotated[list[_T], at.MinLen(2), at.MaxLen(10_000), AfterValidator(_ascending)]


@dataclass(frozen=True)
class Described:
    """Metadata giving a domain's description in words, where the types alone cannot say it."""

    text: str


def _two_ranges(limits: tuple[float, ...]) -> tuple[float, ...]:
    min_a, max_a, min_b, max_b = limits
    if not (min_a < max_a and min_b < max_b):
        raise ValueError("must be (min_a, max_a, min_b, max_b) with min_a < max_a and min_b < max_b")
    return limits


#: The limits of an input scaler's stretching: (min_a, max_a, min_b, max_b), each range increasing.
ScalerLimits = Annotated[
    tuple[Finite, Finite, Finite, Finite],
    AfterValidator(_two_ranges),
    Described("four finite numbers (min_a, max_a, min_b, max_b), min_a < max_a and min_b < max_b"),
]


def _refuse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is needed, not a boolean")
    return value


#: Put in front of a number's validation: refuses True/False (pydantic's lax mode takes them as 1/0).
NOT_BOOL = BeforeValidator(_refuse_bool)


# -- reading a declared domain -------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """What an annotation allows, read back from it (for messages, docs and strategies)."""

    #: "number", "integer", "boolean", "string", "tuple", "list", "literal", "any"
    base: str
    lower: Optional[float] = None
    lower_inclusive: bool = True
    upper: Optional[float] = None
    upper_inclusive: bool = True
    #: NaN and ±inf refused.
    finite: bool = False
    #: None is allowed too.
    optional: bool = False
    #: Elements of a tuple (one per position) or of a list (one).
    items: tuple["Domain", ...] = field(default_factory=tuple)
    #: Tuple elements in increasing order.
    ascending: bool = False
    #: The allowed values of a Literal.
    choices: tuple[Any, ...] = ()
    #: 0 refused.
    nonzero: bool = False
    #: The description in words, when declared (``Described``).
    text: Optional[str] = None
    #: Bounds on a list's length.
    min_length: Optional[int] = None
    max_length: Optional[int] = None

    @property
    def numeric(self) -> bool:
        return self.base in ("number", "integer")

    @property
    def bounded(self) -> bool:
        """Declares something beyond its base type (a bound, finiteness, order)."""
        return (
            self.lower is not None
            or self.upper is not None
            or self.finite
            or self.ascending
            or self.nonzero
            or self.min_length is not None
            or self.max_length is not None
            or any(item.bounded for item in self.items)
        )

    def contains(self, value: Any) -> bool:
        """Whether a plain number lies within the bounds (a number domain only)."""
        if self.finite and not math.isfinite(value):
            return False
        if self.nonzero and value == 0:
            return False
        if self.lower is not None and not (value >= self.lower if self.lower_inclusive else value > self.lower):
            return False
        if self.upper is not None and not (value <= self.upper if self.upper_inclusive else value < self.upper):
            return False
        return True

    def describe(self) -> str:
        """The domain in words: ``a finite number ≥ 0``, ``a pair (low, high) of numbers in [0, 1], low < high``."""
        text = self._describe()
        return f"{text}, or null" if self.optional else text

    def _describe(self) -> str:
        if self.text is not None:
            return self.text
        if self.base == "union":
            return ", or ".join(item._describe() for item in self.items)
        if self.base in ("number", "integer"):
            noun = "an integer" if self.base == "integer" else ("a finite number" if self.finite else "a number")
            lo, hi = self.lower, self.upper
            if lo is not None and hi is not None:
                left, right = ("[" if self.lower_inclusive else "("), ("]" if self.upper_inclusive else ")")
                return f"{noun} in {left}{_num(lo)}, {_num(hi)}{right}"
            if lo is not None:
                return f"{noun} {'≥' if self.lower_inclusive else '>'} {_num(lo)}"
            if hi is not None:
                return f"{noun} {'≤' if self.upper_inclusive else '<'} {_num(hi)}"
            return f"{noun} ≠ 0" if self.nonzero else noun
        if self.base == "boolean":
            return "true or false"
        if self.base == "string":
            return "a string"
        if self.base == "literal":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.base == "tuple" and self.items:
            same = all(item == self.items[0] for item in self.items)
            count = {2: "a pair", 3: "a triple"}.get(len(self.items), f"{len(self.items)} values")
            if same:
                inner = _plural(self.items[0]._describe())
                text = f"{count} of {inner}" if len(self.items) != 2 or not self.ascending else f"{count} (low, high) of {inner}"
            else:
                text = f"{count} ({'; '.join(item._describe() for item in self.items)})"
            return f"{text}, in increasing order" if self.ascending and len(self.items) != 2 else (
                f"{text}, low < high" if self.ascending else text
            )
        if self.base == "list" and self.items:
            text = f"a list of {_plural(self.items[0]._describe())}"
            if self.min_length is not None or self.max_length is not None:
                text += f" ({self.min_length or 0} to {self.max_length if self.max_length is not None else '∞'} of them)"
            return f"{text}, strictly increasing" if self.ascending else text
        if self.base == "list":
            return "a list"
        return "any value"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _plural(text: str) -> str:
    for article in ("a finite number", "a number", "an integer", "a string"):
        if text.startswith(article):
            noun = article.split(" ", 1)[1]
            return noun + "s" + text[len(article):]
    return text


def _metadata(annotation: Any) -> tuple[Any, list[Any]]:
    """(base annotation, flat list of constraint objects) of a possibly nested ``Annotated``."""
    constraints: list[Any] = []
    while typing.get_origin(annotation) is Annotated:
        base, *meta = typing.get_args(annotation)
        for m in meta:
            if isinstance(m, FieldInfo):
                constraints.extend(m.metadata)
            elif isinstance(m, at.Interval):
                constraints.extend(m)  # Interval(gt=..., le=...) iterates over its bounds
            else:
                constraints.append(m)
        annotation = base
    return annotation, constraints


def domain_of(annotation: Any) -> Domain:
    """The domain an annotation declares (``Domain("any")`` for what it cannot read)."""
    base, constraints = _metadata(annotation)
    origin = typing.get_origin(base)
    args = typing.get_args(base)
    if origin in (Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            inner = domain_of(others[0])
            return _constrained(Domain(**{**inner.__dict__, "optional": True}), constraints)
        members = tuple(domain_of(a) for a in others)
        if all(m.base != "any" for m in members):  # e.g. a number w, or a pair (w₁, w₀)
            return _constrained(Domain("union", items=members, optional=len(others) < len(args)), constraints)
        return Domain("any")
    if base is bool:
        return Domain("boolean")
    if base is float:
        return _constrained(Domain("number"), constraints)
    if base is int:
        return _constrained(Domain("integer"), constraints)
    if base is str:
        return Domain("string")
    if origin is typing.Literal:
        return Domain("literal", choices=args)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _constrained(Domain("tuple", items=tuple(domain_of(a) for a in args)), constraints)
    if origin in (list, tuple, typing.Sequence) or base in (list, tuple):
        items = (domain_of(args[0]),) if args else ()
        return _constrained(Domain("list", items=items), constraints)
    return Domain("any")


def _constrained(domain: Domain, constraints: list[Any]) -> Domain:
    values = dict(domain.__dict__)
    for c in constraints:
        if isinstance(c, at.Gt):
            values.update(lower=float(c.gt), lower_inclusive=False)  # type: ignore[arg-type]
        elif isinstance(c, at.Ge):
            values.update(lower=float(c.ge), lower_inclusive=True)  # type: ignore[arg-type]
        elif isinstance(c, at.Lt):
            values.update(upper=float(c.lt), upper_inclusive=False)  # type: ignore[arg-type]
        elif isinstance(c, at.Le):
            values.update(upper=float(c.le), upper_inclusive=True)  # type: ignore[arg-type]
        elif getattr(c, "allow_inf_nan", None) is False:
            values["finite"] = True
        elif isinstance(c, AfterValidator) and c.func is _ascending:
            values["ascending"] = True
        elif isinstance(c, AfterValidator) and c.func is _nonzero:
            values["nonzero"] = True
        elif isinstance(c, Described):
            values["text"] = c.text
        elif isinstance(c, AfterValidator) and c.func is _two_ranges:
            values["ascending"] = True
        elif isinstance(c, at.MinLen):
            values["min_length"] = c.min_length
        elif isinstance(c, at.MaxLen):
            values["max_length"] = c.max_length
        elif isinstance(c, at.Len):
            values.update(min_length=c.min_length, max_length=c.max_length)
    return Domain(**values)


def describe(annotation: Any) -> str:
    """``domain_of(annotation).describe()``."""
    return domain_of(annotation).describe()


def refusing_bools(annotation: Any) -> Any:
    """``annotation``, with True/False refused wherever it takes a number, inside pairs and lists too.

    pydantic's lax mode reads booleans as 1 and 0; a spec's ``gamma: true`` is a mistake, not 1.0.
    """
    if typing.get_origin(annotation) is Annotated:
        base, *meta = typing.get_args(annotation)
        if base in (float, int):  # outermost, so that the bounds still show in the JSON Schema
            return Annotated[annotation, NOT_BOOL]
        inner = refusing_bools(base)
        return Annotated[(inner, *meta)] if inner is not base else annotation
    if annotation in (float, int):
        return Annotated[annotation, NOT_BOOL]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(refusing_bools(a) for a in args)]  # type: ignore[return-value]
    if origin is tuple and args:
        return tuple[tuple(refusing_bools(a) if a is not Ellipsis else a for a in args)]  # type: ignore[misc]
    if origin is list and len(args) == 1:
        return list[refusing_bools(args[0])]  # type: ignore[misc]
    return annotation


__all__ = [
    "Domain",
    "Finite",
    "IntRange",
    "Knots",
    "NOT_BOOL",
    "NonNegative",
    "NonZero",
    "OpenUnitInterval",
    "OrderedPair",
    "Positive",
    "PositiveInt",
    "ScalerLimits",
    "Described",
    "UnitInterval",
    "describe",
    "domain_of",
    "refusing_bools",
]
