"""UniPC: unified predictor–corrector (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector
Framework for Fast Sampling of Diffusion Models"), data-prediction form, B(h) variants bh1/bh2."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Sequence

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers.maths import interpolation as interp
from gdf_plugins.samplers.maths.combine import combine_rows, compute
from gdf_plugins.samplers.maths.exponential import final_weights
from gdf_plugins.samplers.maths.lagrange import node_activity, quadrature
from gdf_plugins.samplers.maths.levels import ETA_FLOOR, Levels, distinct_from_newer, half_logsnr
from gdf_plugins.samplers.multistep import MultistepPlan, MultistepSampler, Node, check_order, grid_rows, no_op


def unipc_weights(
    etas: Sequence[Tensor],
    lv: Levels,
    active: Sequence[Tensor],
    *,
    variant: str,
    corrector: bool,
    interpolation: str,
    separation: float,
) -> list[Tensor]:
    """Weights w_j of x′ = (b′/b)·x + a′·Σ_j w_j·x̂0_j for UniP (predictor) or UniC (corrector).

    Nodes r_k = (η_k − η)/h of the earlier levels (and r = 1 for the corrector's
    new level); the coefficients ρ solve Σ_k ρ_k·r_k^(i−1) = i!·φ_(i+1)(h)·h^i/B(h),
    written with the moments μ_i (i!·φ_(i+1)(−h) terms are −μ_i/i!); a single ρ
    is 1/2 as in the paper's UniP-2 / UniC-1. The update is
    x′ = (b′/b)·x + a′·[(1 − e^(−h))·x̂0 − B(h)·Σ_k ρ_k·(x̂0_k − x̂0)/r_k].
    At η′ = +∞ (predictor only) x̂0 is extrapolated to σ = 0 in σ². A node nearer than
    ``separation`` to a newer one or to the step's own level (r = 0) is dropped (``maths.lagrange``).
    """
    nodes = interp.nodes(etas, lv.eta_next, interpolation)
    r, on = nodes[1:], node_activity(nodes, active, separation)[1:]  # apart from the step's own level (r = 0) too
    if corrector:
        r.append(torch.ones_like(lv.h))
        on.append(torch.ones_like(active[0]))
    r = [torch.where(o & (rk != 0), rk, torch.ones_like(rk)) for rk, o in zip(r, on)]
    mu = interp.moments(etas, lv.eta_next, len(r) + 1, interpolation)
    if not r:
        return [mu[0]]
    B = -lv.safe_h() if variant == "bh1" else -mu[0]
    if len(r) == 1:
        # the paper's ρ = 1/2 (the small-h limit of the exact −μ₁/B(h)); from λ = −∞
        # (η at the floor) the exact ρ, which keeps B(h) = h (bh1) from scaling the correction.
        rho = [torch.where(etas[0] <= ETA_FLOOR, -mu[1] / B, torch.full_like(lv.h, 0.5))]
    else:
        rho = quadrature(r, [-mu[i] / B for i in range(1, len(r) + 1)], on, separation)
    w_rest = [torch.where(o, -B * p / rk, torch.zeros_like(rk)) for p, rk, o in zip(rho, r, on)]
    w = [mu[0] - sum(w_rest)] + w_rest  # type: ignore[operator]
    if corrector:
        return w
    w_end = final_weights(etas, active, separation)
    return [torch.where(lv.final, we, wj) for we, wj in zip(w_end, w)]


class UniPCSampler(MultistepSampler):
    """UniPC (Zhao et al. 2023): the UniP-p multistep predictor and the UniC corrector, data prediction.

    Each step calls the model once at (x_i, λ_i); UniC then corrects x_i with that
    call (no extra model evaluation; the order rises by one), and UniP-p predicts
    x_(i+1) from the last p levels. ``variant`` picks B(h) = h (``"bh1"``) or
    e^h − 1 (``"bh2"``); ``order`` ≤ 3; ``corrector=False`` gives UniP alone.
    No corrector after the last step (it would need another call); a last step
    into λ′ = +∞ extrapolates x̂0 to σ = 0 in σ² through the predictor's levels.
    The plan's ``extra`` holds UniC's rows: row i corrects step i at step i + 1, as an
    increment to the x that step gave (x_c = x + Σ_j (C_j − P_j)·x̂0_j + C_new·x̂0_new, where
    C and P are the corrector's and predictor's weights and both have b′/b on the earlier x):
    an x sent to ``sample`` between steps is corrected, not replaced, and no x is kept.
    """

    name = "unipc"
    form = "data"
    warmup_corrector = False

    @property
    def corrects_previous_step(self) -> bool:
        """UniC refines step i − 1 with the call of step i, also when step i is a repeated level."""
        return self.corrector

    def __init__(
        self,
        order: Annotated[int, Field(ge=1, le=3)] = 3,
        variant: Literal["bh1", "bh2"] = "bh2",
        corrector: bool = True,
        interpolation: Literal["t2", "t", "logsnr"] = "t2",
    ) -> None:
        self.order = check_order(self.name, order, 3)
        if interpolation not in interp.INTERPOLATIONS:
            raise ValueError(f"sampler {self.name!r}: interpolation must be one of {interp.INTERPOLATIONS}, got {interpolation!r}")
        if variant not in ("bh1", "bh2"):
            raise ValueError(f"sampler {self.name!r}: variant must be 'bh1' or 'bh2', got {variant!r}")
        self.interpolation, self.variant, self.corrector = interpolation, variant, corrector

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        """UniP: [b′/b, a′·w_0, …]."""
        w = unipc_weights(etas, lv, active, variant=self.variant, corrector=False, interpolation=self.interpolation,
                          separation=self.node_separation)
        return [lv.b_ratio] + [lv.a_next * wj for wj in w]

    def correction(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        """UniC of the step λ → λ′ once x̂0 at λ′ is known: [b′/b, a′·w_0, …, a′·w_new]; a no-op step stays one."""
        w = unipc_weights(etas, lv, active, variant=self.variant, corrector=True, interpolation=self.interpolation,
                          separation=self.node_separation)
        c = [lv.b_ratio] + [lv.a_next * wj for wj in w[:-1]]
        return no_op(lv, c, [torch.ones_like(lv.h)]) + [torch.where(lv.degenerate, torch.zeros_like(lv.h), lv.a_next * w[-1])]

    def increment(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        """UniC as an increment to the predictor's x′: [C_0 − P_0, …, C_new] on [x̂0_0, …, x̂0_new]."""
        c, p = self.correction(etas, lv, active), self._row(etas, lv, active)
        return [cj - pj for cj, pj in zip(c[1:-1], p[1:])] + [c[-1]]

    def extra_rows(self, logsnrs: Tensor, lv: Levels, rows: Tensor) -> Optional[Tensor]:
        """UniC's increments (steps, 1 + order, batch): row i corrects step i at step i + 1."""
        if not self.corrector:
            return None
        unic = grid_rows(self._unic_row, logsnrs, lv, self.order, 2 + self.order)
        return torch.cat([unic[:, 1:-1] - rows[:, 1:], unic[:, -1:]], dim=1)

    def _unic_row(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        c = self.correction(etas, lv, active)
        return c[:-1] + [torch.zeros_like(lv.h)] * (1 + self.order - len(c[:-1])) + [c[-1]]

    def advance(
        self, denoise: Denoiser, x: Tensor, logsnr: Tensor, logsnr_next: Tensor, scaler: InputScaler, state: SamplingState
    ) -> Tensor:
        x0, _ = denoise(x, logsnr)
        plan: Optional[MultistepPlan] = state.plan
        xc, x0c = compute(x), compute(x0)
        used = [] if state.step == 0 else list(state.history)
        if self.corrector and used:
            # UniC: the previous step redone with this level's x̂0 as a node, added to the x it gave.
            n = len(used)
            if plan is not None and plan.extra is not None:
                row = plan.extra[state.step - 1]
                c = torch.cat([row[:n], row[-1:]])
            else:
                lv = Levels(scaler, used[0].logsnr, logsnr)
                etas = [half_logsnr(node.logsnr) for node in used]
                c = torch.stack(torch.broadcast_tensors(*self.increment(etas, lv, distinct_from_newer(etas))))
            xc = combine_rows(c, [node.value for node in used] + [x0c], base=xc)
        history = self.push(state, Node(logsnr, x0c))
        n = len(history)
        if plan is not None:
            c = plan.rows[state.step, : 1 + n]
        else:
            lv = Levels(scaler, logsnr, logsnr_next)
            etas = [half_logsnr(node.logsnr) for node in history]
            c = torch.stack(torch.broadcast_tensors(*self._row(etas, lv, distinct_from_newer(etas))))
        return combine_rows(c, [xc] + [node.value for node in history])


__all__ = ["UniPCSampler", "unipc_weights"]
