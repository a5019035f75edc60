"""The grid of diffusers' multistep schedulers with ``use_flow_sigmas=True`` (Sana, Wan 2.1), as a gdf sampling schedule.

DPMSolverMultistepScheduler, DEISMultistepScheduler and UniPCMultistepScheduler
can step on rectified flow, x = (1 − σ)·x0 + σ·ε, λ = 2·log((1 − σ)/σ)
(Esser et al. 2024), instead of their β table. Their ``set_timesteps(N)`` then
takes N flow times u from a ``linspace`` and applies the time shift
σ = s·u/(1 + (s − 1)·u), s = ``flow_shift`` or, with ``use_dynamic_shifting``,
s = e^μ, μ given per run. The two families differ in where the u lie
(T = ``num_train_timesteps``):

- ``dpm`` (DPM-Solver multistep, DEIS): u = (1 − 1/T)·k/N for k = N … 1;
- ``unipc``: u = 1 − (1 − 1/T)·k/N for k = 0 … N − 1, optionally stretched so
  that it ends at ``shift_terminal``, and the first σ moved to 1 − 10⁻⁶ when it
  is 1 (diffusers keeps log α finite there).

``final``: where a run ends, after the N model levels: clean data (σ = 0), the
last model level again (a step of zero width: DEIS always, UniPC with
``final_sigmas_type="sigma_min"``), or ``sigma``, the σ given as
``final_sigma`` (DPM-Solver with ``final_sigmas_type="sigma_min"`` ends at the
β table's σ of ᾱ_0, read as a flow σ; the conversion computes it).
The model is given τ = σ·T truncated to an integer: ``flow_timestep`` with
``rounding="floor"``.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gdf_core.domains import IntRange, LogShift, OpenUnitInterval, ShiftFactor, check_shift
from gdf_plugins.schedules.diffusers_flow_grid import flow_logsnr, stretch_to_terminal, time_shift
from gdf_plugins.schedules.grids import SamplingSchedule

#: diffusers' number of training timesteps.
TrainTimesteps = IntRange(2, 100_000)


def _numpy_linspace(start: float, stop: float, num: int) -> Tensor:
    """numpy.linspace(start, stop, num) in float64, rounded as numpy rounds it (i·step + start, the last exactly stop)."""
    i = torch.arange(num, dtype=torch.float64)
    out = i * ((stop - start) / (num - 1)) + start if num > 1 else torch.full((1,), start, dtype=torch.float64)
    if num > 1:
        out[-1] = stop
    return out


class DiffusersFlowSigmasSchedule(SamplingSchedule):
    """The λ grid of a multistep scheduler's ``set_timesteps(N)`` with ``use_flow_sigmas`` (see the module)."""

    name = "diffusers_flow_sigmas"
    spec_exclude = ("to_data",)  # follows from ``final``
    example_spec = {"flow_shift": 3.0}

    def __init__(
        self,
        num_train_timesteps: TrainTimesteps = 1000,  # type: ignore[valid-type]
        flow_shift: ShiftFactor = 1.0,
        algorithm: Literal["dpm", "unipc"] = "dpm",
        use_dynamic_shifting: bool = False,
        mu: Optional[LogShift] = None,
        shift_terminal: Optional[OpenUnitInterval] = None,
        final: Literal["data", "last_level", "sigma"] = "data",
        final_sigma: Optional[OpenUnitInterval] = None,
        **kwargs,
    ) -> None:
        if int(num_train_timesteps) != num_train_timesteps or num_train_timesteps < 2:
            raise ValueError(f"schedule {self.name!r}: num_train_timesteps must be an integer ≥ 2, got {num_train_timesteps}")
        check_shift(f"schedule {self.name!r}", "flow_shift", flow_shift)
        if mu is not None:
            check_shift(f"schedule {self.name!r}", "mu", mu, log=True)
        if algorithm not in ("dpm", "unipc"):
            raise ValueError(f"schedule {self.name!r}: algorithm must be 'dpm' or 'unipc', got {algorithm!r}")
        if use_dynamic_shifting and (mu is None or not math.isfinite(mu)):
            raise ValueError(
                f"schedule {self.name!r}: use_dynamic_shifting needs a finite mu (diffusers' pipelines compute it from "
                f"the image's sequence length), got {mu!r}"
            )
        if shift_terminal is not None and (algorithm != "unipc" or not 0 < shift_terminal < 1):
            raise ValueError(f"schedule {self.name!r}: shift_terminal is UniPC's option, in (0, 1); got {shift_terminal!r} for {algorithm!r}")
        if final not in ("data", "last_level", "sigma"):
            raise ValueError(f"schedule {self.name!r}: final must be 'data', 'last_level' or 'sigma', got {final!r}")
        if (final == "sigma") != (final_sigma is not None):
            raise ValueError(f"schedule {self.name!r}: final_sigma is given exactly when final='sigma' (got final={final!r}, final_sigma={final_sigma!r})")
        if final_sigma is not None and not 0 < final_sigma < 1:
            raise ValueError(f"schedule {self.name!r}: final_sigma must lie in (0, 1), got {final_sigma!r}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.flow_shift = float(flow_shift)
        self.algorithm = algorithm
        self.use_dynamic_shifting = use_dynamic_shifting
        self.mu = mu
        self.shift_terminal = shift_terminal
        self.final = final
        self.final_sigma = final_sigma
        super().__init__(to_data=final == "data", **kwargs)

    @property
    def run_shift(self) -> float:
        """The time shift s of a run: ``flow_shift``, or e^μ with ``use_dynamic_shifting``."""
        return math.exp(self.mu) if self.use_dynamic_shifting else self.flow_shift  # type: ignore[arg-type]

    def curve(self, t: Tensor) -> Tensor:
        """λ of the shifted flow time, for t given alone (t = 1 pure noise)."""
        return flow_logsnr(time_shift(t.to(torch.float64), self.run_shift)).to(t.dtype)

    def run_sigmas(self, steps: int) -> Tensor:
        """σ of the N model levels of an N-step run, in float64, as diffusers computes them before storing float32."""
        T, s = self.num_train_timesteps, self.run_shift
        if self.algorithm == "dpm":
            u = 1.0 - _numpy_linspace(1.0, 1.0 / T, steps + 1)
            return (s * u / (1 + (s - 1) * u)).flip(0)[:-1]
        u = _numpy_linspace(1.0, 1.0 / T, steps + 1)[:-1]
        if self.use_dynamic_shifting:
            sig = s / (s + (1 / u - 1))  # diffusers' time_shift(μ, 1, u), evaluated as it does
        else:
            sig = s * u / (1 + (s - 1) * u)
        if self.shift_terminal is not None:
            sig = stretch_to_terminal(sig, self.shift_terminal, self.name)
        if abs(float(sig[0]) - 1) < 1e-6:
            sig[0] -= 1e-6
        return sig

    def run_logsnrs(self, steps: int) -> Tensor:
        """λ of the N + 1 levels of an N-step run, the last one as ``final`` says.

        From diffusers' float64 σ, not the float32 copy its steps use (6·10⁻⁸ apart at most): ⌊σ·T⌋, the
        timestep the model is given, is diffusers' own only from the float64 σ.
        """
        if int(steps) != steps or steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs an integer number of steps ≥ 1, got {steps}")
        sig = self.run_sigmas(int(steps))
        if self.final == "last_level":
            end = sig[-1:]
        elif self.final == "sigma":
            end = torch.tensor([self.final_sigma], dtype=torch.float32).to(torch.float64)
        else:
            end = torch.zeros(1, dtype=torch.float64)
        lam = flow_logsnr(torch.cat([sig, end]))
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam

    levels = run_logsnrs  # type: ignore[assignment]


__all__ = ["DiffusersFlowSigmasSchedule"]
