"""Stochastic samplers: reproducible from a generator, per-sample noise independent of the batch,
and every sampler (stochastic or not) usable with any target and scaler, on the exact oracle."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.integrate import solve
from gdf_core.testing.oracle import GaussianMixture, denoiser, reference_solution, rms_error
from gdf_plugins.samplers import (
    SOLVER_SAMPLERS,
    DPMPP2MSDESampler,
    DPMPP2SAncestralSampler,
    DPMPP3MSDESampler,
    EulerAncestralSampler,
    HeunSampler,
)
from gdf_plugins.scalers import LERPScaler, VPScaler
from gdf_plugins.schedules.grids import FlowShiftSchedule, KarrasSchedule, ZeroTerminalSNRSchedule
from gdf_plugins.targets import EpsilonTarget, RectifiedFlowsTarget, VTarget, X0Target

MIXTURE = GaussianMixture.random(dim=3, components=2, seed=3, std_range=(0.3, 0.6))
STOCHASTIC = [
    EulerAncestralSampler(),
    DPMPP2SAncestralSampler(),
    DPMPP2MSDESampler(),
    DPMPP3MSDESampler(),
    HeunSampler(s_churn=10.0),
]
IDS = [f"{s.name}" for s in STOCHASTIC]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(sampler, x, generator, *, scaler=None, target=None, grid=None):
    scaler = scaler or VPScaler()
    grid = KarrasSchedule(sigma_min=0.03, sigma_max=14.6).levels(8) if grid is None else grid
    return solve(sampler, denoiser(MIXTURE, scaler, target), x, grid, scaler=scaler, generator=generator)


@pytest.mark.parametrize("sampler", STOCHASTIC, ids=IDS)
def test_same_seed_gives_identical_samples(sampler):
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = run(sampler, x, torch.Generator().manual_seed(7))
    b = run(sampler, x, torch.Generator().manual_seed(7))
    c = run(sampler, x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c), "the sampler ignores its generator"


@pytest.mark.parametrize("sampler", STOCHASTIC, ids=IDS)
def test_sample_does_not_depend_on_its_batch_with_per_sample_generators(sampler):
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    seeds = [11, 12, 13, 14, 15]
    full = run(sampler, x, [torch.Generator().manual_seed(s) for s in seeds])
    sub = run(sampler, x[1:3], [torch.Generator().manual_seed(s) for s in seeds[1:3]])
    alone = run(sampler, x[3:4], [torch.Generator().manual_seed(seeds[3])])
    torch.testing.assert_close(sub, full[1:3], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alone, full[3:4], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sampler", STOCHASTIC, ids=IDS)
def test_stochastic_sampler_draws_only_from_its_generator(sampler):
    x = torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.manual_seed(0)
    a = run(sampler, x, torch.Generator().manual_seed(5))
    torch.manual_seed(123)
    b = run(sampler, x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("sampler", STOCHASTIC, ids=IDS)
def test_stochastic_sampler_matches_the_data_distribution(sampler):
    """Many samples from noise: the mean and variance per coordinate match the mixture's."""
    n = 4000
    g = torch.Generator().manual_seed(9)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    out = run(sampler, x, g, grid=KarrasSchedule(sigma_min=0.01, sigma_max=80.0).levels(100))
    data = MIXTURE.sample(200_000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out.mean(0), data.mean(0), atol=0.08, rtol=0)
    torch.testing.assert_close(out.std(0), data.std(0), atol=0.08, rtol=0)


TARGETS = {
    "vp_epsilon": (VPScaler(), EpsilonTarget()),
    "vp_v": (VPScaler(), VTarget()),
    "vp_x0": (VPScaler(), X0Target()),
    "lerp_rectified_flow": (LERPScaler(), RectifiedFlowsTarget()),
    "lerp_v": (LERPScaler(), VTarget()),
}


@pytest.mark.parametrize("target_name", list(TARGETS))
@pytest.mark.parametrize("cls", SOLVER_SAMPLERS, ids=[c.name for c in SOLVER_SAMPLERS])
def test_every_sampler_works_with_every_target_and_scaler(cls, target_name):
    """Same oracle, same noise levels: the sample does not depend on the model's parametrisation,
    and a deterministic sampler at 20 NFE lands close to the exact ODE solution."""
    scaler, target = TARGETS[target_name]
    sampler = cls()
    grid = KarrasSchedule(sigma_min=0.03, sigma_max=14.6).levels(10)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    if isinstance(scaler, LERPScaler):
        x = x * float(sum(scaler(grid[:1])))  # x = a·x0 + b·ε at the start has scale ≈ a + b
    ref_model = run(sampler, x, torch.Generator().manual_seed(3), scaler=scaler, target=X0Target(), grid=grid)
    out = run(sampler, x, torch.Generator().manual_seed(3), scaler=scaler, target=target, grid=grid)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref_model, rtol=1e-7, atol=1e-7)
    if not getattr(sampler, "stochastic", False):
        exact = reference_solution(MIXTURE, x, float(grid[0]), math.inf, scaler)
        assert rms_error(out, exact) < 0.15


ZERO_TERMINAL = {
    "lerp_rectified_flow": (LERPScaler(), RectifiedFlowsTarget(), FlowShiftSchedule(shift=3.0)),
    "vp_v_zero_terminal_snr": (VPScaler(), VTarget(), ZeroTerminalSNRSchedule()),
    "vp_x0_zero_terminal_snr": (VPScaler(), X0Target(), ZeroTerminalSNRSchedule()),
}


@pytest.mark.parametrize("setup", list(ZERO_TERMINAL))
@pytest.mark.parametrize("cls", SOLVER_SAMPLERS, ids=[c.name for c in SOLVER_SAMPLERS])
def test_sampling_from_pure_noise_at_minus_infinity(cls, setup):
    """λ = −∞ at the start (zero terminal SNR) and +∞ at the end: finite, and close to the exact ODE."""
    scaler, target, schedule = ZERO_TERMINAL[setup]
    grid = schedule.levels(12)
    assert math.isinf(float(grid[0])) and float(grid[0]) < 0
    sampler = cls()
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    out = run(sampler, x, torch.Generator().manual_seed(2), scaler=scaler, target=target, grid=grid)
    assert torch.isfinite(out).all()
    if not getattr(sampler, "stochastic", False):
        exact = reference_solution(MIXTURE, x, -math.inf, math.inf, scaler)
        assert rms_error(out, exact) < 0.15
