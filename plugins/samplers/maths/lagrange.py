"""Lagrange bases on a set of nodes, some of which may be inactive (dropped), and their quadrature.

Every operation is elementwise on (…, batch) tensors; an inactive node (a level
repeated in the history, see ``levels.distinct_from_newer``) gets the weight 0
and does not enter the other nodes' bases, so the interpolant is of one degree
less instead of dividing by a zero distance. All nodes are handled at once on a
last axis (j, the basis; i, the factor), so the cost in tensor operations grows
with the number of nodes, not with its square.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

Active = Optional[Sequence[Tensor]]


def _stack(nodes: Sequence[Tensor], active: Active) -> tuple[Tensor, Optional[Tensor]]:
    """Nodes as (…, n) and their activity as (…, n), broadcast together."""
    s = torch.stack(torch.broadcast_tensors(*nodes), dim=-1)
    if active is None:
        return s, None
    on = torch.stack(torch.broadcast_tensors(*active), dim=-1)
    s, on = torch.broadcast_tensors(s, on)
    return s, on


def _factors(s: Tensor, on: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """(uses, denominator): whether basis j takes the factor of node i, (…, j, i), and Π_i (s_j − s_i) over those.

    A zero distance to an active node counts as 1 in the denominator (as an inactive node does).
    """
    n = s.shape[-1]
    other = ~torch.eye(n, dtype=torch.bool, device=s.device)
    diff = s[..., :, None] - s[..., None, :]
    if on is None:
        return other.expand(diff.shape), torch.where(other, diff, torch.ones_like(diff)).prod(-1)
    uses = other & on[..., None, :]
    return uses, torch.where(uses & (diff != 0), diff, torch.ones_like(diff)).prod(-1)


def lagrange_coefficients(nodes: Sequence[Tensor], active: Active = None) -> Tensor:
    """Monomial coefficients c[…, j, k] of the Lagrange basis ℓ_j(s) = Σ_k c[j][k]·s^k on the active nodes.

    Then Σ_j w_j·s_j^k = μ_k is solved by w_j = Σ_k c[j][k]·μ_k (``quadrature``).
    """
    s, on = _stack(nodes, active)
    n = s.shape[-1]
    uses, denominator = _factors(s, on)
    poly = torch.zeros(*s.shape, n, dtype=s.dtype, device=s.device)
    poly[..., 0] = 1.0
    for i in range(n):  # multiply basis j's polynomial by (s − s_i) where it uses node i
        shifted = torch.nn.functional.pad(poly[..., :-1], (1, 0))
        poly = torch.where(uses[..., :, i, None], shifted - s[..., i, None, None] * poly, poly)
    coeffs = poly / denominator[..., None]
    return coeffs if on is None else torch.where(on[..., None], coeffs, torch.zeros_like(coeffs))


def lagrange_at(nodes: Sequence[Tensor], point: Tensor | float, active: Active = None) -> list[Tensor]:
    """ℓ_j(point) for the Lagrange basis on the active ``nodes``."""
    s, on = _stack(nodes, active)
    uses, denominator = _factors(s, on)
    term = point - s[..., None, :]
    value = torch.where(uses, term, torch.ones_like(term)).prod(-1) / denominator
    if on is not None:
        value = torch.where(on, value, torch.zeros_like(value))
    return list(value.unbind(-1))


def quadrature(nodes: Sequence[Tensor], moments: Sequence[Tensor], active: Active = None) -> list[Tensor]:
    """Weights w_j = ∫ kernel·ℓ_j for the moments μ_k = ∫ kernel·s^k."""
    coeffs = lagrange_coefficients(nodes, active)
    mu = torch.stack(torch.broadcast_tensors(*moments), dim=-1)
    return list((coeffs * mu[..., None, :]).sum(-1).unbind(-1))
