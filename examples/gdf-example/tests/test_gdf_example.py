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
from gdf_example import LambdaMidpointSampler, LogitNormalDensityWeight, LogitNormalSchedule


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("schedule", LogitNormalSchedule), ("loss_weight", LogitNormalDensityWeight), ("sampler", LambdaMidpointSampler)],
)
def test_the_installed_package_registers_each_component(kind, cls):
    assert registry.get(kind, cls.name) is cls
    assert registry.registration_of(cls).distribution == "gdf-example"
    assert registry.get(kind, f"gdf-example:{cls.name}") is cls


# gdf's pytest plugin: every invariant of each component's kind, one test each, for
# every component this distribution registers, and for non-default parameters.
test_gdf_invariants = invariant_suite(distributions=["gdf-example"])
test_gdf_invariants_with_parameters = invariant_suite(
    LogitNormalSchedule(mu=0.5, std=0.8, shift=3.0), LogitNormalDensityWeight(mu=-0.5, std=2.0)
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
