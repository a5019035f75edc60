"""The sampling engine as a whole: the protocol, the one loop, repeated levels, every preset and step count.

Models here are smooth and cheap, never the exact denoiser: ``smooth_model``
predicts 0.5·tanh(x) plus a term in the noise condition, so the ODE is one of
a real (if tiny) network rather than of Gaussian data.
"""

from __future__ import annotations

import functools
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
from gdf_plugins.scalers import VPScaler

from convergence import CONVERGENCE_STEPS, denoiser_shaped_model, doubling_failures, relative_error

#: Every built-in sampler, the diffusers-equivalent ones (``diffusers_*``, gdf_plugins.interop_samplers) included.
ALL_SAMPLERS = registry.builtin_names("sampler")
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
    # diffusers' UniPC corrects the point it has just evaluated first (no option turns that off):
    # across a repeat it returns that corrected point, so only where it lands is checked.
    if not getattr(sampler, "corrects_previous_step", False) or name == "unipc":
        for i in repeated:
            torch.testing.assert_close(xs[i + 1], xs[i], rtol=1e-12, atol=1e-12, msg=f"{name}: step {i} across a repeated level moved x")
    assert torch.isfinite(xs[-1]).all()
    if name in DETERMINISTIC or name.startswith("diffusers_"):
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
    for name in ALL_SAMPLERS + [{"name": "deis", "interpolation": "t"}]:
        for steps in STEP_COUNTS + LONG_COUNTS:
            for run in _runs(steps):
                call = dict(sampler=name, cfg=cfg, generator=torch.Generator().manual_seed(steps), **run)
                x = gdf.sample_final(uncond_shift_model, {"label": label}, (2, 2), **call)  # type: ignore[arg-type]
                if not torch.isfinite(x).all():
                    bad.append(f"{name} at {steps} steps ({run})")
    assert not bad, f"{preset}, cfg={cfg}: non-finite samples from {bad}"


# -- convergence on each preset's own grid ------------------------------------------
@functools.lru_cache(maxsize=None)
def _convergence_problem(preset: str) -> tuple[GDF, Any, Tensor, Tensor, float, float]:
    gdf = GDF.from_spec({"preset": preset, "sampler": None})  # the preset's sample schedule, or its training one
    model = denoiser_shaped_model(gdf)
    x_init = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    reference = _preset_run(gdf, model, "dpmpp_3m", 1000, x_init)
    scale = reference.abs().max().item()
    floor = (reference - _preset_run(gdf, model, "dpmpp_3m", 500, x_init)).abs().max().item() / scale
    return gdf, model, x_init, reference, scale, floor


def _preset_run(gdf: GDF, model: Any, sampler: str, steps: int, x_init: Tensor) -> Tensor:
    return gdf.sample_final(model, {}, x_init.shape, sampler=sampler, timesteps=steps, cfg=None, x_init=x_init)


#: DEIS interpolates ε̂ by a polynomial in log σ (Zhang & Chen 2023, eq. 14). On a grid uniform in
#: flow time (``rectified_flow``: σ = t/(1 − t), so σ_k ≈ k/N near the clean end) its last steps
#: span log((k + 1)/k) in log σ whatever N, while ε̂ ≈ ε₀ + ε₁·σ there: the polynomial's error is
#: of order σ·(that span)³, which brings DEIS down to second order, and its error there changes
#: sign, so it rises from 25 to 50 steps (relative 3.0e-4 → 3.6e-4) before falling at second order
#: (64 points: 2.5e-4, 1.4e-4, 6.9e-5 at 100, 140, 200 steps). The log-ρ interpolation is DEIS's
#: default (diffusers' too); ``interpolation="t"`` (``deis_t``, ε̂ polynomial in t = σ/(1 + σ))
#: converges there (1.5e-3, 1.5e-4, 2.8e-5, 6.0e-6 at 12 … 100 steps). On ``sd3``'s shifted grid
#: deis_t is pre-asymptotic at 12 steps: 3.86e-3, then 6.7e-3, 5.6e-3, 3.92e-3, 1.9e-3, 7.6e-4,
#: 3.0e-4, 1.1e-4 at 16, 20, 25, 35, 50, 70, 100 (falling at every step count from 16 on), so the
#: 12 → 25 doubling is not a fall.
KNOWN_ORDER_LOSS = {("rectified_flow", "deis"), ("sd3", "deis_t")}

