"""Sample quality: the sliced Wasserstein distance between two point clouds."""

from __future__ import annotations

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


__all__ = ["sliced_wasserstein"]
