"""from_diffusers(x).to_diffusers() is x again; what gdf or diffusers cannot express is refused, by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gdf_core import GDF
from gdf_core.errors import SpecError
from gdf_core.interop import convert_diffusers, export_diffusers

diffusers = pytest.importorskip("diffusers")

CONFIGS = Path(__file__).parent / "fixtures" / "diffusers_configs"
SD = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}

ROUND_TRIPS = [
    ("DDIMScheduler", {**SD, "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "prediction_type": "v_prediction"}),
    ("DDIMScheduler", {**SD, "clip_sample": False, "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}),
    ("DDPMScheduler", {"beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 100, "clip_sample": False}),
    ("PNDMScheduler", {**SD, "skip_prk_steps": True, "steps_offset": 1}),
    ("EulerDiscreteScheduler", {**SD, "timestep_spacing": "leading", "steps_offset": 1}),
    ("EulerDiscreteScheduler", {**SD, "use_karras_sigmas": True, "final_sigmas_type": "sigma_min"}),
    ("EulerAncestralDiscreteScheduler", {**SD, "timestep_spacing": "trailing"}),
    ("HeunDiscreteScheduler", {**SD, "use_exponential_sigmas": True}),
    ("LMSDiscreteScheduler", {**SD, "use_beta_sigmas": True}),
    ("DPMSolverMultistepScheduler", {**SD, "solver_order": 3, "use_karras_sigmas": True}),
    ("DPMSolverMultistepScheduler", {**SD, "algorithm_type": "sde-dpmsolver++", "solver_type": "heun", "final_sigmas_type": "sigma_min"}),
    ("UniPCMultistepScheduler", {**SD, "solver_order": 3, "solver_type": "bh1"}),
    ("UniPCMultistepScheduler", {**SD, "lower_order_final": False, "final_sigmas_type": "sigma_min"}),
    ("DEISMultistepScheduler", {**SD, "solver_order": 3}),
    ("DEISMultistepScheduler", {**SD, "use_karras_sigmas": True, "lower_order_final": False}),
    ("UniPCMultistepScheduler", {**SD, "use_karras_sigmas": True, "final_sigmas_type": "sigma_min"}),
    ("FlowMatchEulerDiscreteScheduler", {"shift": 3.0}),
    # multistep solvers on flow σ (Sana, Wan 2.1)
    ("DPMSolverMultistepScheduler", {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": 3.0}),
    ("DPMSolverMultistepScheduler", {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": 3.0,
                                     "final_sigmas_type": "sigma_min", "algorithm_type": "sde-dpmsolver++", "solver_order": 3}),
    ("UniPCMultistepScheduler", {"use_flow_sigmas": True, "prediction_type": "flow_prediction", "flow_shift": 5.0}),
    ("UniPCMultistepScheduler", {"use_flow_sigmas": True, "prediction_type": "sample", "flow_shift": 3.0, "shift_terminal": 0.1,
                                 "final_sigmas_type": "sigma_min", "solver_order": 3}),
    ("DEISMultistepScheduler", {"use_flow_sigmas": True, "prediction_type": "epsilon", "flow_shift": 3.0, "solver_order": 3}),
    ("FlowMatchEulerDiscreteScheduler", {"shift": 3.0, "shift_terminal": 0.02, "use_karras_sigmas": True}),
    ("EDMEulerScheduler", {}),
    ("EDMEulerScheduler", {"sigma_schedule": "exponential", "prediction_type": "v_prediction", "final_sigmas_type": "sigma_min",
                           "rho": 5.0, "sigma_data": 1.0, "sigma_max": 120.0}),
    ("LCMScheduler", {}),
    ("LCMScheduler", {"timestep_scaling": 0.5, "original_inference_steps": 30, "prediction_type": "v_prediction",
                      "rescale_betas_zero_snr": True, "beta_schedule": "linear"}),
    ("LCMScheduler", {"trained_betas": torch.linspace(1e-4, 0.02, 1000).tolist(), "prediction_type": "sample"}),
    # x̂0 limits (the thresholded target)
    ("DDPMScheduler", {}),  # diffusers' defaults clip x̂0 to ±1
    ("DDIMScheduler", {**SD, "clip_sample_range": 2.0}),
    ("DDIMScheduler", {**SD, "clip_sample": False, "thresholding": True, "sample_max_value": 3.0, "dynamic_thresholding_ratio": 0.9}),
    ("DPMSolverMultistepScheduler", {**SD, "thresholding": True, "sample_max_value": 2.0}),
    ("UniPCMultistepScheduler", {**SD, "thresholding": True}),
    ("DEISMultistepScheduler", {**SD, "thresholding": True, "sample_max_value": 1.5}),
    ("LCMScheduler", {"clip_sample": True, "clip_sample_range": 1.5}),
    ("HeunDiscreteScheduler", {**SD, "clip_sample": True, "clip_sample_range": 2.0}),  # was converted, then refused on export
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls_name, config", ROUND_TRIPS, ids=lambda v: v if isinstance(v, str) else ",".join(v)[:40])
def test_from_diffusers_then_to_diffusers_gives_the_same_scheduler(cls_name: str, config: dict) -> None:
    original = getattr(diffusers, cls_name)(**config)
    back = GDF.from_diffusers(original).to_diffusers()
    assert type(back) is type(original)
    if hasattr(original, "alphas_cumprod"):
        assert torch.equal(back.alphas_cumprod, original.alphas_cumprod)
    for steps in (1, 4, 25):
        a, b = getattr(diffusers, cls_name)(**config), back
        a.set_timesteps(steps)
        b.set_timesteps(steps)
        torch.testing.assert_close(a.timesteps, b.timesteps, rtol=0, atol=0, equal_nan=True)  # (diffusers' own NaN at 1 Karras step)
        if hasattr(a, "sigmas"):
            torch.testing.assert_close(a.sigmas, b.sigmas, rtol=0, atol=0, equal_nan=True)
    differing = {k: (v, back.config[k]) for k, v in original.config.items() if not k.startswith("_") and back.config.get(k) != v}
    assert not differing


def test_release_config_files_and_folders_are_read(tmp_path: Path) -> None:
    model = tmp_path / "model" / "scheduler"
    model.mkdir(parents=True)
    (model / "scheduler_config.json").write_text((CONFIGS / "sdxl_euler.json").read_text())
    from_folder = GDF.from_diffusers(tmp_path / "model")
    from_file = GDF.from_diffusers(str(CONFIGS / "sdxl_euler.json"))
    from_dict = GDF.from_diffusers(json.loads((CONFIGS / "sdxl_euler.json").read_text()))
    from_config = GDF.from_diffusers(diffusers.EulerDiscreteScheduler(**SD).config, scheduler_class="EulerDiscreteScheduler")
    assert from_folder == from_file == from_dict
    assert from_config.sample_schedule.timestep_spacing == "linspace"


def test_keys_of_other_schedulers_are_reported_as_ignored() -> None:
    conversion = convert_diffusers(json.loads((CONFIGS / "sdxl_euler.json").read_text()))
    ignored = " ".join(conversion.ignored)
    assert "skip_prk_steps" in ignored and "set_alpha_to_one" in ignored and "clip_sample" in ignored


REFUSED = [
    ({"_class_name": "DDPMScheduler", "clip_sample": False, "variance_type": "learned_range"}, "variance_type"),
    ({"_class_name": "EulerDiscreteScheduler", "interpolation_type": "log_linear"}, "interpolation_type"),
    ({"_class_name": "EulerDiscreteScheduler", "timestep_type": "continuous"}, "timestep_type"),
    ({"_class_name": "EulerDiscreteScheduler", "sigma_min": 0.1}, "sigma_min"),
    ({"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": True, "use_beta_sigmas": True}, "use_beta_sigmas"),
    ({"_class_name": "DPMSolverMultistepScheduler", "use_lu_lambdas": True}, "use_lu_lambdas"),
    ({"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}, "final_sigmas_type"),  # diffusers refuses it
    ({"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver"}, "final_sigmas_type"),
    ({"_class_name": "DPMSolverMultistepScheduler", "use_flow_sigmas": True, "use_karras_sigmas": True}, "use_karras_sigmas"),
    ({"_class_name": "DPMSolverMultistepScheduler", "variance_type": "learned_range"}, "variance_type"),
    ({"_class_name": "UniPCMultistepScheduler", "predict_x0": False}, "predict_x0"),
    ({"_class_name": "UniPCMultistepScheduler", "disable_corrector": [0]}, "disable_corrector"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "invert_sigmas": True}, "invert_sigmas"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "stochastic_sampling": True}, "stochastic_sampling"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "use_dynamic_shifting": True}, "mu"),
    ({"_class_name": "EDMEulerScheduler", "prediction_type": "sample"}, "prediction_type"),
    ({"_class_name": "EDMEulerScheduler", "sigma_schedule": "linear"}, "sigma_schedule"),
    ({"_class_name": "EDMEulerScheduler", "final_sigmas_type": "denoise_to_zero"}, "final_sigmas_type"),
    ({"_class_name": "EDMEulerScheduler", "sigma_min": 90.0}, "sigma_min"),
    ({"_class_name": "EDMEulerScheduler", "sigma_data": 0.0}, "sigma_data"),
    ({"_class_name": "LCMScheduler", "prediction_type": "flow_prediction"}, "prediction_type"),
    ({"_class_name": "LCMScheduler", "original_inference_steps": 2000}, "original_inference_steps"),
    ({"_class_name": "LCMScheduler", "timestep_scaling": 0.0}, "timestep_scaling"),
    ({"_class_name": "LCMScheduler", "beta_schedule": "sigmoid"}, "beta_schedule"),
    ({"_class_name": "EDMDPMSolverMultistepScheduler"}, "EDMDPMSolverMultistepScheduler"),
    ({"_class_name": "KDPM2DiscreteScheduler"}, "KDPM2DiscreteScheduler"),
    ({"beta_schedule": "linear"}, "_class_name"),
    ({"_class_name": "DDIMScheduler", "clip_sample": False, "prediction_type": "flow_prediction"}, "prediction_type"),
]


@pytest.mark.parametrize("config, named", REFUSED, ids=lambda v: v if isinstance(v, str) else "")
def test_options_gdf_cannot_reproduce_are_refused_by_name(config: dict, named: str) -> None:
    with pytest.raises(SpecError, match=named):
        convert_diffusers(config)


@pytest.mark.parametrize(
    "spec, named",
    [("stable_cascade", "sample_schedule"), ("edm", "karras"), ("rectified_flow", "flow_shift")],
)
def test_recipes_diffusers_cannot_express_are_refused_listing_why(spec: str, named: str) -> None:
    with pytest.raises(SpecError, match=named):
        export_diffusers(GDF.from_spec(spec))


def test_an_exported_sampler_diffusers_does_not_have_is_refused() -> None:
    gdf = GDF.from_diffusers({**SD, "_class_name": "EulerDiscreteScheduler"})
    with pytest.raises(SpecError, match="dpmpp_2s_ancestral"):
        export_diffusers(GDF.from_spec({**gdf.to_spec(), "sampler": "dpmpp_2s_ancestral"}))
    assert GDF.from_spec(gdf.to_spec()) == gdf  # the spec round-trips through gdf's own spec too


def test_a_limited_x0_is_refused_where_the_scheduler_has_no_such_option() -> None:
    euler = GDF.from_diffusers(diffusers.EulerDiscreteScheduler(**SD))
    clipped = GDF.from_spec({**euler.to_spec(), "target": {"name": "thresholded", "method": "clip"}})
    with pytest.raises(SpecError, match="EulerDiscreteScheduler has no clip_sample"):
        clipped.to_diffusers(config=True)
    dpm = GDF.from_diffusers(diffusers.DPMSolverMultistepScheduler(**SD))
    with pytest.raises(SpecError, match="DPMSolverMultistepScheduler has no clip_sample"):
        GDF.from_spec({**dpm.to_spec(), "target": {"name": "thresholded", "method": "clip"}}).to_diffusers(config=True)
    ddim = GDF.from_diffusers(diffusers.DDIMScheduler(**SD))
    with pytest.raises(SpecError, match="takes ε̂ 'model'"):
        GDF.from_spec({**ddim.to_spec(), "target": {"name": "thresholded", "method": "clip", "noise": "consistent"}}).to_diffusers(config=True)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls_name, config", ROUND_TRIPS, ids=lambda v: v if isinstance(v, str) else ",".join(v)[:40])
def test_a_converted_gdf_survives_its_own_spec(cls_name: str, config: dict) -> None:
    """GDF.from_spec(gdf.to_spec()) rebuilds a converted GDF: the same spec, the same 4-step grid."""
    gdf = GDF.from_diffusers(getattr(diffusers, cls_name)(**config))
    again = GDF.from_spec(gdf.to_spec())
    assert again.to_spec() == gdf.to_spec()
    schedule, rebuilt = gdf.sample_schedule or gdf.schedule, again.sample_schedule or again.schedule
    grid = getattr(schedule, "run_logsnrs", None)
    if grid is not None:
        assert torch.equal(grid(4), rebuilt.run_logsnrs(4))


def test_the_pipeline_only_mu_options_of_flow_matching_are_reported_not_dropped_silently() -> None:
    """LTX-Video's base_shift/max_shift/base_image_seq_len differ from Flux's: the scheduler never reads them (its
    pipeline computes mu from them), gdf keeps mu, and both directions say so."""
    from gdf_core.interop.from_diffusers import convert_diffusers
    from gdf_core.interop.to_diffusers import export_diffusers

    ltx = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0, "use_dynamic_shifting": True, "base_shift": 0.95,
           "max_shift": 2.05, "base_image_seq_len": 1024, "max_image_seq_len": 4096, "shift_terminal": 0.1}
    report = convert_diffusers(ltx, mu=2.05).report()
    assert "base_shift=0.95, max_shift=2.05, base_image_seq_len=1024, max_image_seq_len=4096" in report
    assert "to_diffusers does not keep them" in report
    approximations = export_diffusers(GDF.from_diffusers(ltx, mu=2.05)).approximations
    assert any("base_shift, max_shift, base_image_seq_len and max_image_seq_len are diffusers' defaults" in a for a in approximations)
