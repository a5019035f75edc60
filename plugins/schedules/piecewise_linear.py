"""Schedules given by knots of ᾱ(t) = a², linearly interpolated (e.g. the DDPM / Stable Diffusion β schedules)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import IntRange, Knots, OpenUnitInterval, OrderedPair, UnitInterval


def interpolate(x: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """Piecewise-linear y(x) through the knots (xs ascending), extrapolated linearly past the ends.

    Vectorised with ``torch.searchsorted``; computed in the dtype of ``xs``.
    """
    xs = xs.to(x.device)
    ys = ys.to(x.device)
    xq = x.to(xs.dtype)
    i = (torch.searchsorted(xs, xq.contiguous(), right=True) - 1).clamp(0, xs.numel() - 2)
    x_lo, x_hi = xs[i], xs[i + 1]
    y_lo, y_hi = ys[i], ys[i + 1]
    return y_lo + (y_hi - y_lo) * (xq - x_lo) / (x_hi - x_lo)


def check_knots(name: str, x: "list[float] | tuple[float, ...]", y: "list[float] | tuple[float, ...]") -> tuple[Tensor, Tensor]:
    """The knots as float64 tensors, after checking what the interpolation and its inverse need."""
    xs = torch.as_tensor(list(x), dtype=torch.float64)
    ys = torch.as_tensor(list(y), dtype=torch.float64)
    if xs.dim() != 1 or xs.shape != ys.shape or xs.numel() < 2:
        raise ValueError(
            f"{name!r}: the knots x (t values) and y (ᾱ values) must be two lists of the same length ≥ 2; "
            f"got {xs.numel()} and {ys.numel()} values"
        )
    if not bool((xs[1:] > xs[:-1]).all()):
        raise ValueError(f"{name!r}: the knots x (t values) must be strictly increasing")
    if not bool(((ys > 0) & (ys < 1)).all()):
        raise ValueError(f"{name!r}: the knots y are ᾱ = a² values and must lie strictly inside (0, 1)")
    return xs, ys


def stable_diffusion_knots(linear_range: tuple[float, float], total_steps: int) -> tuple[Tensor, Tensor]:
    """(t, ᾱ) knots of the "scaled linear" β schedule of Stable Diffusion (Rombach et al. 2022), in float64.

    t = linspace(0, 1, N + 1); β = (√lo·(1 − t) + √hi·t)²; ᾱ = cumprod(1 − β).
    """
    lo, hi = linear_range
    if not 0 < lo < hi < 1:
        raise ValueError(
            f"'stable_diffusion': linear_range is the (first, last) β and must satisfy 0 < first < last < 1; "
            f"got {tuple(linear_range)}"
        )
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"'stable_diffusion': total_steps must be an integer ≥ 1, got {total_steps}")
    t = torch.linspace(0, 1, int(total_steps) + 1, dtype=torch.float64)
    beta = (lo**0.5 * (1 - t) + hi**0.5 * t) ** 2
    return t, torch.cumprod(1 - beta, dim=0)


class _KnotSchedule(ScheduleBase):
    """λ(t) = logit(ᾱ(t)) with ᾱ interpolated between ``self._t_knots`` and ``self._var_knots``."""

    _t_knots: Tensor
    _var_knots: Tensor

    def logsnr(self, t: Tensor) -> Tensor:
        var = interpolate(t, self._t_knots, self._var_knots)
        return torch.logit(var).to(t.dtype)

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        return 1 - torch.rand(batch_size, generator=generator)

    def quantile_t(self, u: Tensor) -> Tensor:
        return 1 - u


class PiecewiseLinearSchedule(_KnotSchedule):
    """ᾱ(t) linearly interpolated between knots (x: t ascending, y: ᾱ); λ = log(ᾱ/(1 − ᾱ)).

    Any schedule given as a table, e.g. the discrete β schedules of DDPM (Ho et al. 2020).
    """

    name = "piecewise_linear"
    example_spec = {"x": [0.0, 0.3, 0.7, 1.0], "y": [0.999, 0.8, 0.2, 0.001]}

    def __init__(self, x: Knots[UnitInterval], y: list[OpenUnitInterval], **kwargs) -> None:
        self._t_knots, self._var_knots = check_knots(self.name, x, y)
        self.x = tuple(float(v) for v in x)
        self.y = tuple(float(v) for v in y)
        super().__init__(**kwargs)


class StableDiffusionSchedule(_KnotSchedule):
    """The "scaled linear" β schedule of Stable Diffusion (Rombach et al. 2022), as a piecewise-linear ᾱ(t).

    Knots t = linspace(0, 1, N + 1), β = (√lo·(1 − t) + √hi·t)², ᾱ = cumprod(1 − β)
    (computed in float64); λ = log(ᾱ/(1 − ᾱ)).
    """

    name = "stable_diffusion"

    def __init__(
        self,
        linear_range: OrderedPair[OpenUnitInterval] = (0.00085, 0.012),
        total_steps: IntRange(1, 100_000) = 1000,  # type: ignore[valid-type]
        **kwargs,
    ) -> None:
        self._t_knots, self._var_knots = stable_diffusion_knots(linear_range, total_steps)
        self.linear_range = tuple(linear_range)
        self.total_steps = total_steps
        super().__init__(**kwargs)
