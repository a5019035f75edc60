"""Weights of the data-prediction exponential integrator (Lu et al. 2022b, "DPM-Solver++", eq. 9).

x′ = c·x + a′·Σ_j w_j·x̂0_j, with x̂0 interpolated through the levels ``etas``
(see ``interpolation``) and integrated exactly against e^(−κ(h−τ)). A step
into λ′ = +∞ cannot integrate a polynomial in η up to ∞: there x̂0 is
extrapolated to σ = 0 by a Lagrange polynomial in σ² through the same levels.
Along the ODE, y and x̂0 are smooth functions of σ² (the VE flow is an ODE in
σ², whose marginals p ∗ N(0, σ²) depend on σ²), so the last step keeps the
order of the method. Chosen per sample with ``torch.where``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from gdf_plugins.samplers.maths import interpolation as interp
from gdf_plugins.samplers.maths.lagrange import FINAL_LEBESGUE, NODE_SEPARATION, Active, bounded_degree, lagrange_at, node_activity, quadrature


def final_weights(
    etas: Sequence[Tensor], active: Active = None, separation: float = NODE_SEPARATION,
    lebesgue: Optional[float] = FINAL_LEBESGUE,
) -> list[Tensor]:
    """Weights of x̂0 extrapolated to σ = 0 (a step into λ′ = +∞): Lagrange at 0 in σ².

    x̂0 − x̂0(0) is O(σ²) along the ODE, which a polynomial in t = σ/(1 + σ) is not
    (a line in t through two levels is off by O(t₁·t₂), a line in σ² by O(σ₁²·σ₂²)).
    The degree is the highest whose weights sum in absolute value to at most ``lebesgue``
    (``FINAL_LEBESGUE``), per sample; ``lebesgue=None`` drops nodes within ``separation``
    of a newer one instead (the SDE solvers, whose x̂0 values carry the step's noise).
    """
    eta0 = etas[0]
    q = [torch.exp(-2 * (e - eta0)) for e in etas]  # the step spans q from 1 to 0
    if lebesgue is None or len(q) == 1:
        return lagrange_at(q, 0.0, active, separation)
    return bounded_degree(lambda k: lagrange_at(q[:k], 0.0, None if active is None else active[:k], 0.0), len(q), lebesgue)


def data_weights(
    etas: Sequence[Tensor],
    eta_next: Tensor,
    *,
    kappa: float = 1.0,
    midpoint: bool = False,
    interpolation: str = "logsnr",
    active: Active = None,
    separation: float = NODE_SEPARATION,
    final_lebesgue: Optional[float] = FINAL_LEBESGUE,
) -> list[Tensor]:
    """w_j of x′ = c·x + a′·Σ_j w_j·x̂0_j (``etas[0]`` the step's level, then earlier ones).

    ``kappa`` = 1 for the ODE, 1 + η_sde for the SDE solvers (logsnr only).
    ``midpoint``: DPM-Solver++(2M)'s original two-node form in η,
    (1 − e^(−κh))·((1 + 1/2r)·x̂0_0 − (1/2r)·x̂0_1). ``separation``: see ``maths.lagrange``;
    ``final_lebesgue``: the step into λ′ = +∞ (``final_weights``).
    """
    final = torch.isposinf(eta_next)
    n = len(etas)
    H = kappa * (eta_next - etas[0])
    if n == 1:
        return [-torch.expm1(-H)]
    s = interp.nodes(etas, eta_next, interpolation)
    if midpoint and n == 2 and interpolation == "logsnr":
        m0 = -torch.expm1(-H)
        on = node_activity(s, active, separation)[1]
        r = torch.where(on & (s[1] != 0), s[1], -torch.ones_like(s[1]))
        w = [m0 * torch.where(on, 1 - 1 / (2 * r), torch.ones_like(r)), torch.where(on, m0 / (2 * r), torch.zeros_like(r))]
    else:
        w = quadrature(s, interp.moments(etas, eta_next, n, interpolation, kappa), active, separation)
    w_end = final_weights(etas, active, separation, final_lebesgue)
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]
