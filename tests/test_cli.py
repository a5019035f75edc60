"""The `gdf` command: every subcommand works, and each user error is one clear line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdf_core.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def gdf():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def assert_user_error(result, *fragments: str) -> None:
    """Exit status 1, the message on stderr, and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["validate"], ["plot"], ["demo"], ["bench"], ["tune"], ["check"], ["plugins"], ["schema"]])
def test_every_command_has_help(gdf, command):
    result = gdf(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.output


def test_every_documented_command_is_attached():
    assert {"list", "show", "validate", "plot", "demo", "bench", "tune", "check", "plugins", "schema"} <= set(main.commands)


# -- list ------------------------------------------------------------------------
def test_list_shows_every_kind_and_the_presets(gdf):
    result = gdf("list")
    assert result.exit_code == 0
    for word in ("schedule", "input_scaler", "target", "noise_cond", "loss_weight", "sampler", "preset", "cosine", "ddim", "stable_cascade"):
        assert word in result.stdout


def test_list_of_one_kind_shows_only_that_kind(gdf):
    result = gdf("list", "input_scalers")
    assert result.exit_code == 0
    assert "vp" in result.stdout and "lerp" in result.stdout
    assert "cosine" not in result.stdout


def test_list_of_an_unknown_kind_is_a_user_error(gdf):
    assert_user_error(gdf("list", "schedulez"), "unknown kind 'schedulez'", "did you mean 'schedule'?", "Kinds: schedule")


# -- show ------------------------------------------------------------------------
def test_show_gives_parameters_defaults_docstring_and_origin(gdf):
    result = gdf("show", "p2")
    assert result.exit_code == 0
    out = result.stdout
    assert "loss_weight p2" in out
    for word in ("gamma", "1.0", "distribution gdf", "builtin_loss_weights", "P2LossWeight"):
        assert word in out


def test_show_a_schedule_summarises_its_training_draw(gdf):
    result = gdf("show", "edm_train")
    assert result.exit_code == 0
    assert "training draw of λ" in result.stdout and "median" in result.stdout


def test_show_a_name_of_several_kinds_shows_each(gdf):
    out = gdf("show", "edm").stdout
    assert "noise_cond edm" in out and "preset edm" in out and "edm_train" in out
    only = gdf("show", "edm", "--kind", "preset").stdout
    assert "noise_cond edm" not in only and "preset edm" in only


def test_show_an_unknown_name_is_a_user_error_with_a_suggestion(gdf):
    assert_user_error(gdf("show", "cosin"), "no component or preset named 'cosin'", "did you mean 'cosine'?")


def test_show_with_the_wrong_kind_is_a_user_error(gdf):
    assert_user_error(gdf("show", "cosine", "--kind", "target"), "no target named 'cosine'")


# -- validate --------------------------------------------------------------------
def test_validate_a_preset_prints_the_resolved_spec(gdf):
    result = gdf("validate", "edm")
    assert result.exit_code == 0
    assert result.stdout.startswith("valid: edm")
    assert "edm_train" in result.stdout and "karras" in result.stdout


def test_validate_a_yaml_file(gdf, tmp_path):
    spec = tmp_path / "recipe.yaml"
    spec.write_text("preset: rectified_flow\nloss_weight: {name: p2, gamma: 0.5}\n")
    result = gdf("validate", str(spec))
    assert result.exit_code == 0
    assert "gamma: 0.5" in result.stdout


def test_validate_a_misspelt_parameter_names_its_path(gdf):
    result = gdf("validate", '{"preset": "edm", "loss_weight": {"name": "p2", "gama": 1}}')
    assert_user_error(result, "loss_weight.p2.gama", "did you mean 'gamma'?")


def test_validate_an_unknown_preset_lists_the_presets(gdf):
    assert_user_error(gdf("validate", "stable_cascad"), "unknown preset 'stable_cascad'", "did you mean 'stable_cascade'?", "edm")


def test_validate_an_unknown_component_lists_the_kind(gdf, tmp_path):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"preset": "ddpm", "schedule": "cosinus"}))
    assert_user_error(gdf("validate", str(spec)), "schedule: unknown schedule 'cosinus'", "Available schedules:")


