"""EDM's second-order Heun sampler with optional churn (Karras et al. 2022, Alg. 2)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import SamplerBase, StepRows
from gdf_core.noise import randn_like
from gdf_core.tensors import as_dtype
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers.domains import NoiseAmount, check_noise_amount
from gdf_plugins.samplers.maths.combine import combine, combine_rows, compute
from gdf_plugins.samplers.maths.exponential import data_weights, final_weights
from gdf_plugins.samplers.maths.levels import Levels, distinct_from_newer, half_logsnr, scaler_coeffs


class HeunSampler(SamplerBase):
    """Heun's 2nd-order method on the σ-ODE, with EDM's churn (Karras et al. 2022, "EDM", Alg. 2).

    Per step: optional churn σ̂ = σ·(1 + γ), γ = min(s_churn/N, √2 − 1) where
    s_tmin ≤ σ ≤ s_tmax (fresh noise of variance σ̂² − σ², times s_noise); an Euler
    step y_e = y + (σ′ − σ̂)·ε̂ (x_e = a′·x̂0 + b′·ε̂ in x); then the trapezoidal
    correction y′ = y + (σ′ − σ̂)·(ε̂ + ε̂′)/2 with ε̂′ the model at (x_e, λ′).
    Two model calls per step, one on the last.

    The last step takes no correction (EDM: σ′ = 0 has none); where it lands on
    clean data (λ′ = +∞) it extrapolates x̂0 to σ = 0 in σ² through this step's
    and the previous step's predictions, which keeps the method second order
    without a model call at σ = 0. A step starting at λ = −∞ (σ = ∞, zero
    terminal SNR) uses the same two calls in the data form instead (x̂0 linear in
    t = σ/(1 + σ)): the trapezoid of an infinite interval in σ is meaningless. So
    does a step with σ/σ′ > ``trapezoid_max_ratio`` (default 10; ``inf`` gives
    EDM's trapezoid on every step): over more than a decade of σ, ε̂ is nearly
    constant on most of the interval and weighing both ends equally errs by
    O(σ/σ′) relative to x′ (measured on the oracle: 5× lower error at NFE 5 on
    a Karras grid, 1000× from a rectified-flow start at λ = −15; unchanged where
    no step spans a decade). With s_churn = 0 the sampler is deterministic.
    """

    name = "heun"

    def __init__(
        self,
        s_churn: NoiseAmount = 0.0,
        s_tmin: Annotated[float, Field(ge=0)] = 0.0,
        s_tmax: Annotated[float, Field(ge=0)] = float("inf"),
        s_noise: NoiseAmount = 1.0,
        trapezoid_max_ratio: Annotated[float, Field(gt=1)] = 10.0,
    ) -> None:
        self.s_churn = check_noise_amount(self.name, "s_churn", s_churn)
        self.s_noise = check_noise_amount(self.name, "s_noise", s_noise)
        if not trapezoid_max_ratio > 1:
            raise ValueError(f"sampler {self.name!r}: trapezoid_max_ratio must be > 1, got {trapezoid_max_ratio}")
        if not 0 <= s_tmin <= s_tmax:
            raise ValueError(f"sampler {self.name!r}: need 0 ≤ s_tmin ≤ s_tmax, got s_tmin={s_tmin}, s_tmax={s_tmax}")
        self.trapezoid_max_ratio = trapezoid_max_ratio
        self.s_tmin = s_tmin
        self.s_tmax = s_tmax

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.s_churn > 0

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> StepRows | None:
        """Rows (steps, 7, batch): every step's coefficients, the last one's in the first 3 (no plan with churn)."""
        if self.s_churn > 0:
            return None
        grid = logsnrs if logsnrs.dim() == 2 else logsnrs[:, None]
        steps = grid.shape[0] - 1
        rows = torch.stack(_step_coefficients(Levels(scaler, grid[:-1], grid[1:]), self.trapezoid_max_ratio), dim=1)
        lv = Levels(scaler, grid[-2], grid[-1])
        etas = [half_logsnr(grid[-2 - k]) for k in range(min(steps, 2))]
        last = torch.stack(torch.broadcast_tensors(*_last_coefficients(etas, lv)))
        last = torch.nn.functional.pad(last, (0, 0, 0, rows.shape[1] - last.shape[0]))
        return StepRows(torch.cat([rows[:-1], last[None]]))

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
        xc, x_in = compute(x), x
        plan = state.plan if self.s_churn == 0 else None
        if self.s_churn > 0:
            xc, logsnr = self._churn(xc, logsnr, scaler, state, generator)
            x_in = as_dtype(xc, x.dtype)  # the model sees the churned x in x's dtype
        x0, eps = denoise(x_in, logsnr)
        x0c, epsc = compute(x0), compute(eps)
        state.history.insert(0, (logsnr, x0c))
        del state.history[2:]
        if state.is_last_step:
            # EDM: no correction; into λ′ = +∞, x̂0 extrapolated to σ = 0 in σ² through
            # this level and the previous one.
            n = len(state.history)
            if plan is not None:
                c = plan[state.step][: 1 + n]
            else:
                etas = [half_logsnr(lam) for lam, _ in state.history]
                c = torch.stack(torch.broadcast_tensors(*_last_coefficients(etas, Levels(scaler, logsnr, logsnr_next))))
            return as_dtype(combine_rows(c, [x0c, epsc] + [d for _, d in state.history[1:]]), x.dtype)
        if plan is not None:
            c = plan[state.step]
        else:
            c = torch.stack(_step_coefficients(Levels(scaler, logsnr, logsnr_next), self.trapezoid_max_ratio))
        x_euler = combine_rows(c[:2], [x0c, epsc])
        x0_next, eps_next = denoise(as_dtype(x_euler, x.dtype), logsnr_next)
        return as_dtype(combine_rows(c[2:], [xc, x0c, epsc, compute(x0_next), compute(eps_next)]), x.dtype)

    def _churn(self, xc: Tensor, logsnr: Tensor, scaler: InputScaler, state: SamplingState, generator: Any) -> tuple[Tensor, Tensor]:
        """EDM's churn: x raised to σ̂ = σ·(1 + γ) with fresh noise; (x̂, λ̂)."""
        a, _ = scaler_coeffs(scaler, logsnr)
        sigma = torch.exp(-half_logsnr(logsnr))
        inside = (sigma >= self.s_tmin) & (sigma <= self.s_tmax) & torch.isfinite(logsnr)
        gamma_value = min(self.s_churn / max(state.num_steps, 1), math.sqrt(2) - 1)
        gamma = torch.where(inside, torch.full_like(sigma, gamma_value), torch.zeros_like(sigma))
        logsnr_hat = logsnr.to(sigma.dtype) - 2 * torch.log1p(gamma)
        a_hat, b_hat = scaler_coeffs(scaler, logsnr_hat)
        grow = torch.where(gamma > 0, a_hat / torch.where(a > 0, a, torch.ones_like(a)), torch.ones_like(a))
        spread = b_hat * torch.sqrt((1 - 1 / (1 + gamma) ** 2).clamp(min=0)) * self.s_noise
        z = randn_like(xc, generator, logsnrs=(logsnr_hat, logsnr))
        return combine([(grow, xc), (spread, z)]), (logsnr_hat.to(logsnr.dtype) if logsnr.is_floating_point() else logsnr_hat)


def _step_coefficients(lv: Levels, max_ratio: float) -> list[Tensor]:
    """[a′, b′] of the Euler step, then the step's x′ = α·x + β·x̂0 + γ·ε̂ + δ·x̂0′ + ζ·ε̂′.

    Heun: y′ = y_e + (σ′ − σ)(ε̂′ − ε̂)/2, times a′: x_e + c·(ε̂′ − ε̂), c = (b′ − a′·σ)/2.
    From σ = ∞ (λ = −∞), or across more than ``max_ratio`` in σ, the trapezoid in σ
    is meaningless or poor: the same two calls in the data form instead, x̂0 linear
    in t = σ/(1 + σ) (exact at λ = −∞), chosen per sample on the coefficients.
    A degenerate step (λ′ = λ) is x′ = x.
    """
    start = torch.isneginf(lv.logsnr) | (lv.sigma > max_ratio * lv.sigma_next)
    zero, one = torch.zeros_like(lv.a_next), torch.ones_like(lv.a_next)
    c = torch.where(start, zero, (lv.b_next - lv.a_next * lv.sigma) / 2)
    w = data_weights([lv.eta, lv.eta_next], lv.eta_next, interpolation="t")
    out = [
        lv.a_next,
        lv.b_next,
        torch.where(start, lv.b_ratio, zero),
        torch.where(start, lv.a_next * w[0], lv.a_next),
        torch.where(start, zero, lv.b_next - c),
        torch.where(start, lv.a_next * w[1], zero),
        c,
    ]
    keep = out[:2] + [one] + [zero] * 4
    return list(torch.broadcast_tensors(*[torch.where(lv.degenerate, k, v) for k, v in zip(keep, out)]))


def _last_coefficients(etas: list[Tensor], lv: Levels) -> list[Tensor]:
    """Coefficients of x̂0, ε̂ (and the previous level's x̂0) in the last step.

    An Euler step, except into λ′ = +∞ with a previous, distinct level: x̂0
    extrapolated to σ = 0 by a line in σ² (b′ = 0 there, so ε̂'s coefficient b′
    is right for both) unless the two levels are too near for it (``final_weights``).
    """
    if len(etas) == 1:
        return [lv.a_next, lv.b_next]
    w = final_weights(etas, distinct_from_newer(etas))
    return [
        torch.where(lv.final, lv.a_next * w[0], lv.a_next),
        lv.b_next,
        torch.where(lv.final, lv.a_next * w[1], torch.zeros_like(lv.a_next)),
    ]


__all__ = ["HeunSampler"]
