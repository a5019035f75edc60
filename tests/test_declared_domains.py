"""For every registered component, a value outside each declared domain, drawn by hypothesis, is refused.

Generic over the registry: a component (of any kind, samplers included) that
declares a parameter's domain in its signature is covered as soon as it is
installed. The value comes from ``gdf_core.testing.strategies.outside_domain``;
the test asserts a ``SpecError`` naming the parameter, through a spec and
through direct construction.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdf_core import SpecError, build, registry
from gdf_core.component import Component
from gdf_core.domains import describe, domain_of
from gdf_core.kinds import KINDS
from gdf_core.parameters import component_fields
from gdf_core.testing.strategies import outside_domain


def declared() -> list[tuple[str, str, str]]:
    """(kind, name, parameter) for every parameter of a registered component whose domain can be left."""
    found = []
    for kind in KINDS:
        for name, regs in registry.registrations(kind).items():
            for reg in regs:
                label = name if len(regs) == 1 else reg.qualified_name
                for pname, (annotation, _, nested, _) in component_fields(reg.cls).items():
                    if nested is None and domain_of(annotation).base != "any":
                        found.append((kind, label, pname))
    return found


DECLARED = declared()


def _others(cls: type, kind: str, pname: str) -> dict[str, Any]:
    """The other parameters a spec of ``cls`` needs: its example_spec's, without ``pname``."""
    example = dict(getattr(cls, "example_spec", None) or {})
    return {k: v for k, v in example.items() if k not in ("name", pname)}


def test_every_built_in_number_parameter_declares_a_bounded_domain() -> None:
    from gdf_core.testing.checks.parameters import number_parameters

    loose = []
    for kind in KINDS:
        if kind == "sampler":  # declared by the samplers' own module, covered by the property test once they are
            continue
        for name, regs in registry.registrations(kind).items():
            cls = regs[0].cls
            for pname in number_parameters(cls):
                if not domain_of(component_fields(cls)[pname][0]).bounded:
                    loose.append(f"{kind}.{name}.{pname}")
    assert loose == []


def test_the_property_test_covers_every_kind_with_domains() -> None:
    assert len(DECLARED) >= 100
    assert {k for k, _, _ in DECLARED} >= {"schedule", "input_scaler", "noise_cond", "loss_weight"}


@pytest.mark.parametrize(("kind", "name", "pname"), DECLARED, ids=[f"{k}.{n}.{p}" for k, n, p in DECLARED])
@settings(max_examples=3)
@given(data=st.data())
def test_a_value_outside_a_declared_domain_is_refused(kind: str, name: str, pname: str, data: Any) -> None:
    cls = registry.get(kind, name)
    annotation = component_fields(cls)[pname][0]
    bad = data.draw(outside_domain(annotation), label=f"{pname} outside {describe(annotation)}")
    others = _others(cls, kind, pname)
    with pytest.raises(SpecError) as info:
        build(kind, {"name": name, **others, pname: bad})
    assert any(issue.path and issue.path.endswith(f".{pname}") or pname in issue.problem for issue in info.value.issues), str(info.value)
    if issubclass(cls, Component) and all(component_fields(cls)[k][2] is None for k in others):
        with pytest.raises(SpecError) as direct:
            cls(**others, **{pname: bad})
        assert pname in str(direct.value)


def test_the_json_schema_shows_the_domains() -> None:
    import jsonschema

    from gdf_core.schema import json_schema

    schema = json_schema()
    cosine = schema["$defs"]["schedule.cosine"]["oneOf"][-1]["properties"]
    assert cosine["s"]["minimum"] == 0 and cosine["s"]["description"] == "allowed: a finite number ≥ 0"
    assert cosine["clamp_range"]["prefixItems"][0] == {"maximum": 1, "minimum": 0, "type": "number"}
    assert "low < high" in cosine["clamp_range"]["description"]
    assert schema["properties"]["offset_noise"]["minimum"] == 0
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"preset": "edm", "schedule": {"name": "cosine", "s": 0.1}})
    for bad in ({"name": "cosine", "s": -1}, {"name": "cosine", "clamp_range": [0.1, 2]}, {"name": "edm_sample", "p": 0}):
        assert not validator.is_valid({"preset": "edm", "schedule": bad}), bad
    assert not validator.is_valid({"preset": "edm", "limits": {"shift": 0}})
