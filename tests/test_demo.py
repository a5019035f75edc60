"""The main-job demo: data, quality figure, NFE accounting, and a tiny end-to-end run."""

from __future__ import annotations

import json

import pytest
import torch
from rich.console import Console

from gdf_core import GDF
from gdf_core.demo.data import DATASETS, draw
from gdf_core.demo.exact import exact_denoiser, mixture
from gdf_core.demo.model import MLPDenoiser
from gdf_core.demo.quality import floor_swd, mean_swd, sliced_wasserstein
from gdf_core.demo.run import default_samplers, run_demo, steps_for_nfe
from gdf_core.demo.train import lr_factor, train


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_data_sets_are_reproducible_2d_and_roughly_unit_scale(name):
    x = draw(name, 4000, seed=3)
    assert x.shape == (4000, 2) and torch.isfinite(x).all()
    assert torch.equal(x, draw(name, 4000, seed=3))
    assert 0.3 < float(x.std()) < 2.0 and float(x.mean(0).abs().max()) < 0.5


def test_an_unknown_data_set_names_the_choices():
    with pytest.raises(ValueError, match="two_moons"):
        draw("moons", 10)


def test_sliced_wasserstein_is_zero_for_identical_clouds_and_grows_with_a_shift():
    x = draw("two_moons", 1000)
    assert sliced_wasserstein(x, x) == 0.0
    near, far = sliced_wasserstein(x, x + 0.1), sliced_wasserstein(x, x + 1.0)
    assert 0.0 < near < far
    assert sliced_wasserstein(x, x + 1.0) == pytest.approx(sliced_wasserstein(x + 1.0, x))


def test_sliced_wasserstein_of_a_pure_shift_is_its_length_over_sqrt_dim():
    # For a shift δ, each projection moves by θᵀδ; E(θᵀδ)² = |δ|²/D for uniform θ.
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(x, x + torch.tensor([3.0, 4.0]), projections=4096) == pytest.approx(5 / 2**0.5, rel=0.05)


def test_sliced_wasserstein_accepts_clouds_of_different_sizes():
    assert sliced_wasserstein(draw("checkerboard", 300), draw("checkerboard", 500, seed=1)) < 0.3


def test_the_denoiser_takes_any_noise_condition_shape():
    model = MLPDenoiser(hidden=16, depth=1)
    x = torch.randn(5, 2)
    assert model(x, torch.rand(5)).shape == (5, 2)
    assert model(x, torch.tensor(0.5)).shape == (5, 2)
    assert model(x, torch.arange(5)).shape == (5, 2)  # a discrete noise condition


def test_first_order_samplers_spend_one_model_call_per_step():
    gdf = GDF.from_spec("stable_cascade")
    assert steps_for_nfe(gdf, "ddim", 7) == 7


def test_default_samplers_are_installed_ones():
    from gdf_core import registry

    chosen = default_samplers()
    assert chosen and set(chosen) <= set(registry.names("sampler"))


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    result = train(GDF.from_spec("rectified_flow"), MLPDenoiser(hidden=32, depth=1), lambda n, g: DATASETS["two_moons"](n, g),
                   steps=150, batch_size=128, progress=False)
    assert result.steps == 150
    assert sum(result.losses[-20:]) < sum(result.losses[:20])


def test_training_stops_after_the_time_budget():
    result = train(GDF.from_spec("edm"), MLPDenoiser(hidden=16, depth=1), lambda n, g: DATASETS["two_moons"](n, g),
                   steps=10_000, seconds=0.0, batch_size=16, progress=False)
    assert result.steps == 1


