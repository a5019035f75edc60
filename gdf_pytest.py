"""gdf's pytest plugin (entry point ``pytest11``): the invariant suite as ordinary pytest tests.

In a test module, one line checks your components, one test per invariant::

    from gdf_core.testing.pytest_plugin import invariant_suite
    test_invariants = invariant_suite(distributions=["my-gdf-plugin"])   # or MySchedule, MyScaler(...)

On the command line, ``pytest --gdf-installed`` adds the suite for every
installed component (``--gdf-distribution NAME`` narrows it to a distribution,
``--gdf-max-examples N`` bounds the hypothesis examples of each invariant).
The fixture ``gdf_check`` is ``check_component`` with that bound applied.

pytest loads this module at the start of every run in an environment where
gdf is installed, for any project, so it is a top-level module that imports
only pytest: gdf, torch and hypothesis are imported when a gdf test runs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gdf", "gdf component invariants")
    group.addoption(
        "--gdf-installed",
        action="store_true",
        default=False,
        help="add gdf's invariant suite for every installed gdf component",
    )
    group.addoption(
        "--gdf-distribution",
        action="append",
        default=[],
        metavar="NAME",
        help="with --gdf-installed: only the components of this distribution (repeatable; 'local' for in-process ones)",
    )
    group.addoption(
        "--gdf-max-examples",
        type=int,
        default=None,
        metavar="N",
        help="hypothesis examples per gdf invariant (default: the active hypothesis profile's, at most 50)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gdf_invariant(kind, component, invariant): a test of gdf's invariant suite")


def _max_examples(config: pytest.Config) -> Optional[int]:
    return config.getoption("gdf_max_examples", default=None)


def _run(case: Any, config: pytest.Config) -> None:
    from gdf_core.testing.suite import run_case

    result = run_case(case, max_examples=_max_examples(config))
    if result.skipped:
        pytest.skip(result.message)
    if not result.passed:
        pytest.fail(result.message, pytrace=False)


class InvariantItem(pytest.Item):
    """One invariant of one installed component (added by ``--gdf-installed``)."""

    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        subject = case.subject
        self.add_marker(pytest.mark.gdf_invariant(subject.kind, subject.label, case.invariant))

    def runtest(self) -> None:
        _run(self.case, self.config)

    def reportinfo(self) -> tuple[Any, Optional[int], str]:
        return self.path, None, f"gdf invariant {self.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("gdf_installed", default=False):
        return
    from gdf_core.testing.suite import cases, installed

    for case in cases(installed(distributions=config.getoption("gdf_distribution") or None)):
        items.append(InvariantItem.from_parent(session, name=f"gdf[{case.id}]", case=case))


def invariant_suite(
    *components: Any,
    distributions: Optional[Iterable[str]] = None,
    kinds: Optional[Iterable[str]] = None,
    invariants: Optional[Iterable[str]] = None,
    options: Optional[Mapping[str, Mapping[str, Any]]] = None,
    known_failures: Optional[Mapping[str, str]] = None,
) -> Callable[..., None]:
    """A test function parametrized over (component, invariant): assign it to a ``test_*`` name.

    ``components`` are instances, classes, ``(kind, spec)`` pairs or
    ``suite.Subject`` objects; with none given, every registered component (of
    ``distributions``, if given) is checked. ``options`` maps a component's
    name (or ``"kind:name"``) to options of its kind's check (e.g.
    ``{"vp": {"preserves": "variance"}}``). ``known_failures`` maps a case id
    (``"kind:name::invariant"``) to the reason it is expected to fail (xfail).
    """
    from gdf_core.testing.suite import Subject, cases, installed, subject

    options = dict(options or {})
    known = dict(known_failures or {})
    if components:
        subjects = []
        for c in components:
            s = c if isinstance(c, Subject) else subject(c)
            s.options = dict(options.get(s.label, {})) | dict(options.get(f"{s.kind}:{s.label}", {})) | s.options
            subjects.append(s)
        if kinds:
            subjects = [s for s in subjects if s.kind in set(kinds)]
    else:
        subjects = installed(kinds=kinds, distributions=distributions, options=options)

    def marks(case: Any) -> list[Any]:
        found = [pytest.mark.gdf_invariant(case.subject.kind, case.subject.label, case.invariant)]
        if case.id in known:
            found.append(pytest.mark.xfail(reason=known[case.id], strict=False))
        return found

    params = [pytest.param(case, id=case.id, marks=marks(case)) for case in cases(subjects, invariants)]

    @pytest.mark.parametrize("gdf_case", params)
    def test_gdf_invariant(gdf_case: Any, request: pytest.FixtureRequest) -> None:
        _run(gdf_case, request.config)

    return test_gdf_invariant


@pytest.fixture
def gdf_check(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``check_component`` with ``--gdf-max-examples`` applied: ``gdf_check(MySchedule())``."""
    from gdf_core.testing import check_component

    bound = _max_examples(request.config)

    def check(component: Any, **kwargs: Any) -> Any:
        if bound is not None:
            kwargs.setdefault("max_examples", bound)
        return check_component(component, **kwargs)

    return check


__all__ = ["InvariantItem", "invariant_suite"]
