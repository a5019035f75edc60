"""The timestep a diffusers-trained model is given, recovered from λ.

``diffusers_timestep``: the fractional training timestep τ ∈ [0, T − 1] at which
the scheduler's β table has this λ (the inverse of ``diffusers_betas``), then
rounded as the scheduler rounds it. ``interpolation`` is the scheduler's own:
``log_sigma`` is diffusers' ``_sigma_to_t`` (linear in log σ = −λ/2: DDIM,
DPM-Solver, UniPC, Euler on Karras/exponential/beta σ), ``sigma`` the inverse
of Euler's ``np.interp`` of σ at fractional timesteps (Euler's ``linspace``
spacing). On the table's own timesteps both give the integer τ exactly.

``flow_timestep``: τ = σ·T with σ = b of the ``lerp`` scaler = sigmoid(−λ/2),
as FlowMatchEulerDiscreteScheduler gives it (Esser et al. 2024), or, with
``rounding="floor"``, truncated to int64 as the multistep schedulers give it
with ``use_flow_sigmas`` (Sana, Wan 2.1).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gdf_core.bases import NoiseCondBase
from gdf_plugins.schedules.diffusers_betas import BetaScheduleName, DiffusersTable
from gdf_plugins.schedules.diffusers_grid import sigma_to_timestep
from gdf_core.domains import IntRange, OpenUnitInterval, UnitInterval



#: diffusers' number of training timesteps (a table needs at least two).
TrainTimesteps = IntRange(2, 100_000)

class DiffusersTimestepNoiseCond(DiffusersTable, NoiseCondBase):
    """τ with λ_table(τ) = λ, interpolated as the scheduler does, rounded as it does (int64 unless ``rounding='none'``)."""

    name = "diffusers_timestep"
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
        interpolation: Literal["log_sigma", "sigma"] = "log_sigma",
        rounding: Literal["round", "floor", "none"] = "none",
        **kwargs,
    ) -> None:
        self._init_table(
            num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
            rescale_betas_zero_snr, terminal_alphas_cumprod,
        )
        self.interpolation = interpolation
        self.rounding = rounding
        ab32 = self._alphas_cumprod.to(torch.float32)
        self._sigma = (((1 - ab32) / ab32) ** 0.5).to(torch.float64)
        super().__init__(**kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        lam = logsnr.to(torch.float64).reshape(-1)
        log_sigma = -lam / 2
        if self.interpolation == "log_sigma":
            tau = sigma_to_timestep(log_sigma, self._sigma.log())
        else:
            tau = _inverse_interp(torch.exp(log_sigma), self._sigma)
        tau = tau.reshape(logsnr.shape)
        if self.rounding == "round":
            return tau.round().long()
        if self.rounding == "floor":
            # diffusers truncates τ of the float64 σ; λ here comes from σ stored in float32, which moves τ
            # by ~1e-5 of a step: without the margin an integer τ could truncate to the one below
            return (tau + 1e-3).floor().long()
        return tau.to(torch.float32) if logsnr.dtype != torch.float64 else tau


def _inverse_interp(sigma: Tensor, table: Tensor) -> Tensor:
    """τ with numpy.interp(τ, arange(T), table) = σ (table increasing), clamped to [0, T − 1]."""
    last = table.shape[0] - 1
    hi = torch.searchsorted(table, sigma.contiguous()).clamp(1, last)
    lo = hi - 1
    s0, s1 = table[lo], table[hi]
    w = torch.where(torch.isinf(s1), torch.zeros_like(sigma), ((sigma - s0) / (s1 - s0)))
    return (lo.to(sigma.dtype) + w.clamp(0, 1)).nan_to_num(float(last))


class FlowTimestepNoiseCond(NoiseCondBase):
    """τ = T·σ, σ = sigmoid(−λ/2): the timestep of diffusers' flow-matching schedulers (Esser et al. 2024).

    ``rounding="floor"``: int64 ⌊T·σ⌋, as the multistep schedulers with
    ``use_flow_sigmas`` truncate it, after a margin of T·2⁻³⁰ for the rounding
    of σ → λ → σ (≈ 10⁻¹⁶·|λ|·T).
    """

    name = "flow_timestep"

    def __init__(self, num_train_timesteps: TrainTimesteps = 1000, rounding: Literal["none", "floor"] = "none", **kwargs) -> None:
        if int(num_train_timesteps) != num_train_timesteps or num_train_timesteps < 1:
            raise ValueError(f"noise_cond {self.name!r}: num_train_timesteps must be an integer ≥ 1, got {num_train_timesteps}")
        if rounding not in ("none", "floor"):
            raise ValueError(f"noise_cond {self.name!r}: rounding must be 'none' or 'floor', got {rounding!r}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.rounding = rounding
        super().__init__(**kwargs)

    def cond(self, logsnr: Tensor) -> Tensor:
        tau = torch.sigmoid(-logsnr.to(torch.float64) / 2) * self.num_train_timesteps
        if self.rounding == "floor":
            return (tau + self.num_train_timesteps * 2.0**-30).floor().long()
        return tau.to(torch.float32 if logsnr.dtype != torch.float64 else torch.float64)


__all__ = ["DiffusersTimestepNoiseCond", "FlowTimestepNoiseCond"]
