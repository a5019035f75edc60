"""The machinery every kind's check shares: invariants, their hypothesis runs, reports and errors.

An invariant is a named property ``prop(component, options, **drawn)`` that
raises ``Violation`` with a readable message when it does not hold. Each one
runs as a hypothesis test (no example database, derandomized, no deadline), so
a failure comes back with hypothesis' shrunk example. The component itself may
be a hypothesis strategy of components (random parameters): it is then drawn
and shrunk along with the inputs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy


class Violation(Exception):
    """Raised by an invariant's property: the message says what failed, at which input, with the values."""


class InvariantError(AssertionError):
    """A component that breaks an invariant of its kind; ``str()`` is the readable report."""

    def __init__(self, kind: str, component: str, invariant: str, message: str, example: Mapping[str, Any]) -> None:
        self.kind = kind
        self.component = component
        self.invariant = invariant
        self.message = message
        self.example = dict(example)
        super().__init__(format_failure(kind, component, invariant, message, example))


@dataclass(frozen=True)
class Invariant:
    """A named property of every component of one kind.

    ``inputs(options)`` gives the hypothesis strategies of the drawn inputs;
    ``applies(component, options)`` gives a reason to skip, or None.
    """

    name: str
    description: str
    prop: Callable[..., None]
    inputs: Callable[[Mapping[str, Any]], dict[str, SearchStrategy]] = lambda options: {}
    applies: Callable[[Any, Mapping[str, Any]], Optional[str]] = lambda component, options: None
    examples_cap: Optional[int] = None


@dataclass
class InvariantResult:
    """One invariant's outcome: passed, failed (with ``message``) or skipped (with ``reason``)."""

    invariant: str
    passed: bool
    message: str = ""
    skipped: bool = False
    error: Optional[InvariantError] = None

    @property
    def status(self) -> str:
        return "skip" if self.skipped else "pass" if self.passed else "FAIL"


@dataclass
class CheckReport:
    """Every invariant of one component's kind, in order."""

    kind: str
    component: str
    results: list[InvariantResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed or r.skipped for r in self.results)

    @property
    def failures(self) -> list[InvariantResult]:
        return [r for r in self.results if not (r.passed or r.skipped)]

    def raise_on_failure(self) -> "CheckReport":
        """Raise the first failure's ``InvariantError`` (all failures listed in its message)."""
        failures = self.failures
        if failures:
            first = failures[0].error
            assert first is not None
            if len(failures) > 1:
                others = "\n".join(f.message for f in failures[1:])
                first.args = (f"{first.args[0]}\n{others}",)
            raise first
        return self

    def __str__(self) -> str:
        lines = [f"{self.kind} {self.component}:"]
        for r in self.results:
            detail = r.message.splitlines()[0] if r.message else ""
            lines.append(f"  {r.status:4} {r.invariant}{': ' + detail if detail and not r.passed else ''}")
        return "\n".join(lines)


# -- formatting ----------------------------------------------------------------------
def fmt(value: Any, limit: int = 8) -> str:
    """A short readable form of a tensor, a number or a component."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1).to("cpu")
        if flat.is_floating_point():
            flat = flat.to(torch.float64)
        items = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in flat[:limit].tolist()]
        more = f", … ({flat.numel()} values)" if flat.numel() > limit else ""
        shape = f" shape {tuple(value.shape)}" if value.dim() > 1 else ""
        dtype = "" if value.dtype in (torch.float32, torch.float64) else f" {str(value.dtype).removeprefix('torch.')}"
        return f"[{', '.join(items)}{more}]{shape}{dtype}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value):
        return fmt(torch.tensor(value, dtype=torch.float64), limit)
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    return describe(value) if hasattr(type(value), "name") and not isinstance(value, (str, type)) else repr(value)


def describe(component: Any) -> str:
    """``name`` or ``name {params}`` of a component, as its spec reads."""
    to_spec = getattr(component, "to_spec", None)
    try:
        spec = to_spec() if callable(to_spec) else getattr(type(component), "name", type(component).__name__)
    except Exception:
        spec = getattr(type(component), "name", type(component).__name__)
    if isinstance(spec, dict):
        params = ", ".join(f"{k}={v!r}" for k, v in spec.items() if k != "name")
        return f"{spec['name']!r} ({params})"
    return repr(spec)


def format_failure(kind: str, component: str, invariant: str, message: str, example: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={fmt(v)}" for k, v in example.items())
    return f"{kind} {component} breaks {invariant!r}: {message}\n  falsifying example (shrunk): {shown}"


# -- running ---------------------------------------------------------------------------
def default_max_examples() -> int:
    """The active hypothesis profile's max_examples, capped at 50 (each example is a whole batch)."""
    return max(1, min(settings().max_examples, 50))


