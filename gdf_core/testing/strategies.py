"""Hypothesis strategies for gdf's inputs (t, λ, shapes, dtypes, devices) and for component specs.

Tensors are drawn as lists of floats and mapped to float64 tensors, so that
hypothesis shrinks them element by element. ``component_specs(kind)`` draws a
registered component's spec with random parameters from its own parameter
schema (``gdf_core.spec.component_fields``): each parameter near its default and
inside its declared domain (``gdf_core.domains``), nested components drawn
recursively; ``components(kind)`` builds them, keeping only the parameter sets
the constructor accepts. ``outside_domain(annotation)`` draws values a declared
domain refuses (NaN, ±inf, past a bound, a reversed pair, a wrong type).
"""

from __future__ import annotations

import functools
import math
import typing
from typing import Any, Optional, Sequence

import torch
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

#: t values hypothesis should try first: both ends and values next to them.
T_EDGES: tuple[float, ...] = (0.0, 1.0, 1e-7, 1 - 1e-7, 1e-4, 1 - 1e-4, 0.5)

#: λ values at the edges of what a schedule produces.
LOGSNR_EDGES: tuple[float, ...] = (0.0, -20.0, 20.0, -1e-6, 1e-6)

FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def t_floats() -> SearchStrategy[float]:
    """One t in [0, 1], the ends and their neighbours tried first."""
    return st.one_of(st.sampled_from(T_EDGES), st.floats(0.0, 1.0))


def t_values(min_size: int = 1, max_size: int = 16, *, sort: bool = False) -> SearchStrategy[torch.Tensor]:
    """A float64 tensor of t values in [0, 1] (sorted ascending with ``sort``)."""
    lists = st.lists(t_floats(), min_size=min_size, max_size=max_size)
    return lists.map(lambda v: torch.tensor(sorted(v) if sort else v, dtype=torch.float64))


def logsnr_floats(
    min_value: float = -20.0, max_value: float = 20.0, *, allow_infinity: bool = False
) -> SearchStrategy[float]:
    """One λ in [min_value, max_value] (edges tried first), and ±inf with ``allow_infinity``."""
    edges = [v for v in LOGSNR_EDGES if min_value <= v <= max_value] + [min_value, max_value]
    parts = [st.sampled_from(edges), st.floats(min_value, max_value)]
    if allow_infinity:
        parts.append(st.sampled_from([-math.inf, math.inf]))
    return st.one_of(*parts)


def logsnrs(
    min_value: float = -20.0,
    max_value: float = 20.0,
    *,
    allow_infinity: bool = False,
    min_size: int = 1,
    max_size: int = 16,
    sort: bool = False,
) -> SearchStrategy[torch.Tensor]:
    """A float64 tensor of λ values (sorted ascending with ``sort``)."""
    lists = st.lists(logsnr_floats(min_value, max_value, allow_infinity=allow_infinity), min_size=min_size, max_size=max_size)
    return lists.map(lambda v: torch.tensor(sorted(v) if sort else v, dtype=torch.float64))


@st.composite
def uneven_grids(draw: Any, max_levels: int = 8) -> list[float]:
    """A λ grid from noise to data as a user may pass one: strictly increasing, uneven, some levels nearly repeated.

    Two to ``max_levels`` levels in [−12, 12]; after the first of them and up to two others, one
    or two more 10⁻⁶ to 10⁻¹ above it (so a step that short is followed by a much longer one,
    right after the first step where a multistep sampler's warm-up redoes it); −∞
    first and +∞ last, each with probability one half.
    """
    levels = sorted(set(draw(st.lists(st.floats(-12.0, 12.0), min_size=2, max_size=max_levels))))
    if len(levels) < 2:
        levels.append(levels[0] + 1.0)
    offsets = st.floats(-6.0, -1.0)
    clusters = [(0, draw(offsets))] + draw(st.lists(st.tuples(st.integers(0, len(levels) - 1), offsets), max_size=2))
    near = [levels[i] + 10.0**e * k for i, e in clusters for k in (1, draw(st.sampled_from([1, 2])))]
    levels = sorted(set(levels + [v for v in near if math.isfinite(v)]))
    return ([-math.inf] if draw(st.booleans()) else []) + levels + ([math.inf] if draw(st.booleans()) else [])


def batch_shapes(max_dims: int = 4, max_side: int = 4) -> SearchStrategy[tuple[int, ...]]:
    """Shapes (B, ...) of a batch of samples: B ≥ 1, 1 to ``max_dims`` dims."""
    return st.lists(st.integers(1, max_side), min_size=1, max_size=max_dims).map(tuple)


def dtypes(low_precision: bool = True) -> SearchStrategy[torch.dtype]:
    """float32, float64 and (``low_precision``) bfloat16 and float16."""
    return st.sampled_from(FLOAT_DTYPES if low_precision else FLOAT_DTYPES[:2])


