"""Adams–Bashforth weights for ε̂ on the σ-ODE dy/dσ = ε̂ (Hairer, Nørsett & Wanner, "Solving ODEs I", §III.1).

w_j = ∫_σ0^σ′ ℓ_j(s) ds for ε̂ interpolated through the history levels, in σ
(``sigma_weights``: variable-step AB, k-diffusion's LMS, ρAB-DEIS), in
log σ = −η (``log_sigma_weights``: DEIS's "log-ρ", Zhang & Chen 2023, eq. 14)
or in t = σ/(1 + σ), the level's rectified-flow time (``t_weights``).

For ``t_weights``, with u = 1 − t = 1/(1 + σ) and the node variable
s = (t − t0)/(t′ − t0), u = u0·(1 + γ·s), γ = u′/u0 − 1, dσ = −du/u², so
∫_σ0^σ′ s^k dσ = −(γ/u0)·I_k(γ), I_k(γ) = ∫_0^1 s^k/(1 + γ·s)² ds: finite at
σ′ = 0 (γ = σ0) and at σ0 = ∞ (γ → ∞), so no end needs its own rule.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from gdf_core.host_cache import host_cache
from gdf_plugins.samplers.maths.lagrange import Active, bounded_degree, quadrature
from gdf_plugins.samplers.maths.phi_moments import noise_moments, power_series

#: |γ| below this: I_k by its power series (32 terms, error < 0.25³²); above: the closed form.
SERIES_BELOW = 0.25


def sigma_weights(sigmas: Sequence[Tensor], sigma_next: Tensor, active: Active = None) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j(s) ds for ε̂ polynomial in σ through ``sigmas``.

    Into σ′ = 0 the step spans all of σ0 while the last levels of a long grid are close in σ (EDM's
    Karras grid: under 5 % apart from about 700 steps), so the ``NODE_SEPARATION`` rule would make it
    an Euler step, off by O(σ0²) (lms on the edm preset: 2.9·10⁻⁷ at 500 steps, 8.4·10⁻⁶ at 1000).
    There the degree is the highest whose weights sum to at most ``FINAL_LEBESGUE`` in units of σ0 (the
    error they carry is σ0·Σ|w|·δε̂, small beside x).
    """
    s0 = sigmas[0]
    span = sigma_next - s0
    if len(sigmas) == 1:
        return [span]
    safe = torch.where(span == 0, torch.ones_like(span), span)
    nodes = [(s - s0) / safe for s in sigmas]
    moments = [torch.full_like(s0, 1.0 / (k + 1)) for k in range(len(sigmas))]
    w = [span * wj for wj in quadrature(nodes, moments, active)]
    end = bounded_degree(lambda k: quadrature(nodes[:k], moments[:k], None if active is None else active[:k], 0.0), len(sigmas))
    final = sigma_next == 0  # the Euler step where no higher degree fits
    return [torch.where(final, span * e, v) for e, v in zip(end, w)]


def log_sigma_weights(etas: Sequence[Tensor], eta_next: Tensor, active: Active = None) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j ds for ε̂ polynomial in log σ = −η.

    At σ′ = 0 the polynomial in σ is used instead: one in log σ would be
    extrapolated to log σ = −∞.
    """
    eta0 = etas[0]
    sigma0 = torch.exp(-eta0)
    h = eta_next - eta0
    final = torch.isposinf(eta_next)
    hs = torch.where(final | (h == 0), torch.ones_like(h), h)
    nodes = [(e - eta0) / hs for e in etas]
    w = [-sigma0 * wj for wj in quadrature(nodes, noise_moments(hs, len(etas)), active)]
    w_end = sigma_weights([torch.exp(-e) for e in etas], torch.zeros_like(sigma0), active)
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]


@host_cache(maxsize=None)
def _inverse_square_series(n: int) -> tuple[tuple[float, ...], ...]:
    """c[k][j] = (j + 1)·(−1)^j/(k + j + 1): I_k(γ) = Σ_j c[k][j]·γ^j, from 1/(1 + γs)² = Σ_j (j + 1)(−γs)^j."""
    return tuple(tuple((j + 1) * (-1.0) ** j / (k + j + 1) for j in range(32)) for k in range(n))


def inverse_square_moments(ratio: Tensor, n: int) -> list[Tensor]:
    """I_k(γ) = ∫_0^1 s^k/(1 + γ·s)² ds for k < n, given ``ratio`` = 1 + γ = u′/u0 > 0.

    The ratio, not γ: towards σ′ = ∞ (u′ → 0) 1 + γ is below float64's spacing at −1, and
    γ would round to −1 (I_0 = 1/(1 + γ) = ∞). A power series for |γ| < ``SERIES_BELOW``;
    above, with w = 1 + γs, I_k = γ^(−k−1)·Σ_m C(k, m)·(−1)^(k−m)·∫_1^(1+γ) w^(m−2) dw.
    """
    gamma = ratio - 1
    small = gamma.abs() < SERIES_BELOW
    series = power_series(torch.where(small, gamma, torch.zeros_like(gamma)), _inverse_square_series(n))
    g = torch.where(small, torch.ones_like(gamma), gamma)
    w = torch.where(small, 2 * torch.ones_like(ratio), ratio)
    integrals = [1 - 1 / w, torch.log(w)] + [(w ** (m - 1) - 1) / (m - 1) for m in range(2, n)]
    closed = [sum(math.comb(k, m) * (-1) ** (k - m) * integrals[m] for m in range(k + 1)) / g ** (k + 1) for k in range(n)]
    return [torch.where(small, s_, c_) for s_, c_ in zip(series, closed)]


def t_weights(etas: Sequence[Tensor], eta_next: Tensor, active: Active = None) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j ds for ε̂ polynomial in t = σ/(1 + σ) = sigmoid(−η) (u = 1 − t = sigmoid(η))."""
    u = [torch.sigmoid(e) for e in etas]
    u0, u_next = u[0], torch.sigmoid(eta_next)
    du = u_next - u0
    safe = torch.where(du == 0, torch.ones_like(du), du)
    nodes = [(uj - u0) / safe for uj in u]  # = (t_j − t0)/(t′ − t0)
    scale = -du / (u0 * u0)  # −γ/u0
    moments = [scale * m for m in inverse_square_moments(u_next / u0, len(etas))]
    return quadrature(nodes, moments, active)
