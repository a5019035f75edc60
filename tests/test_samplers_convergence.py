"""Convergence order of every deterministic sampler on the exact Gaussian-mixture oracle.

The error against the float64 reference solution of the probability-flow ODE
must fall like NFE^(−p) for the sampler's order p: a wrong coefficient shows up
as a lower slope. Two setups: VP with an ε-prediction model on a Karras grid
(σ 80 → 0.002 → 0), and rectified flow (LERP scaler, velocity target) on SD3's
shifted time grid from pure noise (λ = −∞, t = 1) to data (λ = +∞). Slopes are
least-squares fits of log error against log NFE over NFE where the asymptotic
regime holds on these problems (a finite range: a 2nd-order method fits 1.85–2.3).
"""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.integrate import solve
from gdf_core.testing.oracle import GaussianMixture, denoiser, reference_solution, rms_error
from gdf_plugins.samplers import (
    DDIMSampler,
    DEISSampler,
    DPMPP2MSampler,
    DPMPP2MSDESampler,
    DPMPP3MSampler,
    EulerSampler,
    HeunSampler,
    IPNDMSampler,
    LMSSampler,
    UniPCSampler,
)
from gdf_plugins.scalers import LERPScaler, VPScaler
from gdf_plugins.schedules.grids import FlowShiftSchedule, KarrasSchedule
from gdf_plugins.targets import EpsilonTarget, RectifiedFlowsTarget

MIXTURE = GaussianMixture.random(dim=4, components=3, seed=1, std_range=(0.4, 0.8))

SETUPS = {
    "vp_epsilon_karras": dict(
        scaler=VPScaler(), target=EpsilonTarget(), schedule=KarrasSchedule(sigma_min=0.002, sigma_max=80.0),
        nfes=(16, 32, 64),
    ),
    "rectified_flow_shift3": dict(
        scaler=LERPScaler(), target=RectifiedFlowsTarget(), schedule=FlowShiftSchedule(shift=3.0),
        nfes=(32, 64, 128),
    ),
}

# Per-case overrides of a setup: setup name → (NFEs, minimum slope).
#
# heun on rectified flow: over NFE 31–127 its slope is 1.7 (local slopes
# 1.63, 1.82), from NFE 127 on 1.94 then 1.98: second order, reached late.
# The slow start is pre-asymptotic, not the λ = −∞ start (the same slopes
# within 0.05 from t_max = 0.98, a finite λ), so it is fitted over NFE
# 127–511, where it is ≥ 1.9; the bar of ≥ 2 is approached from below
# (1.98 over the last doubling), so it is not asserted.
OVERRIDES = {
    "heun": {"rectified_flow_shift3": ((128, 256, 512), 1.9)},
}

