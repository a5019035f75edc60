"""The sampling engine as a whole: the protocol, the one loop, repeated levels, every preset and step count.

Models here are smooth and cheap, never the exact denoiser: ``smooth_model``
predicts 0.5·tanh(x) plus a term in the noise condition, so the ODE is one of
a real (if tiny) network rather than of Gaussian data.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor

from gdf_core import GDF, registry
from gdf_core.integrate import integrate, solve, start
from gdf_core.protocols import Sampler, SamplingState
from gdf_core.registry import Registry
from gdf_plugins.presets import PRESETS
from gdf_plugins.samplers import SOLVER_SAMPLERS, DDIMSampler, DDPMSampler, LCMSampler
from gdf_plugins.scalers import VPScaler

ALL_SAMPLERS = sorted(cls.name for cls in [DDIMSampler, DDPMSampler, LCMSampler, *SOLVER_SAMPLERS])
DETERMINISTIC = ["ddim", "euler", "heun", "dpmpp_2m", "dpmpp_3m", "unipc", "deis", "ipndm", "lms"]


def smooth_model(x: Tensor, cond: Tensor, **_: Any) -> Tensor:
    c = torch.tanh(cond.to(x.dtype)).view(-1, *([1] * (x.dim() - 1)))
    return 0.5 * torch.tanh(x) + 0.1 * c * x + 0.05 * c


def uncond_shift_model(x: Tensor, cond: Tensor, label: Tensor) -> Tensor:
    """Conditional on ``label`` (a per-sample number): the unconditional half gets zeros."""
    return smooth_model(x, cond) + 0.2 * label.view(-1, *([1] * (x.dim() - 1)))


# -- the protocol ------------------------------------------------------------------
class ProtocolOnlyDDIM:
    """A DDIM sampler written against ``gdf_core.protocols.Sampler`` alone: no gdf base class."""

    name = "protocol_only_ddim"

    def init_x(self, shape, *, generator=None, dtype=torch.float32, device="cpu") -> Tensor:
        return torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)

    def prepare(self, logsnrs: Tensor, scaler) -> Tensor:
        a, b = scaler(logsnrs[1:].float())
        return torch.stack([a, b], dim=1)  # (steps, 2, batch)

    def step(self, denoise, x, logsnr, logsnr_next, *, scaler, state, generator=None) -> Tensor:
        x0, eps = denoise(x, logsnr)
        a_next, b_next = state.plan[state.step].view(2, -1, *([1] * (x.dim() - 1)))
        return a_next * x0 + b_next * eps


def test_a_sampler_written_to_the_protocol_registers_and_runs_in_sample() -> None:
    assert isinstance(ProtocolOnlyDDIM(), Sampler)
    assert not issubclass(ProtocolOnlyDDIM, torch.nn.Module) and ProtocolOnlyDDIM.__mro__[1:] == (object,)
    registry.register(ProtocolOnlyDDIM, kind="sampler")
    try:
        gdf = GDF.from_spec("stable_cascade")
        g = torch.Generator().manual_seed(0)
        x_init = torch.randn(3, 2, generator=g)
        ours = list(gdf.sample(smooth_model, {}, (3, 2), sampler="protocol_only_ddim", timesteps=9, x_init=x_init, cfg=None))
        builtin = list(gdf.sample(smooth_model, {}, (3, 2), sampler="ddim", timesteps=9, x_init=x_init, cfg=None))
        started = next(gdf.sample(smooth_model, {}, (3, 2), sampler="protocol_only_ddim", timesteps=2, cfg=None,
                                  generator=torch.Generator().manual_seed(5)))
    finally:
        registry._local = [e for e in registry._local if e[0] is not ProtocolOnlyDDIM]
        registry.refresh()
    assert len(ours) == 9
    torch.testing.assert_close(ours[-1][1], builtin[-1][1], rtol=1e-5, atol=1e-6)
    assert torch.isfinite(started[1]).all()


@pytest.mark.parametrize("missing", ["init_x", "prepare", "step"])
def test_a_sampler_missing_a_protocol_method_is_refused_at_registration(missing: str) -> None:
    members = {k: v for k, v in vars(ProtocolOnlyDDIM).items() if k != missing and not k.startswith("__")}
    cls = type("Partial", (), members)
    with pytest.raises(TypeError, match=f"has no method {missing}"):
        Registry(path=[]).register(cls, kind="sampler")


# -- repeated levels ---------------------------------------------------------------
def _repeat_grid() -> Tensor:
    """A user grid with repeated levels: twice at the start, once in the middle, twice at the end."""
    levels = torch.linspace(-6.0, 6.0, 41)
    return torch.cat([levels[:1], levels[:1], levels[:1], levels[1:20], levels[19:20], levels[20:], levels[-1:], levels[-1:]])


def _denoise(x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    a, b = VPScaler()(logsnr)
    a, b = a.view(-1, 1), b.view(-1, 1)
    eps = smooth_model(x, logsnr / 8)
    return (x - b * eps) / a, eps


@pytest.mark.parametrize("name", ALL_SAMPLERS)
def test_a_repeated_level_is_a_no_op_step_for_every_sampler(name: str) -> None:
    """Every step across a repeated level returns x (to float rounding), the run stays finite and
    lands where the run on the grid without the repeats lands, to the loss of order of the steps after
    a repeat (a repeated history level is dropped from the interpolation; after repeated levels at
    the start, the first step is not warm-up corrected)."""
    # UniPC's corrector refines the step before a repeat with the model call at the repeat:
    # its predictor is the step, so without the corrector that step must not move x.
    sampler = registry.get("sampler", name)(**({"corrector": False} if name == "unipc" else {}))
    grid = _repeat_grid()[:, None].expand(-1, 4).contiguous().double()
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    state = start(sampler, grid, 4, VPScaler())
    xs = [x] + list(integrate(sampler, _denoise, x, grid, scaler=VPScaler(), generator=torch.Generator().manual_seed(2), state=state))
    repeated = [i for i in range(grid.shape[0] - 1) if grid[i, 0] == grid[i + 1, 0]]
    assert len(repeated) == 5
    for i in repeated:
        torch.testing.assert_close(xs[i + 1], xs[i], rtol=1e-12, atol=1e-12, msg=f"{name}: step {i} across a repeated level moved x")
    assert torch.isfinite(xs[-1]).all()
    if name in DETERMINISTIC:
        distinct = torch.unique_consecutive(grid[:, 0])[:, None].expand(-1, 4).contiguous()
        sampler = registry.get("sampler", name)()
        repeated_run = solve(sampler, _denoise, x, grid, scaler=VPScaler())
        plain = solve(sampler, _denoise, x, distinct, scaler=VPScaler())
        torch.testing.assert_close(repeated_run, plain, rtol=5e-3, atol=1e-3)


def test_the_issue_repro_is_finite_and_converges() -> None:
    """``ddpm`` preset, dpmpp_2m, 200 steps (its cosine grid repeats λ at t = 1): finite, and near the 1000-step run."""
    gdf = GDF.from_spec("ddpm")
    x_init = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    runs = {n: gdf.sample_final(lambda x, c: torch.tanh(x) * 0.5, {}, (16, 2), sampler="dpmpp_2m", timesteps=n, cfg=None, x_init=x_init)
            for n in (50, 200, 1000)}
    assert all(torch.isfinite(r).all() for r in runs.values())
    error = {n: ((runs[n] - runs[1000]).abs().max() / runs[1000].abs().max()).item() for n in (50, 200)}
    assert error[200] < error[50] / 4 and error[200] < 2e-3, error


# -- every preset x every sampler x many step counts ---------------------------------
STEP_COUNTS = (1, 2, 3, 7, 50)
#: 200 and 1000 steps: both ends of those grids, ``WINDOW`` steps each (where the repeated
#: levels of clamped schedules and the λ = ±∞ ends are); the middle is ordinary and cheap
#: to cover with 50 steps. Whole 200- and 1000-step runs: ``test_the_issue_repro_...``.
LONG_COUNTS, WINDOW = (200, 1000), 8


def _runs(steps_total: int) -> list[dict[str, float]]:
    if steps_total not in LONG_COUNTS:
        return [{"timesteps": steps_total}]
    edge = WINDOW / steps_total
    return [{"timesteps": WINDOW, "t_start": 1.0, "t_end": 1.0 - edge}, {"timesteps": WINDOW, "t_start": edge, "t_end": 0.0}]


def test_the_windows_are_the_ends_of_the_long_grids() -> None:
    gdf = GDF.from_spec("ddpm")
    for n in LONG_COUNTS:
        full = gdf.schedule(torch.linspace(1, 0, n + 1, dtype=torch.float64))
        start_, end_ = (gdf.schedule(torch.linspace(r["t_start"], r["t_end"], WINDOW + 1, dtype=torch.float64)) for r in _runs(n))
        torch.testing.assert_close(start_, full[: WINDOW + 1], rtol=1e-9, atol=0)
        torch.testing.assert_close(end_, full[-WINDOW - 1 :], rtol=1e-9, atol=0)
        assert (start_[1:] == start_[:-1]).any()  # the repeated levels are in the window


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("cfg", [None, 3.0], ids=["cfg_off", "cfg_on"])
def test_every_sampler_and_step_count_is_finite_on_every_preset(preset: str, cfg: float | None) -> None:
    gdf = GDF.from_spec(preset)
    label = torch.tensor([1.0, -1.0])
    bad = []
    for name in ALL_SAMPLERS:
        for steps in STEP_COUNTS + LONG_COUNTS:
            for run in _runs(steps):
                x = gdf.sample_final(uncond_shift_model, {"label": label}, (2, 2), sampler=name, cfg=cfg,
                                     generator=torch.Generator().manual_seed(steps), **run)  # type: ignore[arg-type]
                if not torch.isfinite(x).all():
                    bad.append(f"{name} at {steps} steps ({run})")
    assert not bad, f"{preset}, cfg={cfg}: non-finite samples from {bad}"


# -- convergence on each preset's own grid ------------------------------------------
CONVERGENCE_STEPS = (12, 25, 50, 100)


def _preset_run(gdf: GDF, sampler: str, steps: int, x_init: Tensor) -> Tensor:
    return gdf.sample_final(smooth_model, {}, x_init.shape, sampler=sampler, timesteps=steps, cfg=None, x_init=x_init)


#: The clamped cosine grid (ᾱ ∈ [1e-4, 0.9999]: ``ddpm``, ``stable_cascade``, ``v_prediction`` and
#: ``iddpm_cosine``, whose cosine keeps the default clamp). Measured with
#: ``benchmarks/clamped_convergence.py`` (scipy DOP853 float64 solve of the same ODE): the reference
#: is right (dpmpp_3m@1000 is 3.0e-4 from it on ddpm, ddim@4000 1.3e-3), and no level repeats at
#: 12–100 steps (the plateaus start at 200 steps), so repeated-level handling is not involved. The
#: cause is the uniform-t grid at the noisy end, λ ≈ 2·log(1 − t) + c: step k ≥ 1 spans
#: 2·log((k + 1)/k) in λ whatever the step count, and ``smooth_model`` as an ε-prediction is
#: 0.5·tanh(x) at pure noise (not ≈ x), so x̂0 = (x − b·ε̂)/a grows like 1/a and its ODE moves O(1)
#: per unit of log σ at every noise level: those steps' error contributions do not shrink
#: (dpmpp_2m steps 2 and 3: 5.6e-3, 1.4e-3 at 25 steps; 5.3e-3, 1.4e-3 at 50; 5.2e-3, 1.4e-3 at
#: 100). On ``v_prediction`` (x̂0 = a·x − b·v̂ is bounded) every sampler converges at its order;
#: only ipndm rises from 12 to 25 steps (2.6e-4 → 6.0e-4), a cancellation: the sum of its per-step
#: |contributions| is 3.3e-2 at 12 steps, then 7.0e-3, 1.7e-3, 6.1e-4. On ``iddpm_cosine`` the
#: discrete (4000-level) condition is not what limits it: floor 1.8e-3 against ddpm's 1.5e-3;
#: it fails as ddpm does (heun 0.118 → 0.144 from 12 to 25). Not fixed: open.
CLAMPED_COSINE = {"ddpm", "stable_cascade", "v_prediction", "iddpm_cosine"}


@pytest.mark.parametrize(
    "preset",
    [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason="clamped cosine grid: see CLAMPED_COSINE"))
     if p in CLAMPED_COSINE else p for p in sorted(PRESETS)],
)
def test_every_deterministic_sampler_converges_on_the_presets_own_grid(preset: str) -> None:
    """Error to a very fine run (dpmpp_3m, 1000 steps) falls at every doubling from 12 to 100 steps,
    until it is within 4× the reference's own accuracy (its distance to the 500-step run)."""
    gdf = GDF.from_spec({"preset": preset, "sampler": None})  # the preset's sample schedule, or its training one
    x_init = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = _preset_run(gdf, "dpmpp_3m", 1000, x_init)
    scale = reference.abs().max().item()
    floor = (reference - _preset_run(gdf, "dpmpp_3m", 500, x_init)).abs().max().item() / scale
    failures = []
    for name in DETERMINISTIC:
        errors = [(_preset_run(gdf, name, n, x_init) - reference).abs().max().item() / scale for n in CONVERGENCE_STEPS]
        for (n0, e0), (n1, e1) in zip(zip(CONVERGENCE_STEPS, errors), list(zip(CONVERGENCE_STEPS, errors))[1:]):
            if not (e1 < e0 or e1 <= 4 * floor):
                failures.append(f"{name}: {n0} → {n1} steps, relative error {e0:.3g} → {e1:.3g} (floor {floor:.2g})")
    assert not failures, f"{preset}: " + "; ".join(failures)


