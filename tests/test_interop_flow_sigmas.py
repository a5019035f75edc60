"""diffusers' multistep schedulers on flow σ (``use_flow_sigmas=True``: Sana, Wan 2.1) sample as diffusers does.

DPMSolverMultistepScheduler, UniPCMultistepScheduler and DEISMultistepScheduler
with ``use_flow_sigmas`` step on rectified flow with their own σ grid, and give
the model ⌊σ·T⌋. ``GDF.from_diffusers`` maps them to the ``diffusers_flow_sigmas``
grid, ``flow_timestep`` with ``rounding="floor"`` and the diffusers_* mirror
samplers. Checked here against diffusers itself: the grids and timesteps of
every step count from 1 to 200, whole runs of the release configs and of every
option, the round trip back to diffusers, and the refusals.
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
from gdf_core.interop import convert_diffusers

diffusers = pytest.importorskip("diffusers")

from interop_loops import RecordingNet, diffusers_loop, gdf_loop, relative_error  # noqa: E402

CONFIGS = Path(__file__).parent / "fixtures" / "diffusers_configs"
SHAPE = (2, 2, 8, 8)
FLOW = {"use_flow_sigmas": True, "prediction_type": "flow_prediction"}
RELEASES = {"sana_dpm_flow": "DPMSolverMultistepScheduler", "wan21_unipc_flow": "UniPCMultistepScheduler"}
FAMILIES = {"DPMSolverMultistepScheduler": "dpm", "DEISMultistepScheduler": "dpm", "UniPCMultistepScheduler": "unipc"}


def make(cls_name: str, config: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(diffusers, cls_name).from_config({k: v for k, v in config.items() if not k.startswith("_")})


def release(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def diffusers_loop_float64_sigmas(scheduler, model: RecordingNet, noise: torch.Tensor, steps: int, sigmas: torch.Tensor) -> torch.Tensor:
    """diffusers' loop with its σ in float64 (``sigmas``, in place of its float32 copy): its own arithmetic
    without its float32 rounding."""
    scheduler.set_timesteps(steps)
    assert (scheduler.sigmas.double() - sigmas).abs().max() < 1e-7
    scheduler.sigmas = sigmas
    stochastic = str(scheduler.config.get("algorithm_type", "")).startswith("sde")
    generator = torch.Generator().manual_seed(7)
    x = noise
    for t in scheduler.timesteps:
        x = scheduler.step(model(x, t), t, x, **({"generator": generator} if stochastic else {})).prev_sample
    return x


def assert_same_run(cls_name: str, config: dict, steps: int, *, rtol: float = 1e-4, mu: float | None = None) -> None:
    """The same model timesteps and number of calls, and the same final x (float32, relative ``rtol``)."""
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(steps))
    theirs, ours = RecordingNet(), RecordingNet()
    kwargs = {} if mu is None else {"mu": mu}
    ref = diffusers_loop(make(cls_name, config), theirs, noise, steps, generator=torch.Generator().manual_seed(7), **kwargs)
    gdf = GDF.from_diffusers(make(cls_name, config), **kwargs)
    out = gdf_loop(gdf, ours, noise, steps, generator=torch.Generator().manual_seed(7))
    assert ours.calls().shape == theirs.calls().shape, f"{len(ours.calls())} model calls, diffusers makes {len(theirs.calls())}"
    assert torch.equal(ours.calls(), theirs.calls()), "timesteps given to the model differ"
    assert relative_error(out, ref) < rtol, f"final x differs from diffusers' by {relative_error(out, ref):.2e} (relative)"


# -- the release configs ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", (1, 3, 10, 20, 25, 50))
@pytest.mark.parametrize("name", sorted(RELEASES))
def test_sana_and_wan_release_configs_sample_as_diffusers(name: str, steps: int) -> None:
    assert_same_run(RELEASES[name], release(name), steps)


def test_a_release_config_maps_to_rectified_flow_and_names_every_option() -> None:
    conversion = convert_diffusers(release("wan21_unipc_flow"))
    spec = conversion.spec
    assert (spec["schedule"]["name"], spec["input_scaler"], spec["target"]) == ("rectified_flows", "lerp", "rectified_flows")
    assert spec["noise_cond"] == {"name": "flow_timestep", "num_train_timesteps": 1000, "rounding": "floor"}
    assert spec["sample_schedule"]["name"] == "diffusers_flow_sigmas" and spec["sample_schedule"]["algorithm"] == "unipc"
    report = conversion.report()
    for option in ("use_flow_sigmas", "flow_shift", "timestep_spacing", "prediction_type=flow_prediction"):
        assert option in report


# -- every option, at several step counts --------------------------------------------------------

OPTIONS = [
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 1.0, "solver_order": 1}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "solver_order": 3}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "solver_type": "heun"}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "algorithm_type": "sde-dpmsolver++"}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "final_sigmas_type": "sigma_min"}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "final_sigmas_type": "sigma_min", "euler_at_final": True}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 6.0, "lower_order_final": False, "final_sigmas_type": "sigma_min"}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 2.0, "prediction_type": "epsilon", "algorithm_type": "dpmsolver",
                                     "final_sigmas_type": "sigma_min"}),
    ("DPMSolverMultistepScheduler", {"flow_shift": 3.0, "thresholding": True, "sample_max_value": 1.2, "dynamic_thresholding_ratio": 0.6}),
    ("UniPCMultistepScheduler", {"flow_shift": 5.0}),
    ("UniPCMultistepScheduler", {"flow_shift": 3.0, "solver_order": 1}),
    ("UniPCMultistepScheduler", {"flow_shift": 3.0, "solver_order": 3, "final_sigmas_type": "sigma_min"}),
    ("UniPCMultistepScheduler", {"flow_shift": 3.0, "solver_type": "bh1", "lower_order_final": False, "final_sigmas_type": "sigma_min"}),
    ("UniPCMultistepScheduler", {"flow_shift": 3.0, "shift_terminal": 0.05}),
    ("UniPCMultistepScheduler", {"flow_shift": 1.0, "prediction_type": "sample"}),
    ("DEISMultistepScheduler", {"flow_shift": 3.0}),
    ("DEISMultistepScheduler", {"flow_shift": 1.0, "solver_order": 3, "prediction_type": "sample"}),
    ("DEISMultistepScheduler", {"flow_shift": 3.0, "solver_order": 1, "prediction_type": "epsilon"}),
]


def _id(option: tuple) -> str:
    return option[0].replace("MultistepScheduler", "") + ":" + ",".join(f"{k}={v}" for k, v in option[1].items())


@pytest.mark.parametrize("steps", (2, 4, 16))
@pytest.mark.parametrize("option", OPTIONS, ids=_id)
def test_every_option_samples_as_diffusers_does_with_its_sigmas_in_float64(option: tuple, steps: int) -> None:
    """To 1e-6: diffusers' own steps, its float32 σ storage taken out (gdf computes in float64). The float64 σ are
    gdf's grid, which test_grids_and_timesteps_match_set_timesteps_from_1_to_200_steps checks against diffusers'."""
    if str(option[1].get("algorithm_type", "")).startswith("sde"):
        pytest.skip("diffusers draws the SDE noise in float32 whatever the sample's dtype; the float32 test compares it")
    cls_name, config = option[0], {**FLOW, **option[1]}
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(steps), dtype=torch.float64)
    gdf = GDF.from_diffusers(make(cls_name, config))
    sigmas = torch.sigmoid(-gdf.sample_schedule.run_logsnrs(steps) / 2)
    ref = diffusers_loop_float64_sigmas(make(cls_name, config), RecordingNet().double(), noise, steps, sigmas)
    out = gdf_loop(gdf, RecordingNet().double(), noise, steps)
    assert relative_error(out, ref) < 1e-6, f"{relative_error(out, ref):.2e}"


@pytest.mark.parametrize("steps", (1, 4, 16))
@pytest.mark.parametrize("option", OPTIONS, ids=_id)
def test_every_option_samples_as_diffusers_does_in_float32(option: tuple, steps: int) -> None:
    """The same timesteps, and the final x to 3e-4 of diffusers' float32 run: its float32 coefficients lose
    digits at the first level, where α = 1 − σ is 3·10⁻⁴ (DPM-Solver, DEIS) or 10⁻⁶ (UniPC); measured up to
    1.4e-4 (UniPC bh1) and 1.2e-4 (DEIS). The float64 test above is the tight one."""
    if "shift_terminal" in option[1] and steps == 1:
        pytest.skip("a 1-step stretch is refused (test_a_one_step_stretch_is_refused_not_nan)")
    assert_same_run(option[0], {**FLOW, **option[1]}, steps, rtol=3e-4)


@pytest.mark.parametrize("steps", (1, 4, 16))
@pytest.mark.parametrize("cls_name", sorted(FAMILIES))
def test_dynamic_shifting_samples_as_diffusers(cls_name: str, steps: int) -> None:
    assert_same_run(cls_name, {**FLOW, "use_dynamic_shifting": True}, steps, mu=0.9, rtol=3e-4)


# -- the grid and the timesteps of every step count ----------------------------------------------


@pytest.mark.parametrize("flow_shift", (1.0, 3.0, 5.0))
@pytest.mark.parametrize("cls_name", sorted(FAMILIES))
def test_grids_and_timesteps_match_set_timesteps_from_1_to_200_steps(cls_name: str, flow_shift: float) -> None:
    """σ as diffusers computes it (float64) for every N, and ⌊σ·T⌋ as it gives the model. Where σ·T is an
    integer in exact arithmetic, diffusers' float64 rounding may land a few ulps below it and truncate to one
    less; gdf (σ from λ, to ~10⁻¹⁶) gives the integer there. That is the only difference allowed: frequent
    only without a shift (σ·T = 999·k/N), where it stays under 2 % of the timesteps."""
    scheduler = make(cls_name, {**FLOW, "flow_shift": flow_shift})
    gdf = GDF.from_diffusers(make(cls_name, {**FLOW, "flow_shift": flow_shift}))
    grid, cond = gdf.sample_schedule, gdf.noise_cond
    differing = total = 0
    for steps in range(1, 201):
        scheduler.set_timesteps(steps)
        lam = grid.run_logsnrs(steps)
        sigma = torch.sigmoid(-lam / 2)
        assert (sigma - scheduler.sigmas.double()).abs().max() < 1e-7, f"{steps} steps: σ differs from diffusers' float32 σ"
        exact = grid.run_sigmas(steps) * 1000  # diffusers' own float64 σ·T
        assert torch.equal(exact.floor().long(), scheduler.timesteps), f"{steps} steps: the float64 σ differ from diffusers'"
        assert (sigma[:-1] * 1000 - exact).abs().max() < 1e-9, f"{steps} steps: λ does not give back the float64 σ"
        ours = cond.cond(lam[:-1])
        off = (ours != scheduler.timesteps).nonzero().flatten()
        for i in off.tolist():
            assert int(ours[i]) - int(scheduler.timesteps[i]) == 1, f"{steps} steps, level {i}: {ours[i]} against {scheduler.timesteps[i]}"
            assert abs(float(exact[i]) - round(float(exact[i]))) < 1e-9, f"{steps} steps, level {i}: σ·T = {float(exact[i])!r}"
        differing += off.numel()
        total += steps
    assert differing <= 0.02 * total, f"{differing} of {total} timesteps differ"
    if flow_shift == 5.0:
        assert differing == 0, f"{differing} of {total} timesteps differ at shift 5"


# -- gdf's own samplers on these grids ---------------------------------------------------------


@pytest.mark.parametrize("steps", (1, 3, 50))
@pytest.mark.parametrize("name", sorted(RELEASES))
def test_every_builtin_sampler_runs_finite_on_the_release_grids(name: str, steps: int) -> None:
    from gdf_core.registry import registry

    gdf = GDF.from_diffusers(release(name))
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    failures = []
    for sampler in registry.names("sampler"):
        if sampler == "lcm":
            continue  # needs the consistency target (refused with its own message elsewhere)
        x = None
        for _, x, _ in gdf.sample(RecordingNet(), {}, SHAPE, timesteps=steps, cfg=None, x_init=noise, sampler=sampler,
                                  generator=torch.Generator().manual_seed(1)):
            pass
        if x is None or not bool(torch.isfinite(x).all()):
            failures.append(sampler)
    assert not failures, f"not finite: {failures}"


# -- refusals ------------------------------------------------------------------------------------

REFUSED = [
    ("DPMSolverMultistepScheduler", {"prediction_type": "flow_prediction"}, "use_flow_sigmas=True"),
    ("UniPCMultistepScheduler", {"prediction_type": "flow_prediction"}, "use_flow_sigmas=True"),
    ("DPMSolverMultistepScheduler", {**FLOW, "prediction_type": "v_prediction"}, "prediction_type"),
    ("UniPCMultistepScheduler", {**FLOW, "use_karras_sigmas": True}, "use_karras_sigmas"),
    ("DPMSolverMultistepScheduler", {**FLOW, "algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"}, "algorithm_type"),
    ("UniPCMultistepScheduler", {**FLOW, "use_dynamic_shifting": True}, "mu"),
    ("DEISMultistepScheduler", {**FLOW, "use_beta_sigmas": True}, "use_beta_sigmas"),
]


@pytest.mark.parametrize("cls_name, config, named", REFUSED, ids=lambda v: v if isinstance(v, str) else None)
def test_what_is_not_reproduced_on_flow_sigmas_is_refused_by_name(cls_name: str, config: dict, named: str) -> None:
    with pytest.raises(SpecError, match=named):
        GDF.from_diffusers(make(cls_name, config))


def test_mu_without_dynamic_shifting_is_refused() -> None:
    with pytest.raises(SpecError, match="use_dynamic_shifting"):
        GDF.from_diffusers(make("DPMSolverMultistepScheduler", FLOW), mu=0.5)


def test_bh1_at_second_order_into_clean_data_is_refused_not_nan() -> None:
    """As on β tables (test_interop_equivalence.py): UniPC's bh1 at order 2 on a last step to σ = 0 diverges."""
    config = {**FLOW, "flow_shift": 3.0, "solver_type": "bh1", "lower_order_final": False}
    scheduler = make("UniPCMultistepScheduler", config)
    assert not bool(torch.isfinite(diffusers_loop(scheduler, RecordingNet(), torch.randn(SHAPE), 4)).all())
    gdf = GDF.from_diffusers(make("UniPCMultistepScheduler", config))
    with pytest.raises(ValueError, match="bh1 at order 2 on a last step into clean data"):
        gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 4)
    assert bool(torch.isfinite(gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 1)).all())


def test_a_one_step_stretch_is_refused_not_nan() -> None:
    gdf = GDF.from_diffusers(make("UniPCMultistepScheduler", {**FLOW, "shift_terminal": 0.05}))
    with pytest.raises(ValueError, match="shift_terminal cannot stretch a 1-step run"):
        gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 1)
    assert math.isfinite(float(gdf_loop(gdf, RecordingNet(), torch.randn(SHAPE), 2).abs().max()))
