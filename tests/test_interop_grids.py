"""The diffusers β tables and set_timesteps grids, component by component, against diffusers itself."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gdf_core import build

diffusers = pytest.importorskip("diffusers")

SD = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}
TABLES = [
    SD,
    {"beta_schedule": "linear"},
    {"beta_schedule": "squaredcos_cap_v2"},
    {**SD, "rescale_betas_zero_snr": True},
    {"trained_betas": torch.linspace(1e-4, 0.03, 500).tolist(), "num_train_timesteps": 500},
]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: ",".join(t)[:40])
def test_beta_table_is_diffusers_alphas_cumprod(table: dict) -> None:
    ours = build("schedule", {"name": "diffusers_betas", **table}).alphas_cumprod
    theirs = diffusers.DDIMScheduler(**table).alphas_cumprod.double()
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: ",".join(t)[:40])
def test_timestep_noise_cond_inverts_the_beta_table(table: dict) -> None:
    schedule = build("schedule", {"name": "diffusers_betas", **table})
    cond = build("noise_cond", {"name": "diffusers_timestep", **table})
    T = schedule.num_train_timesteps
    t = torch.linspace(0, 1, 97, dtype=torch.float64)
    torch.testing.assert_close(cond(schedule(t)), t * (T - 1), rtol=1e-6, atol=1e-6)
    ints = build("noise_cond", {"name": "diffusers_timestep", **table, "rounding": "round"})
    steps = torch.arange(T)
    assert torch.equal(ints(schedule(steps.double() / (T - 1))), steps)


def test_training_draws_are_integer_timesteps_of_the_table() -> None:
    schedule = build("schedule", {"name": "diffusers_betas", **SD})
    lam = schedule(4096, generator=torch.Generator().manual_seed(0))
    cond = build("noise_cond", {"name": "diffusers_timestep", **SD})(lam.double())
    torch.testing.assert_close(cond, cond.round(), rtol=0, atol=2e-2)
    assert 0 <= float(cond.min()) < 5 and 994 < float(cond.max()) <= 999


def _sigmas(lam: torch.Tensor) -> torch.Tensor:
    return torch.exp(-lam / 2)


CASES = list(itertools.product(["leading", "trailing", "linspace"], [0, 1], [1, 2, 3, 7, 20, 50]))


@pytest.mark.parametrize("sigmas", ["table", "karras", "exponential", "beta"])
@pytest.mark.parametrize(
    "family, cls_name",
    [("euler", "EulerDiscreteScheduler"), ("dpm", "DPMSolverMultistepScheduler"), ("dpm", "UniPCMultistepScheduler"),
     ("dpm", "DEISMultistepScheduler")],
)
def test_grids_are_set_timesteps_for_every_spacing_offset_and_step_count(family: str, cls_name: str, sigmas: str) -> None:
    flag = {"table": {}, "karras": {"use_karras_sigmas": True}, "exponential": {"use_exponential_sigmas": True},
            "beta": {"use_beta_sigmas": True}}[sigmas]
    for spacing, offset, steps in CASES:
        sched = getattr(diffusers, cls_name)(**SD, timestep_spacing=spacing, steps_offset=offset, **flag)
        sched.set_timesteps(steps)
        final = "last_level" if cls_name == "DEISMultistepScheduler" and sigmas != "table" else (
            "first_timestep" if cls_name == "DEISMultistepScheduler" else "data")
        grid = build("schedule", {"name": "diffusers_grid", **SD, "algorithm": family, "timestep_spacing": spacing,
                                  "steps_offset": offset, "sigmas": sigmas, "final": final})
        lam = grid.run_logsnrs(steps)
        where = f"{spacing} {offset} {steps}"
        torch.testing.assert_close(_sigmas(lam), sched.sigmas.double(), rtol=1e-6, atol=0, msg=where)
        rounding = "none" if family == "euler" else ("round" if sigmas in ("table", "karras") else "floor")
        interp = "sigma" if family == "euler" and sigmas == "table" else "log_sigma"
        cond = build("noise_cond", {"name": "diffusers_timestep", **SD, "interpolation": interp, "rounding": rounding})
        # DPM-Solver truncates the τ of its float64 exponential/beta σ to int64, and exp(log σ_max) comes
        # back a hair under the table's σ: 998 where τ is 999. gdf's τ is exact; diffusers' own loop fails
        # on these grids anyway (test_interop_equivalence.py says why), so one step of slack there.
        slack = 1.0 if family == "dpm" and sigmas in ("exponential", "beta") else 1e-3
        torch.testing.assert_close(cond(lam[:-1]).double(), sched.timesteps.double(), rtol=1e-5, atol=slack, msg=where)


@pytest.mark.parametrize("train_steps", [1000, 1100])
@pytest.mark.parametrize("spacing", ["trailing", "linspace"])
@pytest.mark.parametrize(("family", "cls_name"), [("euler", "EulerDiscreteScheduler"), ("dpm", "DPMSolverMultistepScheduler")])
def test_the_timesteps_are_set_timesteps_at_every_step_count_to_200(family: str, cls_name: str, spacing: str, train_steps: int) -> None:
    """numpy's linspace and arange, not torch's: they differ in the last bit at some points, and where diffusers
    rounds a half there its timestep was one off (PixArt's DPM-Solver at 26, 30, 46, 52 … steps, SDXL's Euler
    at 48 trailing steps, Kolors' T = 1100 at 24, 56, 96 …). Counts where diffusers gives N + 1 timesteps
    for N steps (trailing, T = 1100 at 15, 30, 60 …: a step at timestep −1) are refused by gdf and skipped."""
    table = {**SD, "num_train_timesteps": train_steps}
    rounding = "none" if family == "euler" else "round"
    cond = build("noise_cond", {"name": "diffusers_timestep", **table, "interpolation": "sigma" if family == "euler" else "log_sigma",
                                "rounding": rounding})
    grid = build("schedule", {"name": "diffusers_grid", **table, "algorithm": family, "timestep_spacing": spacing})
    compared = 0
    for steps in range(1, 201):
        sched = getattr(diffusers, cls_name)(**table, timestep_spacing=spacing)
        sched.set_timesteps(steps)
        if len(sched.timesteps) != steps:
            continue
        got = cond(grid.run_logsnrs(steps)[:-1]).double()
        torch.testing.assert_close(got, sched.timesteps.double(), rtol=0, atol=1e-3, msg=f"{steps} steps")
        compared += 1
    assert compared >= 190


def test_ddim_grid_refuses_the_runs_diffusers_steps_inconsistently() -> None:
    grid = build("schedule", {"name": "diffusers_grid", **SD, "timestep_spacing": "linspace"})
    with pytest.raises(ValueError, match="not a grid"):
        grid.run_logsnrs(10)
    loose = build("schedule", {"name": "diffusers_grid", **SD, "timestep_spacing": "linspace", "exact_steps": False})
    lam = loose.run_logsnrs(10)
    assert bool(torch.isfinite(lam[:-1]).all()) and math.isinf(float(lam[-1]))


def test_ddim_grid_off_the_training_timesteps_is_refused_in_a_short_message() -> None:
    """SD 1.5's leading spacing with steps_offset=1 at 1000 steps asks for timestep 1000 of 0 … 999
    (diffusers' own step would index past its table): refused, naming that timestep, in a few lines."""
    grid = build("schedule", {"name": "diffusers_grid", **SD, "timestep_spacing": "leading", "steps_offset": 1})
    assert torch.isfinite(grid.run_logsnrs(999)[:-1]).all()
    with pytest.raises(ValueError) as refused:
        grid.run_logsnrs(1000)
    message = str(refused.value)
    assert "1000 lies outside the training timesteps 0 … 999" in message and "fewer steps" in message
    assert len(message) < 300, message


FLOW = [{}, {"shift": 3.0}, {"use_dynamic_shifting": True}, {"shift": 3.0, "shift_terminal": 0.05},
        {"shift": 3.0, "use_beta_sigmas": True}, {"use_dynamic_shifting": True, "time_shift_type": "linear"}]


@pytest.mark.parametrize("options", FLOW, ids=str)
def test_flow_grid_is_flow_match_set_timesteps(options: dict) -> None:
    from gdf_core.interop import convert_diffusers

    spec = convert_diffusers({"_class_name": "FlowMatchEulerDiscreteScheduler", **options}, mu=0.7).spec
    grid = build("schedule", spec["sample_schedule"])
    for steps in (1, 2, 5, 28, 50):
        if "shift_terminal" in options and steps == 1:
            continue  # diffusers' stretch of a single σ is degenerate
        sched = diffusers.FlowMatchEulerDiscreteScheduler(**options)
        sched.set_timesteps(steps, **({"mu": 0.7} if options.get("use_dynamic_shifting") else {}))
        sigma = torch.sigmoid(-grid.run_logsnrs(steps) / 2)
        torch.testing.assert_close(sigma, sched.sigmas.double(), rtol=1e-6, atol=1e-7)


def test_the_grid_comparison_can_fail() -> None:
    # without steps_offset the grid is one timestep off SDXL's, and the comparison used above catches it
    sched = diffusers.EulerDiscreteScheduler(**SD, timestep_spacing="leading", steps_offset=1)
    sched.set_timesteps(10)
    grid = build("schedule", {"name": "diffusers_grid", **SD, "algorithm": "euler", "timestep_spacing": "leading"})
    with pytest.raises(AssertionError):
        torch.testing.assert_close(_sigmas(grid.run_logsnrs(10)), sched.sigmas.double(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("entry", ("sample", "sample_final", "prepare_sample"))
def test_every_sampling_entry_point_runs_on_the_whole_run_grid(entry: str) -> None:
    """sample, sample_final and prepare_sample all take a RunGrid schedule's N-step grid (leading spacing
    is no λ(t) at even t), and reach diffusers' result; a partial run uses λ(t) instead."""
    from gdf_core import GDF
    from interop_loops import RecordingNet, diffusers_loop, relative_error

    config = {**SD, "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "leading"}
    noise = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    expected = diffusers_loop(diffusers.DDIMScheduler(**config), RecordingNet(), noise, 7)
    gdf = GDF.from_diffusers(diffusers.DDIMScheduler(**config))
    net = RecordingNet()
    kwargs = {"timesteps": 7, "cfg": None, "x_init": noise}
    if entry == "sample":
        out = None
        for _, out, _ in gdf.sample(net, {}, noise.shape, **kwargs):
            pass
    elif entry == "sample_final":
        out = gdf.sample_final(net, {}, noise.shape, **kwargs)
    else:
        prepared = gdf.prepare_sample(net, {}, noise.shape, **kwargs)
        torch.testing.assert_close(prepared.logsnrs[:, 0], gdf.sample_schedule.run_logsnrs(7).to(prepared.logsnrs.dtype))
        out = prepared.solve()
    assert out is not None and relative_error(out, expected) < 1e-4
    partial = gdf.prepare_sample(RecordingNet(), {}, noise.shape, t_start=0.9, **kwargs)
    torch.testing.assert_close(
        partial.logsnrs[:, 0], gdf.sample_schedule(torch.linspace(0.9, 0.0, 8, dtype=torch.float64)).to(partial.logsnrs.dtype)
    )


def test_a_one_step_flow_match_stretch_is_refused_naming_shift_terminal() -> None:
    """LTX-Video's shift_terminal at 1 step: diffusers' σ is NaN (0/0); gdf had refused it with a message about the target."""
    from gdf_core import GDF

    gdf = GDF.from_diffusers({"_class_name": "FlowMatchEulerDiscreteScheduler", "use_dynamic_shifting": True, "shift_terminal": 0.1}, mu=2.05)
    with pytest.raises(ValueError, match="shift_terminal cannot stretch a 1-step run"):
        gdf.sample_final(lambda x, t: 0.1 * x, {}, (1, 4), timesteps=1, cfg=None)
    assert torch.isfinite(gdf.sample_final(lambda x, t: 0.1 * x, {}, (1, 4), timesteps=2, cfg=None)).all()
