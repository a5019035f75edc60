"""Gaussian data x0 ~ N(μ, s²) (elementwise): the exact denoiser and the exact probability-flow map.

With noised x = a·x0 + b·ε, x ~ N(a·μ, v) with v = a²·s² + b², so
E[x0 | x] = μ + a·s²/v·(x − a·μ) and E[ε | x] = b/v·(x − a·μ). The
probability-flow ODE keeps each sample's z-score: from λ to λ′ it maps
x ↦ a′·μ + √(v′/v)·(x − a·μ). A sampler driven by this denoiser must converge
to that map (deterministic samplers) or to N(a′·μ, v′) (stochastic ones).
``consistency`` is the denoiser of a consistency model instead: x0 is the end
of x's probability-flow path, a draw of N(μ, s²) rather than its posterior mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from gdf_core.tensors import batch_view


def coefficients(identity: str, logsnr: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) at λ for the ``"variance"`` (vp: a² + b² = 1) or ``"sum"`` (lerp: a + b = 1) scaler."""
    if identity == "variance":
        return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()
    if identity == "sum":
        return torch.sigmoid(logsnr / 2), torch.sigmoid(-logsnr / 2)
    raise ValueError(f"unknown scaler identity {identity!r}; use 'variance' or 'sum'")


class ClosedFormScaler:
    """The vp (``"variance"``) or lerp (``"sum"``) input scaler in closed form, independent of any plugin."""

    name: ClassVar[str] = "closed_form"

    def __init__(self, identity: str = "variance") -> None:
        coefficients(identity, torch.zeros(1))
        self.identity = identity

    def __call__(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        dtype = logsnr.dtype if logsnr.is_floating_point() else torch.float32
        a, b = coefficients(self.identity, logsnr.to(torch.float64 if logsnr.dtype == torch.float64 else torch.float32))
        return a.to(dtype), b.to(dtype)

    def __repr__(self) -> str:
        return f"ClosedFormScaler({self.identity!r})"


@dataclass
class Gaussian:
    """x0 ~ N(mean, std²) in every element, noised by ``scaler``."""

    mean: float
    std: float
    scaler: ClosedFormScaler

    def _av(self, logsnr: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, b = coefficients(self.scaler.identity, logsnr.to(torch.float64))
        a, b = batch_view(a, x), batch_view(b, x)
        return a, b, a * a * self.std**2 + b * b

    def denoise(self, x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        """The exact (x0, ε) = (E[x0 | x], E[ε | x]) at λ, in x's dtype."""
        xd = x.to(torch.float64)
        a, b, v = self._av(logsnr, xd)
        centred = xd - a * self.mean
        x0 = self.mean + a * self.std**2 / v * centred
        eps = b / v * centred
        return x0.to(x.dtype), eps.to(x.dtype)

    def consistency(self, x: Tensor, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        """The consistency function: x0 = the end of x's probability-flow path (what a consistency model predicts).

        x0 = μ + s·(x − a·μ)/√v, and ε = (x − a·x0)/b, in x's dtype.
        """
        xd = x.to(torch.float64)
        a, b, v = self._av(logsnr, xd)
        x0 = self.mean + self.std * (xd - a * self.mean) / v.sqrt()
        eps = (xd - a * x0) / b
        return x0.to(x.dtype), eps.to(x.dtype)

    def sample(self, shape: tuple[int, ...], logsnr: float, generator: torch.Generator) -> Tensor:
        """Draws of the noised marginal N(a·μ, v) at λ, float64."""
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
        lam = torch.full((shape[0],), float(logsnr), dtype=torch.float64)
        a, _, v = self._av(lam, z)
        return a * self.mean + v.sqrt() * z

    def flow(self, x: Tensor, logsnr: float, logsnr_next: float) -> Tensor:
        """The exact probability-flow map of x from λ to λ′ (float64)."""
        xd = x.to(torch.float64)
        lam = torch.full((x.shape[0],), float(logsnr), dtype=torch.float64)
        lam_next = torch.full_like(lam, float(logsnr_next))
        a, _, v = self._av(lam, xd)
        a_next, _, v_next = self._av(lam_next, xd)
        return a_next * self.mean + (v_next / v).sqrt() * (xd - a * self.mean)

    def moments(self, logsnr: float) -> tuple[float, float]:
        """Mean and standard deviation of the noised marginal at λ."""
        a, b = coefficients(self.scaler.identity, torch.tensor(float(logsnr), dtype=torch.float64))
        return float(a) * self.mean, float((a * a * self.std**2 + b * b).sqrt())


__all__ = ["ClosedFormScaler", "Gaussian", "coefficients"]
