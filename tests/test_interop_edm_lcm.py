"""Certification of EDMEulerScheduler and LCMScheduler: GDF.from_diffusers samples as diffusers' own loop.

As in test_interop_equivalence.py: the same small random model, start noise and (for LCM's
fresh noise) the same seeded generator; the same final x to 1e-4 relative, the same
timesteps given to the model, the same number of calls. EDM: gdf's x is the network
input c_in·(x0 + σ·ε), so the run starts at x_init = c_in(σ_max)·init_noise_sigma·ε and
its final x is diffusers' sample times c_in of the last level.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from gdf_core import GDF
from gdf_core.errors import SpecError
from gdf_core.interop import convert_diffusers, export_diffusers

diffusers = pytest.importorskip("diffusers")

from interop_loops import RecordingNet, diffusers_loop, gdf_loop, relative_error  # noqa: E402

CONFIGS = Path(__file__).parent / "fixtures" / "diffusers_configs"
SHAPE = (2, 2, 8, 8)


def fixture_config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def make(cls_name: str, config: dict):
    return getattr(diffusers, cls_name).from_config({k: v for k, v in config.items() if not k.startswith("_")})


def run_both(cls_name: str, config: dict, steps: int, model: type = RecordingNet, **from_options):
    """(gdf's final x in diffusers' units, diffusers' final x, gdf's model timesteps, diffusers')."""
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(steps))
    theirs, ours = RecordingNet(), model()
    scheduler = make(cls_name, config)
    ref = diffusers_loop(scheduler, theirs, noise, steps, generator=torch.Generator().manual_seed(7))
    gdf = GDF.from_diffusers(make(cls_name, config), **from_options)
    lam = gdf.sample_schedule.run_logsnrs(steps)
    start, end = 1.0, 1.0
    if cls_name == "EDMEulerScheduler":  # x = c_in·(x0 + σ·ε): in at c_in(σ_max)·init_noise_sigma·ε, out over c_in
        start = float(gdf.input_scaler(lam[:1])[0]) * scheduler.init_noise_sigma
        end = float(gdf.input_scaler(lam[-1:])[0])
    out = gdf_loop(gdf, ours, noise * start, steps, generator=torch.Generator().manual_seed(7)) / end
    return out, ref, ours.calls(), theirs.calls()


def assert_same_run(cls_name: str, config: dict, steps: int, **from_options) -> float:
    out, ref, t_ours, t_theirs = run_both(cls_name, config, steps, **from_options)
    assert t_ours.shape == t_theirs.shape, f"{len(t_ours)} model calls, diffusers makes {len(t_theirs)}"
    torch.testing.assert_close(t_ours, t_theirs, rtol=1e-5, atol=1e-5, msg="timesteps given to the model differ")
    err = relative_error(out, ref)
    assert err < 1e-4, f"final x differs from diffusers' by {err:.2e} (relative)"
    return err


# -- EDMEulerScheduler ---------------------------------------------------------------------------

EDM_OPTIONS = [
    {},
    {"prediction_type": "v_prediction"},
    {"sigma_schedule": "exponential"},
    {"rho": 3.0, "sigma_min": 0.01, "sigma_max": 20.0},
    {"final_sigmas_type": "sigma_min"},
    {"sigma_data": 1.0, "prediction_type": "v_prediction", "sigma_schedule": "exponential", "final_sigmas_type": "sigma_min"},
    {"num_train_timesteps": 500},
]


