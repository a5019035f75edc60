"""Linear multistep samplers on ε̂ in σ: ``lms`` (variable-step Adams–Bashforth) and the shared step.

In y = x/a the probability-flow ODE is dy/dσ = ε̂(σ); an Adams–Bashforth
method interpolates ε̂ through the last levels and integrates the interpolant
over [σ, σ′]. Written on x for any scaler (x̂0 and ε̂ from the same call)::

    x′ = a′·x̂0 + b′·ε̂ + a′·Σ_(j≥1) w_j·(ε̂_j − ε̂),

the first two terms being the Euler/DDIM step, so a step from λ = −∞ (σ = ∞) is
the exact-at-the-ends Euler step and a step into λ′ = +∞ (σ′ = 0) is finite.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import (
    Levels,
    bview,
    combine_rows,
    compute,
    grid_streak,
    half_logsnr,
    sigma_ab_weights,
    step_table,
    warmup_correction,
)
from gdf_plugins.samplers.dpmpp import check_order

#: weights(history levels, step) -> w_j for every history entry (j = 0 included).
WeightFn = Callable[[Sequence[tuple[Tensor, Tensor, Tensor]], Levels], "list[Tensor]"]


def multistep_eps_step(
    denoise: Denoiser,
    x: Tensor,
    logsnr: Tensor,
    logsnr_next: Tensor,
    scaler: InputScaler,
    state: SamplingState,
    order: int,
    weights: WeightFn,
    warmup: bool = True,
) -> Tensor:
    """One Adams-type step on ε̂; ``state.history`` holds (η, σ, ε̂), newest first.

    ``warmup`` corrects the first step at the second level (``warmup_correction``),
    keeping x̂0 and re-deriving ε̂ = (x − a·x̂0)/b from the corrected x.
    """
    if state.step == 0:
        state.history.clear()
    x0, eps = denoise(x, logsnr)
    streak = grid_streak(state, logsnr, logsnr_next)
    x0c, epsc = compute(x0), compute(eps)
    lv = None
    if warmup and order > 1 and state.step <= 1:
        lv = Levels(scaler, logsnr, logsnr_next)
        corrected = warmup_correction(state, compute(x), x0c, lv)
        if state.step == 1:
            epsc = (corrected - bview(lv.a, x0c) * x0c) / bview(lv.b, x0c)
    eta = half_logsnr(logsnr) if lv is None else lv.eta
    state.history.insert(0, (eta, torch.exp(-eta), epsc))
    del state.history[order:]
    n = len(state.history)

    def coefficients(etas: list[Tensor], lv: Levels) -> list[Tensor]:
        # x′ = a′·x̂0 + b′·ε̂ + a′·Σ_(j≥1) w_j·(ε̂_j − ε̂), gathered per prediction:
        # [a′, b′ − a′·Σ_(j≥1) w_j, a′·w_1, …] (one pass over x per prediction).
        if len(etas) == 1:
            return [lv.a_next, lv.b_next]
        w = weights([(e, torch.exp(-e), None) for e in etas], lv)[1:]
        return [lv.a_next, lv.b_next - lv.a_next * sum(w)] + [lv.a_next * wj for wj in w]

    if streak >= n:  # on the grid: this step's row of the run's coefficients
        c = step_table(state, scaler, ("eps", weights), n, coefficients)
    else:
        lv = Levels(scaler, logsnr, logsnr_next) if lv is None else lv
        c = torch.stack(torch.broadcast_tensors(*coefficients([e for e, _, _ in state.history], lv)))
    return combine_rows(c, [x0c, epsc] + [e for _, _, e in state.history[1:]]).to(x.dtype)

def _sigma_weights(history: Sequence[tuple[Tensor, Tensor, Tensor]], lv: Levels) -> list[Tensor]:
    return sigma_ab_weights([s for _, s, _ in history], lv.sigma_next)


class LMSSampler(SamplerBase):
    """Linear multistep (variable-step Adams–Bashforth) on the σ-ODE dy/dσ = ε̂.

    ε̂ is interpolated by a polynomial in σ through the last ``order`` levels and
    integrated exactly over [σ, σ′] (the LMS sampler of Karras et al. 2022's
    k-diffusion companion; Adams–Bashforth, Hairer, Nørsett & Wanner, "Solving
    ODEs I", §III.1; it is the ρAB-DEIS of Zhang & Chen 2023, §4). Order ≤ 4,
    lower order on the first steps, the first one corrected at the second level
    when ``warmup_corrector`` (see ``_maths.warmup_correction``).
    """

    name = "lms"

    def __init__(self, order: int = 4, warmup_corrector: bool = True) -> None:
        self.order = check_order(self.name, order, 4)
        self.warmup_corrector = warmup_corrector

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
        return multistep_eps_step(
            denoise, x, logsnr, logsnr_next, scaler, state, self.order, _sigma_weights, self.warmup_corrector
        )


__all__ = ["LMSSampler", "multistep_eps_step"]
