"""The model's own ODE solution: what a sampler converges to, and how far a sample set is from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from gdf_core.demo.quality import sliced_wasserstein
from gdf_core.gdf import GDF


def solve(
    gdf: GDF,
    model: Callable[..., Tensor],
    x_init: Tensor,
    *,
    sampler: Any,
    steps: int,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """The sample at the end of ``sampler``'s run of ``steps`` steps from ``x_init`` (no guidance), in data units.

    A run's final x lives in the input scaler's units, a·x0 + b·ε at the grid's
    last λ; this divides by that a (2 for EDM's c_in with σ_d = 0.5, 1 for ``vp``
    and ``lerp``), so that every recipe's samples compare with the data.
    """
    with torch.no_grad():
        run = gdf.prepare_sample(model, {}, tuple(x_init.shape), sampler=sampler, timesteps=steps, x_init=x_init,
                                 cfg=None, generator=generator)
        x = run.solve(generator=generator)
        a_end = run.scaler.scalers(run.logsnrs[-1].to(torch.float64))[0].to(x.dtype)  # one per sample, or one
        return x / a_end.reshape(-1, *[1] * (x.dim() - 1)) if a_end.dim() else x / a_end


def rms_distance(x: Tensor, y: Tensor) -> float:
    """Root mean square of the per-point distance ‖x_i − y_i‖ (the two clouds paired point by point)."""
    return float(((x.double() - y.double()) ** 2).sum(dim=1).mean().sqrt())


@dataclass
class ODESolution:
    """The model's ODE solution from ``x_init`` and the check of its own convergence.

    ``x`` is deterministic DDIM (the exact exponential-integrator step, first
    order in λ) at ``steps`` steps; ``check`` the same at ``check_steps``.
    For a first-order solver the error at N steps is about C/N, so the gap
    between the two bounds the reference's own error (at 2N vs N steps, error ≈ gap).
    """

    x: Tensor
    steps: int
    check_steps: int
    gap_swd: float
    gap_rms: float


def ode_solution(gdf: GDF, model: Callable[..., Tensor], x_init: Tensor, *, steps: int = 2000,
                 check_steps: Optional[int] = None) -> ODESolution:
    """The model's probability-flow ODE solution from ``x_init`` (DDIM, eta = 0, at ``steps`` steps)."""
    check_steps = check_steps if check_steps is not None else max(1, steps // 2)
    x = solve(gdf, model, x_init, sampler="ddim", steps=steps)
    check = solve(gdf, model, x_init, sampler="ddim", steps=check_steps)
    return ODESolution(x=x, steps=steps, check_steps=check_steps, gap_swd=sliced_wasserstein(x, check),
                       gap_rms=rms_distance(x, check))


__all__ = ["ODESolution", "ode_solution", "rms_distance", "solve"]
