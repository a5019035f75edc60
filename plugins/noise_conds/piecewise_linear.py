"""Noise conditions that invert a piecewise-linear ᾱ(t) schedule: the model is given t."""

from __future__ import annotations

import torch
from torch import Tensor

from gdf_core.bases import NoiseCondBase
from gdf_core.domains import IntRange, Knots, OpenUnitInterval, OrderedPair, UnitInterval
from gdf_plugins.schedules.piecewise_linear import check_knots, interpolate, stable_diffusion_knots


class _InverseKnotNoiseCond(NoiseCondBase):
    """t from ᾱ = σ(λ) by linear interpolation over the (ᾱ, t) knots (ᾱ decreasing in t)."""

    _var_ascending: Tensor
    _t_for_var: Tensor

    def _set_knots(self, name: str, t_knots: Tensor, var_knots: Tensor) -> None:
        if not bool((var_knots[1:] < var_knots[:-1]).all()):
            raise ValueError(f"{name!r}: ᾱ must decrease strictly along the knots for t to be recovered from it")
        self._var_ascending = var_knots.flip(0)
        self._t_for_var = t_knots.flip(0)

    def cond(self, logsnr: Tensor) -> Tensor:
        var = torch.sigmoid(logsnr.to(torch.float64))
        return interpolate(var, self._var_ascending, self._t_for_var).to(logsnr.dtype)


class PiecewiseLinearNoiseCond(_InverseKnotNoiseCond):
    """The inverse of ``piecewise_linear`` with the same knots: t with ᾱ(t) = σ(λ), extrapolated linearly past the knots."""

    name = "piecewise_linear"
    inverts = "piecewise_linear"
    example_spec = {"x": [0.0, 0.3, 0.7, 1.0], "y": [0.999, 0.8, 0.2, 0.001]}

    def __init__(self, x: Knots[UnitInterval], y: list[OpenUnitInterval], **kwargs) -> None:
        t_knots, var_knots = check_knots(self.name, x, y)
        self._set_knots(self.name, t_knots, var_knots)
        self.x = tuple(float(v) for v in x)
        self.y = tuple(float(v) for v in y)
        super().__init__(**kwargs)


class StableDiffusionNoiseCond(_InverseKnotNoiseCond):
    """The inverse of ``stable_diffusion`` (Rombach et al. 2022): t ∈ [0, 1] with ᾱ(t) = σ(λ), clamped to [0, 1]."""

    name = "stable_diffusion"
    inverts = "stable_diffusion"

    def __init__(
        self,
        linear_range: OrderedPair[OpenUnitInterval] = (0.00085, 0.012),
        total_steps: IntRange(1, 100_000) = 1000,  # type: ignore[valid-type]
        **kwargs,
    ) -> None:
        t_knots, var_knots = stable_diffusion_knots(linear_range, total_steps)
        self._set_knots(self.name, t_knots, var_knots)
        self.linear_range = tuple(linear_range)
        self.total_steps = total_steps
        super().__init__(**kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        return super().cond(logsnr).clamp(0, 1)
