"""Moments of the exponential kernels: the φ-functions of exponential integrators.

For a step of length h in η, the data-prediction kernel gives
μ_k = H·∫_0^1 e^(−H(1−s))·s^k ds (μ_0 = 1 − e^(−H) = h·φ_1(−h); μ_k = k!·h·φ_(k+1)
in the notation of Hochbruck & Ostermann 2010, Lu et al. 2022b), the
noise-prediction kernel ν_k = h·∫_0^1 e^(−h·s)·s^k ds. Both are summed as a
power series below 1 (no cancellation) and by their stable recurrence above.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gdf_core.host_cache import host_cache

_SERIES_TERMS = 22


@host_cache(maxsize=64)
def _as_tensor(coefficients: tuple[tuple[float, ...], ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """table.T of a series table, made once per dtype and device."""
    return torch.tensor(coefficients, dtype=dtype, device=device).T.contiguous()


def power_series(x: Tensor, coefficients: tuple[tuple[float, ...], ...]) -> list[Tensor]:
    """Σ_m c[k][m]·x^m for each row k, in one matrix product (x of any shape).

    The powers 1, x, x², … are a running product (rounding within a few ulps of ``x ** m``,
    at a quarter of the cost of a tensor power).
    """
    table_t = _as_tensor(coefficients, x.dtype, x.device)
    column = x.unsqueeze(-1)
    powers = torch.cat([torch.ones_like(column), column.expand(*x.shape, table_t.shape[0] - 1)], dim=-1).cumprod(-1)
    return list((powers @ table_t).unbind(-1))


@host_cache(maxsize=None)
def _series_table(kind: str, n: int) -> tuple[tuple[float, ...], ...]:
    if kind == "data":
        return tuple(
            tuple((-1.0) ** m * math.factorial(k) / float(math.factorial(m + k + 1)) for m in range(_SERIES_TERMS))
            for k in range(n)
        )
    return tuple(
        tuple((-1.0) ** m / float(math.factorial(m) * (m + k + 1)) for m in range(_SERIES_TERMS)) for k in range(n)
    )


def _data_forward(H: Tensor, n: int) -> list[Tensor]:
    """μ_k for H > −1: the power series below 1, the stable recurrence μ_k = 1 − k·μ_(k−1)/H above."""
    small = H.abs() < 1
    Hs = torch.where(small, H, torch.zeros_like(H))
    series = [Hs * v for v in power_series(Hs, _series_table("data", n))]
    Hr = torch.where(H >= 1, H, torch.ones_like(H))
    rec = [-torch.expm1(-Hr)]
    for k in range(1, n):
        rec.append(1 - k * rec[-1] / Hr)
    return [torch.where(small, s_, r) for s_, r in zip(series, rec)]


def _noise_forward(h: Tensor, n: int) -> list[Tensor]:
    """ν_k for h > −1: the power series below 1, the stable recurrence ν_k = −e^(−h) + k·ν_(k−1)/h above."""
    hs = torch.where(h < 1, h, torch.zeros_like(h))
    series = [hs * v for v in power_series(hs, _series_table("noise", n))]
    hr = torch.where(h < 1, torch.ones_like(h), h)
    e = torch.exp(-hr)
    rec = [-torch.expm1(-hr)]
    for k in range(1, n):
        rec.append(-e + k * rec[-1] / hr)
    return [torch.where(h < 1, s_, r) for s_, r in zip(series, rec)]


def _reflected(x: Tensor, n: int, forward) -> list[Tensor]:
    """−e^G·f_k(G) with G = −x where x ≤ −1 (G = 1 elsewhere, unused): μ_k(−G) = −e^G·ν_k(G), and back."""
    G = torch.where(x <= -1, -x, torch.ones_like(x))
    return [-torch.exp(G) * v for v in forward(G, n)]


def data_moments(H: Tensor, n: int) -> list[Tensor]:
    """μ_k = H·∫_0^1 e^(−H(1−s))·s^k ds, k < n, for any H (and H = +∞: μ_k = 1).

    A power series for |H| < 1, μ_k = H·k!·Σ_m (−H)^m/(m + k + 1)!, the stable
    recurrence μ_k = 1 − k·μ_(k−1)/H above; at or below −1 (a step towards noise),
    where the series cancels, μ_k = −e^G·ν_k(G) with G = −H (ν's recurrence is stable there).
    """
    back = _reflected(H, n, _noise_forward)
    return [torch.where(H <= -1, b, f) for b, f in zip(back, _data_forward(H, n))]


def noise_moments(h: Tensor, n: int) -> list[Tensor]:
    """ν_k = h·∫_0^1 e^(−h·s)·s^k ds, k < n (the kernel of ε̂ polynomial in log σ), for any h.

    A power series below 1, the stable recurrence above; at or below −1 (towards noise),
    ν_k = −e^G·μ_k(G) with G = −h, as for ``data_moments``.
    """
    back = _reflected(h, n, _data_forward)
    return [torch.where(h <= -1, b, f) for b, f in zip(back, _noise_forward(h, n))]