def test_validate_a_missing_file_is_a_user_error(gdf, tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_user_error(gdf("validate", str(missing)), f"no such spec file: '{missing}'")


def test_validate_an_incomplete_spec_says_what_is_missing(gdf):
    assert_user_error(gdf("validate", '{"schedule": "cosine"}'), "missing 'input_scaler'")


# -- plot ------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["stable_cascade", "edm"])
def test_plot_writes_a_png(gdf, tmp_path, preset):
    out = tmp_path / f"{preset}.png"
    result = gdf("plot", preset, "-o", str(out), "--dpi", "40")
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {out}" in result.stdout


def test_plot_a_bad_spec_is_a_user_error(gdf, tmp_path):
    result = gdf("plot", '{"preset": "edm", "target": "vv"}', "-o", str(tmp_path / "x.png"))
    assert_user_error(result, "target: unknown target 'vv'", "did you mean 'v'?")
    assert not (tmp_path / "x.png").exists()


def test_plot_a_missing_file_is_a_user_error(gdf, tmp_path):
    assert_user_error(gdf("plot", "missing.toml", "-o", str(tmp_path / "x.png")), "no such spec file: 'missing.toml'")


def test_plot_needs_an_output_file(gdf):
    result = gdf("plot", "edm")
    assert result.exit_code == 2
    assert "Missing option '-o' / '--output'" in result.stderr


# -- demo ------------------------------------------------------------------------
def test_demo_runs_end_to_end_and_writes_png_and_json(gdf, tmp_path):
    result = gdf("demo", "--spec", "rectified_flow", "--steps", "30", "--samples", "64", "--nfe", "2,4",
                 "--samplers", "ddim", "--no-progress", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo_rectified_flow.png").read_bytes()[:8] == PNG_MAGIC
    report = json.loads((tmp_path / "demo_rectified_flow.json").read_text())
    assert [(r["sampler"], r["nfe"]) for r in report["results"]] == [("ddim", 2), ("ddim", 4)]
    assert "sliced Wasserstein distance" in result.stdout


def test_demo_with_an_unknown_sampler_fails_before_training(gdf, tmp_path):
    result = gdf("demo", "--samplers", "ddim,eulr", "--steps", "5", "--out", str(tmp_path))
    assert_user_error(result, "unknown sampler 'eulr'", "Available samplers:")


def test_demo_with_a_missing_spec_file_is_a_user_error(gdf, tmp_path):
    assert_user_error(gdf("demo", "--spec", str(tmp_path / "mine.yaml"), "--out", str(tmp_path)), "no such spec file:")


def test_demo_rejects_a_bad_nfe_list(gdf):
    result = gdf("demo", "--nfe", "5,ten")
    assert result.exit_code == 2
    assert "expected comma-separated integers" in result.stderr


# -- bench, check, plugins, schema ---------------------------------------------------
def test_bench_prints_the_accuracy_table_with_orders(gdf, tmp_path):
    out = tmp_path / "bench.json"
    result = gdf("bench", "-s", "ddim", "-s", '{"name": "unipc", "order": 2}', "--dim", "2", "--components", "2",
                 "--samples", "8", "--nfe", "5,10,20", "-g", "karras", "--no-peers", "--no-progress", "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "unipc(order=2)" in result.stdout and "order" in result.stdout and "NFE  10" in result.stdout
    import json

    rows = json.loads(out.read_text())["results"]
    assert [r["sampler"] for r in rows] == ["ddim", "unipc(order=2)"]
    assert rows[0]["order"] < rows[1]["order"]


def test_bench_with_an_unknown_grid_or_sampler_is_a_user_error(gdf):
    assert_user_error(gdf("bench", "-g", "karas", "--no-peers", "--no-progress"), "unknown grid 'karas'")
    assert_user_error(gdf("bench", "-s", "dpmpp_9m", "--dim", "2", "--samples", "4", "--nfe", "5", "--no-peers",
                          "--no-progress"), "dpmpp_9m")


def test_check_runs_the_invariants_of_one_component(gdf):
    result = gdf("check", "vp", "--max-examples", "5")
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.stdout


def test_check_an_unknown_component_is_a_user_error(gdf):
    assert_user_error(gdf("check", "nonexistent_scaler"), "no installed component named nonexistent_scaler")


def test_plugins_lists_the_builtin_distribution(gdf):
    result = gdf("plugins")
    assert result.exit_code == 0
    assert "gdf" in result.stdout and "builtin_schedules" in result.stdout


def test_plugins_rejects_an_unknown_option(gdf):
    result = gdf("plugins", "--jsn")
    assert result.exit_code == 2
    assert "No such option '--jsn'. Did you mean '--json'?" in result.stderr


def test_schema_is_json_covering_the_components(gdf, tmp_path):
    result = gdf("schema")
    assert result.exit_code == 0
    assert "$defs" in json.loads(result.stdout)


def test_schema_to_a_folder_is_a_usage_error(gdf, tmp_path):
    result = gdf("schema", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_user_errors_show_a_traceback_with_gdf_debug(monkeypatch):
    monkeypatch.setenv("GDF_DEBUG", "1")
    result = CliRunner().invoke(main, ["validate", "stable_cascad"])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "UnknownComponentError"


def test_validate_never_reads_a_file_whose_name_is_not_a_spec_file(gdf, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = gdf("validate", str(secret))
    assert result.exit_code == 1 and "root:x" not in result.output
    assert "is not a preset name or spec text" in result.stderr and "pathlib.Path" in result.stderr


def test_validate_a_binary_spec_file_is_a_user_error_without_a_traceback(gdf, tmp_path):
    binary = tmp_path / "spec.json"
    binary.write_bytes(b"\x00\xff\xfe" * 10)
    result = gdf("validate", str(binary))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "is binary, not JSON, YAML or TOML text" in result.stderr


def test_validate_reports_every_error_of_a_spec_at_once(gdf, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("preset: stable_cascade\nschedule: {name: cosine, s: .nan}\ntarget: eps\noffset_noise: -1\n")
    result = gdf("validate", str(spec))
    assert result.exit_code == 1
    assert "3 problems in the spec:" in result.stderr
    assert "schedule.cosine.s" in result.stderr and "did you mean 'epsilon'?" in result.stderr and "offset_noise" in result.stderr