def run_invariant(
    kind: str,
    invariant: Invariant,
    component: Any,
    options: Mapping[str, Any],
    max_examples: int,
) -> InvariantResult:
    """Run one invariant as a hypothesis test and turn its outcome into a result."""
    drawn_component = isinstance(component, SearchStrategy)
    label = "(random parameters)" if drawn_component else describe(component)
    if not drawn_component:
        reason = invariant.applies(component, options)
        if reason is not None:
            return InvariantResult(invariant.name, passed=False, skipped=True, message=reason)
        component_strategy: SearchStrategy = st.just(component)
    else:
        component_strategy = component
    last: dict[str, Any] = {}

    def prop(component: Any, **drawn: Any) -> None:
        last.clear()
        if drawn_component:
            last["component"] = component
            if invariant.applies(component, options) is not None:
                return
        last.update(drawn)
        invariant.prop(copy.deepcopy(component), options, **drawn)

    examples = max_examples if invariant.examples_cap is None else min(max_examples, invariant.examples_cap)
    test = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=True,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )(given(component=component_strategy, **invariant.inputs(options))(prop))

    def failed(message: str) -> InvariantResult:
        error = InvariantError(kind, label, invariant.name, message, last)
        return InvariantResult(invariant.name, passed=False, message=str(error), error=error)

    try:
        test()
    except Violation as exc:
        return failed(str(exc))
    except Unsatisfiable:
        return InvariantResult(invariant.name, passed=False, skipped=True, message="no valid example could be drawn")
    except Exception as exc:  # the component raised: that breaks the invariant too
        return failed(f"raised {type(exc).__name__}: {exc}")
    return InvariantResult(invariant.name, passed=True)


def run_check(
    kind: str,
    invariants: Iterable[Invariant],
    component: Any,
    *,
    options: Mapping[str, Any],
    max_examples: Optional[int],
    raise_on_failure: bool,
    only: Optional[Iterable[str]] = None,
) -> CheckReport:
    """Run ``invariants`` (those named in ``only``, if given) on ``component``."""
    invariants = list(invariants)
    names = [inv.name for inv in invariants]
    wanted = set(only) if only is not None else set(names)
    unknown = wanted - set(names)
    if unknown:
        raise ValueError(f"no {kind} invariant named {', '.join(sorted(unknown))}; {kind} invariants: {', '.join(names)}")
    n = max_examples if max_examples is not None else default_max_examples()
    label = "(random parameters)" if isinstance(component, SearchStrategy) else describe(component)
    report = CheckReport(kind, label)
    for inv in invariants:
        if inv.name in wanted:
            report.results.append(run_invariant(kind, inv, component, options, n))
    if raise_on_failure:
        report.raise_on_failure()
    return report


def rebuild(component: Any, kind: str, **changes: Any) -> Any:
    """A new instance of the component's own class with its spec's parameters, some changed."""
    from gdf_core.registry import registry
    from gdf_core.spec import _instantiate, spec_of

    spec = spec_of(component)
    params = {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "name"}
    params.update(changes)
    return _instantiate(type(component), params, kind, registry)


def option(component: Any, options: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A check option: given explicitly, else the component's class attribute of that name."""
    if name in options and options[name] is not None:
        return options[name]
    return getattr(component, name, default)


__all__ = [
    "CheckReport",
    "Invariant",
    "InvariantError",
    "InvariantResult",
    "Violation",
    "default_max_examples",
    "describe",
    "fmt",
    "option",
    "rebuild",
    "run_check",
    "run_invariant",
]
