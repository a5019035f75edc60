"""Lagrange bases on a set of nodes, some of which may be inactive (dropped), and their quadrature.

Every operation is elementwise on (…, batch) tensors; an inactive node (a level
repeated in the history, see ``levels.distinct_from_newer``) gets the weight 0
and does not enter the other nodes' bases, so the interpolant is of one degree
less instead of dividing by a zero node distance.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

Active = Optional[Sequence[Tensor]]


def _factor(nodes: Sequence[Tensor], j: int, i: int, active: Active) -> tuple[Tensor, Optional[Tensor]]:
    """The denominator s_j − s_i (1 where node i is inactive) and node i's activity."""
    denom = nodes[j] - nodes[i]
    if active is None:
        return denom, None
    return torch.where(active[i] & (denom != 0), denom, torch.ones_like(denom)), active[i]


def lagrange_coefficients(nodes: Sequence[Tensor], active: Active = None) -> list[list[Tensor]]:
    """Monomial coefficients c[j][k] of the Lagrange basis ℓ_j(s) = Σ_k c[j][k]·s^k on the active nodes.

    Then Σ_j w_j·s_j^k = μ_k is solved by w_j = Σ_k c[j][k]·μ_k (``quadrature``).
    """
    n = len(nodes)
    out = []
    for j in range(n):
        poly = [torch.ones_like(nodes[j])]
        for i in range(n):
            if i == j:
                continue
            denom, on = _factor(nodes, j, i, active)
            new = [torch.zeros_like(poly[0]) for _ in range(len(poly) + 1)]
            for k, c in enumerate(poly):
                new[k + 1] = new[k + 1] + c / denom
                new[k] = new[k] - c * nodes[i] / denom
            if on is not None:
                new = [torch.where(on, v, poly[k] if k < len(poly) else torch.zeros_like(v)) for k, v in enumerate(new)]
            poly = new
        if active is not None:
            poly = [torch.where(active[j], c, torch.zeros_like(c)) for c in poly]
        out.append(poly)
    return out


def lagrange_at(nodes: Sequence[Tensor], point: Tensor | float, active: Active = None) -> list[Tensor]:
    """ℓ_j(point) for the Lagrange basis on the active ``nodes``."""
    out = []
    for j in range(len(nodes)):
        v = torch.ones_like(nodes[j])
        for i in range(len(nodes)):
            if i != j:
                denom, on = _factor(nodes, j, i, active)
                term = (point - nodes[i]) / denom
                v = v * (term if on is None else torch.where(on, term, torch.ones_like(term)))
        out.append(v if active is None else torch.where(active[j], v, torch.zeros_like(v)))
    return out


def quadrature(nodes: Sequence[Tensor], moments: Sequence[Tensor], active: Active = None) -> list[Tensor]:
    """Weights w_j = ∫ kernel·ℓ_j for the moments μ_k = ∫ kernel·s^k."""
    return [sum(c * m for c, m in zip(cj, moments)) for cj in lagrange_coefficients(nodes, active)]  # type: ignore[misc]