# -- send() ----------------------------------------------------------------------------
def _labelled(x: Tensor, cond: Tensor, label: Tensor) -> Tensor:
    """The label scales and shifts the prediction, so guidance changes its std (and cfg_rho acts)."""
    return smooth_model(x, cond) * (1 + 0.5 * label.view(-1, 1)) + 0.3 * label.view(-1, 1)


def _run_with(send_at: int, message: dict[str, Any], **kwargs: Any) -> list[tuple[Tensor, Tensor, Tensor]]:
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    base = {"sampler": "ddim", "timesteps": 6, "x_init": x_init, "cfg": 2.0, "cfg_rho": 0.0, **kwargs}
    gen = gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), **base)
    out = [next(gen)]
    for i in range(1, 6):
        out.append(gen.send(message if i == send_at else None))
    return out


def _straight(**kwargs: Any) -> list[tuple[Tensor, Tensor, Tensor]]:
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    base = {"sampler": "ddim", "timesteps": 6, "x_init": x_init, "cfg": 2.0, "cfg_rho": 0.0, **kwargs}
    return list(gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), **base))


def test_send_x_replaces_the_current_x() -> None:
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    gen = gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), sampler="dpmpp_2m", timesteps=6, x_init=x_init, cfg=None)
    next(gen)
    replacement = torch.zeros(2, 2)
    after = [gen.send({"x": replacement})] + list(gen)
    # the step after the send starts from the replacement: the same as a run of the remaining steps from it
    # would give for a first-order sampler; here check that it starts from zeros: x̂0 of that call is the model's at 0
    assert torch.isfinite(after[-1][1]).all()
    fresh = list(gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), sampler="dpmpp_2m", timesteps=6, x_init=x_init, cfg=None))
    assert not torch.allclose(after[-1][1], fresh[-1][1])
    with pytest.raises(ValueError, match="shape"):
        gen2 = gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), timesteps=3, x_init=x_init, cfg=None)
        next(gen2)
        gen2.send({"x": torch.zeros(3, 2)})


