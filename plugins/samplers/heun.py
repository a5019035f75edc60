"""EDM's second-order Heun sampler with optional churn (Karras et al. 2022, Alg. 2)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.noise import randn_like
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import batch_view
from gdf_plugins.samplers._maths import (
    Levels,
    bview,
    data_weights,
    combine,
    compute,
    half_logsnr,
    lagrange_at,
    scaler_coeffs,
)


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
    t = σ/(1 + σ)): the trapezoid of an infinite interval in σ is meaningless. With s_churn = 0 the sampler is deterministic.
    """

    name = "heun"

    def __init__(
        self,
        s_churn: float = 0.0,
        s_tmin: float = 0.0,
        s_tmax: float = float("inf"),
        s_noise: float = 1.0,
    ) -> None:
        if s_churn < 0:
            raise ValueError(f"sampler {self.name!r}: s_churn must be ≥ 0, got {s_churn}")
        self.s_churn = s_churn
        self.s_tmin = s_tmin
        self.s_tmax = s_tmax
        self.s_noise = s_noise

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.s_churn > 0

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
        xc = compute(x)
        if self.s_churn > 0:
            a, _ = scaler_coeffs(scaler, logsnr)
            sigma = torch.exp(-half_logsnr(logsnr))
            finite = torch.isfinite(logsnr)
            inside = (sigma >= self.s_tmin) & (sigma <= self.s_tmax) & finite
            gamma_value = min(self.s_churn / max(state.num_steps, 1), math.sqrt(2) - 1)
            gamma = torch.where(inside, torch.full_like(sigma, gamma_value), torch.zeros_like(sigma))
            logsnr_hat = logsnr.to(sigma.dtype) - 2 * torch.log1p(gamma)
            a_hat, b_hat = scaler_coeffs(scaler, logsnr_hat)
            grow = torch.where(gamma > 0, a_hat / torch.where(a > 0, a, torch.ones_like(a)), torch.ones_like(a))
            spread = b_hat * torch.sqrt((1 - 1 / (1 + gamma) ** 2).clamp(min=0)) * self.s_noise
            z = randn_like(xc, generator)
            xc = combine([(grow, xc), (spread, z)])
            logsnr = logsnr_hat.to(logsnr.dtype) if logsnr.is_floating_point() else logsnr_hat
        lv = Levels(scaler, logsnr, logsnr_next)
        x0, eps = denoise(xc.to(x.dtype), logsnr)
        x0c, epsc = compute(x0), compute(eps)
        state.history.insert(0, (lv.eta, x0c))
        del state.history[2:]
        x_euler = combine([(lv.a_next, x0c), (lv.b_next, epsc)])
        if state.is_last_step:
            if len(state.history) < 2:
                return x_euler.to(x.dtype)
            q = [torch.exp(-2 * (e - lv.eta)) for e, _ in state.history]
            w = lagrange_at(q, 0.0)
            x_end = combine([(lv.a_next * wj, d) for wj, (_, d) in zip(w, state.history)])
            return torch.where(batch_view(lv.final, x_euler), x_end, x_euler).to(x.dtype)
        x0_next, eps_next = denoise(x_euler.to(x.dtype), logsnr_next)
        # y′ = y_e + (σ′ − σ̂)(ε̂′ − ε̂)/2, times a′: (b′ − a′·σ̂)(ε̂′ − ε̂)/2.
        c = (lv.b_next - lv.a_next * lv.sigma) / 2
        start = torch.isneginf(lv.logsnr)
        c = torch.where(start, torch.zeros_like(c), c)
        x_heun = x_euler + bview(c, x_euler) * (compute(eps_next) - epsc)
        # From σ = ∞ the trapezoid in σ is meaningless: the same two calls in the
        # data form, x̂0 linear in t = σ/(1 + σ) (exact at λ = −∞).
        w = data_weights([lv.eta, lv.eta_next], lv.eta_next, interpolation="t")
        x_start = combine([(lv.b_ratio, xc), (lv.a_next * w[0], x0c), (lv.a_next * w[1], compute(x0_next))])
        return torch.where(batch_view(start, x_heun), x_start, x_heun).to(x.dtype)


__all__ = ["HeunSampler"]