def test_a_tiny_demo_writes_the_picture_and_the_table(tmp_path):
    console = Console(record=True, width=120)
    result = run_demo("edm", data="eight_gaussians", samplers=["ddim"], nfes=[1, 3], steps=20, n_samples=100,
                      out=tmp_path, progress=False, console=console)
    assert result.png == tmp_path / "demo_edm.png" and result.png.stat().st_size > 10_000
    report = json.loads(result.json.read_text())
    assert report["gdf"] == GDF.from_spec("edm").to_spec()
    assert [r["nfe"] for r in report["results"]] == [1, 3]
    assert all(r["swd"] > 0 for r in report["results"])
    text = console.export_text()
    assert "NFE 3" in text
    assert report["exact"]["swd"] > 0 and report["exact"]["model_error_swd"] > 0  # eight Gaussians have an exact denoiser
    assert "a perfect model's" in text


def test_the_demo_is_reproducible(tmp_path):
    """Whatever the global RNG's state before the run (the model's initial weights included)."""
    runs = []
    for i in range(2):
        torch.manual_seed(100 + i)
        state = torch.random.get_rng_state()
        runs.append(run_demo("rectified_flow", samplers=["ddim"], nfes=[2], steps=10, n_samples=50,
                             out=tmp_path / str(i), progress=False, console=Console(quiet=True)).rows[0]["swd"])
        assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert runs[0] == runs[1]


def test_the_demo_runs_on_the_threads_it_is_given_and_restores_torchs_setting(tmp_path, monkeypatch):
    import gdf_core.demo.run as run_module

    seen = []
    real_train = run_module.train

    def recording_train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(run_module, "train", recording_train)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_demo("ddpm", samplers=["ddim"], nfes=[2], steps=5, n_samples=50, out=tmp_path, progress=False,
                 console=Console(quiet=True), threads=1)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# -- the solver's error: distance to the model's own ODE solution ------------------------------------
from gdf_core import registry  # noqa: E402
from gdf_core.demo.precondition import Preconditioned, RecipeTable  # noqa: E402
from gdf_core.demo.reference import ode_solution, rms_distance, solve  # noqa: E402
from gdf_core.demo.run import demo_model  # noqa: E402

PRESETS = sorted(registry.presets())


def test_the_demo_reports_the_solvers_error_and_it_falls_as_nfe_grows(tmp_path):
    console = Console(record=True, width=160)
    # ddim only: dpmpp_2m's error on this grid rises from NFE 8 to 16 (0.012 → 0.021), issue 15's engine part
    result = run_demo("rectified_flow", samplers=["ddim"], nfes=[2, 4, 8, 16], steps=20, n_samples=100,
                      out=tmp_path, progress=False, console=console, reference_steps=400)
    for sampler in ("ddim",):
        errors = [r["swd_ode"] for r in result.rows if r["sampler"] == sampler]
        paired = [r["rms_ode"] for r in result.rows if r["sampler"] == sampler]
        assert all(later < earlier for earlier, later in zip(errors, errors[1:])), (sampler, errors)
        assert all(later < earlier for earlier, later in zip(paired, paired[1:])), (sampler, paired)
    # the reference has converged well below the smallest error it measures
    assert result.ode.gap_rms < 0.5 * min(r["rms_ode"] for r in result.rows)
    report = json.loads(result.json.read_text())
    assert report["ode"]["steps"] == 400 and report["ode"]["check_steps"] == 200
    truths = [draw("two_moons", 100, seed=1 + 1000 * k) for k in range(32)]  # the floor's fresh draws of the data
    assert report["ode"]["swd"] == pytest.approx(sum(sliced_wasserstein(result.ode.x, t) for t in truths) / 32)
    others = [sliced_wasserstein(t, draw("two_moons", 100, seed=2 + 1000 * k)) for k, t in enumerate(truths)]
    assert report["reference_swd"] == pytest.approx(sum(others) / 32) and report["data_draws"] == 32
    assert "to the model's ODE solution" in console.export_text()


def _preconditionable(preset: str) -> bool:
    """Whether the demo's preconditioning can read the noise level off the preset's noise condition."""
    try:
        RecipeTable(GDF.from_spec(preset))
    except ValueError:
        return False
    return True


