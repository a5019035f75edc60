"""Certification: GDF.from_diffusers(scheduler) samples exactly as diffusers' own loop does.

For every scheduler × option below, with the same small random model and the
same start noise: the same final x to 1e-4 relative, the same timesteps given
to the model, the same number of model calls. Stochastic schedulers get the
same per-step noise (the same seeded torch.Generator, drawn in the same order
and shape by both), so they are compared sample for sample.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import torch

from gdf_core import GDF
from gdf_core.errors import SpecError

diffusers = pytest.importorskip("diffusers")

from interop_loops import RecordingNet, diffusers_loop, gdf_loop, relative_error  # noqa: E402

CONFIGS = Path(__file__).parent / "fixtures" / "diffusers_configs"
SD = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}
STEPS = (1, 10)  # every option at these; the real release configs at more step counts
SHAPE = (2, 2, 8, 8)


def fixture_config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def make(cls_name: str, config: dict):
    cls = getattr(diffusers, cls_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # diffusers warns about keys of other schedulers in shared configs
        return cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})


def assert_same_run(
    cls_name: str, config: dict, steps: int, *, x_init_scale: float = 1.0, ve_output: bool = False, **from_options
) -> None:
    """The certification itself: final x, timesteps and number of calls of the two loops.

    ``ve_output``: diffusers' Euler family returns x/a (σ-space); at a final σ > 0 that is gdf's x over a.
    """
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(steps))
    theirs, ours = RecordingNet(), RecordingNet()
    ref = diffusers_loop(make(cls_name, config), theirs, noise, steps, generator=torch.Generator().manual_seed(7),
                         **({"mu": from_options["mu"]} if "mu" in from_options else {}))
    gdf = GDF.from_diffusers(make(cls_name, config), **from_options)
    out = gdf_loop(gdf, ours, noise * x_init_scale, steps, generator=torch.Generator().manual_seed(7))
    if ve_output:
        out = out / gdf.input_scaler(gdf.sample_schedule.run_logsnrs(steps)[-1:])[0].item()
    t_theirs, t_ours = theirs.calls(), ours.calls()
    assert t_ours.shape == t_theirs.shape, f"{len(t_ours)} model calls, diffusers makes {len(t_theirs)}"
    torch.testing.assert_close(t_ours, t_theirs, rtol=1e-5, atol=1e-4, msg="timesteps given to the model differ")
    assert relative_error(out, ref) < 1e-4, f"final x differs from diffusers' by {relative_error(out, ref):.2e} (relative)"


# -- real configs of public releases ------------------------------------------------------------

REAL = {
    "sd21_v_ddim": "DDIMScheduler",  # Stable Diffusion 2.1 (768-v): v_prediction, leading, steps_offset 1
    "sdxl_euler": "EulerDiscreteScheduler",  # SDXL base 1.0: Euler, leading, steps_offset 1
    "sd3_flow": "FlowMatchEulerDiscreteScheduler",  # SD3 medium: flow matching, shift 3
}


@pytest.mark.parametrize("steps", (1, 3, 10, 25, 50))
@pytest.mark.parametrize("release", sorted(REAL))
def test_real_release_configs_sample_as_diffusers(release: str, steps: int) -> None:
    assert_same_run(REAL[release], fixture_config(release), steps)


@pytest.mark.parametrize("steps", (1, 4, 25, 50))
def test_zero_terminal_snr_v_prediction_samples_as_diffusers(steps: int) -> None:
    # trailing spacing: diffusers' DDIM steps τ → τ − ⌊T/N⌋, a grid whenever N divides T
    assert_same_run("DDIMScheduler", fixture_config("zsnr_v_ddim"), steps)


def test_zero_terminal_snr_trailing_with_a_step_count_not_dividing_T_is_refused() -> None:
    # N = 3: diffusers evaluates the model at 666 after stepping to 666, then steps to 333 but
    # evaluates at 332: not a grid of levels, so gdf refuses rather than silently differ.
    gdf = GDF.from_diffusers(make("DDIMScheduler", fixture_config("zsnr_v_ddim")))
    with pytest.raises(ValueError, match="not a grid"):
        gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 3)


@pytest.mark.parametrize("steps", (1, 10, 100))
def test_ddpm_cosine_release_config_samples_as_diffusers_with_the_same_noise(steps: int) -> None:
    config = {**fixture_config("ddpm_cosine_policy"), "clip_sample": False}  # with its clip_sample: the next test
    assert_same_run("DDPMScheduler", config, min(steps, 100))


@pytest.mark.parametrize("steps", (1, 10, 100))
def test_ddpm_cosine_release_config_with_its_clip_sample_samples_as_diffusers(steps: int) -> None:
    assert fixture_config("ddpm_cosine_policy").get("clip_sample", True)
    assert_same_run("DDPMScheduler", fixture_config("ddpm_cosine_policy"), steps)


# -- x̂0 clipped or dynamically thresholded (clip_sample, thresholding) --------------------------

LIMITS = [
    {"clip_sample": True},
    {"clip_sample": True, "clip_sample_range": 2.0},
    {"thresholding": True, "sample_max_value": 3.0},
    {"thresholding": True, "sample_max_value": 2.0, "dynamic_thresholding_ratio": 0.9},
]
LIMITED = {  # scheduler → its options besides the limit (clip_sample only where the scheduler has it)
    "DDIMScheduler": {"set_alpha_to_one": False, "steps_offset": 1},
    "DDPMScheduler": {},
    "DPMSolverMultistepScheduler": {},
    "DPMSolverMultistepScheduler dpmsolver": {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"},
    "UniPCMultistepScheduler": {},
    "DEISMultistepScheduler": {},
    "LCMScheduler": {},
}


@pytest.mark.parametrize("steps", (1, 4, 10))
@pytest.mark.parametrize("limit", LIMITS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("case", sorted(LIMITED))
def test_limited_x0_samples_as_diffusers(case: str, limit: dict, steps: int) -> None:
    cls_name = case.split()[0]
    if "clip_sample" in limit and cls_name not in ("DDIMScheduler", "DDPMScheduler", "LCMScheduler"):
        pytest.skip(f"{cls_name} has no clip_sample")
    config = {**SD, "clip_sample": False, **LIMITED[case], **limit}
    if cls_name not in ("DDIMScheduler", "DDPMScheduler", "LCMScheduler"):
        config.pop("clip_sample")
    assert_same_run(cls_name, config, steps)
    # and the limit acts: the run without it lands elsewhere
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(steps))
    plain = {**config, **{k: False for k in ("clip_sample", "thresholding") if k in config}}
    limited_out, plain_out = (gdf_loop(GDF.from_diffusers(make(cls_name, c)), RecordingNet(), noise, steps,
                                       generator=torch.Generator().manual_seed(7)) for c in (config, plain))
    assert relative_error(limited_out, plain_out) > 1e-3


def test_the_default_ddpm_and_ddim_schedulers_convert() -> None:
    """Both default to clip_sample=True: once refused, now reproduced."""
    for cls in (diffusers.DDPMScheduler, diffusers.DDIMScheduler):
        assert GDF.from_diffusers(cls()).target.name == "thresholded"


# -- every scheduler × option --------------------------------------------------------------------

DDIM_OPTIONS = [
    {"set_alpha_to_one": True},
    {"set_alpha_to_one": False, "steps_offset": 1},
    {"prediction_type": "v_prediction", "set_alpha_to_one": False, "steps_offset": 1},
    {"prediction_type": "sample"},
    {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02},
    {"beta_schedule": "squaredcos_cap_v2"},
    {"timestep_spacing": "trailing", "rescale_betas_zero_snr": True, "prediction_type": "v_prediction"},
    {"trained_betas": torch.linspace(0.0001, 0.02, 1000).tolist()},
]


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("options", DDIM_OPTIONS, ids=lambda o: ",".join(f"{k}" for k in o))
def test_ddim_options_sample_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("DDIMScheduler", {**SD, "clip_sample": False, **options}, steps)


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize(
    "options", [{}, {"prediction_type": "v_prediction"}, {"timestep_spacing": "trailing"}, {"steps_offset": 1}], ids=str
)
def test_ddpm_samples_as_diffusers_with_the_same_noise(options: dict, steps: int) -> None:
    assert_same_run("DDPMScheduler", {**SD, "clip_sample": False, **options}, steps)


@pytest.mark.parametrize("steps", (2, 3, 7, 30))
@pytest.mark.parametrize("spacing", ["trailing", "linspace"])
def test_ddpm_samples_as_diffusers_at_step_counts_whose_steps_are_not_tau_minus_t_over_n(spacing: str, steps: int) -> None:
    """DDPM steps to the next timestep it evaluates (``previous_timestep``), not τ − ⌊T/N⌋ as DDIM: a trailing or
    linspace DDPM run is a grid at every N, and was refused as "not a grid" (Hunyuan-DiT's v-prediction table here)."""
    hunyuan_dit = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.03, "prediction_type": "v_prediction"}
    assert_same_run("DDPMScheduler", {**hunyuan_dit, "clip_sample": False, "steps_offset": 1, "timestep_spacing": spacing}, steps)


