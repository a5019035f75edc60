"""The sampling grid of diffusers' EDMEulerScheduler, as a gdf sampling schedule.

EDM's σ grid (Karras et al. 2022, eq. 5): for an N-step run, σ_i =
(σ_max^(1/ρ) + i/(N − 1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, i = 0 … N − 1
(``karras``), or log σ evenly spaced from log σ_max to log σ_min
(``exponential``, CosXL's); computed in float64 (Karras) or float32
(exponential) and stored in float32, as diffusers does. ``final``: the level after the last model call, clean data
(σ = 0, diffusers' ``final_sigmas_type="zero"``) or the last σ again, a step
of zero width (``"sigma_min"``). λ = −2·log σ.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from gdf_core.domains import Positive
from gdf_plugins.schedules.grids import SamplingSchedule, karras_log_sigma


def edm_sigmas(sigma_min: float, sigma_max: float, rho: float, sigma_schedule: str, steps: int) -> Tensor:
    """σ of the N model calls (float64 of diffusers' float32), noisiest first."""
    if sigma_schedule == "karras":
        ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
        try:
            hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
            sig = (hi + ramp * (lo - hi)) ** rho
        except OverflowError:  # σ_max^(1/ρ) beyond float64 (a tiny ρ, where diffusers fails): the same curve in logs
            sig = karras_log_sigma(1 - ramp, sigma_min, sigma_max, rho).exp()
    else:
        # diffusers takes this one in float32 (torch's default dtype), exp included
        sig = torch.linspace(math.log(sigma_min), math.log(sigma_max), steps, dtype=torch.float32).exp().flip(0)
    return sig.to(torch.float32).to(torch.float64)


class DiffusersEDMGridSchedule(SamplingSchedule):
    """The λ grid of EDMEulerScheduler's ``set_timesteps(N)`` (see the module)."""

    name = "diffusers_edm_grid"
    spec_exclude = ("to_data",)  # follows from ``final``: not a parameter of its own
    ordered_parameters = (("sigma_min", "sigma_max"),)

    def __init__(
        self,
        sigma_min: Positive = 0.002,
        sigma_max: Positive = 80.0,
        rho: Positive = 7.0,
        sigma_schedule: Literal["karras", "exponential"] = "karras",
        final: Literal["data", "last_level"] = "data",
        **kwargs,
    ) -> None:
        if not 0 < sigma_min < sigma_max < math.inf:
            raise ValueError(f"schedule {self.name!r}: need 0 < sigma_min < sigma_max < ∞, got {sigma_min}, {sigma_max}")
        if not 0 < rho < math.inf:
            raise ValueError(f"schedule {self.name!r}: rho must be finite and > 0, got {rho}")
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.rho = float(rho)
        self.sigma_schedule = sigma_schedule
        self.final = final
        super().__init__(to_data=final == "data", **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        """λ(t) of the same σ curve, t = 1 at σ_max, t → 0 at σ_min (the grid at t = 1 − i/(N − 1))."""
        tt = t.to(torch.float64)
        if self.sigma_schedule == "karras":
            log_sigma = karras_log_sigma(tt, self.sigma_min, self.sigma_max, self.rho)
        else:
            log_sigma = math.log(self.sigma_min) + tt * (math.log(self.sigma_max) - math.log(self.sigma_min))
        return (-2 * log_sigma).to(t.dtype)

    def run_sigmas(self, steps: int) -> Tensor:
        """σ of the N model evaluations of an N-step run."""
        return edm_sigmas(self.sigma_min, self.sigma_max, self.rho, self.sigma_schedule, steps)

    def run_logsnrs(self, steps: int) -> Tensor:
        """λ of the N + 1 levels of an N-step run (float64), exactly as diffusers' ``set_timesteps(N)`` + ``step``."""
        if int(steps) != steps or steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs an integer number of steps ≥ 1, got {steps}")
        levels = -2 * torch.log(self.run_sigmas(int(steps)))
        end = levels[-1:] if self.final == "last_level" else torch.tensor([math.inf], dtype=torch.float64)
        lam = torch.cat([levels, end])
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam

    levels = run_logsnrs  # type: ignore[assignment]


__all__ = ["DiffusersEDMGridSchedule", "edm_sigmas"]
