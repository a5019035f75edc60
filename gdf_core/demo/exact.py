"""The exact denoiser of a toy data set: what a perfect model would learn, to tell the model's error from the measurement's.

Three of the demo's data sets are a base measure blurred by Gaussian noise:
two moons and the swiss roll are curves (uniform in their parameter) plus
N(0, s²·I), eight Gaussians are eight points plus N(0, s²·I). Written as a
mixture of Gaussians N(c_i, s²·I) over a grid of the curve (spacing h under s:
the mixture's ripple along the curve is about exp(−2π²s²/h²) < 10⁻⁸ of the
density, far below float precision), the posterior mean of x0 given ``noised = a·x0 + b·ε``
is closed-form (Tweedie; Karras et al. 2022, eq. 3):

    w_i ∝ N(noised; a·c_i, (a²s² + b²)·I),   m = Σ w_i·c_i,
    E[x0 | noised] = m + a·s²/(a²s² + b²)·(noised − a·m)

and the recipe's target follows from its coefficients (``RecipeTable``):
target = p·x0 + q·(noised − a·x0)/b. Its ODE solution from N(0, I) noise is a
draw of the data itself (up to the solver's error), so its distance to the data
is what the measurement gives a perfect model from the same noise.
The checkerboard (uniform squares, no Gaussian part) has none here.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from gdf_core.demo.precondition import RecipeTable
from gdf_core.gdf import GDF


def mixture(data: str, points: int = 100) -> Optional[tuple[Tensor, float]]:
    """(centres, s) of the data set ``data`` as a Gaussian mixture (``data.py``'s constructions), or None."""
    if data == "two_moons":
        angle = (torch.arange(points, dtype=torch.float64) + 0.5) / points * math.pi
        upper = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)
        return (torch.cat([upper, lower]) - torch.tensor([0.5, 0.25], dtype=torch.float64)) * 1.6, 0.06
    if data == "eight_gaussians":
        angle = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([torch.cos(angle), torch.sin(angle)], 1) * 1.4, 0.1
    if data == "swiss_roll":  # turn uniform in [1.5π, 4.5π]: arc length grows with the turn, so a finer grid
        turn = 1.5 * math.pi * (1 + 2 * (torch.arange(4 * points, dtype=torch.float64) + 0.5) / (4 * points))
        return torch.stack([turn * torch.cos(turn), turn * torch.sin(turn)], 1) / 7.5, 0.04
    return None


class ExactDenoiser(nn.Module):
    """``model(noised, noise_cond) -> the recipe's target`` from the exact posterior mean of a mixture's x0."""

    def __init__(self, gdf: GDF, centres: Tensor, s: float) -> None:
        super().__init__()
        if not s > 0 or centres.dim() != 2:
            raise ValueError(f"expected (M, D) centres and s > 0; got {tuple(centres.shape)} and {s!r}")
        self.table = RecipeTable(gdf)
        self.centres: Tensor
        self.half_norm2: Tensor
        self.register_buffer("centres", centres.to(torch.float32), persistent=False)
        self.register_buffer("half_norm2", 0.5 * (self.centres**2).sum(1), persistent=False)
        self.s2 = float(s) ** 2

    def forward(self, x: Tensor, noise_cond: Tensor) -> Tensor:
        cond = noise_cond.expand(x.shape[0]) if noise_cond.dim() == 0 else noise_cond
        _, a, b, p, q = (v.unsqueeze(1) for v in self.table(cond))
        var = a**2 * self.s2 + b**2
        logits = (a * (x @ self.centres.T) - a**2 * self.half_norm2) / var  # −‖x − a·c‖²/(2·var) + a term in x alone
        m = torch.softmax(logits, dim=1) @ self.centres
        x0 = m + a * self.s2 / var * (x - a * m)
        return p * x0 + q * (x - a * x0) / b


def exact_denoiser(gdf: GDF, data: str) -> Optional[ExactDenoiser]:
    """The exact denoiser of ``data`` under ``gdf``'s recipe; None where the data set has no closed form
    here or the recipe's noise condition does not give the noise level (``RecipeTable`` refuses it)."""
    found = mixture(data)
    if found is None:
        return None
    try:
        return ExactDenoiser(gdf, *found)
    except ValueError:
        return None


__all__ = ["ExactDenoiser", "exact_denoiser", "mixture"]
