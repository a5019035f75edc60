"""Plugins cannot break the built-ins: name collisions, sys.exit(), Ctrl-C, slow imports, mutated presets.

Each case is a real (fake) installed distribution of tests/fixtures/registry_dists,
discovered by importlib_metadata like any installed package.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

from gdf_core import GDF, build, discovery
from gdf_core.errors import DuplicateComponentError, PluginLoadWarning
from gdf_core.registry import Registry, registry as process_registry

DISTS = Path(__file__).parent / "fixtures" / "registry_dists"


@pytest.fixture
def installed(monkeypatch):
    """installed("exits") → a Registry that sees that folder's distributions (and, with builtins=True, gdf's)."""
    monkeypatch.delenv("GDF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("GDF_PLUGINS", raising=False)
    process_registry.load()  # before the fixture is on sys.path: the process-wide registry must not see it

    def make(folder: str, *, builtins: bool = False) -> Registry:
        root = str(DISTS / folder)
        monkeypatch.syspath_prepend(root)
        return Registry(path=[root, *sys.path] if builtins else [root])

    return make


def warnings_of(reg: Registry) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.load()
    return [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]


# -- a third party taking a built-in's name --------------------------------------------
def test_a_built_in_name_keeps_meaning_the_built_in_and_a_warning_names_both(installed):
    reg = installed("shadows_builtin", builtins=True)
    messages = warnings_of(reg)
    schedule_warning = [m for m in messages if "schedule 'cosine'" in m]
    preset_warning = [m for m in messages if "preset 'edm'" in m]
    assert len(schedule_warning) == 1 and len(preset_warning) == 1, messages
    assert schedule_warning[0] == (
        "gdf plugin 'shadow' (gdf_fixture_shadow) from distribution gdf-fixture-shadow 1.0 registers the schedule "
        "'cosine', which is the name of gdf's built-in gdf_plugins.schedules.cosine.CosineSchedule from gdf 0.1.0: "
        "'cosine' keeps meaning the built-in, and gdf_fixture_shadow.ImpostorCosineSchedule from "
        "gdf-fixture-shadow 1.0 is reachable only as 'gdf-fixture-shadow:cosine'"
    )
    assert "'edm' keeps meaning the built-in" in preset_warning[0]
    assert "'gdf-fixture-shadow:edm'" in preset_warning[0]
    builtin_cosine = process_registry.get("schedule", "cosine")
    assert reg.get("schedule", "cosine") is builtin_cosine
    assert type(build("schedule", "cosine", registry=reg)) is builtin_cosine
    impostor = reg.get("schedule", "gdf-fixture-shadow:cosine")
    assert impostor.__module__ == "gdf_fixture_shadow"
    assert reg.spec_name(builtin_cosine) == "cosine"
    assert reg.spec_name(impostor) == "gdf-fixture-shadow:cosine"
    # Presets: the built-in edm, and the plugin's only when qualified.
    assert reg.preset("edm") == process_registry.preset("edm")
    assert reg.preset("gdf-fixture-shadow:edm")["schedule"] == "gdf-fixture-shadow:cosine"
    assert reg.preset_registration("edm").distribution == "gdf"
    # The plugin's notes say so in `gdf plugins`.
    shadow = next(p for p in reg.plugins if p.distribution == "gdf-fixture-shadow")
    assert len(shadow.notes) == 2 and shadow.errors == []


def test_the_process_registry_view_from_spec_keeps_builtins_with_a_shadowing_plugin(installed):
    reg = installed("shadows_builtin", builtins=True)
    warnings_of(reg)
    from gdf_core.spec import build_spec

    _, parts = build_spec("edm", registry=reg)
    assert type(parts["schedule"]).__name__ == "EDMTrainSchedule"
    _, parts = build_spec("ddpm", registry=reg)
    assert type(parts["schedule"]).__name__ == "CosineSchedule"
    _, parts = build_spec("gdf-fixture-shadow:edm", registry=reg)
    assert parts["schedule"](torch.tensor([0.5])).item() == 3.0


def test_two_third_parties_colliding_stay_ambiguous(installed):
    reg = installed("twins", builtins=True)
    with pytest.raises(DuplicateComponentError, match="Choose one with a qualified name"):
        reg.get("schedule", "twin")


def test_an_in_process_class_with_a_built_in_name_is_local_and_warned_about():
    reg = Registry()
    reg.load()
    from gdf_core import ScheduleBase

    class MyCosine(ScheduleBase):
        name = "cosine"

        def logsnr(self, t):
            return 1 - 2 * t

    with pytest.warns(PluginLoadWarning, match="'cosine' keeps meaning the built-in, and yours is reachable only as 'local:cosine'"):
        reg.register(MyCosine)
    assert reg.get("schedule", "cosine") is process_registry.get("schedule", "cosine")
    assert reg.get("schedule", "local:cosine") is MyCosine


# -- sys.exit() in a plugin --------------------------------------------------------------
def test_sys_exit_in_a_plugin_import_or_hook_is_a_warning_and_the_rest_loads(installed):
    reg = installed("exits")
    messages = warnings_of(reg)
    assert len(messages) == 2, messages
    by_plugin = {m.split("'")[1]: m for m in messages}
    assert by_plugin["exits"].startswith(
        "gdf plugin 'exits' (gdf_fixture_exit) from distribution gdf-fixture-exit 0.2 failed to import and was skipped:\nTraceback"
    )
    assert by_plugin["exits"].rstrip().endswith("SystemExit: 3")
    assert by_plugin["exits_in_hook"].startswith(
        "gdf plugin 'exits_in_hook' (gdf_fixture_exit_hook) from distribution gdf-fixture-exit 0.2 raised in gdf_register_targets:"
    )
    assert by_plugin["exits_in_hook"].rstrip().endswith("SystemExit: no targets today")
    assert reg.names("schedule") == ["still_here"]


# -- KeyboardInterrupt in a hook ----------------------------------------------------------
def test_keyboard_interrupt_propagates_and_leaves_the_registry_unloaded_so_the_next_lookup_retries(installed):
    reg = installed("interrupts")
    with pytest.raises(KeyboardInterrupt):
        reg.names("schedule")
    assert reg.plugins == [] and not reg._loaded
    with pytest.raises(KeyboardInterrupt):  # it retries (and is interrupted again)
        reg.names("schedule")
    import gdf_fixture_interrupt

    gdf_fixture_interrupt.INTERRUPT = False
    try:
        assert reg.names("schedule") == ["patient"]
        assert [p.errors for p in reg.plugins] == [[]]
        assert reg.refresh().names("schedule") == ["patient"]
    finally:
        gdf_fixture_interrupt.INTERRUPT = True


# -- a slow import ----------------------------------------------------------------------------
def test_a_plugin_whose_import_is_slow_is_named_in_a_warning(installed, monkeypatch):
    assert discovery.SLOW_IMPORT_SECONDS == 1.0
    monkeypatch.setattr(discovery, "SLOW_IMPORT_SECONDS", 0.2)  # the fixture sleeps 0.3 s
    monkeypatch.delitem(sys.modules, "gdf_fixture_slow", raising=False)
    reg = installed("slow")
    messages = warnings_of(reg)
    assert len(messages) == 1, messages
    assert messages[0].startswith("gdf plugin 'slow' (gdf_fixture_slow) from distribution gdf-fixture-slow 0.1 took ")
    assert "s to import (more than 0.2 s)" in messages[0]
    assert reg.names("schedule") == ["slow_to_import"]  # it still loads
    (info,) = reg.plugins
    assert info.errors == [] and len(info.notes) == 1


def test_a_fast_plugin_gets_no_slow_import_warning(installed):
    reg = installed("broken_import")
    assert not any("to import" in m for m in warnings_of(reg) if "failed" not in m)


# -- presets are copies ------------------------------------------------------------------------
def test_mutating_what_presets_returns_changes_nothing(installed):
    reg = installed("twins")
    reg.presets()["twin_recipe"]["schedule"] = "mutated"
    reg.preset("gdf-fixture-alpha:twin_recipe")["schedule"] = "mutated"
    assert reg.preset("gdf-fixture-alpha:twin_recipe")["schedule"] != "mutated"
    assert all(spec["schedule"] != "mutated" for spec in reg.presets().values())


def test_mutating_a_built_in_preset_does_not_change_from_spec():
    before = GDF.from_spec("edm").to_spec()
    process_registry.presets()["edm"]["schedule"] = {"name": "cosine"}
    process_registry.preset("edm")["target"] = "epsilon"
    assert GDF.from_spec("edm").to_spec() == before


# -- the split: discovery apart from lookup, pluggy's public API only ------------------------------
def test_registry_and_discovery_use_only_public_pluggy_and_metadata_api():
    root = Path(__file__).parent.parent / "gdf_core"
    for module in ("registry.py", "discovery.py"):
        text = (root / module).read_text()
        for private in ("hook.__dict__", "_normalized_name", '"gdf_impl"', "'gdf_impl'", "._hookimpls", "_plugin2hookcallers"):
            assert private not in text, (module, private)
    assert "import pluggy" not in (root / "registry.py").read_text()
