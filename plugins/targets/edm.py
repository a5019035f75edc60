"""EDM's preconditioned target F (Karras et al. 2022, "Elucidating the Design Space...", Table 1).

EDM writes the denoiser as D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)) for
x = x0 + σ·n and trains F towards F* = (x0 − c_skip·x)/c_out, with

    c_skip = σ_d²/(σ² + σ_d²),   c_out = σ·σ_d/√(σ² + σ_d²),   c_in = 1/√(σ² + σ_d²),   c_noise = ln(σ)/4.

In λ (σ² = e^(−λ), λ_d = λ + 2·ln σ_d): c_skip = sigmoid(λ_d), c_out = σ_d·√sigmoid(−λ_d),
c_in = 1/√(e^(−λ) + σ_d²). gdf splits these between
components: c_in is the ``edm`` input scaler (the network sees c_in·(x0 + σ·ε) = a·x0 + b·ε),
c_noise the ``edm`` noise condition (−λ/8), c_skip and c_out this target.
With σ_d = 1 and the ``vp`` scaler, F = −v.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import TargetBase
from gdf_core.tensors import result_dtype

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def edm_coefficients(logsnr: Tensor, sigma_data: float) -> tuple[Tensor, Tensor, Tensor]:
    """(c_skip, c_out, σ) at λ, from λ_d = λ + 2·ln σ_d: c_skip = sigmoid(λ_d), c_out = σ_d·√sigmoid(−λ_d)."""
    lam_d = logsnr + 2 * math.log(sigma_data)
    return torch.sigmoid(lam_d), sigma_data * torch.sigmoid(-lam_d).sqrt(), torch.exp(-logsnr / 2)


def _upcast(*tensors: Tensor) -> tuple[Tensor, ...]:
    dtype = torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
    return tuple(t.to(dtype) for t in tensors)


class EDMTarget(TargetBase):
    """Predict EDM's F = ((1 − c_skip)·x0 − c_skip·σ·ε)/c_out (Karras et al. 2022, Table 1), σ = e^(−λ/2).

    Inversion: x0 = c_skip·x/a + c_out·F and ε = (x/a − x0)/σ, i.e. D(x; σ) with
    x/a = x0 + σ·ε the unscaled noisy input; exact for scalers with b/a = e^(−λ/2)
    (``edm``, ``vp``, ``lerp``). Use it with the ``edm`` scaler of the same
    ``sigma_data`` for EDM's c_in, and the ``edm`` loss weight (which is 1 in F's units).
    """

    name = "edm"

    def __init__(self, sigma_data: Positive = 0.5) -> None:
        if not (math.isfinite(sigma_data) and sigma_data > 0):
            raise ValueError(f"target 'edm': sigma_data must be finite and > 0, got {sigma_data}")
        self.sigma_data = float(sigma_data)

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        x0c, ec, lam = _upcast(x0, epsilon, _like(logsnr, x0))
        c_skip, c_out, sigma = edm_coefficients(lam, self.sigma_data)
        return (((1 - c_skip) * x0c - c_skip * sigma * ec) / c_out).to(result_dtype(x0))

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        xc, pc, ac, lam = _upcast(x, pred, a, _like(logsnr, x))
        c_skip, c_out, _ = edm_coefficients(lam, self.sigma_data)
        return (c_skip * xc / ac + c_out * pc).to(result_dtype(x))

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        # (x/a − x0)/σ = (1 − c_skip)/σ·x/a − c_out/σ·F, with (1 − c_skip)/σ = σ/(σ² + σ_d²)
        # and c_out/σ = σ_d/√(σ² + σ_d²): finite as σ → 0.
        xc, pc, ac, lam = _upcast(x, pred, a, _like(logsnr, x))
        log_den = torch.logaddexp(-lam, torch.full_like(lam, 2 * math.log(self.sigma_data)))
        inv_sqrt_den = torch.exp(-log_den / 2)
        skip_over_sigma = torch.exp(-lam / 2 - log_den)
        return (skip_over_sigma * xc / ac - self.sigma_data * inv_sqrt_den * pc).to(result_dtype(x))


class EDMVTarget(EDMTarget):
    """Predict −F, EDM's F with c_out negated: D = c_skip·x/a − c_out·pred (Karras et al. 2022, Table 1).

    diffusers' EDM schedulers call this ``prediction_type="v_prediction"`` (CosXL): with σ_d = 1
    and the ``vp`` scaler −F is v = a·ε − b·x0 (Salimans & Ho 2022), so it is v generalised to σ_d.
    """

    name = "edm_v"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return -super().__call__(x0, epsilon, logsnr, a, b)

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return super().x0(x, -pred, logsnr, a, b)

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return super().epsilon(x, -pred, logsnr, a, b)


def _like(logsnr: Tensor, x: Tensor) -> Tensor:
    """λ of shape (B,) viewed to broadcast against x (B, ...)."""
    if logsnr.dim() == 1 and x.dim() > 1:
        return logsnr.view(-1, *([1] * (x.dim() - 1)))
    return logsnr


__all__ = ["EDMTarget", "EDMVTarget", "edm_coefficients"]
