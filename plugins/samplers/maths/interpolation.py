"""The variable x̂0 is interpolated in between levels, its nodes and the moments of its kernel.

``"logsnr"``: x̂0 polynomial in η = λ/2, node s = (η − η0)/h (DPM-Solver++, UniPC).
``"t"``: in t = σ/(1 + σ) = sigmoid(−η), the rectified-flow time of the level for
any scaler; t is smooth in 1/σ near noise and in σ² near data, so steps from
λ = −∞ and into λ′ = +∞ keep their order. ``"t2"``: in t².

With u = e^η = 1/σ the exact step integral is (1/u′)·∫_u0^u′ x̂0 du, and in
r = (u − u0)/(u′ − u0) the t-node variable is s = r/(α + (1 − α)·r),
α = (1 + u0)/(1 + u′) = t′/t0, so μ_k = (1 − e^(−h))·Q_k(α) in closed form.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
from torch import Tensor

from gdf_plugins.samplers.maths.phi_moments import data_moments, power_series

INTERPOLATIONS = ("logsnr", "t", "t2")


@functools.lru_cache(maxsize=None)
def _t_series(n: int) -> tuple[tuple[float, ...], ...]:
    rows = [tuple([1.0] + [0.0] * 59)]
    for k in range(1, n):
        rows.append(
            tuple(
                math.comb(m + k - 1, k - 1) * math.factorial(k) * math.factorial(m) / float(math.factorial(m + k + 1))
                for m in range(60)
            )
        )
    return tuple(rows)


def t_moments(alpha: Tensor, n: int) -> list[Tensor]:
    """Q_k(α) = ∫_0^1 (r/(α + (1 − α)·r))^k dr for k < n, α ∈ [0, 1].

    A power series in β = 1 − α for β < 1/2, the closed form
    Q_k = β^(−k−1)·Σ_m C(k, m)·(−α)^m·∫_α^1 q^(−m) dq above.
    """
    beta = 1 - alpha
    bs = torch.where(beta < 0.5, beta, torch.zeros_like(beta))
    series = power_series(bs, _t_series(n))
    bc = torch.where(beta < 0.5, torch.ones_like(beta), beta)
    ac = 1 - bc
    log_a = torch.log(ac)
    closed = []
    for k in range(n):
        total = torch.zeros_like(beta)
        for m in range(k + 1):
            if m == 0:
                term = bc  # ∫_α^1 dq = 1 − α
            elif m == 1:
                term = ac * log_a  # (−α)·∫_α^1 dq/q = α·log α
            else:
                term = ((-1) ** m) * (ac - ac**m) / (m - 1)  # (−α)^m·(α^(1−m) − 1)/(m − 1)
            total = total + math.comb(k, m) * term
        closed.append(total / bc ** (k + 1))
    return [torch.where(beta < 0.5, s_, c_) for s_, c_ in zip(series, closed)]


def nodes(etas: Sequence[Tensor], eta_next: Tensor, interpolation: str) -> list[Tensor]:
    """Normalised nodes s_j of the levels ``etas`` (``etas[0]`` the step's own) for a step to η′."""
    eta0 = etas[0]
    if interpolation == "logsnr":
        h = eta_next - eta0
        hs = torch.where(torch.isposinf(eta_next) | (h == 0), torch.ones_like(h), h)
        return [(e - eta0) / hs for e in etas]
    power = 2 if interpolation == "t2" else 1
    t0 = torch.sigmoid(-eta0) ** power
    dt = torch.sigmoid(-eta_next) ** power - t0
    dt = torch.where(dt == 0, torch.ones_like(dt), dt)
    return [(torch.sigmoid(-e) ** power - t0) / dt for e in etas]


def moments(etas: Sequence[Tensor], eta_next: Tensor, n: int, interpolation: str, kappa: float = 1.0) -> list[Tensor]:
    """μ_k = κ·∫_0^h e^(−κ(h−τ))·s(τ)^k dτ, k < n, for the node variable s of ``nodes``."""
    h = eta_next - etas[0]
    if interpolation == "logsnr":
        return data_moments(kappa * h, n)
    if kappa != 1.0:
        raise ValueError("the SDE kernel (kappa ≠ 1) is integrated for x̂0 polynomial in logsnr only")
    t0, t1 = torch.sigmoid(-etas[0]), torch.sigmoid(-eta_next)
    alpha = (t1 / t0).clamp(0, 1)
    m0 = -torch.expm1(-h)
    if interpolation == "t":
        return [m0 * q for q in t_moments(alpha, n)]
    # t²: (t² − t0²)/(t′² − t0²) = s·(A + B·s) with s the t-node variable,
    # A = 2·t0/(t′ + t0), B = (t′ − t0)/(t′ + t0); expand and use the t moments.
    q = t_moments(alpha, 2 * n - 1)
    A, B = 2 * t0 / (t1 + t0), (t1 - t0) / (t1 + t0)
    return [m0 * sum(math.comb(k, i) * A ** (k - i) * B**i * q[k + i] for i in range(k + 1)) for k in range(n)]
