"""``heun`` on steps that span more than a decade of σ: the data form, not the trapezoid in σ.

The trapezoid y′ = y + (σ′ − σ)(ε̂ + ε̂′)/2 weighs both ends' slopes equally;
from σ = 1808 (the rectified-flow training schedule's λ = −15 end, which the
original GDF samples on by default) to σ′ ≈ 2, ε̂ is nearly constant over most
of the interval and the step errs by O(σ/σ′). Such steps take the same two
model calls in the data form (x̂0 linear in t = σ/(1 + σ)).
"""

from __future__ import annotations

import pytest
import torch

from gdf_core.integrate import solve
from gdf_core.testing.oracle import GaussianMixture, denoiser, reference_solution, rms_error
from gdf_plugins.samplers import HeunSampler
from gdf_plugins.scalers import LERPScaler
from gdf_plugins.schedules.linear import RectifiedFlowsSchedule
from gdf_plugins.schedules.grids import FlowShiftSchedule
from gdf_plugins.targets import RectifiedFlowsTarget

pytest.importorskip("scipy")

MIX = GaussianMixture.random(dim=4, components=3, seed=1, std_range=(0.4, 0.8))
SCALER, TARGET = LERPScaler(), RectifiedFlowsTarget()


def linear_t_levels(steps: int) -> torch.Tensor:
    """The training schedule on a uniform t grid: λ from −15 (σ ≈ 1808) to +15."""
    return RectifiedFlowsSchedule()(torch.linspace(1, 0, steps + 1, dtype=torch.float64))


def run(sampler: HeunSampler, levels: torch.Tensor, x_start: torch.Tensor) -> torch.Tensor:
    return solve(sampler, denoiser(MIX, SCALER, TARGET), x_start.clone(), levels, scaler=SCALER)


@pytest.fixture(scope="module")
def far_start():
    levels = linear_t_levels(3)
    lam0, lam1 = float(levels[0]), float(levels[-1])
    a0, b0 = (float(v) for v in SCALER(torch.tensor([lam0], dtype=torch.float64)))
    g = torch.Generator().manual_seed(0)
    x_start = a0 * MIX.sample(32, generator=g).double() + b0 * torch.randn(32, MIX.dim, generator=g, dtype=torch.float64)
    return x_start, reference_solution(MIX, x_start, lam0, lam1, SCALER)


def test_wide_first_step_takes_the_data_form(far_start):
    x_start, ref = far_start
    levels = linear_t_levels(3)  # NFE 5: σ 1808 → 2 → 0.5 → 3e-7
    trapezoid = rms_error(run(HeunSampler(trapezoid_max_ratio=float("inf")), levels, x_start), ref)
    data_form = rms_error(run(HeunSampler(), levels, x_start), ref)
    assert trapezoid > 10.0, f"the plain trapezoid was expected to fail here, error {trapezoid:.3g}"
    assert data_form < 0.2, f"heun from σ = 1808 at NFE 5: error {data_form:.3g}"


def test_steps_within_a_decade_are_edm_heun():
    """No step of SD3's shifted grid at 16 steps spans a decade of σ: both settings agree exactly."""
    levels = FlowShiftSchedule(shift=3.0).levels(16)
    finite = levels[1:-1]
    assert float((torch.exp(-finite[:-1] / 2) / torch.exp(-finite[1:] / 2)).max()) < 10
    x_start = torch.randn(8, MIX.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(
        run(HeunSampler(), levels, x_start),
        run(HeunSampler(trapezoid_max_ratio=float("inf")), levels, x_start),
        rtol=0,
        atol=0,
    )


def test_ratio_must_exceed_one():
    with pytest.raises(ValueError, match=r"sampler\.heun\.trapezoid_max_ratio: .*greater than 1; got 0\.5; allowed: a number > 1"):
        HeunSampler(trapezoid_max_ratio=0.5)
