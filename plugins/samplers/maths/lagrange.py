"""Lagrange bases on a set of nodes, some of which may be inactive (dropped), and their quadrature.

Every operation is elementwise on (…, batch) tensors; an inactive node (a level
repeated in the history, see ``levels.distinct_from_newer``) gets the weight 0
and does not enter the other nodes' bases, so the interpolant is of one degree
less instead of dividing by a zero distance. All nodes are handled at once on a
last axis (j, the basis; i, the factor), so the cost in tensor operations grows
with the number of nodes, not with its square.

Nodes are in units of the step (the step's own level at 0, the level it steps
to at 1). A node nearer than ``separation`` to a newer active node is dropped
as well: the weights of two nodes a distance g apart grow as 1/g, and so does
whatever error their values carry that is not smooth along the path (rounding
of float32 predictions; the noise of an SDE; a corrector's jump), so a grid
with near-repeated levels would otherwise blow a run up (on 60 random grids
with such levels and Gaussian data, lms, dpmpp_3m, deis and unipc landed up
to 10² to 5·10⁵ times further from the exact flow map than DDIM in float32).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from gdf_core.host_cache import host_cache

Active = Optional[Sequence[Tensor]]

#: The default least distance between two nodes, in units of the step. Float32 predictions
#: carry rounding of about 6e-8 of their size, which nodes 1e-3 apart turn into about 1e-4;
#: and a corrector (the multistep warm-up's redo of the first step, UniC) moves x at a level
#: after x̂0 was taken there, a jump δ that nodes g apart turn into about δ/g. Measured on 60
#: random grids with near-repeated levels (float32 and float64): at 1e-3 a 3-node run still
#: reached |x| ≈ 3·10⁴ on Gaussian data (a tiny step after the warm-up, then a long one), at
#: 0.05 every multistep sampler was within 1.11× DDIM's error on the same grid (ipndm's fixed
#: equal-step coefficients, which are not interpolation weights, within 1.75×).
NODE_SEPARATION = 0.05

#: The largest Σ_j |w_j| a step into σ = 0 may give its values (``bounded_degree``): that of a line in
#: σ² through levels 1 % apart in σ² (about 0.5 % in σ). The step into σ = 0 spans the whole last σ,
#: while the last levels of a long grid are close (EDM's Karras grid: about 50/N apart in σ²), so
#: dropping nodes there by ``NODE_SEPARATION`` took the value at the last level alone, off by
#: O(σ_min²) at any N: every data-form sampler stalled from about 1 400 steps on the edm preset
#: (unipc, float64: 1.5·10⁻⁹ at 1 000 steps, 8.2·10⁻⁶ at 2 000), lms and deis from about 700. And the
#: quadratic through levels 5 % and 10 % apart that it kept at 1 000 steps has Σ|w| ≈ 820, which
#: made float32's rounding of x̂0 a last-step error 10× the run's own (5.2·10⁻⁵ against 5.5·10⁻⁶).
#: Near σ = 0 a model's error in x̂0 is scaled by σ (c_out, or σ·ε̂), so the bound costs nothing there.
FINAL_LEBESGUE = 201.0


@host_cache(maxsize=64)
def _masks(n: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """(other, newer) as (n, n) [j, i]: i ≠ j, and node i newer than node j (i < j)."""
    return ~torch.eye(n, dtype=torch.bool, device=device), torch.ones(n, n, dtype=torch.bool, device=device).tril(-1)


def _stack(nodes: Sequence[Tensor], active: Active, separation: float) -> tuple[Tensor, Tensor, Tensor]:
    """(s, on, diff): the nodes as (…, n); their activity (…, n), ``active`` less each node within
    ``separation`` of a newer active one; and s_j − s_i as (…, j, i)."""
    s = torch.stack(torch.broadcast_tensors(*nodes), dim=-1)
    if active is None:
        on = torch.ones_like(s, dtype=torch.bool)
    else:
        s, on = torch.broadcast_tensors(s, torch.stack(torch.broadcast_tensors(*active), dim=-1))
    diff = s[..., :, None] - s[..., None, :]
    if separation > 0 and s.shape[-1] > 1:
        close = (diff.abs() < separation) & _masks(s.shape[-1], s.device)[1] & on[..., None, :]
        on = on & ~close.any(-1)
    return s, on, diff


def node_activity(nodes: Sequence[Tensor], active: Active = None, separation: float = NODE_SEPARATION) -> list[Tensor]:
    """Whether each node enters a basis on them: ``active`` (all, if None), less those too near a newer one."""
    return list(_stack(nodes, active, separation)[1].unbind(-1))


def _factors(diff: Tensor, on: Tensor) -> tuple[Tensor, Tensor]:
    """(uses, denominator): whether basis j takes the factor of node i, (…, j, i), and Π_i (s_j − s_i) over those.

    A zero distance to an active node counts as 1 in the denominator (as an inactive node does).
    """
    uses = _masks(diff.shape[-1], diff.device)[0] & on[..., None, :]
    return uses, torch.where(uses & (diff != 0), diff, torch.ones_like(diff)).prod(-1)


def lagrange_coefficients(nodes: Sequence[Tensor], active: Active = None, separation: float = NODE_SEPARATION) -> Tensor:
    """Monomial coefficients c[…, j, k] of the Lagrange basis ℓ_j(s) = Σ_k c[j][k]·s^k on the active nodes.

    Then Σ_j w_j·s_j^k = μ_k is solved by w_j = Σ_k c[j][k]·μ_k (``quadrature``).
    """
    s, on, diff = _stack(nodes, active, separation)
    n = s.shape[-1]
    uses, denominator = _factors(diff, on)
    poly = torch.zeros(*s.shape, n, dtype=s.dtype, device=s.device)
    poly[..., 0] = 1.0
    for i in range(n):  # multiply basis j's polynomial by (s − s_i) where it uses node i
        shifted = torch.nn.functional.pad(poly[..., :-1], (1, 0))
        poly = torch.where(uses[..., :, i, None], shifted - s[..., i, None, None] * poly, poly)
    coeffs = poly / denominator[..., None]
    return torch.where(on[..., None], coeffs, torch.zeros_like(coeffs))


def lagrange_at(
    nodes: Sequence[Tensor], point: Tensor | float, active: Active = None, separation: float = NODE_SEPARATION
) -> list[Tensor]:
    """ℓ_j(point) for the Lagrange basis on the active ``nodes``."""
    s, on, diff = _stack(nodes, active, separation)
    uses, denominator = _factors(diff, on)
    term = point - s[..., None, :]
    value = torch.where(uses, term, torch.ones_like(term)).prod(-1) / denominator
    value = torch.where(on, value, torch.zeros_like(value))
    return list(value.unbind(-1))


def quadrature(
    nodes: Sequence[Tensor], moments: Sequence[Tensor], active: Active = None, separation: float = NODE_SEPARATION
) -> list[Tensor]:
    """Weights w_j = ∫ kernel·ℓ_j for the moments μ_k = ∫ kernel·s^k."""
    coeffs = lagrange_coefficients(nodes, active, separation)
    mu = torch.stack(torch.broadcast_tensors(*moments), dim=-1)
    return list((coeffs * mu[..., None, :]).sum(-1).unbind(-1))


def bounded_degree(weights: Callable[[int], list[Tensor]], n: int, bound: float = FINAL_LEBESGUE) -> list[Tensor]:
    """Per sample, ``weights(k)`` (the weights on the k newest nodes) for the highest k ≤ n whose
    Σ_j |w_j| is finite and at most ``bound``; [1, 0, …] (the newest node's value alone) where none is."""
    if n < 2:
        raise ValueError(f"bounded_degree needs at least 2 nodes, got {n}")
    out: list[Tensor] = []
    for k in range(2, n + 1):
        w = weights(k)
        if not out:
            out = [torch.ones_like(w[0])] + [torch.zeros_like(w[0])] * (n - 1)
        w = w + out[k:]
        total = torch.stack(w).abs().sum(0)
        fits = torch.isfinite(total) & (total <= bound)
        out = [torch.where(fits, wj, oj) for wj, oj in zip(w, out)]
    return out