EULER_OPTIONS = [
    {"timestep_spacing": "leading", "steps_offset": 1},
    {"timestep_spacing": "leading", "steps_offset": 1, "use_karras_sigmas": True},
    {"timestep_spacing": "leading", "steps_offset": 1, "use_exponential_sigmas": True},
    {"timestep_spacing": "leading", "steps_offset": 1, "use_beta_sigmas": True},
    {"timestep_spacing": "leading", "steps_offset": 1, "final_sigmas_type": "sigma_min"},
    {"timestep_spacing": "leading", "steps_offset": 1, "prediction_type": "v_prediction"},
    {"timestep_spacing": "leading", "steps_offset": 1, "prediction_type": "sample"},
]


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("options", EULER_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("cls_name", ["EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler"])
def test_euler_options_sample_as_diffusers(cls_name: str, options: dict, steps: int) -> None:
    if cls_name == "EulerAncestralDiscreteScheduler" and any(
        k.startswith("use_") or k == "final_sigmas_type" or v == "sample" for k, v in options.items()
    ):
        pytest.skip("EulerAncestralDiscreteScheduler has no such option (and no prediction_type 'sample')")
    assert_same_run(cls_name, {**SD, **options}, steps, ve_output="final_sigmas_type" in options)


@pytest.mark.parametrize("steps", (3, 10))
@pytest.mark.parametrize(
    "options",
    [{"timestep_spacing": "trailing"}, {"timestep_spacing": "linspace"}, {"timestep_spacing": "linspace", "use_karras_sigmas": True},
     {"timestep_spacing": "trailing", "rescale_betas_zero_snr": True, "prediction_type": "v_prediction"}],
    ids=str,
)
def test_euler_trailing_and_linspace_sample_as_diffusers_from_its_start(options: dict, steps: int) -> None:
    # diffusers starts these at init_noise_sigma·ε = σ_max·ε, i.e. b(λ_0)·ε = σ_max/√(1 + σ_max²)·ε in gdf's x
    config = {**SD, **options}
    gdf = GDF.from_diffusers(make("EulerDiscreteScheduler", config))
    b_start = float(gdf.input_scaler(gdf.sample_schedule.run_logsnrs(steps)[:1])[1][0])
    assert_same_run("EulerDiscreteScheduler", config, steps, x_init_scale=b_start)


@pytest.mark.parametrize("steps", (1, 4, 10))
@pytest.mark.parametrize("options", [{}, {"use_karras_sigmas": True}, {"prediction_type": "v_prediction"}], ids=str)
def test_heun_samples_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("HeunDiscreteScheduler", {**SD, "timestep_spacing": "leading", "steps_offset": 1, **options}, steps)


@pytest.mark.parametrize("steps", (1, 4, 10))
@pytest.mark.parametrize("options", [{}, {"use_karras_sigmas": True}, {"prediction_type": "v_prediction"}], ids=str)
def test_lms_samples_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("LMSDiscreteScheduler", {**SD, "timestep_spacing": "leading", "steps_offset": 1, **options}, steps)


DPM_OPTIONS = [
    {},
    {"solver_order": 1},
    {"solver_order": 3},
    {"solver_type": "heun"},
    {"algorithm_type": "sde-dpmsolver++"},
    {"algorithm_type": "sde-dpmsolver++", "solver_order": 3},
    {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"},
    {"algorithm_type": "sde-dpmsolver", "final_sigmas_type": "sigma_min"},
    {"use_karras_sigmas": True},
    {"final_sigmas_type": "sigma_min", "solver_order": 3},
    {"lower_order_final": False, "final_sigmas_type": "sigma_min"},
    {"euler_at_final": True, "final_sigmas_type": "sigma_min"},
    {"timestep_spacing": "leading", "steps_offset": 1},
    {"timestep_spacing": "trailing", "rescale_betas_zero_snr": True, "prediction_type": "v_prediction"},
    {"lambda_min_clipped": -5.1, "use_karras_sigmas": True},
    {"beta_schedule": "squaredcos_cap_v2", "final_sigmas_type": "sigma_min"},
]
# Not here: use_exponential_sigmas / use_beta_sigmas, and Karras σ on a squaredcos_cap_v2 table:
# diffusers' own loop fails on them (its int64 timesteps repeat, step_index runs past the grid:
# IndexError); their grids and timesteps are checked against set_timesteps in test_interop_grids.py.


@pytest.mark.parametrize("steps", (1, 4, 16))
@pytest.mark.parametrize("options", DPM_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_dpm_solver_multistep_options_sample_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("DPMSolverMultistepScheduler", {**SD, **options}, steps)


UNIPC_OPTIONS = [
    {},
    {"solver_order": 1},
    {"solver_order": 3},
    {"solver_order": 3, "use_karras_sigmas": True},
    {"solver_type": "bh1", "final_sigmas_type": "sigma_min"},
    {"solver_order": 3, "lower_order_final": False, "final_sigmas_type": "sigma_min"},
    {"solver_order": 3, "use_karras_sigmas": True, "final_sigmas_type": "sigma_min"},  # ends with a zero-width step
    {"timestep_spacing": "trailing", "rescale_betas_zero_snr": True, "prediction_type": "v_prediction"},
]


@pytest.mark.parametrize("steps", (1, 4, 16))
@pytest.mark.parametrize("options", UNIPC_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_unipc_options_sample_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("UniPCMultistepScheduler", {**SD, **options}, steps)


def test_unipc_bh1_into_clean_data_is_finite_where_diffusers_gives_nan() -> None:
    config = {**SD, "solver_type": "bh1"}
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    ref = diffusers_loop(make("UniPCMultistepScheduler", config), RecordingNet(), noise, 4)
    out = gdf_loop(GDF.from_diffusers(make("UniPCMultistepScheduler", config)), RecordingNet(), noise, 4)
    assert bool(ref.isnan().all()) and bool(torch.isfinite(out).all())


def test_unipc_bh1_at_second_order_into_clean_data_is_refused_not_nan() -> None:
    """B(h) = h (bh1) at order 2 on a last step to σ = 0 diverges (h = ∞): diffusers returns ±inf or NaN, and gdf
    returned NaN without a word. The run is now refused before it starts; 1 step (order 1) still runs."""
    config = {**SD, "solver_type": "bh1", "lower_order_final": False}
    assert not bool(torch.isfinite(diffusers_loop(make("UniPCMultistepScheduler", config), RecordingNet(), torch.randn(SHAPE), 4)).all())
    gdf = GDF.from_diffusers(make("UniPCMultistepScheduler", config))
    with pytest.raises(ValueError, match="bh1 at order 2 on a last step into clean data"):
        gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 4)
    assert bool(torch.isfinite(gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 1)).all())


DEIS_OPTIONS = [
    {},
    {"solver_order": 1},
    {"solver_order": 3},
    {"solver_order": 3, "use_karras_sigmas": True},  # ends with a zero-width step at the last σ
    {"lower_order_final": False},
    {"timestep_spacing": "leading", "steps_offset": 1, "prediction_type": "v_prediction"},
]


@pytest.mark.parametrize("steps", (1, 4, 16))
@pytest.mark.parametrize("options", DEIS_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_deis_options_sample_as_diffusers(options: dict, steps: int) -> None:
    assert_same_run("DEISMultistepScheduler", {**SD, **options}, steps)


FLOW_OPTIONS = [
    {"shift": 1.0},
    {"shift": 3.0},
    {"shift": 3.0, "shift_terminal": 0.02},
    {"use_dynamic_shifting": True, "time_shift_type": "exponential"},
    {"use_dynamic_shifting": True, "time_shift_type": "linear"},
    {"shift": 3.0, "use_karras_sigmas": True},
]


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("options", FLOW_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_flow_match_euler_options_sample_as_diffusers(options: dict, steps: int) -> None:
    if "shift_terminal" in options and steps == 1:
        pytest.skip("diffusers' own loop fails here: the stretched single σ is not found among its timesteps")
    extra = {"mu": 0.8} if options.get("use_dynamic_shifting") else {}
    assert_same_run("FlowMatchEulerDiscreteScheduler", options, steps, **extra)


# -- what is not certified is said -------------------------------------------------------------


def test_pndm_release_config_is_the_nearest_equivalent_and_says_so() -> None:
    from gdf_core.interop import ApproximationWarning

    with pytest.warns(ApproximationWarning, match="PLMS"):
        gdf = GDF.from_diffusers(fixture_config("sd15_pndm"))
    with pytest.raises(SpecError, match="PNDM"):
        GDF.from_diffusers(fixture_config("sd15_pndm"), strict=True)
    # same grid and timesteps apart from PLMS's repeated first evaluation; close, but not equal
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    theirs, ours = RecordingNet(), RecordingNet()
    ref = diffusers_loop(make("PNDMScheduler", fixture_config("sd15_pndm")), theirs, noise, 25)
    out = gdf_loop(gdf, ours, noise, 25)
    assert len(theirs.calls()) == 26 and len(ours.calls()) == 25
    assert torch.equal(torch.unique(theirs.calls()), torch.unique(ours.calls()))
    assert 1e-5 < relative_error(out, ref) < 2e-2


def test_no_finite_difference_hides_a_wrong_timestep() -> None:
    # the certification can fail: the same run with the model given τ + 1 is caught
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    config = {**SD, "clip_sample": False}
    ref = diffusers_loop(make("DDIMScheduler", config), RecordingNet(), noise, 10)

    class Shifted(RecordingNet):
        def forward(self, x, t, **kw):
            return super().forward(x, torch.as_tensor(t) + 1, **kw)

    out = gdf_loop(GDF.from_diffusers(make("DDIMScheduler", config)), Shifted(), noise, 10)
    assert relative_error(out, ref) > 1e-4
    assert not math.isnan(relative_error(out, ref))


@pytest.mark.parametrize(
    "cls_name, config",
    [("DDIMScheduler", {**SD, "clip_sample": False}), ("DPMSolverMultistepScheduler", {**SD, "use_karras_sigmas": True}),
     ("EulerDiscreteScheduler", SD), ("FlowMatchEulerDiscreteScheduler", {"shift": 3.0}), ("EDMEulerScheduler", {}),
     ("LCMScheduler", {})],
)
def test_the_model_gets_timesteps_of_the_dtype_diffusers_gives(cls_name: str, config: dict) -> None:
    sched = make(cls_name, config)
    sched.set_timesteps(4)
    seen: list[torch.dtype] = []

    def model(x, t):
        seen.append(t.dtype)
        return torch.zeros_like(x)

    gdf_loop(GDF.from_diffusers(make(cls_name, config)), model, torch.randn(SHAPE), 4)  # type: ignore[arg-type]
    assert set(seen) == {sched.timesteps.dtype}


def test_deis_in_t_exports_to_deis_and_says_it_is_not_the_same_steps() -> None:
    from gdf_core.interop import ApproximationWarning

    from diffusers import DEISMultistepScheduler

    spec = GDF.from_diffusers(DEISMultistepScheduler()).to_spec()
    for interpolation, warns in (("t", True), ("log_rho", False)):
        gdf = GDF.from_spec({**spec, "sampler": {"name": "deis", "interpolation": interpolation}})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scheduler = gdf.to_diffusers()
        assert type(scheduler).__name__ == "DEISMultistepScheduler"
        said = [w for w in caught if issubclass(w.category, ApproximationWarning) and "log ρ" in str(w.message)]
        assert bool(said) == warns, [str(w.message) for w in caught]
