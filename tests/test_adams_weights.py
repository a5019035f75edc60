"""The Adams–Bashforth weights of ``maths.adams`` integrate their own interpolant exactly.

For nodes v_j (σ, log σ or t = σ/(1 + σ) of the history levels) and any
polynomial p of degree < n in that variable, Σ_j w_j·p(v_j) must equal
∫_σ0^σ′ p(v(σ)) dσ, here computed independently by Gauss–Legendre quadrature
in t (dσ = dt/(1 − t)²) at float64. A weight function with a wrong kernel (the
Jacobian dropped) is caught by the same check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gdf_plugins.samplers.maths.adams import inverse_square_moments, log_sigma_weights, sigma_weights, t_weights
from gdf_plugins.samplers.maths.lagrange import quadrature


def _integral(p, variable: str, sigma0: float, sigma1: float) -> float:
    """∫_σ0^σ1 p(v(σ)) dσ by 200-point Gauss–Legendre in t, where the integrand is smooth."""
    nodes, weights = np.polynomial.legendre.leggauss(200)
    t0, t1 = sigma0 / (1 + sigma0), sigma1 / (1 + sigma1)
    t = (t1 - t0) / 2 * nodes + (t1 + t0) / 2
    sigma = t / (1 - t)
    v = {"t": t, "sigma": sigma, "log_sigma": np.log(sigma)}[variable]
    return float(np.sum(weights * p(v) / (1 - t) ** 2) * (t1 - t0) / 2)


def _etas(sigmas: list[float]) -> list[torch.Tensor]:
    return [torch.tensor([-math.log(s)], dtype=torch.float64) for s in sigmas]


def _t_weights_without_jacobian(etas, eta_next, active=None):
    """Broken on purpose: ∫ ℓ_j dt instead of ∫ ℓ_j dσ (the 1/u² of dσ = −du/u² dropped)."""
    u = [torch.sigmoid(e) for e in etas]
    du = torch.sigmoid(eta_next) - u[0]
    nodes = [(uj - u[0]) / du for uj in u]
    moments = [-du / (k + 1) for k in range(len(etas))]
    return quadrature(nodes, moments, None)


WEIGHTS = {
    "t": (t_weights, lambda s: s / (1 + s)),
    "sigma": (lambda e, en, a=None: sigma_weights([torch.exp(-x) for x in e], torch.exp(-en), a), lambda s: s),
    "log_sigma": (log_sigma_weights, math.log),
}

#: (σ of the step's level, then older levels), σ′: small, moderate and wide steps, towards noise too.
STEPS = [
    ([1.0, 1.001, 1.002], 0.999),  # γ ≈ 5e-4: the power series
    ([2.0, 2.6, 3.5], 1.4),
    ([0.2, 0.3, 0.45], 0.1),
    ([8.0, 14.0, 30.0], 2.0),  # γ = 2: the closed form
    ([0.5, 0.7, 1.0], 0.8),  # a step towards noise (σ′ > σ)
    ([0.02, 0.03, 0.05], 0.013),
]


@pytest.mark.parametrize("variable", sorted(WEIGHTS))
@pytest.mark.parametrize("sigmas, sigma_next", STEPS)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_weights_integrate_a_polynomial_in_their_variable_exactly(variable: str, sigmas, sigma_next, n: int) -> None:
    fn, var = WEIGHTS[variable]
    etas = _etas(sigmas[:n])
    eta_next = torch.tensor([-math.log(sigma_next)], dtype=torch.float64)
    w = fn(etas, eta_next)
    coeffs = np.random.default_rng(n).normal(size=n)
    p = np.polynomial.Polynomial(coeffs)
    got = sum(wj.item() * p(var(s)) for wj, s in zip(w, sigmas[:n]))
    expected = _integral(p, variable, sigmas[0], sigma_next)
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("sigmas, sigma_next", STEPS[1:4])
def test_the_exactness_check_catches_a_missing_jacobian(sigmas, sigma_next) -> None:
    etas = _etas(sigmas)
    eta_next = torch.tensor([-math.log(sigma_next)], dtype=torch.float64)
    w = _t_weights_without_jacobian(etas, eta_next)
    got = sum(wj.item() for wj in w)  # p = 1
    assert got != pytest.approx(_integral(np.polynomial.Polynomial([1.0]), "t", sigmas[0], sigma_next), rel=1e-6)


def test_t_weights_reach_data_and_start_from_pure_noise() -> None:
    """σ′ = 0 (λ′ = +∞) and σ0 ≈ 2.4e17 (η floored at −40) need no rule of their own."""
    etas = _etas([0.3, 0.5, 0.8])
    w = t_weights(etas, torch.tensor([math.inf], dtype=torch.float64))
    p = np.polynomial.Polynomial([0.3, -1.2, 0.7])
    got = sum(wj.item() * p(s / (1 + s)) for wj, s in zip(w, [0.3, 0.5, 0.8]))
    assert got == pytest.approx(_integral(p, "t", 0.3, 0.0), rel=1e-11)
    far = [torch.tensor([-40.0], dtype=torch.float64), torch.tensor([-41.0], dtype=torch.float64)]
    w = t_weights(far[:1], torch.tensor([-1.0], dtype=torch.float64))
    assert w[0].item() == pytest.approx(math.exp(1.0) - math.exp(40.0), rel=1e-12)  # ∫ dσ = σ′ − σ0
    w2 = t_weights(far, torch.tensor([-1.0], dtype=torch.float64))
    assert all(torch.isfinite(v).all() for v in w2)
    assert sum(v.item() for v in w2) == pytest.approx(math.exp(1.0) - math.exp(40.0), rel=1e-12)


@pytest.mark.parametrize("gamma", [-0.9, -0.3, -0.2499, 0.0, 1e-8, 0.2499, 0.25, 3.0, 1e6, 1e17])
def test_inverse_square_moments(gamma: float) -> None:
    """I_0 = 1/(1 + γ) and I_1 = (log(1 + γ) − γ/(1 + γ))/γ² exactly; I_2 against quadrature (moderate γ)."""
    i0, i1, i2 = (v.item() for v in inverse_square_moments(torch.tensor([1 + gamma], dtype=torch.float64), 3))
    assert i0 == pytest.approx(1 / (1 + gamma), rel=1e-13)
    exact_i1 = 0.5 if gamma == 0 else (math.log1p(gamma) - gamma / (1 + gamma)) / gamma**2
    if abs(gamma) > 1e-4:
        assert i1 == pytest.approx(exact_i1, rel=1e-11)
    else:
        assert i1 == pytest.approx(0.5 - 2 * gamma / 3, rel=1e-12)
    if abs(gamma) <= 3:
        nodes, weights = np.polynomial.legendre.leggauss(100)
        s = (nodes + 1) / 2
        assert i2 == pytest.approx(float(np.sum(weights * s**2 / (1 + gamma * s) ** 2) / 2), rel=1e-12)


@pytest.mark.parametrize("ratio", [1e-12, 4e-17, 1e-30])
def test_inverse_square_moments_towards_sigma_infinity(ratio: float) -> None:
    """u′/u0 = 1 + γ below float64's spacing at 1 (a step towards λ′ = −∞): γ alone would round to −1
    and I_0 = 1/(1 + γ) to ∞. I_0 = 1/r, I_1 = (log r − (r − 1)/r)/(r − 1)², I_2 = (r − 1/r − 2·log r)/(r − 1)³."""
    i0, i1, i2 = (v.item() for v in inverse_square_moments(torch.tensor([ratio], dtype=torch.float64), 3))
    g = ratio - 1
    assert i0 == pytest.approx(1 / ratio, rel=1e-13)
    assert i1 == pytest.approx((math.log(ratio) - g / ratio) / g**2, rel=1e-12)
    assert i2 == pytest.approx((ratio - 1 / ratio - 2 * math.log(ratio)) / g**3, rel=1e-12)
