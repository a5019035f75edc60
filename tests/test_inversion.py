"""Inversion: ``sample`` with t_start < t_end carries x from data towards noise along the probability-flow ODE.

The check is independent of the code under test's direction: the inverted z,
run forward again by a high-order sampler (dpmpp_3m, 1000 steps, checked on
partial runs by test_convergence_class), must come back to the x it started
from, and its error must fall at every doubling of the inversion's steps
until it reaches the forward run's own accuracy.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
import torch
from torch import Tensor

from gdf_core import GDF
from gdf_core.integrate import integrate, solve
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian
from gdf_plugins.samplers.deis import DEISSampler
from gdf_plugins.samplers.dpmpp import DPMPP2MSampler, DPMPP3MSampler
from gdf_plugins.presets import PRESETS

from convergence import CONVERGENCE_STEPS, denoiser_shaped_model, doubling_failures, relative_error

#: The built-in samplers whose step is valid towards noise (``Reversible``).
INVERTING = ("ddim", "euler", "dpmpp_2m", "dpmpp_3m", {"name": "deis", "interpolation": "t"})

#: From a little above the data to pure noise; iddpm_cosine's model takes integer timesteps and is
#: piecewise constant off its own grid (as in test_convergence_class).
WINDOW = (0.02, 1.0)
PRESETS_CHECKED = sorted(p for p in PRESETS if p != "iddpm_cosine")


@functools.lru_cache(maxsize=None)
def _problem(preset: str) -> tuple[GDF, Any, Tensor]:
    gdf = GDF.from_spec({"preset": preset, "sampler": None})
    return gdf, denoiser_shaped_model(gdf), torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _run(gdf: GDF, model: Any, x: Tensor, sampler: Any, steps: int, t_start: float, t_end: float) -> Tensor:
    with torch.no_grad():
        return gdf.sample_final(model, {}, x.shape, sampler=sampler, timesteps=steps, cfg=None, x_init=x,
                                t_start=t_start, t_end=t_end)


def _round_trip_failures(preset: str, sampler: Any, window: tuple[float, float] = WINDOW) -> list[str]:
    gdf, model, x = _problem(preset)
    up, down = window, window[::-1]
    inverted = {n: _run(gdf, model, x, sampler, n, *up) for n in CONVERGENCE_STEPS}
    back = {n: _run(gdf, model, z, "dpmpp_3m", 1000, *down) for n, z in inverted.items()}
    floor = relative_error(_run(gdf, model, inverted[CONVERGENCE_STEPS[-1]], "dpmpp_3m", 500, *down), back[CONVERGENCE_STEPS[-1]])
    assert all(bool(torch.isfinite(z).all()) for z in inverted.values()), preset
    return doubling_failures(CONVERGENCE_STEPS, [relative_error(back[n], x) for n in CONVERGENCE_STEPS], floor)


@pytest.mark.parametrize("sampler", INVERTING, ids=lambda s: s if isinstance(s, str) else "deis_t")
@pytest.mark.parametrize("preset", PRESETS_CHECKED)
def test_an_inversion_comes_back_under_the_forward_ode(preset: str, sampler: str) -> None:
    failures = _round_trip_failures(preset, sampler)
    assert not failures, f"{preset}, {sampler}: " + "; ".join(failures)


#: The presets whose grid starts at clean data itself (t = 0 is λ = +∞: flow and EDM grids to σ = 0).
FROM_CLEAN_DATA = ("edm", "rectified_flow", "sd3")


@pytest.mark.parametrize("sampler", INVERTING[2:], ids=lambda s: s if isinstance(s, str) else "deis_t")
@pytest.mark.parametrize("preset", FROM_CLEAN_DATA)
def test_a_multistep_inversion_from_clean_data_itself_comes_back(preset: str, sampler: Any) -> None:
    """From t = 0 (λ = +∞, b = 0) the data form's first coefficients are infinite (they gave NaN): its
    first step is the DDIM limit a′·x̂0 + b′·ε̂, and the warm-up's redo is taken in t² (multistep.py)."""
    gdf = _problem(preset)[0]
    schedule = gdf.sample_schedule or gdf.schedule
    assert torch.isposinf(schedule(torch.zeros(1, dtype=torch.float64))).all(), preset
    failures = _round_trip_failures(preset, sampler, (0.0, 1.0))
    assert not failures, f"{preset}, {sampler}, from t = 0: " + "; ".join(failures)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_inversion_is_finite_at_every_step_count(preset: str) -> None:
    """Every Reversible built-in, from t = 0 and from t = 0.02 to pure noise, 1 to 50 steps, cfg on and off."""
    gdf = GDF.from_spec({"preset": preset, "sampler": None})
    model = denoiser_shaped_model(gdf)
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    for sampler in INVERTING + ({"name": "dpmpp_3m", "interpolation": "t"},):
        for steps in (1, 2, 3, 7, 50):
            for t_start in (0.0, 0.02):
                for cfg in (None, 3.0):
                    z = gdf.sample_final(model, {"c": 1}, x.shape, unconditional_inputs={"c": 0} if cfg else None,
                                         sampler=sampler, timesteps=steps, cfg=cfg, x_init=x, t_start=t_start, t_end=1.0)
                    assert torch.isfinite(z).all(), (preset, sampler, steps, t_start, cfg)


