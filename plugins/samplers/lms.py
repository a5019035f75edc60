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

from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import Levels, bview, combine, compute, sigma_ab_weights, warmup_correction
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
    lv = Levels(scaler, logsnr, logsnr_next)
    x0c, epsc = compute(x0), compute(eps)
    if warmup and order > 1:
        corrected = warmup_correction(state, compute(x), x0c, lv)
        if state.step == 1:
            epsc = (corrected - bview(lv.a, x0c) * x0c) / bview(lv.b, x0c)
    state.history.insert(0, (lv.eta, lv.sigma, epsc))
    del state.history[order:]
    terms = [(lv.a_next, x0c), (lv.b_next, epsc)]
    if len(state.history) > 1:
        w = weights(state.history, lv)
        terms += [(lv.a_next * wj, e - epsc) for wj, (_, _, e) in zip(w[1:], state.history[1:])]
    return combine(terms).to(x.dtype)


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