#: The samplers of the convergence check: the deterministic built-ins, and DEIS in t.
CONVERGENCE_SAMPLERS: dict[str, Any] = {**{name: name for name in DETERMINISTIC}, "deis_t": {"name": "deis", "interpolation": "t"}}


@pytest.mark.parametrize("sampler", sorted(CONVERGENCE_SAMPLERS))
@pytest.mark.parametrize(
    "preset",
    sorted(PRESETS),
)
def test_every_deterministic_sampler_converges_on_the_presets_own_grid(preset: str, sampler: str, request) -> None:
    """Error to a very fine run (dpmpp_3m, 1000 steps) falls at every doubling from 12 to 100 steps,
    until it is within 4× the reference's own accuracy (its distance to the 500-step run)."""
    if (preset, sampler) in KNOWN_ORDER_LOSS:
        request.applymarker(pytest.mark.xfail(strict=True, reason="see KNOWN_ORDER_LOSS"))
    failures = _convergence_failures(preset, CONVERGENCE_SAMPLERS[sampler])
    assert not failures, f"{preset}, {sampler}: " + "; ".join(failures)


def _convergence_failures(preset: str, sampler: Any) -> list[str]:
    gdf, model, x_init, reference, scale, floor = _convergence_problem(preset)
    errors = [relative_error(_preset_run(gdf, model, sampler, n, x_init), reference) for n in CONVERGENCE_STEPS]
    return doubling_failures(CONVERGENCE_STEPS, errors, floor)


#: The samplers that take diffusers' own steps (gdf_plugins.interop_samplers).
DIFFUSERS_SAMPLERS = [name for name in ALL_SAMPLERS if name.startswith("diffusers_")]


def _settles(preset: str, sampler: Any) -> dict[int, float]:
    """{} if the error to the reference falls from 50 to 100 steps and by 4× (second order) from 50 to 200;
    else the relative errors at 50, 100 and 200 steps."""
    gdf, model, x_init, reference, scale, _ = _convergence_problem(preset)
    errors = {n: (_preset_run(gdf, model, sampler, n, x_init) - reference).abs().max().item() / scale for n in (50, 100, 200)}
    return {} if errors[100] < errors[50] and errors[200] < errors[50] / 4 else errors


@pytest.mark.parametrize("sampler", DIFFUSERS_SAMPLERS)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_diffusers_samplers_converge_on_the_presets_own_grid(preset: str, sampler: str) -> None:
    """diffusers' steps (a plain lower-order warm-up, lower orders on the last steps) on gdf's grids.

    Their error need not fall at every doubling from 12 steps: e.g. ``diffusers_dpmsolver`` on the
    ddpm presets is 2.38e-2, 2.83e-3, 2.89e-3, 1.25e-3, 4.69e-4 at 12, 25, 50, 100, 200 steps, and
    ``diffusers_heun`` 1.16e-3, 2.58e-3, 8.46e-4 at 12, 25, 50 (its first step lands near by
    chance). From 50 steps on every one falls, by 4.6× (sd3, diffusers_dpmsolver) to 450× over two doublings:
    second order at least, as their methods are.
    """
    assert _settles(preset, sampler) == {}


def test_the_convergence_check_catches_a_sampler_with_a_wrong_coefficient() -> None:
    """DDIM with ε weighted by 1.05·b′ (``tests/broken_components.py``) converges to the wrong point."""
    from broken_components import WrongCoefficientDDIM

    assert _convergence_failures("stable_cascade", "ddim") == []
    assert _convergence_failures("stable_cascade", WrongCoefficientDDIM())
    assert _settles("stable_cascade", "dpmpp_2m") == {}  # second order: what _settles asks for
    assert _settles("stable_cascade", WrongCoefficientDDIM())


def test_the_denoiser_shaped_model_is_what_it_says() -> None:
    """x̂0 → x at the clean end, bounded at pure noise, and the same x̂0 whatever the preset's target."""
    x = torch.linspace(-3, 3, 7, dtype=torch.float64).view(-1, 1).expand(-1, 2).contiguous()
    for preset in ("ddpm", "v_prediction", "rectified_flow", "edm"):
        gdf = GDF.from_spec(preset)
        model = denoiser_shaped_model(gdf)
        for lam, expect_identity in ((12.0, True), (-12.0, False)):
            logsnr = torch.full((7,), lam, dtype=torch.float64)
            a, b = (v.view(-1, 1) for v in gdf.input_scaler(logsnr))
            pred = model(x, gdf.noise_cond(logsnr))
            x0 = gdf.target.x0(x, pred, logsnr, a, b)
            if expect_identity:
                torch.testing.assert_close(x0, x / a, rtol=0.02, atol=0.02)
            else:
                assert x0.abs().max() < 1.0, (preset, lam)


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


