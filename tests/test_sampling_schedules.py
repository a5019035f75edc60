"""Sampling schedules: monotone grids from noise to data, exact ends, the parameters they document."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core import GDF, build
from gdf_plugins.schedules import gdf_register_schedules
from gdf_plugins.schedules.grids import (
    SAMPLING_SCHEDULES,
    BetaSchedule,
    CosineLogSNRSchedule,
    ExponentialSchedule,
    FlowShiftSchedule,
    KarrasSchedule,
    LinearLogSNRSchedule,
    ZeroTerminalSNRSchedule,
    sd_alphas_cumprod,
)


def test_sampling_schedules_are_registered_with_unique_names():
    names = [cls.name for cls in gdf_register_schedules()]
    assert len(names) == len(set(names))
    for cls in SAMPLING_SCHEDULES:
        assert cls.name in names


@pytest.mark.parametrize("cls", SAMPLING_SCHEDULES, ids=[c.name for c in SAMPLING_SCHEDULES])
@pytest.mark.parametrize("steps", [1, 2, 5, 10, 50])
def test_levels_decrease_in_noise_and_end_on_data(cls, steps):
    lam = cls().levels(steps)
    assert lam.shape == (steps + 1,)
    assert not torch.isnan(lam).any()
    assert (lam[1:] > lam[:-1]).all(), lam
    assert math.isinf(float(lam[-1])) and float(lam[-1]) > 0


@pytest.mark.parametrize("cls", SAMPLING_SCHEDULES, ids=[c.name for c in SAMPLING_SCHEDULES])
def test_call_maps_t0_to_data_and_is_monotone(cls):
    s = cls()
    t = torch.linspace(1, 0, 101)
    lam = s(t)
    assert lam.dtype == torch.float32
    assert float(lam[-1]) == math.inf
    assert (lam[1:] > lam[:-1]).all()
    assert s(t.double()).dtype == torch.float64


def test_karras_levels_match_the_edm_formula():
    s = KarrasSchedule(sigma_min=0.002, sigma_max=80.0, rho=7.0)
    n = 10
    i = torch.arange(n, dtype=torch.float64)
    sigmas = (80 ** (1 / 7) + i / (n - 1) * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    torch.testing.assert_close(s.levels(n)[:-1], -2 * torch.log(sigmas))


def test_exponential_is_uniform_in_logsnr_between_the_sigmas():
    lam = ExponentialSchedule(sigma_min=0.01, sigma_max=10.0).levels(6)[:-1]
    torch.testing.assert_close(lam[0], torch.tensor(-2 * math.log(10.0), dtype=torch.float64))
    torch.testing.assert_close(lam[-1], torch.tensor(-2 * math.log(0.01), dtype=torch.float64))
    steps = lam[1:] - lam[:-1]
    torch.testing.assert_close(steps, steps[:1].expand_as(steps))


def test_linear_logsnr_without_data_end_stays_finite():
    lam = LinearLogSNRSchedule(logsnr_min=-6, logsnr_max=6, to_data=False).levels(4)
    torch.testing.assert_close(lam, torch.tensor([-6.0, -3.0, 0.0, 3.0, 6.0], dtype=torch.float64))


def test_cosine_logsnr_reaches_both_infinities():
    lam = CosineLogSNRSchedule()(torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64))
    assert float(lam[0]) == -math.inf and float(lam[2]) == math.inf
    assert abs(float(lam[1])) < 1e-12


def test_flow_shift_is_sd3_time_shift():
    """λ(t) with shift s equals the rectified-flow λ at the shifted time s·t/(1 + (s − 1)·t)."""
    s = 3.0
    t = torch.tensor([0.1, 0.3, 0.5, 0.9], dtype=torch.float64)
    shifted = s * t / (1 + (s - 1) * t)
    expected = 2 * torch.log((1 - shifted) / shifted)
    torch.testing.assert_close(FlowShiftSchedule(shift=s)(t), expected)
    assert float(FlowShiftSchedule()(torch.tensor([1.0]))[0]) == -math.inf
    assert math.isfinite(float(FlowShiftSchedule(t_max=0.99)(torch.tensor([1.0]))[0]))


def test_zero_terminal_snr_rescales_stable_diffusion_to_pure_noise():
    s = ZeroTerminalSNRSchedule(to_data=False)
    ab = sd_alphas_cumprod(0.00085, 0.012, 1000)
    lam = s(torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert float(lam[0]) == -math.inf
    torch.testing.assert_close(lam[1], torch.log(ab[0] / (1 - ab[0])))


def test_beta_schedule_quantiles_are_symmetric_for_equal_parameters():
    s = BetaSchedule(alpha=0.6, beta=0.6)
    t = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], dtype=torch.float64)
    q = s.ppf(t)
    torch.testing.assert_close(q + s.ppf(1 - t), torch.ones_like(t), atol=1e-6, rtol=0)
    assert abs(float(q[2]) - 0.5) < 1e-6
    assert float(q[0]) < 0.1  # α < 1: more mass (hence steps) near the ends
    scipy_stats = pytest.importorskip("scipy.stats")
    torch.testing.assert_close(q, torch.from_numpy(scipy_stats.beta.ppf(t.numpy(), 0.6, 0.6)), atol=2e-5, rtol=0)


@pytest.mark.parametrize("cls", SAMPLING_SCHEDULES, ids=[c.name for c in SAMPLING_SCHEDULES])
def test_spec_round_trips_through_parameters(cls):
    s = cls()
    spec = s.to_spec()
    params = {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "name"}
    assert cls(**params) == s


@pytest.mark.parametrize("steps", [1, 4, 28, 50])
def test_the_sd3_preset_applies_its_shift_once(steps: int):
    """SD3's sampling grid is t' = 3t/(1 + 2t) on uniform t (Esser et al. 2024, §5.3.2), from pure noise
    to data: the GDF's ``shift`` = 3, with ``flow_shift`` adding none of its own (it did once: 9)."""
    gdf = GDF.from_spec("sd3")
    run = gdf.prepare_sample(lambda x, c: x, {}, (2, 4, 8, 8), timesteps=steps, cfg=None)
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)[1:-1]
    shifted = 3 * t / (1 + 2 * t)
    expected = 2 * torch.log((1 - shifted) / shifted)
    lam = run.logsnrs[:, 0].double()
    assert float(lam[0]) == -math.inf and float(lam[-1]) == math.inf
    torch.testing.assert_close(lam[1:-1], expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, key", [("karras", "rho"), ("edm_sample", "p"), ("diffusers_edm_grid", "rho")])
@pytest.mark.parametrize("rho", [0.04, 0.005])
def test_a_small_rho_keeps_the_karras_curve_finite(name: str, key: str, rho: float) -> None:
    # σmax^(1/ρ) overflows float32 at ρ = 0.04 (the curve was -inf or NaN) and float64 at ρ = 0.005 (OverflowError)
    schedule = build("schedule", {"name": name, key: rho})
    t = torch.tensor([1.0, 0.5, 0.1, 1e-3], dtype=torch.float64)
    expected = -2 * (math.log(80) + rho * torch.log(t))  # (σmin/σmax)^(1/ρ) is below 1e-100 here
    for dtype in (torch.float32, torch.float64):
        torch.testing.assert_close(schedule(t.to(dtype)).double(), expected, rtol=1e-6, atol=1e-5)
    gdf = GDF("cosine", "vp", "v", "logsnr", "constant", sample_schedule=schedule)
    final = gdf.sample_final(lambda x, c: torch.tanh(x) * 0.5, {}, (2, 2), timesteps=3, cfg=None)
    assert torch.isfinite(final).all()


@pytest.mark.parametrize("name", ["diffusers_flow_grid", "diffusers_flow_sigmas"])
@pytest.mark.parametrize("flow_shift", [0.46, 1e-3])
def test_a_flow_shift_whose_sigma_max_rounds_above_one_starts_at_pure_noise(name: str, flow_shift: float) -> None:
    # the time shift of σ = 1 rounds to 1 + 1 ulp at these shifts: λ was NaN at t = 1 (and 0.001's run grid began at NaN)
    schedule = build("schedule", {"name": name, "flow_shift": flow_shift})
    assert not schedule(torch.tensor([1.0, 0.5], dtype=torch.float64)).isnan().any()
    assert not schedule.run_logsnrs(3).isnan().any()
    gdf = GDF("rectified_flows", "lerp", "rectified_flows", "rectified_flows", "constant", sample_schedule=schedule)
    final = gdf.sample_final(lambda x, c: torch.tanh(x) * 0.5, {}, (2, 2), timesteps=3, sampler="euler", cfg=None)
    assert torch.isfinite(final).all()