@pytest.mark.parametrize("steps", (1, 2, 7))
@pytest.mark.parametrize("options", EDM_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_edm_euler_options_sample_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("EDMEulerScheduler", options, steps)


@pytest.mark.parametrize("steps", (1, 4, 30))
@pytest.mark.parametrize("release", ["cosxl_edm_euler", "playground_v25_edm_dpm"])
def test_edm_release_configs_sample_as_edm_euler(release: str, steps: int) -> None:
    # Playground v2.5 ships EDMDPMSolverMultistepScheduler; EDMEulerScheduler.from_config of it is what a
    # user swapping the scheduler runs (its DPM-Solver keys are not EDMEuler options: ignored by both)
    assert_same_run("EDMEulerScheduler", fixture_config(release), steps, scheduler_class="EDMEulerScheduler")


def test_edm_dpm_solver_multistep_is_refused_naming_the_class() -> None:
    with pytest.raises(SpecError, match="EDMDPMSolverMultistepScheduler"):
        GDF.from_diffusers(fixture_config("playground_v25_edm_dpm"))


def test_edm_grid_is_set_timesteps() -> None:
    from gdf_core import build

    for options in EDM_OPTIONS:
        grid = build("schedule", convert_diffusers({"_class_name": "EDMEulerScheduler", **options}).spec["sample_schedule"])
        for steps in (1, 2, 3, 10, 50):
            sched = diffusers.EDMEulerScheduler(**options)
            sched.set_timesteps(steps)
            sigma = torch.exp(-grid.run_logsnrs(steps) / 2)
            torch.testing.assert_close(sigma, sched.sigmas.double(), rtol=1e-12, atol=0, msg=f"{options} {steps}")


def test_the_edm_check_can_fail() -> None:
    # the same run with F's sign flipped (epsilon read as v_prediction) is caught
    out, ref, _, _ = run_both("EDMEulerScheduler", {"prediction_type": "v_prediction"}, 7)
    assert relative_error(out, ref) < 1e-4
    flipped = make("EDMEulerScheduler", {})
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    assert relative_error(out, diffusers_loop(flipped, RecordingNet(), noise, 7)) > 1e-2


# -- LCMScheduler --------------------------------------------------------------------------------

LCM_OPTIONS = [
    {},
    {"timestep_scaling": 0.01},  # a boundary condition that matters: c_skip ≈ 0.87 at τ = 19
    {"timestep_scaling": 0.05, "prediction_type": "v_prediction"},
    {"timestep_scaling": 0.05, "prediction_type": "sample"},
    {"original_inference_steps": 25, "timestep_scaling": 0.02},
    {"original_inference_steps": 30, "num_train_timesteps": 700},  # ⌊T/N₀⌋ = 23: the grid ends at 689
    {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "timestep_scaling": 0.02},
    {"rescale_betas_zero_snr": True, "prediction_type": "v_prediction", "timestep_scaling": 0.02},
    {"timestep_spacing": "trailing", "steps_offset": 1, "set_alpha_to_one": False},  # unused by diffusers' LCM
]


@pytest.mark.parametrize("steps", (1, 3, 8))
@pytest.mark.parametrize("options", LCM_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_lcm_options_sample_as_diffusers_with_the_same_noise(options: dict, steps: int) -> None:
    if steps > options.get("original_inference_steps", 50):
        pytest.skip("more steps than original_inference_steps: diffusers refuses (see below)")
    assert_same_run("LCMScheduler", options, steps)


@pytest.mark.parametrize("steps", (1, 2, 4, 8))
@pytest.mark.parametrize("release", ["lcm_dreamshaper_v7", "sdxl_lcm_lora"])
def test_lcm_release_configs_sample_as_diffusers(release: str, steps: int) -> None:
    assert_same_run("LCMScheduler", fixture_config(release), steps)


def test_lcm_grid_is_set_timesteps() -> None:
    from gdf_core import build

    for original in (1, 7, 50, 100, 1000):
        grid = build("schedule", convert_diffusers({"_class_name": "LCMScheduler", "original_inference_steps": original}).spec["sample_schedule"])
        for steps in sorted({1, 2, 3, 4, 7, 13, original} - {s for s in (2, 3, 4, 7, 13) if s > original}):
            sched = diffusers.LCMScheduler(original_inference_steps=original)
            sched.set_timesteps(steps)
            assert torch.equal(grid.run_timesteps(steps), sched.timesteps), (original, steps)
            lam = grid.run_logsnrs(steps)
            assert math.isinf(float(lam[-1])) and lam[-1] > 0


def test_lcm_refuses_more_steps_than_original_inference_steps_as_diffusers_does() -> None:
    with pytest.raises(ValueError):
        diffusers.LCMScheduler(original_inference_steps=4).set_timesteps(5)
    gdf = GDF.from_diffusers({"_class_name": "LCMScheduler", "original_inference_steps": 4})
    with pytest.raises(ValueError, match="original_inference_steps=4"):
        gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 5)


def test_the_lcm_check_can_fail() -> None:
    # gdf without the boundary condition (plain ε target) is caught where the condition matters
    config = {"timestep_scaling": 0.01}
    out, ref, _, _ = run_both("LCMScheduler", config, 4)
    assert relative_error(out, ref) < 1e-4
    spec = convert_diffusers({"_class_name": "LCMScheduler", **config}).spec
    plain = GDF.from_spec({**spec, "target": "epsilon"})
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(4))
    bare = gdf_loop(plain, RecordingNet(), noise, 4, generator=torch.Generator().manual_seed(7))
    assert relative_error(bare, ref) > 1e-3
    # and with other per-step noise
    other = gdf_loop(GDF.from_spec(spec), RecordingNet(), noise, 4, generator=torch.Generator().manual_seed(8))
    assert relative_error(other, ref) > 1e-2


