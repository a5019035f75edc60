"""The sampling grid of diffusers' LCMScheduler (Luo et al. 2023, "Latent Consistency Models"), as a gdf schedule.

LCM is distilled on a skipping grid of ``original_inference_steps`` = N₀ timesteps
of the β table, τ = k·⌊T/N₀⌋ − 1 for k = 1 … N₀ (every ⌊T/N₀⌋-th timestep,
the last one T − 1 when N₀ divides T). An N-step run takes N of them, noisiest
first, at the indices ⌊i·N₀/N⌋ (i = 0 … N − 1) of that list reversed; after
the last model call the run returns the consistency function's x̂0 (λ = +∞).
``timestep_spacing`` and ``steps_offset`` play no part (diffusers' LCM ignores
them). For t given alone: λ(t) on the same β table, τ = t·(T − 1), +∞ at t = 0.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from gdf_core.domains import IntRange, OpenUnitInterval, UnitInterval
from gdf_plugins.schedules.diffusers_betas import BetaScheduleName, DiffusersTable, interpolate_logsnr
from gdf_plugins.schedules.diffusers_grid import TrainTimesteps, _logsnr_of
from gdf_plugins.schedules.grids import SamplingSchedule


def lcm_timesteps(steps: int, original_steps: int, train_steps: int) -> Tensor:
    """The N integer timesteps of an N-step LCM run, noisiest first (int64); ValueError where diffusers refuses."""
    if original_steps > train_steps:
        raise ValueError(f"original_inference_steps={original_steps} is more than the {train_steps} training timesteps")
    if steps > original_steps:
        raise ValueError(
            f"{steps} steps is more than original_inference_steps={original_steps}: an LCM run takes a subset "
            "of the distillation grid"
        )
    k = train_steps // original_steps
    origin = torch.arange(original_steps, 0, -1, dtype=torch.int64) * k - 1  # reversed: noisiest first
    index = torch.div(torch.arange(steps, dtype=torch.int64) * original_steps, steps, rounding_mode="floor")
    return origin[index]


class DiffusersLCMGridSchedule(DiffusersTable, SamplingSchedule):
    """The λ grid of LCMScheduler's ``set_timesteps(N)`` on its β table (see the module)."""

    name = "diffusers_lcm_grid"
    example_spec = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}

    def __init__(
        self,
        num_train_timesteps: TrainTimesteps = 1000,
        beta_start: OpenUnitInterval = 0.00085,
        beta_end: OpenUnitInterval = 0.012,
        beta_schedule: BetaScheduleName = "scaled_linear",
        trained_betas: Optional[list[float]] = None,
        rescale_betas_zero_snr: bool = False,
        terminal_alphas_cumprod: Optional[UnitInterval] = None,
        original_inference_steps: IntRange(1, 100_000) = 50,  # type: ignore[valid-type]
        **kwargs,
    ) -> None:
        self._init_table(
            num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
            rescale_betas_zero_snr, terminal_alphas_cumprod,
        )
        if int(original_inference_steps) != original_inference_steps or not 1 <= original_inference_steps <= self.num_train_timesteps:
            raise ValueError(
                f"schedule {self.name!r}: original_inference_steps must be an integer in 1 … {self.num_train_timesteps} "
                f"(num_train_timesteps), got {original_inference_steps}"
            )
        self.original_inference_steps = int(original_inference_steps)
        super().__init__(**kwargs)

    def curve(self, t: Tensor) -> Tensor:
        return interpolate_logsnr(self._logsnr, t.to(torch.float64) * (self.num_train_timesteps - 1)).to(t.dtype)

    def run_timesteps(self, steps: int) -> Tensor:
        """The integer timesteps of the N model calls of an N-step run."""
        if int(steps) != steps or steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs an integer number of steps ≥ 1, got {steps}")
        try:
            return lcm_timesteps(int(steps), self.original_inference_steps, self.num_train_timesteps)
        except ValueError as exc:
            raise ValueError(f"schedule {self.name!r}: {exc}") from None

    def run_logsnrs(self, steps: int) -> Tensor:
        """λ of the N + 1 levels of an N-step run (float64): the N timesteps' λ, then +∞ (x̂0 returned)."""
        lam = _logsnr_of(self._alphas_cumprod)[self.run_timesteps(steps)]
        lam = torch.cat([lam, torch.tensor([math.inf], dtype=torch.float64)])
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam

    levels = run_logsnrs  # type: ignore[assignment]


__all__ = ["DiffusersLCMGridSchedule", "lcm_timesteps"]
