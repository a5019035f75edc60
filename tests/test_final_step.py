"""The step into clean data (λ′ = +∞) at many steps: x̂0 extrapolated to σ = 0, neither dropped nor amplified.

On EDM's Karras grid (σ_min = 0.002) the last levels of a run of N steps are about 50/N
apart in σ². The extrapolation once dropped every older level nearer than 5 % of the step
(``NODE_SEPARATION``) and took x̂0 at σ_min, off by O(σ_min²): from about 1 400 steps on,
unipc's float64 error on the edm preset rose from 1.5·10⁻⁹ (1 000 steps) to 8.2·10⁻⁶ (2 000).
Below that it kept a quadratic through levels 5 % and 10 % apart, whose weights sum to ≈ 820 in absolute value, turned
float32's rounding of x̂0 into a last-step error 10× the rest of the run's. The degree is now
the highest whose weights stay within ``FINAL_LEBESGUE`` (``maths.exponential.final_weights``).
"""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.integrate import solve
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian
from gdf_plugins.samplers import DPMPP2MSampler, DPMPP2MSDESampler, DPMPP3MSampler, HeunSampler, UniPCSampler
from gdf_plugins.samplers.maths.exponential import final_weights
from gdf_plugins.samplers.maths.lagrange import FINAL_LEBESGUE
from gdf_plugins.samplers.maths.levels import half_logsnr
from gdf_plugins.schedules.grids import KarrasSchedule

DATA = Gaussian(0.3, 0.5, ClosedFormScaler("variance"))
SAMPLERS = [DPMPP2MSampler(), DPMPP3MSampler(), UniPCSampler(), HeunSampler(), DPMPP2MSDESampler(eta=0.0)]


def _tail(steps: int, levels: int) -> torch.Tensor:
    """The last ``levels`` finite levels of EDM's ``steps``-step Karras grid, then λ = +∞."""
    return KarrasSchedule(sigma_min=0.002, sigma_max=80, rho=7).levels(steps)[-levels - 1 :].to(torch.float64)


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s.name)
def test_the_last_step_of_a_2000_step_karras_run_keeps_its_order(sampler) -> None:
    """The tail of the grid (levels 2.5 % apart in σ²) from the exact marginal: within 10⁻⁸ of the exact
    flow map (x̂0 at σ_min alone, as before, was 1.3·10⁻⁵ off: O(σ_min²/std²))."""
    grid = _tail(2000, 4)
    x = DATA.sample((64, 1), float(grid[0]), torch.Generator().manual_seed(0))
    out = solve(sampler, DATA.denoise, x, grid, scaler=DATA.scaler)
    exact = DATA.flow(x, float(grid[0]), math.inf)
    err = (out - exact).abs().max().item()
    assert err < 1e-8, f"{sampler.name}: {err:.3g} from the exact flow map"


@pytest.mark.parametrize("steps", [200, 1000, 2000, 5000])
def test_the_extrapolation_weights_stay_bounded(steps: int) -> None:
    """Σ|w| ≤ FINAL_LEBESGUE on the last three levels of a Karras grid, and a line at least where one fits."""
    etas = [half_logsnr(lam) for lam in _tail(steps, 3)[:-1].flip(0)]  # newest first
    w = final_weights(etas)
    assert sum(abs(float(v)) for v in w) <= FINAL_LEBESGUE
    q1 = math.exp(-2 * float(etas[1] - etas[0]))
    if (q1 + 1) / (q1 - 1) <= FINAL_LEBESGUE:  # the line through the two newest levels fits
        assert abs(float(w[0]) - 1) > 1, f"x̂0 at the last level alone at {steps} steps: {w}"
    assert abs(sum(float(v) for v in w) - 1) < 1e-9  # an extrapolation: weights sum to 1


@pytest.mark.parametrize("name", ["lms", "deis"])
def test_the_noise_form_last_step_of_a_2000_step_karras_run_keeps_its_order(name: str) -> None:
    """ε̂ polynomial in σ into σ′ = 0 (lms; deis's last step): the levels 1.2 % apart in σ stay in it
    (dropped by distance, it was the Euler step: 1.3·10⁻⁵ from the exact flow map)."""
    from gdf_core import registry

    grid = _tail(2000, 5)
    x = DATA.sample((64, 1), float(grid[0]), torch.Generator().manual_seed(0))
    out = solve(registry.get("sampler", name)(), DATA.denoise, x, grid, scaler=DATA.scaler)
    err = (out - DATA.flow(x, float(grid[0]), math.inf)).abs().max().item()
    assert err < 1e-8, f"{name}: {err:.3g} from the exact flow map"
