"""The JSON Schema of specs: valid draft 2020-12, covers every installed component, agrees with ``build``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import jsonschema
import pytest
import torch
import yaml

from gdf_core import GDF, LossWeight, LossWeightBase, ScheduleBase, registry
from gdf_core.registry import Registry
from gdf_core.schema import json_schema
from gdf_core.spec import build, json_schema as spec_json_schema, load_spec

DISTS = Path(__file__).parent / "fixtures" / "registry_dists"


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def installed():
    """The schema of the real environment, and its validator."""
    schema = json_schema()
    return schema, validator(schema)


def test_schema_is_valid_plain_json_schema(installed):
    schema, _ = installed
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema  # plain JSON: no tuples, no objects
    assert spec_json_schema() == schema  # gdf_core.spec.json_schema is the same function


def test_schema_covers_every_installed_component_and_preset(installed):
    schema, _ = installed
    for kind in ("schedule", "input_scaler", "target", "noise_cond", "loss_weight", "sampler"):
        names = registry.names(kind)
        assert names, kind
        assert {f"{kind}.{name}" for name in names} <= set(schema["$defs"])
        assert len(schema["$defs"][kind]["oneOf"]) == sum(len(v) for v in registry.registrations(kind).values())
    assert schema["properties"]["preset"]["anyOf"][0]["enum"] == sorted(registry.presets())


@pytest.mark.parametrize("preset", sorted(registry.presets()))
def test_every_preset_and_its_round_trip_validate(installed, preset):
    _, check = installed
    assert list(check.iter_errors({"preset": preset})) == []
    assert list(check.iter_errors(registry.preset(preset))) == []
    assert list(check.iter_errors(GDF.from_spec(preset).to_spec())) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"preset": "no_such_preset"},
        {"preset": "stable_cascade", "loss_weight": "no_such_weight"},
        {"preset": "stable_cascade", "loss_weight": {"name": "p2", "gama": 1.0}},  # misspelt parameter
        {"preset": "stable_cascade", "loss_weight": {"name": "p2", "gamma": "high"}},  # wrong type
        {"preset": "stable_cascade", "loss_weight": {"gamma": 1.0}},  # no name
        {"preset": "stable_cascade", "schedul": "cosine"},  # misspelt key
        {"schedule": "cosine", "input_scaler": "vp"},  # no preset and missing kinds
        {"preset": "stable_cascade", "limits": {"stretch": True}},
    ],
)
def test_specs_that_build_rejects_the_schema_rejects(installed, spec):
    _, check = installed
    assert list(check.iter_errors(spec)) != []
    with pytest.raises(ValueError):
        data = load_spec(spec)
        GDF.from_spec(data)


def test_a_yaml_spec_validates_as_an_editor_would_check_it(installed):
    _, check = installed
    text = """
    preset: stable_cascade
    schedule: {name: cosine, clamp_range: [0.001, 0.999], shift: 2.0}
    sampler: ddim
    limits: {stretch_max: true}
    """
    assert list(check.iter_errors(yaml.safe_load(text))) == []
    assert list(check.iter_errors({"preset": "stable_cascade", "sampler": "gdf:ddim"})) == []


# -- with components whose parameters are known exactly ---------------------------------
class Scaled(LossWeightBase):
    """w = factor · inner(λ): takes a nested loss weight."""

    name = "scaled"

    def __init__(self, inner: LossWeight, factor: float = 1.0, extra: Optional[list[LossWeight]] = None, **kwargs):
        self.inner, self.factor, self.extra = inner, factor, extra
        super().__init__(**kwargs)

    def weight(self, logsnr):
        return self.factor * self.inner(logsnr)


class Flat(LossWeightBase):
    """w = 1."""

    name = "flat"

    def weight(self, logsnr):
        return torch.ones_like(logsnr)


class Tabulated(ScheduleBase):
    """λ from a table; the table is required and a tensor parameter is accepted as any value."""

    name = "tabulated"

    def __init__(self, table: list[float], device_hint: torch.device = torch.device("cpu"), **kwargs):
        self.table, self.device_hint = table, device_hint
        super().__init__(**kwargs)

    def logsnr(self, t):
        return torch.full_like(t, self.table[0])


@pytest.fixture
def local():
    reg = Registry(path=[])
    for cls in (Scaled, Flat, Tabulated):
        reg.register(cls)
    schema = json_schema(reg)
    return reg, schema, validator(schema)


def test_component_parameters_come_from_the_constructor(local):
    _, schema, _ = local
    scaled = schema["$defs"]["loss_weight.scaled"]
    assert scaled["description"] == "w = factor · inner(λ): takes a nested loss weight. (registered in this process)"
    (as_object,) = scaled["oneOf"]  # `inner` is required: the bare name is not a valid spec
    assert as_object["required"] == ["name", "inner"]
    assert as_object["additionalProperties"] is False
    props = as_object["properties"]
    assert props["inner"] == {"title": "Inner", "$ref": "#/$defs/loss_weight"}
    assert props["extra"]["anyOf"][0] == {"type": "array", "items": {"$ref": "#/$defs/loss_weight"}}
    assert props["factor"] == {"default": 1.0, "title": "Factor", "type": "number"}
    assert schema["$defs"]["schedule.tabulated"]["oneOf"][0]["properties"]["device_hint"].get("type") is None


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ({"name": "scaled", "inner": "flat"}, True),
        ({"name": "scaled", "inner": {"name": "scaled", "inner": "flat", "factor": 2}, "extra": ["flat"]}, True),
        ({"name": "scaled", "inner": "nope"}, False),
        ({"name": "scaled", "inner": {"name": "flat", "factor": 2}}, False),
        ("scaled", False),
        ("flat", True),
        ("local:flat", True),
        ({"name": "flat", "clamp_range": [0, 1]}, True),
        ({"name": "flat", "clamp_range": [0, 1, 2]}, False),
    ],
)
def test_nested_specs_validate_as_they_build(local, spec, valid):
    reg, _, check = local
    full = {"schedule": {"name": "tabulated", "table": [1.0]}, "input_scaler": "x", "target": "x", "noise_cond": "x"}
    errors = list(check.iter_errors({**full, "loss_weight": spec}))
    loss_weight_errors = [e for e in errors if list(e.absolute_path)[:1] == ["loss_weight"]]
    assert (loss_weight_errors == []) is valid
    if valid:
        build("loss_weight", spec, registry=reg)
    else:
        with pytest.raises(ValueError):
            build("loss_weight", spec, registry=reg)


def test_a_name_two_distributions_register_is_only_valid_qualified(monkeypatch):
    folder = str(DISTS / "twins")
    monkeypatch.syspath_prepend(folder)
    reg = Registry(path=[folder])
    schema = json_schema(reg)
    check = validator(schema)
    assert {"schedule.gdf-fixture-alpha:twin", "schedule.gdf-fixture-beta:twin"} <= set(schema["$defs"])
    base = {"input_scaler": "vp", "target": "epsilon", "noise_cond": "logsnr", "loss_weight": "constant"}
    schedule_errors = lambda spec: [e for e in check.iter_errors({**base, "schedule": spec}) if list(e.absolute_path)[:1] == ["schedule"]]
    assert schedule_errors("gdf-fixture-alpha:twin") == []
    assert schedule_errors({"name": "gdf-fixture-beta:twin", "shift": 2.0}) == []
    assert schedule_errors("twin") != []
    assert schema["properties"]["preset"]["anyOf"][0]["enum"] == ["twin_recipe"]
