"""``gdf import diffusers`` and ``gdf export diffusers``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdf_core import GDF
from gdf_core.cli import main

CONFIGS = Path(__file__).parent / "fixtures" / "diffusers_configs"


def test_import_writes_the_spec_and_prints_what_was_mapped_and_approximated(tmp_path: Path) -> None:
    out = tmp_path / "recipe.yaml"
    result = CliRunner().invoke(main, ["import", "diffusers", str(CONFIGS / "sd15_pndm.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "APPROXIMATED" in result.output and "ipndm" in result.output
    assert "set_timesteps → diffusers_grid" in result.output
    gdf = GDF.from_spec(out)
    assert gdf.sampler.name == "ipndm" and gdf.sample_schedule.steps_offset == 1


def test_import_of_a_model_folder_then_export_gives_the_release_config_back(tmp_path: Path) -> None:
    folder = tmp_path / "sdxl" / "scheduler"
    folder.mkdir(parents=True)
    (folder / "scheduler_config.json").write_text((CONFIGS / "sdxl_euler.json").read_text())
    recipe, exported = tmp_path / "recipe.json", tmp_path / "scheduler_config.json"
    runner = CliRunner()
    assert runner.invoke(main, ["import", "diffusers", str(tmp_path / "sdxl"), "-o", str(recipe)]).exit_code == 0
    result = runner.invoke(main, ["export", "diffusers", str(recipe), "-o", str(exported)])
    assert result.exit_code == 0, result.output
    assert "EulerDiscreteScheduler" in result.output
    config = json.loads(exported.read_text())
    release = json.loads((CONFIGS / "sdxl_euler.json").read_text())
    for key in ("beta_start", "beta_end", "beta_schedule", "num_train_timesteps", "steps_offset", "timestep_spacing", "prediction_type"):
        assert config[key] == release[key], key


def test_import_refuses_an_option_by_name_with_exit_status_1(tmp_path: Path) -> None:
    config = tmp_path / "scheduler_config.json"
    config.write_text(json.dumps({"_class_name": "DDPMScheduler", "variance_type": "learned_range"}))
    result = CliRunner().invoke(main, ["import", "diffusers", str(config), "-o", str(tmp_path / "r.yaml")])
    assert result.exit_code == 1 and "variance_type" in result.output
    assert not (tmp_path / "r.yaml").exists()


def test_import_says_how_a_clipped_x0_is_mapped(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", "diffusers", str(CONFIGS / "ddpm_cosine_policy.json"), "-o", str(tmp_path / "r.yaml")])
    assert result.exit_code == 0, result.output
    assert "clip_sample" in result.output and "thresholded" in result.output
    assert "thresholded" in (tmp_path / "r.yaml").read_text()


def test_export_refuses_a_recipe_diffusers_cannot_express(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "diffusers", "edm", "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 1 and "karras" in result.output