def available_devices() -> list[torch.device]:
    """The devices of this machine: cpu, and cuda / mps when present."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(torch.device("mps"))
    return devices


def devices() -> SearchStrategy[torch.device]:
    """Every available device (cpu first, so it is what hypothesis shrinks to)."""
    return st.sampled_from(available_devices())


def seeds() -> SearchStrategy[int]:
    """A seed for a ``torch.Generator``."""
    return st.integers(0, 2**31 - 1)


# -- component specs ------------------------------------------------------------------
def _near(default: float) -> SearchStrategy[float]:
    """A float of the default's sign and order of magnitude, the default itself first."""
    if default == 0:
        return st.one_of(st.just(0.0), st.floats(0.0, 1.0))
    return st.one_of(st.just(float(default)), st.floats(0.5, 2.0).map(lambda f: float(default) * f))


def _near_int(default: int) -> SearchStrategy[int]:
    if default <= 0:
        return st.one_of(st.just(default), st.integers(0, 4))
    return st.one_of(st.just(default), st.integers(max(1, default // 2), max(2, 2 * default)))


def _inside(domain: Any, strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """``strategy`` kept to the numbers ``domain`` allows (the default itself always is)."""
    return strategy.filter(lambda v: domain.contains(v)) if domain.numeric and domain.bounded else strategy


def _value(annotation: Any, default: Any) -> Optional[SearchStrategy[Any]]:
    """A strategy of parameter values near ``default`` and inside the declared domain, or None when none can be drawn."""
    from gdf_core.domains import domain_of

    if default is ...:
        return None
    domain = domain_of(annotation)
    if domain.base == "union" and isinstance(default, (int, float)) and not isinstance(default, bool):
        domain = next((item for item in domain.items if item.numeric), domain)
    if domain.numeric and isinstance(default, (int, float)) and not isinstance(default, bool):
        near = _near_int(int(default)) if domain.base == "integer" else _near(float(default))
        return _inside(domain, near)
    if domain.base == "tuple" and isinstance(default, (tuple, list)) and len(domain.items) == len(default):
        parts = [
            _inside(item, _near(float(v))) if isinstance(v, (int, float)) and not isinstance(v, bool) else st.just(v)
            for item, v in zip(domain.items, default)
        ]
        ascending = domain.ascending or list(default) == sorted(default)
        drawn = st.tuples(*parts).map(lambda vs: tuple(sorted(vs)) if ascending else vs)
        return drawn.filter(lambda vs: not ascending or all(a < b for a, b in zip(vs, vs[1:])))
    if default is None:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if args == [int]:
            return st.one_of(st.none(), st.integers(2, 64))
        return st.just(None)
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int) and annotation is not float:
        return _near_int(default)
    if isinstance(default, (int, float)):
        return _near(float(default))
    if isinstance(default, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
        # Each element perturbed or kept, then put back in the default's order.
        parts = [_near(float(v)) for v in default]
        ascending = list(default) == sorted(default)
        return st.tuples(*parts).map(lambda vs: tuple(sorted(vs)) if ascending else vs)
    return st.just(default)


def component_specs(
    kind: str,
    names: Optional[Sequence[str]] = None,
    *,
    registry: Any = None,
    depth: int = 2,
) -> SearchStrategy[dict[str, Any]]:
    """Specs ``{"name": ..., **params}`` of registered ``kind`` components with random parameters.

    A parameter without a default is drawn only if it is a nested component
    (``depth`` levels deep); otherwise it comes from the class attribute
    ``example_spec`` when the class has one, and the class is left out when not.
    """
    from gdf_core.registry import registry as default_registry
    from gdf_core.spec import component_fields

    reg = registry or default_registry
    options = []
    for name in sorted(names if names is not None else reg.names(kind)):
        cls = reg.get(kind, name)
        example = getattr(cls, "example_spec", None)
        example = dict(example) if isinstance(example, dict) else {}
        params: dict[str, SearchStrategy[Any]] = {}
        drawable = True
        for pname, (annotation, default, nested, is_list) in component_fields(cls).items():
            if nested is not None and depth > 0:
                inner = component_specs(nested, registry=reg, depth=depth - 1)
                params[pname] = st.lists(inner, min_size=1, max_size=2) if is_list else inner
            elif pname in example:
                params[pname] = st.just(example[pname])
            elif nested is not None:
                drawable = drawable and default is not ...
                continue
            else:
                strategy = _value(annotation, default)
                if strategy is None:
                    drawable = False
                    break
                params[pname] = strategy
        if drawable:
            options.append(st.fixed_dictionaries({"name": st.just(name), **params}))
    if not options:
        return st.nothing()
    return st.one_of(*options)


def components(
    kind: str, names: Optional[Sequence[str]] = None, *, registry: Any = None
) -> SearchStrategy[Any]:
    """Built components of ``kind`` with random parameters; specs the constructor rejects are skipped."""
    from gdf_core.spec import build

    @st.composite
    def draw_component(draw: Any) -> Any:
        spec = draw(component_specs(kind, names, registry=registry))
        try:
            return build(kind, spec, registry=registry)
        except (ValueError, TypeError):  # SpecError is a ValueError
            from hypothesis import reject

            reject()

    return draw_component()


def outside_domain(annotation: Any) -> SearchStrategy[Any]:
    """Values the domain declared by ``annotation`` refuses; ``st.nothing()`` when it refuses nothing drawable.

    Numbers: NaN and ±inf where it is finite, values past each bound (the bound
    itself where it is excluded), a non-integer for an integer, a boolean and a
    string. Pairs and lists: an element outside, a wrong length, the order reversed.
    """
    from gdf_core.domains import domain_of

    domain = domain_of(annotation)
    return _outside(domain)


def _outside(domain: Any) -> SearchStrategy[Any]:
    options: list[SearchStrategy[Any]] = []
    if domain.base == "union":
        # outside a number-or-pair union: what its number member refuses (NaN, ±inf, bools,
        # strings, a one-element list) is no pair either
        numeric = [item for item in domain.items if item.numeric and item.finite]
        pairs_only = all(item.numeric or item.base == "tuple" for item in domain.items)
        if numeric and pairs_only:
            return _outside(numeric[0])
        return st.nothing()
    if domain.numeric:
        options.append(st.sampled_from([True, False, "not a number", [1.0]]))
        if domain.finite:
            options.append(st.sampled_from([math.nan, math.inf, -math.inf]))
        elif domain.lower is not None or domain.upper is not None:
            options.append(st.just(math.nan))
        if domain.lower is not None:
            low = domain.lower
            below = st.floats(max_value=low, allow_nan=False, exclude_max=domain.lower_inclusive, min_value=low - 1e6)
            options.append(below.map(lambda v: math.floor(v) if domain.base == "integer" and math.floor(v) < low else v)
                           .filter(lambda v: not domain.contains(v)))
        if domain.upper is not None:
            high = domain.upper
            above = st.floats(min_value=high, allow_nan=False, exclude_min=domain.upper_inclusive, max_value=high + 1e6)
            options.append(above.map(lambda v: math.ceil(v) if domain.base == "integer" and math.ceil(v) > high else v)
                           .filter(lambda v: not domain.contains(v)))
        if domain.nonzero:
            options.append(st.just(0.0))
        if domain.base == "integer":
            options.append(st.sampled_from([0.5, 2.5]))
    elif domain.base == "boolean":
        options.append(st.sampled_from(["sometimes", 2, [True]]))
    elif domain.base == "literal":
        options.append(st.sampled_from(["not one of them", 3, None]).filter(lambda v: v not in domain.choices))
    elif domain.base == "string":
        options.append(st.sampled_from([5, [1], 2.5]))
    elif domain.base == "tuple" and domain.items:
        n = len(domain.items)
        options.append(st.just([0.5] * (n + 1)))
        options.append(st.just(5))
        for i, item in enumerate(domain.items):
            bad = _outside(item)
            if item.numeric:
                fill = [_valid_number(it) for it in domain.items]
                options.append(bad.map(functools.partial(_replaced, fill, i)))
        if domain.ascending:
            ordered = [_valid_number(it) for it in domain.items]
            if len(set(ordered)) == len(ordered):
                options.append(st.just(list(reversed(sorted(ordered)))))
    elif domain.base == "list" and domain.items:
        options.append(st.just(3))
        item = domain.items[0]
        if item.numeric:
            options.append(_outside(item).map(lambda v: [v, v]))
    if domain.optional:
        options = [o.filter(_not_none) for o in options]
    return st.one_of(*options) if options else st.nothing()


def _replaced(values: list[Any], i: int, value: Any) -> list[Any]:
    """``values`` with element ``i`` replaced by ``value``."""
    return [*values[:i], value, *values[i + 1:]]


def _not_none(value: Any) -> bool:
    return value is not None


def _valid_number(domain: Any) -> float:
    """A number inside a numeric domain (the middle of its bounds, or near the one it has)."""
    lo, hi = domain.lower, domain.upper
    if lo is not None and hi is not None:
        value = (lo + hi) / 2
    elif lo is not None:
        value = lo + 1
    elif hi is not None:
        value = hi - 1
    else:
        value = 0.5
    return float(round(value)) if domain.base == "integer" else value


__all__ = [
    "FLOAT_DTYPES",
    "LOGSNR_EDGES",
    "T_EDGES",
    "available_devices",
    "batch_shapes",
    "component_specs",
    "components",
    "devices",
    "dtypes",
    "logsnr_floats",
    "logsnrs",
    "outside_domain",
    "seeds",
    "t_floats",
    "t_values",
]
