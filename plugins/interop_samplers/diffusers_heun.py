"""Heun's method with diffusers' last step: ``diffusers_heun``.

Karras et al. 2022 ("EDM", Alg. 2 without churn), in y = x/a and σ = b/a:
an Euler step y_e = y + (σ′ − σ)·ε̂, the model at (y_e, σ′), then the trapezoid
y′ = y + (σ′ − σ)·(ε̂ + ε̂′)/2, on every step but the last, which is a plain
Euler step (two model calls per step, one on the last: 2N − 1). This is
diffusers' ``HeunDiscreteScheduler``; gdf's own ``heun`` instead extrapolates
x̂0 into λ′ = +∞ through the previous level and switches to the data form over
steps longer than a decade of σ.

A step from pure noise (λ = −∞, σ = ∞: the rectified-flow presets' t = 1,
where diffusers' grids never start) has no trapezoid: its σ-step is infinite.
It is the limit of its Euler stage there, a′·x̂0 + b′·ε̂ (x/a = x̂0 + σ·ε̂), per
sample with ``torch.where``, so the run stays finite without a host read.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype, batch_view, to_compute
from gdf_plugins.interop_samplers.orders import OrderPlan, order_of, plan_orders


class DiffusersHeunSampler(SamplerBase):
    """diffusers' HeunDiscreteScheduler step: EDM's Heun (Karras et al. 2022, Alg. 2), a plain Euler last step."""

    name = "diffusers_heun"

    @staticmethod
    def _rule(i: int, steps: int) -> int:
        """Order 2 (Heun) on every step but the last, order 1 (Euler) there."""
        return 1 if i == steps - 1 else 2

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> OrderPlan:
        return plan_orders(self._rule, logsnrs)

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, eps = denoise(x, logsnr)
        xc, x0c, epsc = to_compute(x), to_compute(x0), to_compute(eps)
        a, b = scaled(scaler, logsnr, xc)
        a_t, b_t = scaled(scaler, logsnr_next, xc)
        if order_of(self._rule, state) == 1:
            return as_dtype((a_t * x0c + b_t * epsc), x.dtype)
        pure_noise = batch_view(torch.isneginf(logsnr), xc)  # σ = ∞: the Euler stage's limit, no trapezoid
        a = torch.where(pure_noise, torch.ones_like(a), a)  # a = 0 there: unused, but an inf in the other branch of a
        dsigma = b_t / a_t - b / a  # torch.where makes its gradient 0·inf = NaN
        y = xc / a
        x_euler = torch.where(pure_noise, a_t * x0c + b_t * epsc, a_t * (y + dsigma * epsc))
        _, eps_next = denoise(as_dtype(x_euler, x.dtype), logsnr_next)
        heun = a_t * (y + dsigma * (epsc + to_compute(eps_next)) / 2)
        return as_dtype(torch.where(pure_noise, x_euler, heun), x.dtype)


__all__ = ["DiffusersHeunSampler"]
