"""The sampling grid of diffusers' FlowMatchEulerDiscreteScheduler (SD3, Flux), as a gdf sampling schedule.

Rectified flow x = (1 − σ)·x0 + σ·ε, λ = 2·log((1 − σ)/σ) (Esser et al. 2024).
For an N-step run diffusers takes N timesteps linearly from σ_max·T to
σ_min·T (σ_min is the table's last σ, already shifted when the shift is static),
divides by T and applies the time shift σ′ = s·σ/(1 + (s − 1)·σ) with s =
``shift``, or with ``use_dynamic_shifting`` s = e^μ (``time_shift_type``
``exponential``) or μ (``linear``), μ given per run (it depends on the image's
sequence length; Esser et al. 2024, §5.3.2). ``shift_terminal`` stretches the
grid so that it ends at that σ; Karras, exponential or beta σ are then taken
between the grid's ends. The last level is σ = 0 (clean data).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gdf_plugins.schedules.diffusers_grid import SIGMA_GRIDS
from gdf_plugins.schedules.grids import SamplingSchedule
from gdf_core.domains import Finite, IntRange, OpenUnitInterval, ShiftFactor, check_shift


def stretch_to_terminal(sig: Tensor, shift_terminal: float, name: str) -> Tensor:
    """diffusers' ``shift_terminal``: 1 − σ scaled so that the last σ of the run is ``shift_terminal``.

    A 1-step run's one σ is 1 (the stretch is 0/0; diffusers gives NaN σ): refused.
    """
    if sig.shape[0] == 1:
        raise ValueError(
            f"schedule {name!r}: shift_terminal cannot stretch a 1-step run (its one σ is 1; diffusers divides 0 by 0 "
            "and gives NaN): take at least 2 steps"
        )
    one_minus = 1 - sig
    return 1 - one_minus / (one_minus[-1] / (1 - shift_terminal))


def time_shift(sigma: Tensor, s: float) -> Tensor:
    """SD3's time shift σ′ = s·σ/(1 + (s − 1)·σ) (Esser et al. 2024, §5.3.2)."""
    return s * sigma / (1 + (s - 1) * sigma)


def flow_logsnr(sigma: Tensor) -> Tensor:
    """λ = 2·log((1 − σ)/σ) of rectified flow x = (1 − σ)·x0 + σ·ε (+∞ at σ = 0, −∞ at σ = 1).

    σ is clamped to [0, 1] first: the time shift of σ = 1 rounds above 1 for some shifts
    (e.g. 0.46 in float64, 0.001 in diffusers' float32 table), which was λ = NaN.
    """
    sigma = sigma.clamp(0, 1)
    return 2 * (torch.log1p(-sigma) - torch.log(sigma))



#: diffusers' number of training timesteps (a table needs at least two).
TrainTimesteps = IntRange(2, 100_000)

class DiffusersFlowGridSchedule(SamplingSchedule):
    """The λ grid of FlowMatchEulerDiscreteScheduler's ``set_timesteps(N)`` (see the module)."""

    name = "diffusers_flow_grid"
    example_spec = {"flow_shift": 3.0}

    def __init__(
        self,
        num_train_timesteps: TrainTimesteps = 1000,
        flow_shift: ShiftFactor = 1.0,
        use_dynamic_shifting: bool = False,
        mu: Optional[Finite] = None,
        time_shift_type: Literal["exponential", "linear"] = "exponential",
        shift_terminal: Optional[OpenUnitInterval] = None,
        sigmas: Literal["linear", "karras", "exponential", "beta"] = "linear",
        **kwargs,
    ) -> None:
        if int(num_train_timesteps) != num_train_timesteps or num_train_timesteps < 2:
            raise ValueError(f"schedule {self.name!r}: num_train_timesteps must be an integer ≥ 2, got {num_train_timesteps}")
        check_shift(f"schedule {self.name!r}", "flow_shift", flow_shift)
        if use_dynamic_shifting and mu is None:
            raise ValueError(
                f"schedule {self.name!r}: use_dynamic_shifting needs mu (diffusers' pipelines compute it from the "
                "image's sequence length, e.g. 0.5 … 1.15 for Flux): give mu"
            )
        if use_dynamic_shifting:  # a linear time shift takes mu as the shift itself
            check_shift(f"schedule {self.name!r}", "mu", mu, log=time_shift_type == "exponential")  # type: ignore[arg-type]
        if shift_terminal is not None and not 0 < shift_terminal < 1:
            raise ValueError(f"schedule {self.name!r}: shift_terminal must lie in (0, 1), got {shift_terminal}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.flow_shift = flow_shift
        self.use_dynamic_shifting = use_dynamic_shifting
        self.mu = mu
        self.time_shift_type = time_shift_type
        self.shift_terminal = shift_terminal
        self.sigmas = sigmas
        super().__init__(**kwargs)

    @property
    def run_shift(self) -> float:
        """The time shift s applied to a run's grid."""
        if not self.use_dynamic_shifting:
            return self.flow_shift
        return math.exp(self.mu) if self.time_shift_type == "exponential" else float(self.mu)  # type: ignore[arg-type]

    def curve(self, t: Tensor) -> Tensor:
        return flow_logsnr(time_shift(t.to(torch.float64), self.run_shift)).to(t.dtype)

    def run_sigmas(self, steps: int) -> Tensor:
        """σ of the N model evaluations of an N-step run (float64 of diffusers' float32)."""
        T = self.num_train_timesteps
        first = torch.tensor([1.0, 1.0 / T], dtype=torch.float32)  # the table's σ_max and σ_min
        ends = first if self.use_dynamic_shifting else time_shift(first, self.flow_shift)
        hi, lo = float(ends[0]) * T, float(ends[1]) * T
        sig = torch.linspace(hi, lo, steps, dtype=torch.float64) / T
        sig = time_shift(sig, self.run_shift)
        if self.shift_terminal is not None:
            sig = stretch_to_terminal(sig, self.shift_terminal, self.name)
        if self.sigmas != "linear":
            sig = SIGMA_GRIDS[self.sigmas](float(sig[-1]), float(sig[0]), steps)
        return sig.to(torch.float32).to(torch.float64)

    def run_logsnrs(self, steps: int) -> Tensor:
        """λ of the N + 1 levels of an N-step run, the last one clean data (λ = +∞)."""
        if int(steps) != steps or steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs an integer number of steps ≥ 1, got {steps}")
        sig = self.run_sigmas(steps)
        lam = torch.cat([flow_logsnr(sig), torch.tensor([math.inf], dtype=torch.float64)])
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam

    levels = run_logsnrs  # type: ignore[assignment]


__all__ = ["DiffusersFlowGridSchedule", "flow_logsnr", "stretch_to_terminal", "time_shift"]