def test_the_round_trip_check_catches_a_wrong_inversion() -> None:
    """The wrong-coefficient DDIM (ε weighted by 1.05·b′; Reversible as its sound base is) is caught."""
    from broken_components import WrongCoefficientDDIM

    assert _round_trip_failures("stable_cascade", "ddim") == []
    assert _round_trip_failures("stable_cascade", WrongCoefficientDDIM())


def test_an_inversion_from_clean_data_works_where_the_target_gives_epsilon_there() -> None:
    """t_start = 0: the clamped cosine's λ is finite there; EDM's grid starts at σ_min; both invert."""
    for preset in ("stable_cascade", "edm"):
        gdf, model, x = _problem(preset)
        z = _run(gdf, model, x, "ddim", 20, 0.0, 1.0)
        assert torch.isfinite(z).all() and not torch.equal(z, x), preset


def test_an_inversion_from_sigma_zero_needs_a_target_that_gives_epsilon_there() -> None:
    """rectified_flow at t = 0 is λ = +∞ (b = 0). A velocity gives ε = x + v there, so a velocity model that is
    finite at t = 0 inverts; an x0-prediction cannot give ε there, so it is refused with the reason."""
    gdf = GDF.from_spec("rectified_flow")
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    velocity = lambda x, cond, **_: torch.tanh(x) * 0.5 - 0.2  # noqa: E731  (finite at every t)
    z = _run(gdf, velocity, x, "euler", 10, 0.0, 1.0)
    assert torch.isfinite(z).all()
    x0_target = GDF.from_spec({**gdf.to_spec(), "target": "x0"})
    with pytest.raises(ValueError, match=r"the target 'x0' cannot give ε at λ = \+∞ \(clean data, b = 0\)"):
        _run(x0_target, lambda x, cond, **_: x, x, "ddim", 10, 0.0, 1.0)


def test_an_inversion_refuses_a_sampler_that_cannot_step_towards_noise_and_a_sent_one_too() -> None:
    gdf, model, x = _problem("stable_cascade")
    for sampler in ("unipc", "deis", "lms", "ipndm", "heun", "ddpm", {"name": "ddim", "eta": 0.5}, {"name": "dpmpp_2m", "interpolation": "logsnr"}):
        with pytest.raises(ValueError, match="cannot step that way"):
            _run(gdf, model, x, sampler, 10, 0.1, 0.9)
    run = gdf.sample(model, {}, x.shape, sampler="ddim", timesteps=5, cfg=None, x_init=x, t_start=0.1, t_end=0.9)
    next(run)
    with pytest.raises(ValueError, match="the sampler sent to sample\\(\\) 'unipc' cannot step that way"):
        run.send({"sampler": "unipc"})
    untouched = x.clone()
    _run(gdf, model, x, "ddim", 5, 0.1, 0.9)
    assert torch.equal(x, untouched)