#: Presets whose noise condition does not determine the noise level (a discrete timestep):
#: the demo's preconditioning refuses them, and the demo trains the bare MLP instead.
UNPRECONDITIONABLE = [p for p in PRESETS if not _preconditionable(p)]


def test_the_presets_the_demo_cannot_precondition_are_the_discrete_ones():
    assert UNPRECONDITIONABLE == [p for p in PRESETS if "discrete" in str(GDF.from_spec(p).to_spec()["noise_cond"])]
    for preset in UNPRECONDITIONABLE:
        with pytest.raises(ValueError, match="cannot tell the noise level"):
            Preconditioned(MLPDenoiser(hidden=8, depth=1), GDF.from_spec(preset))
        model, described = demo_model(GDF.from_spec(preset), precondition=True)
        assert isinstance(model, MLPDenoiser) and "not preconditioned" in described


@pytest.mark.parametrize("preset", PRESETS)
def test_ddims_distance_to_the_ode_solution_halves_as_steps_double_on_every_preset(preset):
    # First order: the error at N steps is about C/N. An untrained (smooth, not the oracle) model is enough.
    torch.manual_seed(0)
    gdf = GDF.from_spec(preset)
    net = MLPDenoiser(hidden=32, depth=1)
    model = net if preset in UNPRECONDITIONABLE else Preconditioned(net, gdf)
    x_init = torch.randn(100, 2, generator=torch.Generator().manual_seed(1))
    ode = ode_solution(gdf, model, x_init, steps=320, check_steps=160)
    errors = [rms_distance(solve(gdf, model, x_init, sampler="ddim", steps=n), ode.x) for n in (5, 10, 20, 40)]
    if preset in UNPRECONDITIONABLE:
        # The bare ε-network's x0 = (x − b·ε̂)/a is amplified 1/a ≈ 100× at the clamped noise end, so the
        # first-order rate is reached only at more steps (measured: ratios 0.80, 0.72, 0.62): assert the fall.
        assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    else:
        assert all(0.3 < later / earlier < 0.7 for earlier, later in zip(errors, errors[1:])), errors
    assert ode.gap_rms < 0.25 * errors[-1]


@pytest.mark.parametrize("preset", [p for p in PRESETS if p not in UNPRECONDITIONABLE])
def test_the_recipe_table_gives_each_presets_noise_level_and_coefficients(preset):
    gdf = GDF.from_spec(preset)
    logsnr = torch.tensor([-12.0, -3.0, 0.0, 2.5, 9.0])
    lam, a, b, p, q = RecipeTable(gdf)(gdf.noise_cond(logsnr))
    a_true, b_true = gdf.input_scaler(logsnr)
    assert torch.allclose(lam, logsnr, atol=1e-3)
    assert torch.allclose(a, a_true.float(), atol=1e-5) and torch.allclose(b, b_true.float(), atol=1e-5)


@pytest.mark.parametrize("preset", [p for p in PRESETS if p not in UNPRECONDITIONABLE])
def test_the_preconditioned_model_predicts_each_presets_target(preset):
    """A network answering the exact unit-variance F = cos φ·ε − sin φ·x0/σ_d gives the recipe's own target."""
    gdf = GDF.from_spec(preset)
    g = torch.Generator().manual_seed(0)
    x0, eps, t = torch.randn(64, 2, generator=g) * 0.7, torch.randn(64, 2, generator=g), torch.rand(64, generator=g) * 0.98 + 0.01
    if not getattr(gdf.schedule, "supports_t", True):  # training-only schedules take no t: draw instead
        noised, _, target, logsnr, cond, _ = gdf.diffuse(x0, eps, generator=g)
    else:
        noised, _, target, logsnr, cond, _ = gdf.diffuse(x0, eps, t=t)
    s = 0.7
    a, b = (v.reshape(-1, 1) for v in gdf.input_scaler(logsnr))
    r = torch.sqrt((a * s) ** 2 + b**2)
    exact_f = (a * s / r) * eps - (b / r) * x0 / s

    class Exact(torch.nn.Module):
        def forward(self, x_in, level):
            assert torch.allclose(x_in, noised / r, atol=1e-4) and torch.allclose(level, -logsnr / 8, atol=1e-3)
            return exact_f

    pred = Preconditioned(Exact(), gdf, sigma_data=s)(noised, cond)
    assert torch.allclose(pred, target, atol=2e-3, rtol=1e-3)


