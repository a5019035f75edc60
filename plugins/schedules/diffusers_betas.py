"""The discrete β schedules of diffusers' schedulers, as a gdf training schedule.

A diffusers scheduler trains on T discrete timesteps τ = 0 … T − 1 with
ᾱ_τ = Π_{s ≤ τ} (1 − β_s) (Ho et al. 2020). ``alphas_cumprod`` builds that
table exactly as diffusers does (β in float32, then the cumulative product
in float32), from ``beta_schedule``:

- ``linear``: β linear from ``beta_start`` to ``beta_end`` (Ho et al. 2020);
- ``scaled_linear``: √β linear (Stable Diffusion, Rombach et al. 2022);
- ``squaredcos_cap_v2``: β_τ = min(1 − ᾱ(τ+1)/ᾱ(τ), 0.999) with
  ᾱ(t) = cos²((t/T + 0.008)/1.008 · π/2) (Nichol & Dhariwal 2021);
- or ``trained_betas`` given as a list;

and ``rescale_betas_zero_snr`` shifts and scales √ᾱ so that √ᾱ_{T−1} = 0
(Lin et al. 2024, Alg. 1). Some schedulers (Euler, DPM-Solver, UniPC) then put
ᾱ_{T−1} = 2⁻²⁴ instead of 0: ``terminal_alphas_cumprod``.

In gdf's t ∈ [0, 1], τ = t·(T − 1); λ is interpolated linearly in λ (= in log σ)
between the timesteps, and a training draw takes τ uniformly among the integers,
as diffusers' training scripts do.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import IntRange, OpenUnitInterval, UnitInterval

BetaScheduleName = Literal["linear", "scaled_linear", "squaredcos_cap_v2"]


def _cosine_betas(steps: int, max_beta: float = 0.999) -> Tensor:
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    return torch.tensor(betas, dtype=torch.float32)


def _rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Lin et al. 2024, Alg. 1: √ᾱ shifted to 0 at the last step, its first value kept."""
    sqrt_ab = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * (first / (first - last))
    ab = sqrt_ab**2
    alphas = torch.cat([ab[:1], ab[1:] / ab[:-1]])
    return 1 - alphas


def alphas_cumprod(
    num_train_timesteps: TrainTimesteps = 1000,
    beta_start: OpenUnitInterval = 0.0001,
    beta_end: OpenUnitInterval = 0.02,
    beta_schedule: BetaScheduleName = "linear",
    trained_betas: Optional[list[float]] = None,
    rescale_betas_zero_snr: bool = False,
    terminal_alphas_cumprod: Optional[UnitInterval] = None,
) -> Tensor:
    """ᾱ_τ for τ = 0 … T − 1, computed as diffusers computes it (float32), returned as float64."""
    if trained_betas is not None:
        betas = torch.tensor(list(trained_betas), dtype=torch.float32)
    elif beta_schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    elif beta_schedule == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
    elif beta_schedule == "squaredcos_cap_v2":
        betas = _cosine_betas(num_train_timesteps)
    else:
        raise ValueError(f"unknown beta_schedule {beta_schedule!r}; expected linear, scaled_linear or squaredcos_cap_v2")
    if rescale_betas_zero_snr:
        betas = _rescale_zero_terminal_snr(betas)
    table = torch.cumprod(1.0 - betas, dim=0)
    if rescale_betas_zero_snr and terminal_alphas_cumprod is not None:
        table[-1] = terminal_alphas_cumprod
    return table.to(torch.float64)


def logsnr_table(ab: Tensor) -> Tensor:
    """λ_τ = log(ᾱ_τ/(1 − ᾱ_τ)) (float64; −∞ where ᾱ = 0)."""
    return torch.log(ab) - torch.log1p(-ab)


def interpolate_logsnr(table: Tensor, pos: Tensor) -> Tensor:
    """λ at fractional timesteps ``pos`` ∈ [0, T − 1], linear in λ between integers (−∞ kept at an end)."""
    last = table.shape[0] - 1
    pos = pos.to(torch.float64).clamp(0, last)
    lo = pos.floor().clamp(max=last - 1).long()
    frac = pos - lo.to(torch.float64)
    lo_val, hi_val = table[lo], table[lo + 1]
    mixed = lo_val + (hi_val - lo_val) * frac
    # towards ᾱ = 0 (λ = −∞, zero terminal SNR): linear in ᾱ instead, finite inside the interval
    ab = torch.sigmoid(lo_val) * (1 - frac)
    towards_zero = torch.log(ab) - torch.log1p(-ab)
    return torch.where(frac == 0, lo_val, torch.where(torch.isinf(hi_val), towards_zero, mixed))