# (id, sampler, minimum slope, model calls per step: 2 for heun)
#
# Still short of the bar (2.5 for third order) on rectified flow:
# ``deis`` with its default log-ρ interpolation (ε̂ polynomial in log σ): on a
# grid whose σ goes linearly to 0 (rectified-flow time, last level t = 1/N)
# the steps in log σ near data do not shrink (log 2, log 3/2, …), so the
# method is asymptotically second order there: local slopes 1.9, 2.9, 1.4,
# 1.5, 1.8 over NFE 16 … 512, the same from t_max = 0.98; the 2.1 below holds
# on NFE 32–128 only. ``interpolation="t"`` (ε̂ polynomial in t = σ/(1 + σ))
# is third order on both setups (local slopes 2.5 → 3.03 on the flow grid,
# 2.6 → 2.98 on Karras, NFE 16 … 512), with about twice log-ρ's error on
# Karras. ``lms`` (ε̂ polynomial in σ) fits 2.7 here but its local slope falls
# to 2.1 by NFE 512 from λ = −∞ (σ = ∞: ε̂ is smooth in 1/σ, not σ) while it
# stays at 3.1 from t_max = 0.98.
CASES = [
    ("ddim", DDIMSampler(), 0.9, 1),
    ("euler", EulerSampler(), 0.9, 1),  # the same step as ddim, written on its own
    ("heun", HeunSampler(), 1.7, 2),  # rectified flow: see OVERRIDES
    ("dpmpp_2m", DPMPP2MSampler(), 1.9, 1),
    ("dpmpp_2m_logsnr_midpoint", DPMPP2MSampler("midpoint", interpolation="logsnr"), 1.1, 1),
    ("dpmpp_2m_sde_eta0", DPMPP2MSDESampler(eta=0.0), 1.1, 1),
    ("dpmpp_3m", DPMPP3MSampler(), 2.5, 1),
    ("unipc_bh2_3", UniPCSampler(order=3, variant="bh2"), 2.5, 1),
    ("unipc_bh1_3", UniPCSampler(order=3, variant="bh1"), 2.5, 1),
    ("unipc_bh2_2", UniPCSampler(order=2), 1.9, 1),
    ("unip_3_no_corrector", UniPCSampler(order=3, corrector=False), 2.5, 1),
    ("deis_3", DEISSampler(order=3), 2.1, 1),
    ("deis_3_t", DEISSampler(order=3, interpolation="t"), 2.5, 1),
    ("lms_4", LMSSampler(order=4), 2.5, 1),
    ("ipndm_4_fixed", IPNDMSampler(order=4), 1.8, 1),
    ("ipndm_4_variable", IPNDMSampler(order=4, variable_step=True), 2.5, 1),
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: torch's thread pool only adds overhead (and contention on shared CPUs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def problems():
    out = {}
    g = torch.Generator().manual_seed(0)
    x_start = torch.randn(32, MIXTURE.dim, generator=g, dtype=torch.float64)
    for name, setup in SETUPS.items():
        lam0 = float(setup["schedule"].levels(4)[0])
        ref = reference_solution(MIXTURE, x_start, lam0, math.inf, setup["scaler"])
        out[name] = (x_start, ref)
    return out


def fitted_order(nfes, errors):
    lx = [math.log(n) for n in nfes]
    ly = [math.log(e) for e in errors]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return -sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def errors_at(sampler, setup, x_start, ref, calls_per_step, nfe_range=None):
    nfes, errors = [], []
    for nfe in nfe_range or setup["nfes"]:
        steps = (nfe + 1) // 2 if calls_per_step == 2 else nfe
        den = denoiser(MIXTURE, setup["scaler"], setup["target"])
        x = solve(sampler, den, x_start.clone(), setup["schedule"].levels(steps), scaler=setup["scaler"])
        nfes.append(den.calls)
        errors.append(rms_error(x, ref))
    return nfes, errors


@pytest.mark.parametrize("setup_name", list(SETUPS))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_falls_at_the_sampler_order(problems, setup_name, case):
    name, sampler, min_order, calls_per_step = case
    setup = SETUPS[setup_name]
    x_start, ref = problems[setup_name]
    nfe_range, min_order = OVERRIDES.get(name, {}).get(setup_name, (None, min_order))
    nfes, errors = errors_at(sampler, setup, x_start, ref, calls_per_step, nfe_range)
    assert all(math.isfinite(e) for e in errors), f"{name}: non-finite error {errors}"
    order = fitted_order(nfes, errors)
    table = ", ".join(f"NFE {n}: {e:.2e}" for n, e in zip(nfes, errors))
    assert order >= min_order, f"{name} on {setup_name}: fitted order {order:.2f} < {min_order} ({table})"
    if min_order < 1.0:  # first-order methods: not accidentally better either
        assert order < 1.3, f"{name} on {setup_name}: fitted order {order:.2f} for a first-order method"


@pytest.mark.parametrize("setup_name", list(SETUPS))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_grid_coefficients_match_per_step(setup_name, case):
    """Steps of a run take their coefficients from the plan ``prepare`` computed once for the whole
    grid (``state.plan``); steps driven by hand without a plan compute them step by step from
    their own λ (copies, not views of the grid). Both must give the same run."""
    from gdf_core.protocols import SamplingState

    name, sampler, _, _ = case
    setup = SETUPS[setup_name]
    levels = setup["schedule"].levels(9)
    x_start = torch.randn(5, MIXTURE.dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    den = denoiser(MIXTURE, setup["scaler"], setup["target"])
    on_grid = solve(sampler, den, x_start.clone(), levels, scaler=setup["scaler"])
    state = SamplingState(logsnrs=levels[:, None].expand(-1, 5))  # no plan
    assert state.plan is None
    x = x_start.clone()
    for i in range(9):
        state.step = i
        lam, lam_next = levels[i].expand(5).clone(), levels[i + 1].expand(5).clone()  # not views of the grid
        x = sampler.step(den, x, lam, lam_next, scaler=setup["scaler"], state=state)
    torch.testing.assert_close(on_grid, x, rtol=1e-12, atol=1e-12)