# -- send({"x": ...}) between the steps of every deterministic sampler --------------------------
#: The deterministic built-ins; the multistep ones keep history, their warm-up redo and UniPC's corrector
#: act on the x the step gave.
SEND_SAMPLERS = ["ddim", "euler", "heun", "dpmpp_2m", "dpmpp_3m", "unipc", "deis", "ipndm", "lms"]


def _run_with_a_sent_x(gdf: GDF, model: Any, sampler: str, x_init: Tensor, at: int, delta: Tensor) -> tuple[Tensor, Tensor]:
    """(the final x, the x sent): x + ``delta`` is sent after step ``at`` of a 40-step run from t = 0.9."""
    gen = gdf.sample(model, {}, None, sampler=sampler, timesteps=40, t_start=0.9, x_init=x_init, cfg=None)
    _, x, _ = next(gen)
    for _ in range(at):
        _, x, _ = gen.send(None)
    sent = x + delta
    last = gen.send({"x": sent})
    for last in gen:
        pass
    return last[1], sent


@pytest.mark.parametrize("at", [0, 1, 5])
@pytest.mark.parametrize("sampler", SEND_SAMPLERS)
def test_an_x_sent_between_steps_moves_the_result_as_the_ode_moves_it(sampler: str, at: int) -> None:
    """The run's response to a change δ of x sent after step ``at`` is the ODE's response from that level
    (a 400-step dpmpp_3m run from it, with and without δ), within 10 %. A sampler that redoes a step from
    the x it kept (the warm-up's redo from x_0, UniC from x_(i−1)) drops δ instead: response ≈ 0.

    Measured at 40 steps: DDIM 3.1 %, the data-form multistep samplers ≤ 0.7 %, heun 0.2 %; the
    noise-form ones (deis, lms, ipndm) 2.7–7.3 %, falling below first order with the steps: their
    ε̂ history from before the change, weighted by a′·Δσ, is stale after it."""
    gdf = GDF.from_spec("stable_cascade")
    model = denoiser_shaped_model(gdf)
    x_init = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    delta = 0.05 * torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    final, sent = _run_with_a_sent_x(gdf, model, sampler, x_init, at, delta)
    unchanged, kept = _run_with_a_sent_x(gdf, model, sampler, x_init, at, torch.zeros_like(delta))
    t_sent = 0.9 * (1 - (at + 1) / 40)
    ode = lambda x: gdf.sample_final(model, {}, None, sampler="dpmpp_3m", timesteps=400, t_start=t_sent, x_init=x, cfg=None)  # noqa: E731
    expected = ode(sent) - ode(kept)
    response = final - unchanged
    assert (response - expected).abs().max() <= 0.1 * expected.abs().max(), (
        f"{sampler}, x sent after step {at}: response {response.abs().max():.3g}, the ODE's {expected.abs().max():.3g}, "
        f"apart by {(response - expected).abs().max():.3g}")


@pytest.mark.parametrize("preset", ["stable_cascade", "edm", "rectified_flow"])
@pytest.mark.parametrize("sampler", ["dpmpp_2m", "dpmpp_3m", "unipc", "deis", "ipndm", "lms"])
def test_the_run_direction_only_skips_work(preset: str, sampler: str) -> None:
    """A run's ``state.direction`` (+1: towards data) lets the multistep samplers skip what only an
    inversion needs (the ε̂ term of a step from λ = +∞, the retaken x̂0 of the warm-up); the same
    run with the direction unknown (0: everything done) is the same to rounding."""
    gdf = GDF.from_spec(preset)
    model = denoiser_shaped_model(gdf)
    x_init = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    runs = [gdf.prepare_sample(model, {}, None, sampler=sampler, timesteps=7, x_init=x_init, cfg=None) for _ in range(2)]
    assert runs[0].state.direction == 1
    runs[1].state.direction = 0
    known, unknown = (run.solve() for run in runs)
    torch.testing.assert_close(known, unknown, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="direction must be"):
        start(registry.get("sampler", sampler)(), torch.linspace(-5, 5, 4), 2, gdf.input_scaler, direction=2)


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
