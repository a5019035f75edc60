"""gdf-example's own tests: run them against the installed package (``pip install -e .[test]``).

gdf's pytest plugin checks each component against its kind's invariants; the
tests below add what is particular to these components.
"""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core import GDF, SamplingState, build, registry
from gdf_core.testing.pytest_plugin import invariant_suite
from gdf_example import CosineRampCFG, LambdaMidpointSampler, LogitNormalDensityWeight, LogitNormalSchedule


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("schedule", LogitNormalSchedule),
        ("loss_weight", LogitNormalDensityWeight),
        ("sampler", LambdaMidpointSampler),
        ("guidance", CosineRampCFG),
    ],
)
def test_the_installed_package_registers_each_component(kind, cls):
    assert registry.get(kind, cls.name) is cls
    assert registry.registration_of(cls).distribution == "gdf-example"
    assert registry.get(kind, f"gdf-example:{cls.name}") is cls


# gdf's pytest plugin: every invariant of each component's kind, one test each, for
# every component this distribution registers, and for non-default parameters.
test_gdf_invariants = invariant_suite(distributions=["gdf-example"])
test_gdf_invariants_with_parameters = invariant_suite(
    LogitNormalSchedule(mu=0.5, std=0.8, shift=3.0), LogitNormalDensityWeight(mu=-0.5, std=2.0), CosineRampCFG(scale=9.0, interval=(0.1, 0.9))
)


def test_logit_normal_draws_have_the_documented_moments():
    schedule = LogitNormalSchedule(mu=0.5, std=0.8)
    u = -schedule(200_000, generator=torch.Generator().manual_seed(0)).double() / 2  # λ = −2·logit(t)
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.std().item() - 0.8) < 0.01


def test_logit_normal_is_the_rectified_flow_schedule_given_t():
    t = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    expected = (2 * torch.log((1 - t) / t)).clamp(-15, 15)
    assert torch.allclose(LogitNormalSchedule()(t), expected)


def test_logit_normal_density_integrates_to_one_over_t():
    t = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    logsnr = 2 * (torch.log1p(-t) - torch.log(t))  # ±inf at the ends, where the density is 0
    density = LogitNormalDensityWeight(mu=0.3, std=0.7)(logsnr)
    assert density[0] == 0 and density[-1] == 0
    assert math.isclose(torch.trapezoid(density, t).item(), 1.0, rel_tol=1e-6)


def gaussian_data_run(sampler, steps: int, s: float = 0.5) -> float:
    """Sample 1-D Gaussian data N(0, s²) with its exact denoiser; the error against the exact ODE flow."""
    scaler = build("input_scaler", "vp")

    def denoise(x, logsnr):
        a, b = scaler(logsnr)
        x0 = a * s**2 * x / (a**2 * s**2 + b**2)  # E[x0 | x] for x = a·x0 + b·ε, x0 ~ N(0, s²)
        return x0, (x - a * x0) / b

    logsnrs = torch.linspace(-6.0, 6.0, steps + 1, dtype=torch.float64)[:, None]
    x = x_start = torch.tensor([1.0], dtype=torch.float64)
    state = SamplingState(logsnrs=logsnrs)
    for i in range(steps):
        state.step = i
        x = sampler.step(denoise, x, logsnrs[i], logsnrs[i + 1], scaler=scaler, state=state)
    a0, b0 = scaler(logsnrs[0])
    a1, b1 = scaler(logsnrs[-1])
    exact = x_start * torch.sqrt((a1**2 * s**2 + b1**2) / (a0**2 * s**2 + b0**2))
    return (x - exact).abs().item()


def test_lambda_midpoint_is_second_order():
    errors = [gaussian_data_run(LambdaMidpointSampler(), steps) for steps in (8, 16, 32)]
    orders = [math.log2(coarse / fine) for coarse, fine in zip(errors, errors[1:])]
    assert all(1.8 < order < 2.2 for order in orders), (errors, orders)


def test_preset_trains_and_samples():
    gdf = GDF.from_spec("logit_normal_flow")
    assert isinstance(gdf.schedule, LogitNormalSchedule) and isinstance(gdf.sampler, LambdaMidpointSampler)
    x0 = torch.randn(4, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    noised, epsilon, target, logsnr, cond, weight = gdf.diffuse(x0, generator=torch.Generator().manual_seed(1))
    assert noised.shape == x0.shape and torch.isfinite(logsnr).all()

    def model(x, cond):  # predicts ε − x0 as if x0 were 0
        return torch.zeros_like(x) + x

    *_, (x0_final, x, pred) = gdf.sample(
        model, {}, (2, 2, 8, 8), cfg=None, timesteps=6, generator=torch.Generator().manual_seed(2)
    )
    assert x.shape == (2, 2, 8, 8) and torch.isfinite(x).all()
    assert GDF.from_spec(gdf.to_spec()) == gdf


def test_cosine_ramp_cfg_rises_from_no_guidance_to_scale():
    from gdf_core import Predictions

    g = CosineRampCFG(scale=7.0)
    assert [g.weight(t) for t in (1.0, 0.5, 0.0)] == pytest.approx([1.0, 4.0, 7.0])
    c, u = torch.randn(2, 3, generator=torch.Generator().manual_seed(0)), torch.zeros(2, 3)
    at = lambda t: g(Predictions(c, u), x=c, logsnr=torch.zeros(2), t=t, step=0, state=None)
    assert torch.equal(at(1.0), c) and torch.allclose(at(0.0), 7.0 * c)


def test_cosine_ramp_cfg_samples_by_name():
    gdf = GDF.from_spec("logit_normal_flow")
    calls = []

    def model(x, cond, label):
        calls.append(x.shape[0])
        return 0.5 * x + label

    label = torch.ones(2, 1)
    *_, (x0, x, pred) = gdf.sample(
        model, {"label": label}, (2, 3), guidance={"name": "cosine_ramp_cfg", "scale": 4.0}, timesteps=4,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.isfinite(x).all() and set(calls) == {4}  # conditional and unconditional batched: 2 × 2
