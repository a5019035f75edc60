"""Linear multistep sampler on ε̂ in σ: ``lms`` (variable-step Adams–Bashforth).

In y = x/a the probability-flow ODE is dy/dσ = ε̂(σ); an Adams–Bashforth
method interpolates ε̂ through the last levels and integrates the interpolant
over [σ, σ′]. Written on x for any scaler (x̂0 and ε̂ from the same call)::

    x′ = a′·x̂0 + b′·ε̂ + a′·Σ_(j≥1) w_j·(ε̂_j − ε̂),

the first two terms being the Euler/DDIM step, so a step from λ = −∞ (σ = ∞) is
the exact-at-the-ends Euler step and a step into λ′ = +∞ (σ′ = 0) is finite.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor

from gdf_plugins.samplers.maths.adams import sigma_weights
from gdf_plugins.samplers.maths.levels import Levels
from gdf_plugins.samplers.multistep import MultistepSampler, check_order, noise_form


class LMSSampler(MultistepSampler):
    """Linear multistep (variable-step Adams–Bashforth) on the σ-ODE dy/dσ = ε̂.

    ε̂ is interpolated by a polynomial in σ through the last ``order`` levels and
    integrated exactly over [σ, σ′] (the LMS sampler of Karras et al. 2022's
    k-diffusion companion; Adams–Bashforth, Hairer, Nørsett & Wanner, "Solving
    ODEs I", §III.1; it is the ρAB-DEIS of Zhang & Chen 2023, §4). Order ≤ 4.
    """

    name = "lms"
    form = "noise"

    def __init__(self, order: Annotated[int, Field(ge=1, le=4)] = 4, warmup_corrector: bool = True) -> None:
        self.order = check_order(self.name, order, 4)
        self.warmup_corrector = warmup_corrector

    def coefficients(self, etas: list[Tensor], lv: Levels, active: list[Tensor]) -> list[Tensor]:
        return noise_form(sigma_weights([torch.exp(-e) for e in etas], lv.sigma_next, active), lv)


__all__ = ["LMSSampler"]