def test_ddim_inversion_is_undone_exactly_when_the_models_x0_is_one_point() -> None:
    """Up the grid and down the same levels reversed is the identity when x̂0 = c at every level:
    z = a′·c + b′·(x − a·c)/b, then a·c + b·(z − a′·c)/b′ = x (the two grids are the same numbers)."""
    gdf = GDF.from_spec("stable_cascade")  # its noise condition is its t (cosine_t)
    c = torch.tensor([[0.3, -0.2]], dtype=torch.float64)

    def one_point(x: Tensor, cond: Tensor, **_: Any) -> Tensor:
        a, b = (v.view(-1, 1).to(x.dtype) for v in gdf.input_scaler(gdf.schedule(cond.to(torch.float64))))
        return (x - a * c) / b  # the ε whose x̂0 is c

    x = torch.tensor([[0.5, 0.1]], dtype=torch.float64)
    z = _run(gdf, one_point, x, "ddim", 7, 0.2, 0.8)
    assert not torch.allclose(z, x)
    torch.testing.assert_close(_run(gdf, one_point, z, "ddim", 7, 0.8, 0.2), x, rtol=1e-9, atol=1e-9)


def _gaussian_inversion_error(sampler: Any, t0: float, steps: int) -> float:
    """Gaussian data N(0.3, 0.5²) under the lerp scaler, from t0 to t = 0.99 on a grid uniform in t: |x − exact flow map|."""
    data = Gaussian(0.3, 0.5, ClosedFormScaler("sum"))
    x = data.sample((16, 1), 30.0, torch.Generator().manual_seed(0)).double()
    t = torch.linspace(t0, 0.99, steps + 1, dtype=torch.float64)
    logsnrs = 2 * torch.log((1 - t) / t)
    out = solve(sampler, data.denoise, x, logsnrs, scaler=data.scaler).double()
    return (out - data.flow(x, float(logsnrs[0]), float(logsnrs[-1]))).abs().max().item()


@pytest.mark.parametrize("sampler", [DPMPP3MSampler, functools.partial(DEISSampler, interpolation="t")], ids=["dpmpp_3m", "deis_t"])
def test_the_warmup_redo_towards_noise_helps_near_data(sampler: Any) -> None:
    """From t0 = 0, 1e-3 and 0.02 the redo of the first step (x̂0 linear in t², its weight solved for the x̂0
    taken at the predicted x_1, x̂0_1 moved with x_1) at most 0.2 × the error without it (measured:
    0.01–0.06); the redo in t, with the weight as it is, was 2–3 × worse than none there (NaN from
    t0 = 0). From t0 = 0.3 the order stays 3."""
    for t0 in (0.0, 1e-3, 0.02):
        for steps in (64, 128):
            with_redo, without = (_gaussian_inversion_error(sampler(warmup_corrector=w), t0, steps) for w in (True, False))
            assert with_redo <= 0.2 * without, (t0, steps, with_redo, without)
    coarse, fine = (_gaussian_inversion_error(sampler(), 0.3, n) for n in (64, 128))
    assert math.log2(coarse / fine) > 2.7, (coarse, fine)


@pytest.mark.parametrize("sampler", [DPMPP2MSampler, DPMPP3MSampler])
@pytest.mark.parametrize("repeats", [1, 2, 3])
def test_a_grid_repeating_clean_data_at_its_start(sampler: Any, repeats: int) -> None:
    """[+∞] × ``repeats`` then 4, 2, 0: the first steps are no-ops, the next moves from λ = +∞ with a longer
    history (its older levels repeats, with no weight). That step is the DDIM step from clean data,
    a′·x̂0 + b′·ε̂, and the run is finite (NaN before for repeats ≥ 2: the ε̂ term was on step 0 only).
    """
    data = Gaussian(0.3, 0.5, ClosedFormScaler("sum"))
    x = data.sample((4, 1), 30.0, torch.Generator().manual_seed(0)).double()
    grid = torch.tensor([math.inf] * repeats + [4.0, 2.0, 0.0], dtype=torch.float64)
    xs = list(integrate(sampler(), data.denoise, x, grid, scaler=data.scaler))
    x0, eps = data.denoise(x, torch.full((4,), math.inf, dtype=torch.float64))
    a, b = data.scaler(torch.tensor(4.0, dtype=torch.float64))
    for i in range(repeats - 1):
        assert torch.equal(xs[i], x), i
    torch.testing.assert_close(xs[repeats - 1], a * x0 + b * eps, rtol=1e-12, atol=1e-12)
    assert torch.isfinite(xs[-1]).all()
