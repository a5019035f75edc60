"""The exact oracle: closed-form denoiser against Monte Carlo, reference ODE solution consistency."""

from __future__ import annotations

import math

import pytest
import torch

from gdf_core.testing.oracle import GaussianMixture, denoiser, reference_solution, rms_error
from gdf_plugins.scalers import LERPScaler, VPScaler
from gdf_plugins.targets import EpsilonTarget, VTarget

pytest.importorskip("scipy")

MIX = GaussianMixture.random(dim=2, components=3, seed=5, std_range=(0.2, 0.5))


def test_posterior_mean_matches_monte_carlo():
    x = torch.tensor([[0.3, -0.2], [1.0, 0.5], [-1.2, 0.4]], dtype=torch.float64)
    for a, b in [(0.8, 0.6), (0.5, 0.5), (0.95, 0.1)]:
        exact = MIX.posterior_mean(x, a, b)
        mc = MIX.score_free_check(x, a, b, n_mc=400_000)
        torch.testing.assert_close(exact, mc, atol=0.02, rtol=0)


def test_posterior_mean_limits():
    x = torch.randn(4, 2, dtype=torch.float64)
    prior_mean = (MIX.weights[:, None] * MIX.means).sum(0)
    torch.testing.assert_close(MIX.posterior_mean(x, 0.0, 1.0), prior_mean.expand(4, 2))
    torch.testing.assert_close(MIX.posterior_mean(x, 2.0, 1e-9), x / 2.0, atol=1e-8, rtol=0)


def test_tweedie_identity():
    """E[x0 | x] = (x + b²·∇log p(x))/a: the denoiser against a finite-difference score."""
    a, b = 0.7, math.sqrt(1 - 0.49)
    x = torch.tensor([[0.2, 0.1], [-0.5, 0.8]], dtype=torch.float64, requires_grad=True)
    mu, s2 = MIX.means[None], (MIX.stds**2)[None]
    var = a * a * s2 + b * b
    diff = x[:, None, :] - a * mu
    logp = torch.logsumexp(torch.log(MIX.weights)[None] - 0.5 * (torch.log(2 * math.pi * var) + diff**2 / var).sum(-1), 1)
    (score,) = torch.autograd.grad(logp.sum(), x)
    torch.testing.assert_close(MIX.posterior_mean(x.detach(), a, b), (x.detach() + b * b * score) / a)


def test_denoiser_through_a_target_gives_the_same_x0_and_epsilon():
    x = torch.randn(5, 2, dtype=torch.float64)
    lam = torch.full((5,), 0.7, dtype=torch.float64)
    plain = denoiser(MIX, VPScaler())(x, lam)
    for target in (EpsilonTarget(), VTarget()):
        via = denoiser(MIX, VPScaler(), target)(x, lam)
        torch.testing.assert_close(via[0], plain[0])
        torch.testing.assert_close(via[1], plain[1])


def test_reference_solution_composes():
    """Solving λ0 → λ1 → λ2 in two legs gives the one-leg solution (the flow property)."""
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for scaler in (VPScaler(), LERPScaler()):
        one = reference_solution(MIX, x, -4.0, 5.0, scaler)
        mid = reference_solution(MIX, x, -4.0, 0.5, scaler)
        two = reference_solution(MIX, mid, 0.5, 5.0, scaler)
        assert rms_error(one, two) < 1e-9


def test_reference_from_pure_noise_and_to_data_are_the_limits():
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    scaler = LERPScaler()
    from_inf = reference_solution(MIX, x, -math.inf, 2.0, scaler)
    a, b = scaler(torch.tensor([-60.0], dtype=torch.float64))
    from_far = reference_solution(MIX, float(b) * x, -60.0, 2.0, scaler)
    assert rms_error(from_inf, from_far) < 1e-9
    to_data = reference_solution(MIX, x, -math.inf, math.inf, scaler)
    to_near = reference_solution(MIX, x, -math.inf, 36.0, scaler)  # σ = e^−18
    assert rms_error(to_data, to_near) < 1e-7


def test_reference_matches_a_fine_fixed_step_solver():
    """An independent RK4 in rectified-flow time t agrees with the DOP853 reference."""
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    t0, t1 = 0.9, 0.05

    def vel(xx, t):
        x0 = MIX.posterior_mean(xx, 1 - t, t)
        return (xx - (1 - t) * x0) / t - x0

    y, n = x.clone(), 2000
    h = (t1 - t0) / n
    t = t0
    for _ in range(n):
        k1 = vel(y, t)
        k2 = vel(y + h / 2 * k1, t + h / 2)
        k3 = vel(y + h / 2 * k2, t + h / 2)
        k4 = vel(y + h * k3, t + h)
        y, t = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), t + h
    lam = lambda tt: 2 * math.log((1 - tt) / tt)  # noqa: E731
    ref = reference_solution(MIX, x, lam(t0), lam(t1), LERPScaler())
    assert rms_error(y, ref) < 1e-9
