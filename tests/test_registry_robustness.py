"""The registry against real (fake) installed distributions: every failure mode and its message.

Each folder of tests/fixtures/registry_dists is a sys.path root with
``<name>.dist-info`` folders, as ``pip install`` leaves them; importlib_metadata
discovers them like any installed package.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

import gdf_core
from gdf_core import GDF, build
from gdf_core.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginLoadWarning,
    SpecError,
    UnknownComponentError,
)
from gdf_core.registry import Registry
from gdf_core.spec import load_spec

DISTS = Path(__file__).parent / "fixtures" / "registry_dists"


@pytest.fixture
def installed(monkeypatch):
    """installed("twins") → a Registry that sees only that folder's distributions."""
    monkeypatch.delenv("GDF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("GDF_PLUGINS", raising=False)

    def make(folder: str | Path) -> Registry:
        root = str(DISTS / folder) if isinstance(folder, str) else str(folder)
        monkeypatch.syspath_prepend(root)
        return Registry(path=[root])

    return make


def load_quietly(reg: Registry) -> list[str]:
    """Load ``reg`` and return the messages of the PluginLoadWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    return [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]


# -- a plugin that fails to import ---------------------------------------------------
BROKEN = "gdf plugin 'broken' (gdf_fixture_broken) from distribution gdf-fixture-broken 0.3"


def test_plugin_that_fails_to_import_is_a_warning_with_traceback_and_the_others_still_load(installed):
    reg = installed("broken_import")
    with pytest.warns(PluginLoadWarning) as record:
        names = reg.names("schedule")
    (message,) = [str(w.message) for w in record]
    assert message.startswith(f"{BROKEN} failed to import and was skipped:\nTraceback (most recent call last):\n")
    assert message.endswith("ModuleNotFoundError: No module named 'gdf_fixture_missing_dependency'\n")
    assert 'gdf_fixture_broken.py", line 3, in <module>' in message
    assert names == ["fixture_linear"]
    broken = next(p for p in reg.plugins if p.entry_point == "broken")
    assert (broken.distribution, broken.version, broken.components) == ("gdf-fixture-broken", "0.3", {})
    assert broken.errors == [message.removeprefix(f"{BROKEN} ")]


def test_strict_load_raises_for_a_plugin_that_fails_to_import_and_leaves_nothing_half_loaded(installed):
    reg = installed("broken_import")
    with pytest.raises(PluginLoadError) as info:
        reg.load(strict=True)
    assert str(info.value).startswith(f"{BROKEN} failed to import and was skipped:\nTraceback")
    assert reg.plugins == []  # forgotten: a later lenient load starts afresh
    assert load_quietly(reg)[0].startswith(BROKEN)
    assert reg.names("schedule") == ["fixture_linear"]


def test_strict_load_after_a_lenient_one_still_raises(installed):
    reg = installed("broken_import")
    load_quietly(reg)
    with pytest.raises(PluginLoadError, match=r"^gdf plugin 'broken' .* failed to import and was skipped"):
        reg.load(strict=True)


# -- a plugin that registers something that is not a component of its kind ------------
IMPOSTOR = "gdf plugin 'impostor' (gdf_fixture_impostor) from distribution gdf-fixture-impostor 0.1"


def test_objects_that_do_not_satisfy_their_kind_are_refused_with_the_reason(installed):
    reg = installed("not_a_component")
    messages = load_quietly(reg)
    assert sorted(messages) == sorted(
        [
            f"{IMPOSTOR} returned from gdf_register_schedules something that is not a schedule: "
            "NamelessSchedule has no string class attribute 'name' (its registry name)",
            f"{IMPOSTOR} returned from gdf_register_loss_weights something that is not a loss_weight: "
            "expected a class, got HalfLossWeight HalfLossWeight(clamp_range=None)",
            f"{IMPOSTOR} returned from gdf_register_samplers something that is not a sampler: "
            "NoStepSampler is not a sampler: it has no method init_x, prepare, step",
        ]
    )
    assert reg.names("sampler") == [] and reg.names("schedule") == []
    assert reg.names("loss_weight") == ["half"]  # the valid one in the same list still registers


class NoEpsilon:
    name = "half_a_target"

    def __call__(self, x0, epsilon, logsnr, a, b): ...

    def x0(self, x, pred, logsnr, a, b): ...


class Colon:
    name = "pkg:thing"

    def step(self, *args, **kwargs): ...


class Mislabelled(gdf_core.ScheduleBase):
    name = "mislabelled"

    def logsnr(self, t):
        return t


def test_in_process_registration_checks_the_protocol_too():
    reg = Registry(path=[])
    with pytest.raises(TypeError) as info:
        reg.register(NoEpsilon, kind="target")
    assert str(info.value) == "cannot register as a target: NoEpsilon is not a target: it has no method epsilon"
    with pytest.raises(TypeError) as info:
        reg.register(Colon, kind="sampler")
    assert str(info.value) == (
        "cannot register as a sampler: Colon.name 'pkg:thing' may not contain ':' "
        "(it separates a distribution from a name) or spaces"
    )
    with pytest.raises(TypeError) as info:
        reg.register(Mislabelled, kind="sampler")
    assert str(info.value) == "cannot register as a sampler: Mislabelled declares kind = 'schedule'"


# -- two distributions, one name -------------------------------------------------------
DUPLICATE = (
    "the schedule name 'twin' is registered by more than one class: "
    "gdf_fixture_alpha.TwinSchedule from gdf-fixture-alpha 1.0; "
    "gdf_fixture_beta.TwinSchedule from gdf-fixture-beta 2.0. "
    "Choose one with a qualified name: 'gdf-fixture-alpha:twin', 'gdf-fixture-beta:twin'"
)


def test_two_distributions_with_the_same_entry_point_name_both_load(installed):
    reg = installed("twins")
    assert load_quietly(reg) == []
    assert sorted((p.distribution, p.entry_point) for p in reg.plugins) == [
        ("gdf-fixture-alpha", "components"),
        ("gdf-fixture-beta", "components"),
    ]


def test_a_name_registered_by_two_distributions_is_an_error_naming_both(installed):
    reg = installed("twins")
    with pytest.raises(DuplicateComponentError) as info:
        reg.get("schedule", "twin")
    assert str(info.value) == DUPLICATE
    with pytest.raises(SpecError) as info:
        build("schedule", {"name": "twin", "shift": 2.0}, registry=reg)
    assert str(info.value) == f"schedule: {DUPLICATE}"


def test_a_qualified_name_chooses_between_distributions(installed):
    reg = installed("twins")
    t0 = torch.tensor([0.0])
    assert build("schedule", "gdf-fixture-alpha:twin", registry=reg)(t0).item() == 5.0
    assert build("schedule", {"name": "gdf-fixture-beta:twin"}, registry=reg)(t0).item() == 7.0
    # Distribution names compare as pip compares them.
    assert reg.get("schedule", "GDF_Fixture.Beta:twin").__module__ == "gdf_fixture_beta"
    with pytest.raises(UnknownComponentError) as info:
        reg.get("schedule", "gdf-fixture-gamma:twin")
    assert str(info.value) == (
        "no distribution 'gdf-fixture-gamma' registers the schedule 'twin'; "
        "it is registered as 'gdf-fixture-alpha:twin', 'gdf-fixture-beta:twin'"
    )


def test_a_preset_registered_by_two_distributions_is_an_error_and_a_qualified_name_resolves_it(installed):
    reg = installed("twins")
    with pytest.raises(DuplicateComponentError) as info:
        load_spec({"preset": "twin_recipe"}, registry=reg)
    assert str(info.value) == (
        "preset: the preset 'twin_recipe' is registered by more than one plugin: "
        "components from gdf-fixture-alpha 1.0; components from gdf-fixture-beta 2.0. "
        "Choose one with a qualified name: 'gdf-fixture-alpha:twin_recipe', 'gdf-fixture-beta:twin_recipe'"
    )
    spec = load_spec({"preset": "gdf-fixture-beta:twin_recipe"}, registry=reg)
    assert spec["schedule"] == "gdf-fixture-beta:twin"


def test_an_in_process_class_with_a_taken_name_is_qualified_as_local(installed):
    reg = installed("twins")

    class LocalTwin(gdf_core.ScheduleBase):
        name = "twin"

        def logsnr(self, t):
            return 1 - 2 * t

    reg.register(LocalTwin)
    with pytest.raises(DuplicateComponentError, match="'gdf-fixture-alpha:twin', 'gdf-fixture-beta:twin', 'local:twin'$"):
        reg.get("schedule", "twin")
    assert reg.get("schedule", "local:twin") is LocalTwin


# -- mistakes in hooks -------------------------------------------------------------------
def mistake(entry_point: str) -> str:
    return f"gdf plugin {entry_point!r} (gdf_fixture_mistakes.{entry_point}) from distribution gdf-fixture-mistakes 0.1"


def test_hook_mistakes_are_each_reported_with_what_to_fix(installed):
    reg = installed("hook_mistakes")
    messages = {m.split("'")[1]: m for m in load_quietly(reg)}
    assert set(messages) == {"raises", "typo", "unmarked", "bad_presets"}
    assert messages["raises"].startswith(f"{mistake('raises')} raised in gdf_register_targets:\nTraceback")
    assert messages["raises"].endswith("RuntimeError: the target table is not ready\n")
    assert messages["typo"] == (
        f"{mistake('typo')} implements 'gdf_register_schedule', which is not a gdf hook (known: "
        "gdf_register_guidances, gdf_register_input_scalers, gdf_register_loss_weights, gdf_register_noise_conds, "
        "gdf_register_presets, gdf_register_samplers, gdf_register_schedules, gdf_register_targets)"
    )
    assert messages["unmarked"] == (
        f"{mistake('unmarked')} defines gdf_register_noise_conds without the @gdf_core.hookimpl "
        "decorator, so it was ignored"
    )
    assert messages["bad_presets"] == (
        f"{mistake('bad_presets')} returned from gdf_register_presets a list, not a dict of preset name → spec"
    )


def test_a_distribution_with_a_malformed_entry_points_file_does_not_hide_the_others(installed):
    reg = installed("malformed")
    assert load_quietly(reg) == [
        "the gdf plugins of distribution gdf-fixture-malformed 0.1 were skipped: its entry_points.txt "
        "cannot be parsed (the line 'this line is not an entry point' is not 'name = module:attr')"
    ]
    assert reg.names("schedule") == ["fixture_linear"]


# -- turning autoloading off -------------------------------------------------------------
def test_disable_autoload_skips_third_party_plugins_and_says_so(installed, monkeypatch):
    reg = installed("twins")
    monkeypatch.setenv("GDF_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert reg.names("schedule") == []
    assert [p.disabled for p in reg.plugins] == [
        "disabled by GDF_DISABLE_PLUGIN_AUTOLOAD (allow it with GDF_PLUGINS)"
    ] * 2
    assert "gdf_fixture_alpha" not in sys.modules or all(p.components == {} for p in reg.plugins)
    with pytest.raises(UnknownComponentError) as info:
        reg.get("schedule", "twin")
    assert str(info.value) == (
        "unknown schedule 'twin'. Available schedules: (none). If it comes from a plugin package, "
        "that package may not be installed (`gdf plugins` lists what is). GDF_DISABLE_PLUGIN_AUTOLOAD is set: "
        "only gdf's own plugins and those named in GDF_PLUGINS were loaded."
    )


@pytest.mark.parametrize(
    ("allowed", "loaded"),
    [
        ("gdf-fixture-alpha", ["gdf-fixture-alpha"]),
        ("GDF_Fixture_Beta", ["gdf-fixture-beta"]),  # normalised like pip does
        (" gdf-fixture-alpha , gdf-fixture-beta ", ["gdf-fixture-alpha", "gdf-fixture-beta"]),
        ("components", ["gdf-fixture-alpha", "gdf-fixture-beta"]),  # an entry-point name
    ],
)
def test_gdf_plugins_allow_list_reenables_named_plugins(installed, monkeypatch, allowed, loaded):
    reg = installed("twins")
    monkeypatch.setenv("GDF_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("GDF_PLUGINS", allowed)
    reg.load()
    assert sorted(p.distribution for p in reg.plugins if not p.disabled) == loaded


def test_disable_autoload_keeps_gdfs_own_plugins(installed, monkeypatch):
    installed("twins")
    reg = Registry(path=[*sys.path])  # the real environment, plus the fixture
    monkeypatch.setenv("GDF_DISABLE_PLUGIN_AUTOLOAD", "1")
    enabled = {ep.name for ep in reg.entry_points()}
    assert "builtin_schedules" in enabled and "components" not in enabled
    monkeypatch.setenv("GDF_DISABLE_PLUGIN_AUTOLOAD", "0")
    assert "components" in {ep.name for ep in reg.entry_points()}


# -- caching and refreshing --------------------------------------------------------------
def test_discovery_runs_once_until_refresh(installed, tmp_path, monkeypatch):
    import importlib_metadata

    reg = installed(tmp_path)
    calls = []
    real = importlib_metadata.distributions
    monkeypatch.setattr(importlib_metadata, "distributions", lambda **kw: calls.append(kw) or real(**kw))
    assert reg.names("schedule") == []
    # A package installed after discovery is not seen: discovery is cached ...
    for item in (DISTS / "broken_import").iterdir():
        if "good" in item.name:
            (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    assert reg.names("schedule") == [] and reg.presets() == {}
    assert len(calls) == 1
    # ... until refresh(), which also forgets import caches so the new module imports.
    reg.refresh()
    assert reg.names("schedule") == ["fixture_linear"] and list(reg.presets()) == ["fixture_recipe"]
    assert len(calls) == 2


def test_refresh_keeps_in_process_registrations(installed):
    reg = installed("twins")

    class Only(gdf_core.LossWeightBase):
        name = "only_here"

        def weight(self, logsnr):
            return logsnr * 0 + 1

    reg.register(Only)
    reg.register_preset("mine", {"preset": "gdf-fixture-alpha:twin_recipe"})
    reg.refresh()
    assert reg.get("loss_weight", "only_here") is Only and "mine" in reg.presets()


# -- import cost -------------------------------------------------------------------------
def test_importing_gdf_core_imports_no_plugin():
    code = textwrap.dedent(
        """
        import json, sys
        import gdf_core
        before = sorted(m for m in sys.modules if m.startswith("gdf_plugins"))
        loaded_before = gdf_core.registry._loaded
        gdf_core.registry.names("schedule")
        after = sorted(m for m in sys.modules if m.startswith("gdf_plugins"))
        print(json.dumps({"before": before, "loaded_before": loaded_before, "after": after}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["before"] == [] and result["loaded_before"] is False
    assert "gdf_plugins.schedules" in result["after"]  # the measure would notice an eager import


# -- a spec naming a component whose package is not installed ----------------------------
def test_unknown_name_says_which_names_exist_and_that_the_package_may_be_missing(installed):
    reg = installed("broken_import")
    load_quietly(reg)
    with pytest.raises(UnknownComponentError) as info:
        build("schedule", {"name": "logit_normal", "mu": 0.5}, registry=reg)
    assert str(info.value) == (
        "schedule: unknown schedule 'logit_normal'. Available schedules: fixture_linear. If it comes from a "
        "plugin package, that package may not be installed (`gdf plugins` lists what is)."
    )
    with pytest.raises(UnknownComponentError) as info:
        load_spec({"preset": "fixture_recipes"}, registry=reg)
    assert str(info.value) == (
        "preset: unknown preset 'fixture_recipes'; did you mean 'fixture_recipe'? Available presets: "
        "fixture_recipe. If it comes from a plugin package, that package may not be installed "
        "(`gdf plugins` lists what is)."
    )


def test_gdf_from_spec_with_an_uninstalled_component_names_the_available_ones():
    from gdf_core import registry

    with pytest.raises(UnknownComponentError) as info:
        GDF.from_spec({"preset": "rectified_flow", "schedule": "from_my_plugin"})  # no such built-in
    names = ", ".join(registry.names("schedule"))
    assert str(info.value) == (
        f"schedule: unknown schedule 'from_my_plugin'. Available schedules: {names}. If it comes from a "
        "plugin package, that package may not be installed (`gdf plugins` lists what is)."
    )


def test_to_spec_qualifies_an_ambiguous_name_so_that_the_spec_builds_again(installed, monkeypatch):
    registry_module = importlib.import_module("gdf_core.registry")  # (gdf_core.registry is also the instance)
    reg = installed("twins")
    monkeypatch.setattr(registry_module, "registry", reg)
    beta = build("schedule", {"name": "gdf-fixture-beta:twin", "shift": 2.0}, registry=reg)
    assert beta.to_spec() == {"name": "gdf-fixture-beta:twin", "shift": 2.0}
    again = build("schedule", beta.to_spec(), registry=reg)
    assert type(again) is type(beta) and again == beta
    monkeypatch.undo()  # the full registry: an unambiguous name stays plain
    assert build("schedule", {"name": "cosine", "shift": 2.0}).to_spec() == {"name": "cosine", "shift": 2.0}


def test_builtin_names_are_gdf_plugins_own_and_nothing_registered_since() -> None:
    from gdf_core.registry import registry
    from gdf_plugins.samplers.first_order import DDIMSampler

    class Local(DDIMSampler):
        name = "registry_local_probe"

    registry.register(Local, kind="sampler")
    try:
        names = registry.builtin_names("sampler")
        assert "registry_local_probe" in registry.names("sampler") and "registry_local_probe" not in names
        assert {"ddim", "dpmpp_2m", "unipc", "diffusers_deis"} <= set(names) and names == sorted(names)
        assert all(registry.get("sampler", n).__module__.startswith("gdf_plugins") for n in names)
    finally:
        registry.unregister(Local)
