"""Sample quality: the sliced Wasserstein distance between two point clouds."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def sliced_wasserstein(x: Tensor, y: Tensor, *, projections: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between the empirical distributions of ``x`` and ``y``.

    SW₂ = (E_θ W₂²(θᵀx, θᵀy))^½ over random unit directions θ; each 1-D W₂ is
    computed from sorted projections (quantiles when the sizes differ).
    x: (N, D), y: (M, D). Lower is better; 0 for identical clouds.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two (N, D) point clouds with the same D; got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.double(), y.double()
    theta = torch.randn(x.shape[1], projections, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, py = (x @ theta).sort(dim=0).values, (y @ theta).sort(dim=0).values
    if px.shape[0] != py.shape[0]:
        q = torch.linspace(0, 1, max(px.shape[0], py.shape[0]), dtype=torch.float64)
        px, py = torch.quantile(px, q, dim=0), torch.quantile(py, q, dim=0)
    if not torch.isfinite(px).all():
        return float("nan")
    return float(((px - py) ** 2).mean().sqrt())


def mean_swd(x: Tensor, draws: Sequence[Tensor], *, projections: int = 256) -> float:
    """The mean of ``sliced_wasserstein(x, d)`` over the point clouds ``draws`` (the same directions for all)."""
    if not draws:
        raise ValueError("mean_swd needs at least one draw to compare with")
    return sum(sliced_wasserstein(x, d, projections=projections) for d in draws) / len(draws)


def floor_swd(draws: Sequence[Tensor], others: Sequence[Tensor], *, projections: int = 256) -> tuple[float, float]:
    """Mean and standard deviation of the SWD between ``draws[k]`` and ``others[k]``: two independent draws.

    One such distance is a noisy number: with 2000 points of two moons it is 0.054 on
    average with a standard deviation of 0.019 over seeds (docs/demo.md).
    """
    if len(draws) != len(others) or not draws:
        raise ValueError(f"floor_swd needs as many draws as others, at least one; got {len(draws)} and {len(others)}")
    values = torch.tensor([sliced_wasserstein(a, b, projections=projections) for a, b in zip(draws, others)], dtype=torch.float64)
    return float(values.mean()), float(values.std()) if len(values) > 1 else 0.0


__all__ = ["floor_swd", "mean_swd", "sliced_wasserstein"]