# -- what diffusers cannot express, CLI (refusals and round trips: test_interop_roundtrip.py) --------

@pytest.mark.parametrize(
    "change, named",
    [({"sampler": "ddim"}, "lcm"), ({"target": "epsilon"}, "consistency"), ({"input_scaler": "lerp"}, "vp")],
)
def test_lcm_recipes_diffusers_cannot_express_are_refused(change: dict, named: str) -> None:
    spec = convert_diffusers({"_class_name": "LCMScheduler"}).spec
    with pytest.raises(SpecError, match=named):
        export_diffusers(GDF.from_spec({**spec, **change}))


@pytest.mark.parametrize(
    "change, named", [({"sampler": "heun"}, "Euler"), ({"target": {"name": "edm", "sigma_data": 1.0}}, "sigma_data"), ({"noise_cond": "logsnr"}, "edm")]
)
def test_edm_recipes_diffusers_cannot_express_are_refused(change: dict, named: str) -> None:
    spec = convert_diffusers({"_class_name": "EDMEulerScheduler"}).spec
    with pytest.raises(SpecError, match=named):
        export_diffusers(GDF.from_spec({**spec, **change}))


@pytest.mark.parametrize("release, cls_name", [("lcm_dreamshaper_v7", "LCMScheduler"), ("cosxl_edm_euler", "EDMEulerScheduler")])
def test_cli_import_then_export_gives_the_release_config_back(tmp_path: Path, release: str, cls_name: str) -> None:
    from gdf_core.cli import main

    recipe, exported = tmp_path / "recipe.yaml", tmp_path / "scheduler_config.json"
    runner = CliRunner()
    result = runner.invoke(main, ["import", "diffusers", str(CONFIGS / f"{release}.json"), "-o", str(recipe)])
    assert result.exit_code == 0, result.output
    assert ("diffusers_lcm_grid" if cls_name == "LCMScheduler" else "diffusers_edm_grid") in result.output
    result = runner.invoke(main, ["export", "diffusers", str(recipe), "-o", str(exported)])
    assert result.exit_code == 0, result.output
    assert cls_name in result.output
    back, shipped = make(cls_name, json.loads(exported.read_text())).config, make(cls_name, fixture_config(release)).config
    unused = ("timestep_spacing", "steps_offset", "set_alpha_to_one")  # LCM's: no effect in diffusers, not exported
    differing = {k: (v, back[k]) for k, v in shipped.items() if not k.startswith("_") and k not in unused and back[k] != v}
    assert not differing


def test_cli_import_refuses_edm_dpm_solver_with_exit_status_1(tmp_path: Path) -> None:
    from gdf_core.cli import main

    result = CliRunner().invoke(main, ["import", "diffusers", str(CONFIGS / "playground_v25_edm_dpm.json"), "-o", str(tmp_path / "r.yaml")])
    assert result.exit_code == 1 and "EDMDPMSolverMultistepScheduler" in result.output