def test_send_sampler_starts_a_new_run_of_it_from_the_current_level() -> None:
    """ddim then (sent) euler: ddim and euler are the same step, so the run equals an all-ddim run."""
    gdf = GDF.from_spec("stable_cascade")
    x_init = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    gen = gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), sampler="ddim", timesteps=6, x_init=x_init, cfg=None)
    next(gen)
    switched = [gen.send({"sampler": "euler"})] + list(gen)
    plain = list(gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), sampler="ddim", timesteps=6, x_init=x_init, cfg=None))
    torch.testing.assert_close(switched[-1][1], plain[-1][1], rtol=1e-5, atol=1e-6)
    assert len(switched) == 5


def test_send_cfg_applies_from_the_next_step_exactly() -> None:
    """cfg None sent after step 0 = a run whose guidance stops after t[1] (cfg_t_stop between t[1] and t[0])."""
    sent = _run_with(1, {"cfg": None})
    stopped = _straight(cfg_t_stop=0.9)  # t = 1, 5/6, …: only step 0 (t = 1) guided
    torch.testing.assert_close(sent[-1][1], stopped[-1][1])
    rho = _run_with(1, {"cfg_rho": 0.7})
    assert not torch.allclose(rho[-1][1], _straight()[-1][1])
    torch.testing.assert_close(rho[0][1], _straight()[0][1])
    # t = 1, 5/6, …, 1/6 at the evaluated steps: either interval leaves only step 0 guided.
    for key, value in (("cfg_t_stop", 0.95), ("cfg_t_start", 0.0)):
        torch.testing.assert_close(_run_with(1, {key: value})[-1][1], stopped[-1][1])
    for key, value in (("cfg_t_stop", 2.0), ("cfg_t_start", -1.0)):  # outside [0, 1]: refused, as at the start
        with pytest.raises(ValueError, match=f"{key} must be None or a number in \\[0, 1\\]"):
            _run_with(1, {key: value})


def test_send_model_inputs_applies_from_the_next_step() -> None:
    sent = _run_with(1, {"model_inputs": {"label": -torch.ones(2)}})
    assert not torch.allclose(sent[-1][1], _straight()[-1][1])
    torch.testing.assert_close(sent[0][1], _straight()[0][1])


@pytest.mark.parametrize("key", ["x_init", "shift", "cfgg"])
def test_send_refuses_a_key_it_does_not_act_on(key: str) -> None:
    gdf = GDF.from_spec("stable_cascade")
    gen = gdf.sample(_labelled, {"label": torch.ones(2)}, (2, 2), timesteps=3, cfg=None)
    next(gen)
    with pytest.raises(ValueError, match=f"unknown key.*{key}"):
        gen.send({key: 1})
