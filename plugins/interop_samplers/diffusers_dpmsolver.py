"""DPM-Solver multistep with diffusers' order rules: ``diffusers_dpmsolver``.

The updates are those of DPM-Solver (Lu et al. 2022a) and DPM-Solver++ (Lu et
al. 2022b, Alg. 2; SDE variant, App. D), in h = (λ′ − λ)/2, written for any
input scaler (a, b). What makes it diffusers' ``DPMSolverMultistepScheduler``
rather than gdf's ``dpmpp_2m``/``dpmpp_3m``: the warm-up is plain lower order
(first step order 1, second step order ≤ 2), and the last step is first order
when ``final_sigmas_type`` is ``zero``, with ``euler_at_final``, or with
``lower_order_final`` below 15 steps (then the step before it is order ≤ 2 too).
gdf's own samplers instead correct the warm-up and integrate the last step to
λ′ = +∞ at full order (docs/coming-from-diffusers.md compares the two).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.bases.sampler import scaled
from gdf_core.noise import randn_like
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype, batch_view, to_compute
from gdf_plugins.interop_samplers.orders import OrderPlan, div0, infinite_ends, multistep_order, nonzero, order_of, plan_orders, ratio


class DiffusersDPMSolverSampler(SamplerBase):
    """diffusers' DPMSolverMultistepScheduler step (Lu et al. 2022a, 2022b), with its warm-up and last-step orders."""

    name = "diffusers_dpmsolver"

    def __init__(
        self,
        solver_order: int = 2,
        algorithm_type: Literal["dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"] = "dpmsolver++",
        solver_type: Literal["midpoint", "heun"] = "midpoint",
        lower_order_final: bool = True,
        euler_at_final: bool = False,
        final_sigmas_type: Literal["zero", "sigma_min"] = "zero",
    ) -> None:
        if solver_order not in (1, 2, 3):
            raise ValueError(f"sampler {self.name!r}: solver_order must be 1, 2 or 3, got {solver_order!r}")
        if solver_order == 3 and algorithm_type == "sde-dpmsolver":
            raise ValueError(f"sampler {self.name!r}: diffusers has no third-order sde-dpmsolver")
        self.solver_order = solver_order
        self.algorithm_type = algorithm_type
        self.solver_type = solver_type
        self.lower_order_final = lower_order_final
        self.euler_at_final = euler_at_final
        self.final_sigmas_type = final_sigmas_type

    @property  # type: ignore[override]
    def stochastic(self) -> bool:
        """Whether a step draws fresh noise: the SDE variants."""
        return self.algorithm_type.startswith("sde")

    def _rule(self, i: int, steps: int) -> int:
        """diffusers' order of step i of ``steps``: warm-up from order 1, lower orders at the end."""
        return multistep_order(
            i, steps, self.solver_order, lower_order_final=self.lower_order_final,
            first_order_last=self.euler_at_final or self.final_sigmas_type == "zero",
        )

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> OrderPlan:
        ends = infinite_ends(logsnrs)  # None under torch.compile: the refusal is for eager runs only
        if not self.algorithm_type.endswith("++") and ends is not None and any(ends):
            raise ValueError(
                f"sampler {self.name!r}: the noise-form {self.algorithm_type!r} cannot step from pure noise (λ = −∞, "
                "α = 0) or into clean data (λ′ = +∞: σ′·(e^h − 1) is 0·∞; diffusers refuses final_sigmas_type='zero' "
                "for it): use algorithm_type='dpmsolver++' or 'sde-dpmsolver++', or a grid with finite ends"
            )
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
        data = self.algorithm_type.endswith("++")
        out = to_compute(x0 if data else eps)
        xc = to_compute(x)
        state.history.insert(0, (batch_view(to_compute(logsnr), xc) / 2, out))
        del state.history[self.solver_order:]
        order = min(order_of(self._rule, state), len(state.history))
        a, b = scaled(scaler, logsnr, xc)
        a_t, s_t = scaled(scaler, logsnr_next, xc)
        lam_s = state.history[0][0]
        h = batch_view(to_compute(logsnr_next), xc) / 2 - lam_s
        noise = randn_like(xc, generator) if self.stochastic else None
        hs = nonzero(h)
        d = self._differences(state.history[:order], hs)
        return as_dtype(torch.where(h == 0, xc, self._update(order, xc, a, b, a_t, s_t, hs, d, noise)), x.dtype)

    @staticmethod
    def _differences(hist: list[tuple[Tensor, Tensor]], h: Tensor) -> list[Tensor]:
        """[D0, D1, D2] of the multistep update (Lu et al. 2022b, Alg. 2 and its third-order form)."""
        m0 = hist[0][1]
        if len(hist) == 1:
            return [m0]
        r0 = ratio(hist[0][0] - hist[1][0], h)
        d1_0 = div0(m0 - hist[1][1], r0)
        if len(hist) == 2:
            return [m0, d1_0]
        r1 = ratio(hist[1][0] - hist[2][0], h)
        d1_1 = div0(hist[1][1] - hist[2][1], r1)
        return [m0, d1_0 + div0(r0, r0 + r1) * (d1_0 - d1_1), div0(d1_0 - d1_1, r0 + r1)]

    def _update(self, order: int, x: Tensor, a: Tensor, b: Tensor, a_t: Tensor, s_t: Tensor, h: Tensor, d: list[Tensor], noise: Tensor | None) -> Tensor:
        em = torch.expm1(-h)  # e^(−h) − 1
        kind, heun = self.algorithm_type, self.solver_type == "heun"
        if kind == "dpmsolver++":
            x_t = (s_t / b) * x - a_t * em * d[0]
            if order == 2:
                x_t = x_t + (a_t * (em / h + 1.0) * d[1] if heun else -0.5 * a_t * em * d[1])
            elif order == 3:
                x_t = x_t + a_t * (em / h + 1.0) * d[1] - a_t * (_over_h2(em + h, h) - 0.5) * d[2]
            return x_t
        if kind == "sde-dpmsolver++":
            em2 = -torch.expm1(-2.0 * h)  # 1 − e^(−2h)
            x_t = (s_t / b * torch.exp(-h)) * x + a_t * em2 * d[0] + s_t * em2.sqrt() * noise  # type: ignore[operator]
            if order == 2:
                x_t = x_t + (a_t * (em2 / (-2.0 * h) + 1.0) * d[1] if heun else 0.5 * a_t * em2 * d[1])
            elif order == 3:
                x_t = x_t + a_t * (em2 / (-2.0 * h) + 1.0) * d[1] + a_t * (_over_h2(em2 - 2.0 * h, 2.0 * h) - 0.5) * d[2]
            return x_t
        ep = torch.expm1(h)  # e^h − 1
        if kind == "dpmsolver":
            x_t = (a_t / a) * x - s_t * ep * d[0]
            if order == 2:
                x_t = x_t - (s_t * (ep / h - 1.0) * d[1] if heun else 0.5 * s_t * ep * d[1])
            elif order == 3:
                x_t = x_t - s_t * (ep / h - 1.0) * d[1] - s_t * ((ep - h) / h**2 - 0.5) * d[2]
            return x_t
        x_t = (a_t / a) * x - 2.0 * s_t * ep * d[0] + s_t * torch.expm1(2 * h).sqrt() * noise  # type: ignore[operator]
        if order == 2:
            x_t = x_t - (2.0 * s_t * (ep / h - 1.0) * d[1] if heun else s_t * ep * d[1])
        return x_t


def _over_h2(num: Tensor, h: Tensor) -> Tensor:
    """num/h² of the third-order term, and its limit 0 on a step into λ′ = +∞ (num grows like h: ∞/∞ otherwise)."""
    return torch.where(torch.isinf(h), torch.zeros_like(h), num / h**2)


__all__ = ["DiffusersDPMSolverSampler"]
