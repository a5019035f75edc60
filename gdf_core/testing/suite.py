"""The invariant suite as a list of cases (component × invariant), shared by the pytest plugin and ``gdf check``.

A component is given as an instance, a class (built from its ``example_spec``
or its defaults) or found in the registry (every installed component, or those
of some distributions). Building happens when a case runs, so a component that
cannot be built fails (or skips, when it needs parameters it does not declare)
as its own case, not the whole collection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from gdf_core.kinds import KINDS
from gdf_core.testing.checks import CHECKS, INVARIANTS, CheckReport, InvariantResult, example_component, kind_of


class NeedsParameters(Exception):
    """A component class with required parameters and no ``example_spec`` to build it from."""


@dataclass
class Subject:
    """One component to check: its kind, a label, how to build it, and check options."""

    kind: str
    label: str
    factory: Callable[[], Any]
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        return self.factory()


@dataclass
class Case:
    """One invariant of one subject: a test."""

    subject: Subject
    invariant: str

    @property
    def id(self) -> str:
        return f"{self.subject.kind}:{self.subject.label}::{self.invariant}"


def _class_factory(cls: type, kind: str) -> Callable[[], Any]:
    def build() -> Any:
        from gdf_core.spec import component_fields

        required = [p for p, (_, default, _, _) in component_fields(cls).items() if default is ...]
        if required and getattr(cls, "example_spec", None) is None:
            raise NeedsParameters(
                f"{kind} {getattr(cls, 'name', cls.__name__)!r} needs the parameters {', '.join(required)}: give the class an "
                "example_spec (a dict of parameters to check it with), or check an instance"
            )
        return example_component(cls, kind)

    return build


def subject(component: Any, *, kind: Optional[str] = None, label: Optional[str] = None, **options: Any) -> Subject:
    """A subject from an instance, a class, or a ``(kind, spec)`` pair."""
    if isinstance(component, tuple) and len(component) == 2 and component[0] in KINDS:
        from gdf_core.spec import build

        k, spec = component
        name = spec if isinstance(spec, str) else spec.get("name", "?")
        return Subject(str(k), label or str(name), lambda: build(k, spec), dict(options))
    kind = kind or kind_of(component)
    if isinstance(component, type):
        return Subject(kind, label or str(getattr(component, "name", component.__name__)), _class_factory(component, kind), dict(options))
    return Subject(kind, label or str(getattr(type(component), "name", type(component).__name__)), lambda: component, dict(options))


def installed(
    *,
    names: Optional[Iterable[str]] = None,
    kinds: Optional[Iterable[str]] = None,
    distributions: Optional[Iterable[str]] = None,
    options: Optional[Mapping[str, Mapping[str, Any]]] = None,
    registry: Any = None,
) -> list[Subject]:
    """Subjects for the registered components (filtered by name, kind, distribution).

    ``options`` maps ``"kind:name"`` (or ``name``) to check options.
    """
    from gdf_core.registry import registry as default_registry

    reg = registry or default_registry
    wanted_names = set(names) if names else None
    wanted_dists = set(distributions) if distributions else None
    options = options or {}
    subjects = []
    for kind in kinds or KINDS:
        for name, regs in sorted(reg.registrations(kind).items()):
            if wanted_names is not None and name not in wanted_names and f"{kind}:{name}" not in wanted_names:
                continue
            for r in regs:
                if wanted_dists is not None and (r.distribution or "local") not in wanted_dists:
                    continue
                label = name if len(regs) == 1 else r.qualified_name
                opts = dict(options.get(name, {})) | dict(options.get(f"{kind}:{name}", {}))
                subjects.append(Subject(kind, label, _class_factory(r.cls, kind), opts))
    return subjects


def cases(subjects: Sequence[Subject], invariants: Optional[Iterable[str]] = None) -> list[Case]:
    """Every (subject, invariant) pair, optionally only the named invariants."""
    wanted = set(invariants) if invariants else None
    return [
        Case(s, inv.name)
        for s in subjects
        for inv in INVARIANTS[s.kind]
        if wanted is None or inv.name in wanted
    ]


def run_subject(subject: Subject, *, max_examples: Optional[int] = None, only: Optional[list[str]] = None) -> CheckReport:
    """Build the subject and run its kind's check (never raises for a broken invariant)."""
    names = only or [inv.name for inv in INVARIANTS[subject.kind]]
    try:
        component = subject.build()
    except NeedsParameters as exc:
        return CheckReport(subject.kind, subject.label, [InvariantResult(n, False, str(exc), skipped=True) for n in names])
    except Exception as exc:
        message = f"could not be built: {type(exc).__name__}: {exc}"
        return CheckReport(subject.kind, subject.label, [InvariantResult(n, False, message) for n in names])
    return CHECKS[subject.kind](component, max_examples=max_examples, raise_on_failure=False, only=only, **subject.options)


def run_case(case: Case, *, max_examples: Optional[int] = None) -> InvariantResult:
    """Run one case's invariant."""
    return run_subject(case.subject, max_examples=max_examples, only=[case.invariant]).results[0]


__all__ = ["Case", "NeedsParameters", "Subject", "cases", "installed", "run_case", "run_subject", "subject"]