def test_a_noise_condition_that_does_not_tell_the_noise_level_falls_back_to_the_bare_model():
    gdf = GDF.from_spec({"preset": "ddpm", "noise_cond": {"name": "discrete", "noise_cond": "cosine_t", "steps": 10}})
    with pytest.raises(ValueError, match="one value for several noise levels"):
        RecipeTable(gdf)
    model, how = demo_model(gdf, precondition=True)
    assert isinstance(model, MLPDenoiser) and "not preconditioned" in how


def test_a_target_that_is_not_linear_in_x0_and_epsilon_is_refused(monkeypatch):
    real = GDF.diffuse

    def squared_target(self, *args, **kwargs):  # a deliberately broken target: target² instead of target
        out = real(self, *args, **kwargs)
        return out[0], out[1], out[2] ** 2, *out[3:]

    monkeypatch.setattr(GDF, "diffuse", squared_target)
    with pytest.raises(ValueError, match="not linear"):
        RecipeTable(GDF.from_spec("v_prediction"))


def test_a_noise_condition_not_monotone_in_the_noise_level_is_refused(monkeypatch):
    real = GDF.diffuse

    def folded_cond(self, *args, **kwargs):  # a deliberately broken noise condition: λ²
        out = real(self, *args, **kwargs)
        return *out[:4], out[3] ** 2, out[5]

    monkeypatch.setattr(GDF, "diffuse", folded_cond)
    with pytest.raises(ValueError, match="not strictly monotone"):
        RecipeTable(GDF.from_spec("edm"))


def test_sigma_data_must_be_positive():
    with pytest.raises(ValueError, match="sigma_data"):
        Preconditioned(MLPDenoiser(hidden=8, depth=1), GDF.from_spec("edm"), sigma_data=0.0)


def test_the_demo_trains_the_preconditioned_model_on_request(tmp_path):
    console = Console(record=True, width=160)
    result = run_demo("v_edm", samplers=["ddim"], nfes=[3], steps=5, n_samples=50, out=tmp_path, progress=False,
                      console=console, reference_steps=20, precondition=True)
    assert isinstance(result.train.model, Preconditioned) and "preconditioned, σ_d = " in console.export_text()
    assert all(torch.isfinite(torch.tensor(r["swd_ode"])) for r in result.rows)


@pytest.mark.parametrize("preset", [p for p in PRESETS if p not in UNPRECONDITIONABLE])
def test_solve_returns_samples_in_the_datas_units_on_every_preset(preset):
    # A model that knows x0 exactly (a point mass at c): every recipe's run must end at c, whatever the
    # scaler's a at the grid's end (EDM's c_in is 2 there: a run's raw final x would be 2·c).
    gdf = GDF.from_spec(preset)
    table = RecipeTable(gdf)
    c = torch.tensor([0.7, -0.4])

    def knows_x0(x, cond):
        _, a, b, p, q = (v.unsqueeze(1) for v in table(cond.expand(x.shape[0]) if cond.dim() == 0 else cond))
        return p * c + q * (x - a * c) / b

    x = solve(gdf, knows_x0, torch.randn(50, 2, generator=torch.Generator().manual_seed(0)), sampler="ddim", steps=20)
    # the cosine grids end at σ ≈ 0.01 (the run's last noise level): the points scatter that much around c
    assert float((x.mean(0) - c).abs().max()) < 5e-3 and float((x - c).abs().max()) < 0.05, (x - c).abs().max()


