"""DEIS multistep with diffusers' order rules: ``diffusers_deis``.

DEIS (Zhang & Chen 2023, §3.3–4, Eq. 14, the "logρ" variant): ε̂ interpolated
by a Lagrange polynomial in log ρ, ρ = b/a, over the last 1–3 levels and
integrated exactly from ρ to ρ′: x′ = a′·(x/a + Σ_j c_j·ε̂_j). What makes it
diffusers' ``DEISMultistepScheduler``: the warm-up is plain lower order (first
step order 1, second ≤ 2), and with ``lower_order_final`` below 15 steps the last
step is order 1 and the one before it ≤ 2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import to_compute
from gdf_plugins.interop_samplers.orders import OrderPlan, multistep_order, order_of, plan_orders


def _primitive2(t: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """∫ of the Lagrange basis through (log b, log c) that is 1 at b, as a function of ρ = t (times dρ)."""
    return t * (-torch.log(c) + torch.log(t) - 1) / (torch.log(b) - torch.log(c))


def _primitive3(t: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    lt, lc, ld = torch.log(t), torch.log(c), torch.log(d)
    num = t * (lc * (ld - lt + 1) - ld * lt + ld + lt**2 - 2 * lt + 2)
    return num / ((torch.log(b) - lc) * (torch.log(b) - ld))


class DiffusersDEISSampler(SamplerBase):
    """diffusers' DEISMultistepScheduler step (Zhang & Chen 2023), with its warm-up and last-step orders."""

    name = "diffusers_deis"

    def __init__(self, solver_order: int = 2, lower_order_final: bool = True) -> None:
        if solver_order not in (1, 2, 3):
            raise ValueError(f"sampler {self.name!r}: solver_order must be 1, 2 or 3, got {solver_order!r}")
        self.solver_order = solver_order
        self.lower_order_final = lower_order_final

    def _rule(self, i: int, steps: int) -> int:
        """diffusers' order of step i of ``steps``: warm-up from order 1, lower orders at the end."""
        return multistep_order(i, steps, self.solver_order, lower_order_final=self.lower_order_final)

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
        if state.step == 0:
            state.history.clear()
        _, eps = denoise(x, logsnr)
        xc = to_compute(x)
        a, b = scaled(scaler, logsnr, xc)
        a_t, b_t = scaled(scaler, logsnr_next, xc)
        state.history.insert(0, (b / a, to_compute(eps)))
        del state.history[self.solver_order:]
        hist = state.history
        order = min(order_of(self._rule, state), len(hist))
        rho_t = b_t / a_t
        h = (to_compute(logsnr_next) - to_compute(logsnr)).reshape(a.shape) / 2
        x1 = (a_t / a) * xc - b_t * torch.expm1(h) * hist[0][1]  # also x itself when λ′ = λ (h = 0)
        if order == 1:
            return x1.to(x.dtype)
        r0, r1 = hist[0][0], hist[1][0]
        c1 = _primitive2(rho_t, r0, r1) - _primitive2(r0, r0, r1)
        c2 = _primitive2(rho_t, r1, r0) - _primitive2(r0, r1, r0)
        x2 = torch.where((r0 == r1) | (h == 0), x1, a_t * (xc / a + c1 * hist[0][1] + c2 * hist[1][1]))
        if order == 2:
            return x2.to(x.dtype)
        r2 = hist[2][0]
        c1 = _primitive3(rho_t, r0, r1, r2) - _primitive3(r0, r0, r1, r2)
        c2 = _primitive3(rho_t, r1, r2, r0) - _primitive3(r0, r1, r2, r0)
        c3 = _primitive3(rho_t, r2, r0, r1) - _primitive3(r0, r2, r0, r1)
        x3 = a_t * (xc / a + c1 * hist[0][1] + c2 * hist[1][1] + c3 * hist[2][1])
        return torch.where((r0 == r1) | (r1 == r2) | (r0 == r2), x2, x3).to(x.dtype)  # a repeated level: the order falls

__all__ = ["DiffusersDEISSampler"]
