"""Every choice a component's constructor offers survives ``to_spec``: build(kind, c.to_spec()) == c.

For every registered component and every value of each ``Literal`` (and
``bool``) parameter, the others at their defaults (or the class's
``example_spec``): where the constructor accepts the combination, the
component's own spec must build an equal component. This catches a parameter
that a subclass derives and passes to its base (e.g. ``to_data`` from
``final``), which the spec would otherwise repeat next to its source.
"""

from __future__ import annotations

import typing

import pytest

from gdf_core.errors import SpecError
from gdf_core.kinds import KINDS
from gdf_core.parameters import constructor_parameters
from gdf_core.registry import registry as default_registry
from gdf_core.spec import build


def _choices(annotation) -> list:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return [True, False]
    if origin is typing.Literal:
        return list(typing.get_args(annotation))
    if origin is typing.Annotated:
        return _choices(typing.get_args(annotation)[0])
    if origin is typing.Union:
        return [v for arg in typing.get_args(annotation) if arg is not type(None) for v in _choices(arg)]
    return []


def _cases():
    for kind in KINDS:
        for name in default_registry.names(kind):
            cls = default_registry.get(kind, name)
            base = dict(getattr(cls, "example_spec", None) or {})
            hints = typing.get_type_hints(cls.__init__, include_extras=True)
            for pname in constructor_parameters(cls):
                for value in _choices(hints.get(pname)):
                    yield pytest.param(kind, name, {**base, pname: value}, id=f"{kind}-{name}-{pname}={value}")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind, name, params", list(_cases()))
def test_every_choice_survives_the_components_own_spec(kind: str, name: str, params: dict) -> None:
    try:
        component = build(kind, {"name": name, **params})
    except SpecError:
        pytest.skip("the constructor refuses this combination (checked by the bad-spec tests)")
    again = build(kind, component.to_spec())
    assert again.to_spec() == component.to_spec()
    assert again == component
