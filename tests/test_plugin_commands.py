"""``gdf plugins`` and ``gdf schema``, run with click's CliRunner on real (fake) distributions."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from gdf_core.plugin_commands import plugins, schema
from gdf_core.registry import Registry

DISTS = Path(__file__).parent / "fixtures" / "registry_dists"


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.delenv("GDF_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("GDF_PLUGINS", raising=False)

    def make(*folders: str) -> Registry:
        roots = [str(DISTS / folder) for folder in folders]
        for root in roots:
            monkeypatch.syspath_prepend(root)
        return Registry(path=roots)

    return make


def invoke(command, args, reg):
    result = CliRunner().invoke(command, args, obj=reg, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_plugins_lists_distributions_versions_components_and_errors(installed):
    output = invoke(plugins, [], installed("broken_import", "twins"))
    assert output == (
        "gdf-fixture-alpha 1.0\n"
        "  components (gdf_fixture_alpha)\n"
        "    schedule: twin\n"
        "    preset: twin_recipe\n"
        "gdf-fixture-beta 2.0\n"
        "  components (gdf_fixture_beta)\n"
        "    schedule: twin\n"
        "    preset: twin_recipe\n"
        "gdf-fixture-broken 0.3\n"
        "  broken (gdf_fixture_broken)\n"
        "    error: failed to import and was skipped: "
        "ModuleNotFoundError: No module named 'gdf_fixture_missing_dependency'\n"
        "gdf-fixture-good 1.0\n"
        "  good (gdf_fixture_good)\n"
        "    schedule: fixture_linear\n"
        "    preset: fixture_recipe\n"
    )


def test_plugins_verbose_shows_the_traceback(installed):
    output = invoke(plugins, ["--verbose"], installed("broken_import"))
    assert "    error: failed to import and was skipped:\n      Traceback (most recent call last):\n" in output
    assert "      ModuleNotFoundError: No module named 'gdf_fixture_missing_dependency'\n" in output


def test_plugins_shows_components_per_kind_and_disabled_plugins(installed, monkeypatch):
    reg = installed("all_hooks")
    monkeypatch.setenv("GDF_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert invoke(plugins, [], reg) == (
        "gdf-fixture-hooks 1.0\n"
        "  all_hooks (gdf_fixture_hooks)\n"
        "    disabled by GDF_DISABLE_PLUGIN_AUTOLOAD (allow it with GDF_PLUGINS)\n"
    )
    monkeypatch.setenv("GDF_PLUGINS", "gdf-fixture-hooks")
    reg.refresh()
    assert invoke(plugins, [], reg).splitlines()[2:] == [
        "    schedule: hooks_schedule",
        "    input_scaler: hooks_scaler",
        "    target: hooks_target",
        "    noise_cond: hooks_noise_cond",
        "    loss_weight: hooks_loss_weight",
        "    sampler: hooks_sampler",
        "    guidance: hooks_guidance",
        "    preset: hooks_recipe",
    ]


def test_plugins_json(installed):
    report = json.loads(invoke(plugins, ["--json"], installed("broken_import")))
    broken, good = report["distributions"]
    assert good == {
        "distribution": "gdf-fixture-good",
        "version": "1.0",
        "plugins": [
            {
                "entry_point": "good",
                "value": "gdf_fixture_good",
                "components": {"schedule": ["fixture_linear"]},
                "presets": ["fixture_recipe"],
                "errors": [],
                "notes": [],
                "disabled": None,
            }
        ],
    }
    (plugin,) = broken["plugins"]
    assert plugin["components"] == {} and plugin["disabled"] is None
    assert plugin["errors"][0].startswith("failed to import and was skipped:\nTraceback")


def test_plugins_lists_gdf_itself_in_the_real_environment():
    result = CliRunner().invoke(plugins, ["--json"])
    assert result.exit_code == 0, result.output
    gdf = next(d for d in json.loads(result.output)["distributions"] if d["distribution"] == "gdf")
    assert {p["entry_point"] for p in gdf["plugins"]} >= {"builtin_schedules", "builtin_samplers", "builtin_presets"}
    assert all(p["errors"] == [] for p in gdf["plugins"])


def test_plugins_with_nothing_installed():
    assert invoke(plugins, [], Registry(path=[])) == "no gdf plugins are installed\n"


def test_schema_prints_and_writes_a_valid_json_schema(installed, tmp_path):
    reg = installed("broken_import")
    printed = json.loads(invoke(schema, [], reg))
    jsonschema.Draft202012Validator.check_schema(printed)
    assert "schedule.fixture_linear" in printed["$defs"]
    out = tmp_path / "gdf-spec.schema.json"
    # click < 8.2 mixes stderr into the output unless told not to.
    separate = {"mix_stderr": False} if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else {}
    result = CliRunner(**separate).invoke(schema, ["-o", str(out)], obj=reg)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8")) == printed
    assert result.stderr == f"wrote the JSON Schema of gdf specs, covering 1 component, to {out}\n"
