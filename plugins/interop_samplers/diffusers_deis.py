"""DEIS multistep with diffusers' order rules: ``diffusers_deis``.

DEIS (Zhang & Chen 2023, §3.3–4, Eq. 14, the "logρ" variant): ε̂ interpolated
by a Lagrange polynomial in log ρ, ρ = b/a, over the last 1–3 levels and
integrated exactly from ρ to ρ′: x′ = a′·(x/a + Σ_j c_j·ε̂_j). What makes it
diffusers' ``DEISMultistepScheduler``: the warm-up is plain lower order (first
step order 1, second ≤ 2), and with ``lower_order_final`` below 15 steps the last
step is order 1 and the one before it ≤ 2.

Written as x′ = a′·(x̂0 + ρ′·ε̂_0 + Σ_(j≥1) c_j·(ε̂_j − ε̂_0)), the same number
(x/a = x̂0 + ρ·ε̂_0, and the c_j sum to ρ′ − ρ), which stays finite at both ends
of a grid diffusers never reaches: from λ = −∞ (a = 0, ρ taken at e^40, as
gdf's own samplers do: ``maths.levels.ETA_FLOOR``) and into λ′ = +∞ (ρ′ = 0,
where the primitives' ρ·log ρ terms are 0).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype, batch_view, to_compute
from gdf_plugins.samplers.maths.levels import half_logsnr
from gdf_plugins.interop_samplers.orders import OrderPlan, multistep_order, order_of, plan_orders


def _t_log_t(t: Tensor) -> tuple[Tensor, Tensor]:
    """(t·log t, t·log² t), both 0 at t = 0 (their limits)."""
    q = torch.xlogy(t, t)
    return q, torch.where(t > 0, q * torch.log(t), torch.zeros_like(t))


def _apart(d: Tensor) -> Tensor:
    """A distance between two levels as a divisor: 1 where they are one level (that case is not used:
    the order falls there), so the unused value is finite and its gradient through torch.where is 0, not NaN."""
    return torch.where(d == 0, torch.ones_like(d), d)


def _primitive2(t: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """∫ of the Lagrange basis through (log b, log c) that is 1 at b, as a function of ρ = t (times dρ)."""
    q, _ = _t_log_t(t)
    return (q - t * (torch.log(c) + 1)) / _apart(torch.log(b) - torch.log(c))


def _primitive3(t: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    """The same through (log b, log c, log d), 1 at b."""
    lc, ld = torch.log(c), torch.log(d)
    q, s = _t_log_t(t)
    num = t * (lc * (ld + 1) + ld + 2) - q * (lc + ld + 2) + s
    return num / (_apart(torch.log(b) - lc) * _apart(torch.log(b) - ld))


def _rho(logsnr: Tensor, like: Tensor) -> Tensor:
    """ρ = b/a = e^(−λ/2), with λ/2 clamped at ``ETA_FLOOR`` (ρ ≤ e^40), shaped and typed like ``like``."""
    return batch_view(torch.exp(-half_logsnr(logsnr)), like).to(like.dtype)


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
        x0, eps = denoise(x, logsnr)
        xc = to_compute(x)
        x0c, e0 = to_compute(x0), to_compute(eps)
        a_t, _ = scaled(scaler, logsnr_next, xc)
        rho, rho_t = _rho(logsnr, xc), _rho(logsnr_next, xc)
        state.history.insert(0, (rho, e0))
        del state.history[self.solver_order:]
        hist = state.history
        order = min(order_of(self._rule, state), len(hist))
        x1 = a_t * (x0c + rho_t * e0)  # a′·x̂0 + b′·ε̂: also x itself when λ′ = λ
        if order == 1:
            return as_dtype(x1, x.dtype)
        r0, r1 = hist[0][0], hist[1][0]
        c1 = _primitive2(rho_t, r1, r0) - _primitive2(r0, r1, r0)
        x2 = torch.where((r0 == r1) | (rho_t == r0), x1, x1 + a_t * c1 * (hist[1][1] - e0))
        if order == 2:
            return as_dtype(x2, x.dtype)
        r2 = hist[2][0]
        c1 = _primitive3(rho_t, r1, r2, r0) - _primitive3(r0, r1, r2, r0)
        c2 = _primitive3(rho_t, r2, r0, r1) - _primitive3(r0, r2, r0, r1)
        x3 = x1 + a_t * (c1 * (hist[1][1] - e0) + c2 * (hist[2][1] - e0))
        return as_dtype(torch.where((r0 == r1) | (r1 == r2) | (r0 == r2), x2, x3), x.dtype)  # a repeated level: the order falls

__all__ = ["DiffusersDEISSampler"]