def test_one_draws_distance_is_too_noisy_to_judge_a_model_so_the_floor_is_a_mean_over_pairs():
    draws = [draw("two_moons", 2000, seed=10 + k) for k in range(16)]
    others = [draw("two_moons", 2000, seed=50 + k) for k in range(16)]
    mean, sd = floor_swd(draws, others)
    assert 0.03 < mean < 0.08 and sd > 0.2 * mean  # measured: 0.054 ± 0.019 over 100 pairs
    assert floor_swd(draws[:3], draws[:3]) == (0.0, 0.0)
    assert mean_swd(others[0], draws) == pytest.approx(sum(sliced_wasserstein(others[0], d) for d in draws) / 16)
    with pytest.raises(ValueError, match="as many draws as others"):
        floor_swd(draws, others[:2])
    with pytest.raises(ValueError, match="at least one draw"):
        mean_swd(draws[0], [])


def test_the_learning_rate_warms_up_then_decays_to_lr_final():
    factors = [lr_factor(i, 400, 0.0) for i in range(401)]
    assert factors[0] == pytest.approx(1 / 20) and max(factors) == pytest.approx(1.0, abs=0.01)
    assert factors[-1] == pytest.approx(0.0, abs=1e-12) and lr_factor(400, 400, 0.1) == pytest.approx(0.1)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(factors[20:], factors[21:]))


@pytest.mark.parametrize("options, message", [({"lr_final": 1.5}, "lr_final"), ({"lr_final": -0.1}, "lr_final"),
                                              ({"clip": 0.0}, "clip"), ({"ema_sigma_rel": 0.9}, "sigma_rel")])
def test_training_options_out_of_their_domain_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        train(GDF.from_spec("edm"), MLPDenoiser(hidden=8, depth=1), lambda n, g: DATASETS["two_moons"](n, g),
              steps=2, batch_size=8, progress=False, **options)


def test_the_power_ema_averages_the_weights_differently_from_the_constant_one():
    results = []
    for ema in ({"ema_decay": 0.995}, {"ema_sigma_rel": 0.05}, {"ema_decay": 0.0}):
        torch.manual_seed(0)
        model = MLPDenoiser(hidden=16, depth=1)
        results.append(train(GDF.from_spec("edm"), model, lambda n, g: DATASETS["two_moons"](n, g), steps=30,
                             batch_size=32, progress=False, **ema))
        if ema == {"ema_decay": 0.0}:  # no averaging: the returned model is the trained one
            assert all(torch.equal(a, b) for a, b in zip(results[-1].model.parameters(), model.parameters()))
    constant, power, _ = ([p.detach().clone() for p in r.model.parameters()] for r in results)
    assert not all(torch.allclose(a, b) for a, b in zip(constant, power))


@pytest.mark.parametrize("preset", ["rectified_flow", "edm", "stable_cascade"])
def test_the_exact_denoisers_ode_solution_is_a_draw_of_the_data(preset):
    # eight Gaussians: every point ends near one of the eight centres, each centre with about an eighth of them
    gdf = GDF.from_spec(preset)
    centres, s = mixture("eight_gaussians")
    x = solve(gdf, exact_denoiser(gdf, "eight_gaussians"), torch.randn(800, 2, generator=torch.Generator().manual_seed(0)),
              sampler="ddim", steps=100)
    distance, nearest = torch.cdist(x.double(), centres).min(dim=1)
    assert float(distance.max()) < 5 * s and float(distance.pow(2).mean().sqrt()) == pytest.approx(s * 2**0.5, rel=0.15)
    counts = torch.bincount(nearest, minlength=8)
    assert int(counts.min()) > 60 and int(counts.max()) < 140, counts  # 100 each, ±4 sd


def test_data_sets_without_a_closed_form_and_discrete_recipes_have_no_exact_denoiser():
    assert exact_denoiser(GDF.from_spec("edm"), "checkerboard") is None
    assert exact_denoiser(GDF.from_spec("iddpm_cosine"), "two_moons") is None
    assert all(mixture(name) is not None for name in ("two_moons", "eight_gaussians", "swiss_roll"))
