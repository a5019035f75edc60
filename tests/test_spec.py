"""Declarative specs: building, round trips, and the errors a user sees."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gdf_core import GDF, SpecError, UnknownComponentError, build, registry
from gdf_core.spec import load_spec

SEED_SPEC = {
    "schedule": {"name": "cosine", "clamp_range": [0.0001, 0.9999]},
    "input_scaler": "vp",
    "target": "epsilon",
    "noise_cond": "cosine_t",
    "loss_weight": "p2",
}


@pytest.mark.parametrize("preset", sorted(registry.presets()))
def test_every_preset_round_trips_through_to_spec(preset):
    gdf = GDF.from_spec(preset)
    spec = gdf.to_spec()
    assert json.loads(json.dumps(spec)) == spec, "to_spec must give plain JSON-able data"
    rebuilt = GDF.from_spec(spec)
    assert rebuilt == gdf
    assert rebuilt.to_spec() == spec


def test_preset_with_override_replaces_only_that_component():
    gdf = GDF.from_spec({"preset": "edm", "loss_weight": "sech"})
    base = GDF.from_spec("edm")
    assert gdf.loss_weight.name == "sech"
    assert gdf.schedule == base.schedule and gdf.target == base.target


def test_from_spec_accepts_json_yaml_and_toml_text_and_files(tmp_path):
    reference = GDF.from_spec(SEED_SPEC)
    json_text = json.dumps(SEED_SPEC)
    yaml_text = (
        "schedule: {name: cosine, clamp_range: [0.0001, 0.9999]}\ninput_scaler: vp\n"
        "target: epsilon\nnoise_cond: cosine_t\nloss_weight: p2\n"
    )
    toml_text = (
        'input_scaler = "vp"\ntarget = "epsilon"\nnoise_cond = "cosine_t"\nloss_weight = "p2"\n'
        '[schedule]\nname = "cosine"\nclamp_range = [0.0001, 0.9999]\n'
    )
    for text, suffix in [(json_text, ".json"), (yaml_text, ".yaml"), (toml_text, ".toml")]:
        assert GDF.from_spec(text) == reference
        path = tmp_path / f"spec{suffix}"
        path.write_text(text)
        assert GDF.from_spec(path) == reference
        assert GDF.from_spec(str(path)) == reference


def test_yaml_is_loaded_safely():
    with pytest.raises(SpecError):
        GDF.from_spec("schedule: !!python/object/apply:os.system ['echo pwned']\n")


def test_from_spec_does_not_mutate_its_input():
    spec = {"preset": "stable_cascade", "loss_weight": {"name": "p2", "gamma": 0.5}}
    snapshot = json.loads(json.dumps(spec))
    GDF.from_spec(spec)
    assert spec == snapshot


def test_nested_specs_build_nested_components():
    schedule = build(
        "schedule", {"name": "interpolated", "scheduler1": "cosine", "scheduler2": {"name": "linear", "logsnr_range": [-8, 8]}}
    )
    assert schedule.scheduler2.logsnr_range == (-8, 8) or list(schedule.scheduler2.logsnr_range) == [-8, 8]
    weight = build("loss_weight", {"name": "composed", "mul": ["p2", "sigmoid"], "div": ["snr"]})
    lam = torch.linspace(-5, 5, 7)
    expected = (1 + lam.exp()) ** -1 * lam.sigmoid() / lam.exp()
    torch.testing.assert_close(weight(lam), expected)
    assert build("loss_weight", weight.to_spec()) == weight


def test_instances_and_classes_are_accepted_wherever_a_name_is():
    cosine_cls = registry.get("schedule", "cosine")
    gdf = GDF(cosine_cls, "vp", {"name": "epsilon"}, registry.get("noise_cond", "cosine_t")(), "p2")
    assert gdf.schedule == cosine_cls()
    assert gdf == GDF.from_spec({**SEED_SPEC, "schedule": "cosine"})


# -- the errors a user sees ------------------------------------------------------
def test_unknown_name_lists_available_names_and_suggests_one():
    with pytest.raises(UnknownComponentError) as info:
        GDF.from_spec({**SEED_SPEC, "schedule": "cosin"})
    message = str(info.value)
    assert message.startswith("schedule: unknown schedule 'cosin'; did you mean 'cosine'?")
    listed = message.split("Available schedules: ")[1].split(".")[0].split(", ")
    assert listed == registry.names("schedule")
    assert "may not be installed" in message


def test_misspelled_parameter_names_the_path_and_the_right_name():
    with pytest.raises(SpecError) as info:
        GDF.from_spec({**SEED_SPEC, "loss_weight": {"name": "p2", "gama": 1.0}})
    assert str(info.value).startswith("loss_weight.p2.gama: unexpected parameter 'gama'; did you mean 'gamma'?")
    assert "p2 takes: k, gamma, s" in str(info.value)


def test_wrong_parameter_type_names_the_path_and_the_value():
    with pytest.raises(SpecError) as info:
        build("loss_weight", {"name": "p2", "k": "large"})
    message = str(info.value)
    assert message.startswith("loss_weight.p2.k: Input should be a valid number")
    assert "'large'" in message


def test_error_inside_a_nested_spec_carries_the_full_path():
    with pytest.raises(SpecError) as info:
        build("loss_weight", {"name": "composed", "mul": ["p2", {"name": "sigmoid", "ss": 2}], "div": []})
    assert str(info.value).startswith("loss_weight.composed.mul[1].sigmoid.ss: unexpected parameter 'ss'; did you mean 's'?")


def test_unknown_top_level_key_suggests_the_right_one():
    with pytest.raises(SpecError) as info:
        GDF.from_spec({**SEED_SPEC, "loss_weigth": "p2"})
    assert str(info.value).startswith("loss_weigth: unknown key 'loss_weigth'; did you mean 'loss_weight'?")


def test_missing_component_is_named():
    spec = dict(SEED_SPEC)
    del spec["target"]
    with pytest.raises(SpecError, match=r"^target: missing 'target'"):
        GDF.from_spec(spec)


def test_unknown_preset_suggests_one():
    with pytest.raises(UnknownComponentError, match=r"^preset: unknown preset 'edmm'; did you mean 'edm'\?"):
        GDF.from_spec("edmm")


def test_component_spec_without_name_is_explained():
    with pytest.raises(SpecError, match=r"^schedule: a schedule spec needs a 'name'"):
        build("schedule", {"s": 0.008})


def test_a_component_of_the_wrong_kind_is_refused():
    with pytest.raises(SpecError, match=r"^schedule: expected a schedule; got VPScaler"):
        GDF(registry.get("input_scaler", "vp")(), "vp", "epsilon", "cosine_t", "p2")


def test_invalid_json_text_is_a_spec_error():
    with pytest.raises(SpecError, match="invalid JSON"):
        GDF.from_spec('{"schedule": "cosine",}')


def test_missing_spec_file_is_a_spec_error(tmp_path):
    from pathlib import Path

    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(Path(tmp_path / "absent.yaml"))


# -- random valid specs round-trip -------------------------------------------------
SIMPLE = {
    "schedule": ["cosine", "cosine2", "sqrt", "linear", "rectified_flows", "edm_sample", "stable_diffusion"],
    "input_scaler": ["vp", "lerp"],
    "target": ["epsilon", "x0", "v", "rectified_flows"],
    "noise_cond": ["cosine_t", "edm", "sigmoid", "logsnr", "edm_sigma", "rectified_flows", "stable_diffusion"],
    "loss_weight": ["constant", "snr", "p2", "snr_plus_one", "min_snr", "min_snr_plus_one", "truncated_snr", "sech", "debiased", "sigmoid"],
}
positive = st.floats(min_value=0.1, max_value=4.0, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def gdf_specs(draw):
    spec = {kind: draw(st.sampled_from(names)) for kind, names in SIMPLE.items()}
    if draw(st.booleans()):
        spec["loss_weight"] = {"name": "p2", "k": draw(positive), "gamma": draw(positive)}
    if draw(st.booleans()):
        spec["noise_cond"] = {"name": spec["noise_cond"], "shift": draw(positive)}
    if draw(st.booleans()):
        spec["schedule"] = {"name": "interpolated", "scheduler1": draw(st.sampled_from(SIMPLE["schedule"])),
                            "scheduler2": draw(st.sampled_from(SIMPLE["schedule"])), "shifts": [draw(positive), draw(positive)]}
    if draw(st.booleans()):
        spec["offset_noise"] = draw(positive)
    return spec


@settings(max_examples=25, deadline=None)
@given(gdf_specs())
def test_random_valid_specs_round_trip(spec):
    gdf = GDF.from_spec(spec)
    assert GDF.from_spec(gdf.to_spec()) == gdf
    x0 = torch.randn(3, 2)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    out1 = gdf.diffuse(x0, generator=g1)
    out2 = GDF.from_spec(gdf.to_spec()).diffuse(x0, generator=g2)
    for a, b in zip(out1, out2):
        torch.testing.assert_close(a, b)