#: diffusers' number of training timesteps (a table needs at least two).
TrainTimesteps = IntRange(2, 100_000)

class DiffusersTable:
    """The parameters shared by the components built on one diffusers β table."""

    def _init_table(
        self,
        num_train_timesteps: int,
        beta_start: float,
        beta_end: float,
        beta_schedule: BetaScheduleName,
        trained_betas: Optional[list[float]],
        rescale_betas_zero_snr: bool,
        terminal_alphas_cumprod: Optional[float],
    ) -> None:
        if int(num_train_timesteps) != num_train_timesteps or num_train_timesteps < 2:
            raise ValueError(f"{self.name!r}: num_train_timesteps must be an integer ≥ 2, got {num_train_timesteps}")  # type: ignore[attr-defined]
        if trained_betas is not None and len(trained_betas) != num_train_timesteps:
            raise ValueError(
                f"{self.name!r}: trained_betas has {len(trained_betas)} values but num_train_timesteps is {num_train_timesteps}"  # type: ignore[attr-defined]
            )
        if trained_betas is None and beta_schedule != "squaredcos_cap_v2" and not 0 < beta_start < beta_end < 1:
            raise ValueError(f"{self.name!r}: need 0 < beta_start < beta_end < 1, got ({beta_start}, {beta_end})")  # type: ignore[attr-defined]
        self.num_train_timesteps = int(num_train_timesteps)
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.beta_schedule = beta_schedule
        self.trained_betas = None if trained_betas is None else [float(b) for b in trained_betas]
        self.rescale_betas_zero_snr = rescale_betas_zero_snr
        self.terminal_alphas_cumprod = terminal_alphas_cumprod
        self._alphas_cumprod = alphas_cumprod(
            self.num_train_timesteps, beta_start, beta_end, beta_schedule, self.trained_betas,
            rescale_betas_zero_snr, terminal_alphas_cumprod,
        )
        self._logsnr = logsnr_table(self._alphas_cumprod)

    @property
    def alphas_cumprod(self) -> Tensor:
        """ᾱ_τ, τ = 0 … T − 1 (float64, a copy)."""
        return self._alphas_cumprod.clone()

    @property
    def table_logsnr(self) -> Tensor:
        """λ_τ, τ = 0 … T − 1 (float64, a copy)."""
        return self._logsnr.clone()


class DiffusersBetasSchedule(DiffusersTable, ScheduleBase):
    """λ(t) of a diffusers β table at the timestep τ = t·(T − 1), interpolated linearly in λ.

    Training draws τ uniformly among 0 … T − 1 (as diffusers' training scripts do).
    """

    name = "diffusers_betas"
    example_spec = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}

    def __init__(
        self,
        num_train_timesteps: TrainTimesteps = 1000,
        beta_start: OpenUnitInterval = 0.0001,
        beta_end: OpenUnitInterval = 0.02,
        beta_schedule: BetaScheduleName = "linear",
        trained_betas: Optional[list[float]] = None,
        rescale_betas_zero_snr: bool = False,
        terminal_alphas_cumprod: Optional[UnitInterval] = None,
        *,
        force_limits: bool = False,
        **kwargs,
    ) -> None:
        self._init_table(
            num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
            rescale_betas_zero_snr, terminal_alphas_cumprod,
        )
        super().__init__(force_limits=force_limits, **kwargs)

    @property
    def infinite_ends(self) -> bool:
        """λ(1) = −∞ when the table reaches zero terminal SNR (read by gdf_core.testing)."""
        return bool(torch.isinf(self._logsnr[-1]))

    def logsnr(self, t: Tensor) -> Tensor:
        pos = t.to(torch.float64) * (self.num_train_timesteps - 1)
        return interpolate_logsnr(self._logsnr, pos).to(t.dtype)

    def draw_t(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        steps = torch.randint(0, self.num_train_timesteps, (batch_size,), generator=generator)
        return steps.to(torch.float64) / (self.num_train_timesteps - 1)


__all__ = ["DiffusersBetasSchedule", "DiffusersTable", "alphas_cumprod", "interpolate_logsnr", "logsnr_table"]
