"""Grid families of the accuracy table: λ grids of a run of N steps over σ ∈ [σmin, σmax], then σ = 0.

Every family places N levels from σmax to σmin and ends on clean data (λ = +∞),
the convention of k-diffusion's and gdf's Karras grids, so that every
implementation in the table gets the same levels and the same end point.

- ``karras``: Karras et al. 2022, eq. 5, ρ = 7;
- ``exponential``: σ log-uniform, steps uniform in λ (Lu et al. 2022a);
- ``ays``: Align Your Steps' optimised 10-level schedule for Stable Diffusion
  1.5 (Sabour et al. 2024, Table 3), log-linearly interpolated to N levels as
  its authors do for other step counts, and mapped affinely in log σ onto
  [σmin, σmax] (the identity for Stable Diffusion's range).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

#: Align Your Steps, Stable Diffusion 1.5 (Sabour et al. 2024, Table 3): σ from noise to data.
AYS_SD15_SIGMAS = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)


def _with_data_end(sigmas: torch.Tensor) -> list[float]:
    return [*(-2 * torch.log(sigmas)).tolist(), math.inf]


def karras(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> list[float]:
    """σ_i = (σmax^(1/ρ) + i/(N−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, then 0."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64) if steps > 1 else torch.zeros(1, dtype=torch.float64)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return _with_data_end((hi + ramp * (lo - hi)) ** rho)


def exponential(steps: int, sigma_min: float, sigma_max: float) -> list[float]:
    """log σ uniform from σmax to σmin, then 0."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64) if steps > 1 else torch.zeros(1, dtype=torch.float64)
    return _with_data_end(torch.exp(math.log(sigma_max) + ramp * (math.log(sigma_min) - math.log(sigma_max))))


def ays(steps: int, sigma_min: float, sigma_max: float) -> list[float]:
    """Align Your Steps' SD 1.5 levels, log-linearly interpolated to ``steps`` levels, then 0."""
    table = torch.log(torch.tensor(AYS_SD15_SIGMAS, dtype=torch.float64))
    # affine map of the table's log σ range onto [log σmin, log σmax]
    lo, hi = math.log(sigma_min), math.log(sigma_max)
    table = lo + (table - table[-1]) * (hi - lo) / (table[0] - table[-1])
    if steps == len(AYS_SD15_SIGMAS):
        return _with_data_end(torch.exp(table))
    where = torch.linspace(0, len(AYS_SD15_SIGMAS) - 1, steps, dtype=torch.float64) if steps > 1 else torch.zeros(1, dtype=torch.float64)
    i = where.floor().long().clamp(max=len(AYS_SD15_SIGMAS) - 2)
    frac = where - i
    return _with_data_end(torch.exp(table[i] * (1 - frac) + table[i + 1] * frac))


GRID_FAMILIES: dict[str, Callable[[int, float, float], list[float]]] = {
    "karras": karras,
    "exponential": exponential,
    "ays": ays,
}

__all__ = ["AYS_SD15_SIGMAS", "GRID_FAMILIES", "ays", "exponential", "karras"]
