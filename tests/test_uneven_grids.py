"""Grids a user may pass: nearly repeated levels, steps of very different lengths, λ = ±∞ ends.

The testing kit's ``stable_on_uneven_grids`` checks every sampler on drawn grids
with the exact denoiser of Gaussian data (``test_builtin_invariants``); here the
same class runs through ``GDF.sample`` with a tabulated schedule and a model that
is not the oracle, and the loop's snapping of near-repeats is checked on its own.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor

from gdf_core import GDF, registry
from gdf_core.demo.exact import exact_denoiser
from gdf_core.integrate import LEVEL_TOLERANCE, snap_repeated_levels, solve
from gdf_core.testing.gaussian import ClosedFormScaler, Gaussian

#: gdf's own samplers (the diffusers_* ones take diffusers' steps: see test_builtin_invariants).
SAMPLERS = [name for name in registry.builtin_names("sampler") if not name.startswith("diffusers_")]
STOCHASTIC = {"ddpm", "euler_ancestral", "dpmpp_2s_ancestral", "dpmpp_2m_sde", "dpmpp_3m_sde"}
#: From pure noise, two steps of 1e-3 after the first and after a long one, then long steps.
#: With no node kept apart (node_separation 0), dpmpp_3m (RMS 2·10⁵ against DDIM's 0.43),
#: unipc (10¹⁰), dpmpp_2m_sde and dpmpp_3m_sde (|x| 571 and 5·10⁶) blow up here.
HOSTILE = [-math.inf, 0.0, 1e-3, 2e-3, 8.0, 8.001, 8.002, 14.0]


def _gdf(knots: list[float]) -> GDF:
    return GDF.from_spec({"preset": "v_prediction", "sampler": None, "sample_schedule": {"name": "tabulated", "logsnrs": knots}})


def _run(gdf: GDF, model: Any, sampler: str, x: Tensor, steps: int, seed: int = 0) -> Tensor:
    return gdf.sample_final(model, {}, x.shape, sampler=sampler, timesteps=steps, cfg=None, x_init=x,
                            generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_tabulated_grid_with_nearly_repeated_levels_stays_near_the_ode_solution(sampler: str) -> None:
    """Through ``GDF.sample``: finite, and (deterministic samplers) within 10 × DDIM's error on the same
    grid of a 1000-step dpmpp_3m run between the same two levels; stochastic ones stay at the data's scale."""
    gdf = _gdf(HOSTILE)
    model = exact_denoiser(gdf, "eight_gaussians")  # the perfect network of the demo's data, in float32
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    out = _run(gdf, model, sampler, x, len(HOSTILE) - 1)
    assert torch.isfinite(out).all()
    if sampler in STOCHASTIC:
        assert out.abs().max() < 10 * x.abs().max(), f"{sampler}: |x| reached {out.abs().max():.3g}"
        return
    reference = _run(_gdf([HOSTILE[0], HOSTILE[-1]]), model, "dpmpp_3m", x, 1000)
    ddim = _run(gdf, model, "ddim", x, len(HOSTILE) - 1)
    err, base = ((v - reference).pow(2).mean().sqrt().item() for v in (out, ddim))
    assert err <= 10 * base + 1e-4, f"{sampler}: RMS error {err:.3g} against DDIM's {base:.3g} on the same grid"


def test_the_loop_makes_near_repeats_exact_repeats() -> None:
    t = 2 * LEVEL_TOLERANCE  # in λ: η = λ/2 differs by the tolerance
    grid = torch.tensor([-math.inf, -1.0, -1.0 + 0.4 * t, -1.0 + 0.8 * t, 0.0, 3 * t, math.inf, math.inf], dtype=torch.float64)
    snapped = snap_repeated_levels(grid[:, None])[:, 0]
    assert snapped.tolist() == [-math.inf, -1.0, -1.0, -1.0, 0.0, 3 * t, math.inf, math.inf]
    assert grid[2] == -1.0 + 0.4 * t  # the input is not changed
    torch.testing.assert_close(snap_repeated_levels(snapped[:, None])[:, 0], snapped, rtol=0, atol=0)
    down = snap_repeated_levels(grid.flip(0)[1:-1, None])[:, 0]  # an inversion's grid, towards noise
    assert down.tolist() == [math.inf, 3 * t, 0.0, -1.0 + 0.8 * t, -1.0 + 0.8 * t, -1.0 + 0.8 * t]


def test_a_long_chain_of_tiny_steps_keeps_its_length() -> None:
    """Levels 0.6 tolerance apart: only those within the tolerance of the chain's first level snap to it,
    so no level moves by more than the tolerance (a 10⁷-step grid does not collapse onto one level)."""
    t = 2 * LEVEL_TOLERANCE
    chain = torch.tensor([0.0, 0.6 * t, 1.2 * t, 1.8 * t, 5.0], dtype=torch.float64)
    assert snap_repeated_levels(chain[:, None])[:, 0].tolist() == [0.0, 0.0, 1.2 * t, 1.8 * t, 5.0]
    fine = torch.linspace(0.0, 1.0, 10**6 + 1, dtype=torch.float64)[:, None]  # steps of 1e-6 in λ
    assert (snap_repeated_levels(fine) - fine).abs().max() <= t


def test_snapping_is_per_sample() -> None:
    grid = torch.tensor([[0.0, 0.0], [1e-9, 1.0], [2.0, 2.0]], dtype=torch.float64)
    assert snap_repeated_levels(grid).tolist() == [[0.0, 0.0], [0.0, 1.0], [2.0, 2.0]]


@pytest.mark.parametrize("sampler", registry.builtin_names("sampler"))
def test_a_step_far_below_the_tolerance_is_a_no_op_for_every_sampler(sampler: str) -> None:
    """λ′ − λ = 5e-194 (a step some formulas divide by: diffusers_unipc gave NaN): finite, as the exact repeat."""
    data = Gaussian(0.3, 0.5, ClosedFormScaler("variance"))
    x = data.sample((32, 1), -1.1, torch.Generator().manual_seed(0)).float()
    near = torch.tensor([-1.1, -1.08, -1.07, 0.0, 5e-194, 0.06, 0.12, 8.9, math.inf], dtype=torch.float64)
    exact = near.clone()
    exact[4] = 0.0
    s = registry.get("sampler", sampler)
    runs = [solve(s(), data.denoise, x, g, scaler=data.scaler, generator=torch.Generator().manual_seed(1)) for g in (near, exact)]
    assert torch.isfinite(runs[0]).all()
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
