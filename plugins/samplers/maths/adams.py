"""Adams–Bashforth weights for ε̂ on the σ-ODE dy/dσ = ε̂ (Hairer, Nørsett & Wanner, "Solving ODEs I", §III.1).

w_j = ∫_σ0^σ′ ℓ_j(s) ds for ε̂ interpolated through the history levels, in σ
(``sigma_weights``: variable-step AB, k-diffusion's LMS, ρAB-DEIS) or in
log σ = −η (``log_sigma_weights``: DEIS's "log-ρ", Zhang & Chen 2023, eq. 14).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from gdf_plugins.samplers.maths.lagrange import Active, quadrature
from gdf_plugins.samplers.maths.phi_moments import noise_moments


def sigma_weights(sigmas: Sequence[Tensor], sigma_next: Tensor, active: Active = None) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j(s) ds for ε̂ polynomial in σ through ``sigmas``."""
    s0 = sigmas[0]
    span = sigma_next - s0
    if len(sigmas) == 1:
        return [span]
    safe = torch.where(span == 0, torch.ones_like(span), span)
    nodes = [(s - s0) / safe for s in sigmas]
    moments = [torch.full_like(s0, 1.0 / (k + 1)) for k in range(len(sigmas))]
    return [span * w for w in quadrature(nodes, moments, active)]


def log_sigma_weights(etas: Sequence[Tensor], eta_next: Tensor, active: Active = None) -> list[Tensor]:
    """w_j = ∫_σ0^σ′ ℓ_j ds for ε̂ polynomial in log σ = −η.

    At σ′ = 0 the polynomial in σ is used instead: one in log σ would be
    extrapolated to log σ = −∞.
    """
    eta0 = etas[0]
    sigma0 = torch.exp(-eta0)
    h = eta_next - eta0
    final = torch.isposinf(eta_next)
    hs = torch.where(final | (h == 0), torch.ones_like(h), h)
    nodes = [(e - eta0) / hs for e in etas]
    w = [-sigma0 * wj for wj in quadrature(nodes, noise_moments(hs, len(etas)), active)]
    w_end = sigma_weights([torch.exp(-e) for e in etas], torch.zeros_like(sigma0), active)
    return [torch.where(final, we, wj) for we, wj in zip(w_end, w)]
