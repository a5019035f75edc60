"""UniPC: unified predictor–corrector (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector
Framework for Fast Sampling of Diffusion Models"), data-prediction form, B(h) variants bh1/bh2."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import (
    ETA_FLOOR,
    INTERPOLATIONS,
    Levels,
    combine_rows,
    compute,
    data_moments_for,
    data_nodes,
    final_weights,
    grid_streak,
    half_logsnr,
    quadrature,
    step_table,
)
from gdf_plugins.samplers.dpmpp import check_order


def unipc_weights(
    etas: Sequence[Tensor], eta_next: Tensor, *, variant: str, corrector: bool, interpolation: str = "logsnr"
) -> list[Tensor]:
    """Weights w_j of x′ = (b′/b)·x + a′·Σ_j w_j·x̂0_j for UniP (predictor) or UniC (corrector).

    Nodes r_k = (η_k − η)/h of the earlier levels (and r = 1 for the corrector's
    new level); the coefficients ρ solve Σ_k ρ_k·r_k^(i−1) = i!·φ_(i+1)(h)·h^i/B(h),
    written here with the moments μ_i of ``data_moments`` (i!·φ_(i+1)(−h) terms are
    −μ_i/i!); a single ρ is 1/2 as in the paper's UniP-2 / UniC-1. The update is
    x′ = (b′/b)·x + a′·[(1 − e^(−h))·x̂0 − B(h)·Σ_k ρ_k·(x̂0_k − x̂0)/r_k].
    Returned in node order (``etas`` then, for the corrector, the new level).
    At η′ = +∞ (predictor only) x̂0 is extrapolated to σ = 0 in σ².
    """
    eta0 = etas[0]
    h = eta_next - eta0
    final = torch.isposinf(eta_next)
    hs = torch.where(final, torch.ones_like(h), h)
    r = data_nodes(etas, eta_next, interpolation)[1:]
    if corrector:
        r.append(torch.ones_like(h))
    K = len(r)
    mu = data_moments_for(etas, eta_next, K + 1, interpolation)
    if K == 0:
        return [mu[0]]
    B = -hs if variant == "bh1" else -mu[0]
    if K == 1:
        # the paper's UniP-2 / UniC-1 choice ρ = 1/2 (the small-h limit of the exact
        # −μ₁/B(h)); a step from λ = −∞ (η at the floor, h ≳ 40) takes the exact ρ,
        # which keeps B(h) = h (bh1) from scaling the correction by h there.
        exact = -mu[1] / B
        rho = [torch.where(eta0 <= ETA_FLOOR, exact, torch.full_like(h, 0.5))]
    else:
        rho = quadrature(r, [-mu[i] / B for i in range(1, K + 1)])
    w_rest = [-B * rk_rho / rk for rk_rho, rk in zip(rho, r)]
    w = [mu[0] - sum(w_rest)] + w_rest
    if corrector:
        return w
    w_end = final_weights(etas, interpolation)
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]


class UniPCSampler(SamplerBase):
    """UniPC (Zhao et al. 2023): the UniP-p multistep predictor and the UniC corrector, data prediction.

    Each step calls the model once at (x_i, λ_i); UniC then corrects x_i with that
    call (no extra model evaluation; the order rises by one), and UniP-p predicts
    x_(i+1) from the last p levels. ``variant`` picks B(h) = h (``"bh1"``) or
    e^h − 1 (``"bh2"``); ``order`` ≤ 3; ``corrector=False`` gives UniP alone.
    Lower-order warm-up on the first steps; no corrector after the last step (it
    would need another call); a last step into λ′ = +∞ extrapolates x̂0 to
    σ = 0 in σ² through the predictor's levels.
    """

    name = "unipc"

    def __init__(
        self,
        order: int = 3,
        variant: Literal["bh1", "bh2"] = "bh2",
        corrector: bool = True,
        interpolation: Literal["t2", "t", "logsnr"] = "t2",
    ) -> None:
        self.order = check_order(self.name, order, 3)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"sampler {self.name!r}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.interpolation = interpolation
        if variant not in ("bh1", "bh2"):
            raise ValueError(f"sampler {self.name!r}: variant must be 'bh1' or 'bh2', got {variant!r}")
        self.variant = variant
        self.corrector = corrector

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
            state.scratch.pop("unipc_prev", None)
        x0, _ = denoise(x, logsnr)
        streak = grid_streak(state, logsnr, logsnr_next)
        x0c, xc = compute(x0), compute(x)
        prev = state.scratch.get("unipc_prev")
        if self.corrector and prev is not None:
            # UniC: redo the previous step with this level's x̂0 as a node.
            x_prev, lv_prev, used, prev_streak = prev
            n = len(used)
            if prev_streak >= n and streak > 0:
                c = step_table(state, scaler, ("unic", self.variant, self.interpolation), n, self._corrector,
                               step=state.step - 1)
            else:
                lv_prev = Levels(scaler, *lv_prev) if isinstance(lv_prev, tuple) else lv_prev
                c = torch.stack(self._corrector([e for e, _ in used], lv_prev))
            xc = combine_rows(c, [x_prev] + [d for _, d in used] + [x0c])
        state.history.insert(0, (half_logsnr(logsnr), x0c))
        del state.history[self.order :]
        used = list(state.history)
        n = len(used)
        if streak >= n:  # on the grid: this step's row of the run's coefficients
            c = step_table(state, scaler, ("unip", self.variant, self.interpolation), n, self._predictor)
        else:
            c = torch.stack(self._predictor([e for e, _ in used], Levels(scaler, logsnr, logsnr_next)))
        out = combine_rows(c, [xc] + [d for _, d in used])
        state.scratch["unipc_prev"] = (xc, (logsnr, logsnr_next), used, streak)
        return out.to(x.dtype)

    def _predictor(self, etas: list[Tensor], lv: Levels) -> list[Tensor]:
        """[b′/b, a′·w_0, …]: UniP-p's x′ = (b′/b)·x + a′·Σ_j w_j·x̂0_j."""
        w = unipc_weights(etas, lv.eta_next, variant=self.variant, corrector=False, interpolation=self.interpolation)
        return [lv.b_ratio] + [lv.a_next * wj for wj in w]

    def _corrector(self, etas: list[Tensor], lv: Levels) -> list[Tensor]:
        """[b′/b, a′·w_0, …, a′·w_new]: UniC's weights, the new level's x̂0 last."""
        w = unipc_weights(etas, lv.eta_next, variant=self.variant, corrector=True, interpolation=self.interpolation)
        return [lv.b_ratio] + [lv.a_next * wj for wj in w]

__all__ = ["UniPCSampler", "unipc_weights"]
