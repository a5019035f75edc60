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

import math
from typing import Sequence

import torch
from torch import Tensor

from gdf_core.host_cache import host_cache
from gdf_plugins.samplers.maths.phi_moments import data_moments, power_series

INTERPOLATIONS = ("logsnr", "t", "t2")


@host_cache(maxsize=None)
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


@host_cache(maxsize=64)
def _closed_form_tables(n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(m = 0…n−1, C(k, m) as a (k, m) matrix, the signs (−1)^m/(m − 1) of the terms m ≥ 2, k + 1)."""
    m = torch.arange(n, dtype=dtype, device=device)
    binom = torch.tensor([[math.comb(k, j) for j in range(n)] for k in range(n)], dtype=dtype, device=device)
    sign = torch.tensor([0.0, 0.0] + [(-1) ** j / (j - 1) for j in range(2, n)], dtype=dtype, device=device)
    return m, binom, sign, m + 1


def t_moments(alpha: Tensor, n: int) -> list[Tensor]:
    """Q_k(α) = ∫_0^1 (r/(α + (1 − α)·r))^k dr for k < n, α ≥ 0 (α > 1: a step towards noise).

    A power series in β = 1 − α for |β| < 1/2, the closed form
    Q_k = β^(−k−1)·Σ_m C(k, m)·T_m above, T_m = (−α)^m·∫_α^1 q^(−m) dq: T_0 = 1 − α,
    T_1 = α·log α, T_m = (−1)^m·(α − α^m)/(m − 1). All k at once, on a last axis.
    """
    beta = 1 - alpha
    small = beta.abs() < 0.5
    series = torch.stack(power_series(torch.where(small, beta, torch.zeros_like(beta)), _t_series(n)), dim=-1)
    bc = torch.where(small, torch.ones_like(beta), beta)[..., None]
    ac = 1 - bc
    m, binom, sign, k1 = _closed_form_tables(n, alpha.dtype, alpha.device)
    terms = sign * (ac - ac**m)  # T_m for m ≥ 2 (0 at m = 0, 1)
    terms = torch.cat([bc, torch.xlogy(ac, ac), terms[..., 2:]], dim=-1)[..., :n]  # α·log α, 0 at α = 0
    closed = (terms @ binom.T) / bc**k1
    return list(torch.where(small[..., None], series, closed).unbind(-1))


@host_cache(maxsize=64)
def _t2_tables(n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The (k, i) pairs of μ_k = Σ_i C(k, i)·A^(k−i)·B^i·Q_(k+i), flattened: A's and B's powers, Q's index,
    C(k, i), and the (pairs, k) matrix that sums each k's terms."""
    pairs = [(k, i) for k in range(n) for i in range(k + 1)]
    index = torch.tensor([[k - i, i, k + i] for k, i in pairs], device=device)
    coef = torch.tensor([math.comb(k, i) for k, i in pairs], dtype=dtype, device=device)
    owner = torch.zeros(len(pairs), n, dtype=dtype, device=device)
    for p, (k, _) in enumerate(pairs):
        owner[p, k] = 1.0
    return index[:, 0].contiguous(), index[:, 1].contiguous(), index[:, 2].contiguous(), coef, owner


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
    alpha = (t1 / t0).clamp(min=0)  # t′/t0, above 1 for a step towards noise
    m0 = -torch.expm1(-h)
    if interpolation == "t":
        return [m0 * q for q in t_moments(alpha, n)]
    # t²: (t² − t0²)/(t′² − t0²) = s·(A + B·s) with s the t-node variable,
    # A = 2·t0/(t′ + t0), B = (t′ − t0)/(t′ + t0); expand and use the t moments.
    q = torch.stack(t_moments(alpha, 2 * n - 1), dim=-1)
    A, B = 2 * t0 / (t1 + t0), (t1 - t0) / (t1 + t0)
    ia, ib, iq, coef, owner = _t2_tables(n, q.dtype, q.device)
    powers = torch.arange(n, dtype=q.dtype, device=q.device)
    a_pow, b_pow = A[..., None] ** powers, B[..., None] ** powers
    terms = a_pow[..., ia] * b_pow[..., ib] * q[..., iq] * coef
    return list((m0[..., None] * (terms @ owner)).unbind(-1))
