"""Sampling schedules: the λ grids a sampler walks, from noise (t = 1) to data (t = 0).

Every schedule here maps t = 0 to λ = +∞ (σ = 0, clean data) when ``to_data``
is true (the default), so that a run ends on data with a proper last step
rather than a jump from the last level, and t ∈ (0, 1] to its curve from the
least noisy level (t → 0) to the noisiest (t = 1). ``levels(steps)`` gives the
grid of a run with the conventional placement (the curve at ``steps`` evenly
spaced points, the last one exactly the least noisy level, then +∞), as k-diffusion
and diffusers build Karras grids; ``schedule(torch.linspace(1, 0, steps + 1))``
places the curve at t = 1, …, 1/steps instead.

``force_limits`` defaults to False here: these schedules must reach ±∞, and the
base's clamp to [λ(1), λ(0)] would be the identity anyway. ``shift`` (shared by
every schedule) moves λ by −2·log(shift); for ``flow_shift`` that is exactly
SD3's time shift t′ = s·t/(1 + (s − 1)·t) of rectified flow.
"""

from __future__ import annotations

import math
from typing import Annotated

import annotated_types as at
import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Finite, IntRange, NonNegative, OpenUnitInterval, Positive

#: t_max of ``flow_shift``: in (0, 1].
TimeFraction = Annotated[float, at.Gt(0), at.Le(1)]
#: α, β of the Beta law of ``beta`` (≥ 1/2, where its tabulated CDF is exact enough).
BetaShape = Annotated[float, at.Ge(0.5), at.Le(1e6)]


def karras_log_sigma(t: Tensor, sigma_min: float, sigma_max: float, rho: float) -> Tensor:
    """log σ(t) of Karras et al.'s curve σ = (σmin^(1/ρ) + t·(σmax^(1/ρ) − σmin^(1/ρ)))^ρ, in float64.

    Evaluated as log σmax + ρ·log(r + t·(1 − r)) with r = (σmin/σmax)^(1/ρ) taken in logs:
    σmax^(1/ρ) itself overflows for a small ρ (float32 below ρ ≈ 0.05, float64 below ≈ 0.007 at σmax = 80).
    """
    tt = t.to(torch.float64)
    log_r = (math.log(sigma_min) - math.log(sigma_max)) / rho if sigma_min > 0 else -math.inf
    inner = torch.logaddexp(torch.full_like(tt, log_r), torch.log(tt) + math.log1p(-math.exp(log_r)))
    return math.log(sigma_max) + rho * inner


def _pos_inf_at_zero(t: Tensor, lam: Tensor, to_data: bool) -> Tensor:
    if not to_data:
        return lam
    return torch.where(t == 0, torch.full_like(lam, math.inf), lam)


class SamplingSchedule(ScheduleBase):
    """Base of the sampling schedules: ``curve(t)`` on [0, 1], +∞ at t = 0 when ``to_data``."""

    def __init__(self, *, to_data: bool = True, force_limits: bool = False, **kwargs) -> None:
        self.to_data = to_data
        super().__init__(force_limits=force_limits, **kwargs)

    @property
    def infinite_ends(self) -> bool:
        """λ(0) = +∞ by design when ``to_data`` (read by the invariant checks of gdf_core.testing)."""
        return self.to_data

    def curve(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def logsnr(self, t: Tensor) -> Tensor:
        return _pos_inf_at_zero(t, self.curve(t), self.to_data)

    def levels(self, steps: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
        """The λ grid of a run of ``steps`` steps (steps + 1 levels, noisiest first).

        With ``to_data``: the curve at ``steps`` evenly spaced t from 1 to 0 (its
        least noisy level included), then λ = +∞; otherwise, or when the curve
        itself reaches λ = +∞ at t = 0, the curve at ``steps + 1`` evenly spaced t.
        """
        if steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs at least one step, got {steps}")
        reaches_data = math.isinf(float(self.curve(torch.zeros(1, dtype=torch.float64))[0]))
        if self.to_data and not reaches_data:
            t = torch.linspace(1, 0, steps, dtype=torch.float64) if steps > 1 else torch.ones(1, dtype=torch.float64)
            lam = self.curve(t)
            lam = torch.cat([lam, torch.full((1,), math.inf, dtype=torch.float64)])
        else:
            lam = self.curve(torch.linspace(1, 0, steps + 1, dtype=torch.float64))
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam.to(dtype)


class KarrasSchedule(SamplingSchedule):
    """σ(t) = (σmin^(1/ρ) + t·(σmax^(1/ρ) − σmin^(1/ρ)))^ρ, λ = −2·log σ (Karras et al. 2022, eq. 5).

    ``sigma_min`` = 0 is allowed (then the curve itself reaches σ = 0).
    """

    name = "karras"

    ordered_parameters = (("sigma_min", "sigma_max"),)

    def __init__(
        self,
        sigma_min: NonNegative = 0.002,
        sigma_max: Positive = 80.0,
        rho: Positive = 7.0,
        to_data: bool = True,
        **kwargs,
    ) -> None:
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.rho = rho
        super().__init__(to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        return (-2 * karras_log_sigma(t, self.sigma_min, self.sigma_max, self.rho)).to(t.dtype)


class LinearLogSNRSchedule(SamplingSchedule):
    """λ linear in t from ``logsnr_max`` (t = 0) to ``logsnr_min`` (t = 1): steps uniform in λ."""

    name = "linear_logsnr"

    ordered_parameters = (("logsnr_min", "logsnr_max"),)

    def __init__(self, logsnr_min: Finite = -10.0, logsnr_max: Finite = 10.0, to_data: bool = True, **kwargs) -> None:
        self.logsnr_min = logsnr_min
        self.logsnr_max = logsnr_max
        super().__init__(to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        return self.logsnr_max + t * (self.logsnr_min - self.logsnr_max)


class ExponentialSchedule(SamplingSchedule):
    """σ log-uniform from ``sigma_min`` to ``sigma_max`` (k-diffusion's exponential grid):
    uniform steps in λ, the natural grid of DPM-Solver (Lu et al. 2022a, §3.3)."""

    name = "exponential"

    ordered_parameters = (("sigma_min", "sigma_max"),)

    def __init__(self, sigma_min: Positive = 0.002, sigma_max: Positive = 80.0, to_data: bool = True, **kwargs) -> None:
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        super().__init__(to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        lmax, lmin = -2 * math.log(self.sigma_min), -2 * math.log(self.sigma_max)
        return lmax + t * (lmin - lmax)


class CosineLogSNRSchedule(SamplingSchedule):
    """λ = −2·log tan(π·t/2) (Nichol & Dhariwal 2021's cosine schedule without its clamps).

    Reaches λ = −∞ at t = 1 (zero terminal SNR: start from pure noise, for
    targets where that is defined: v, x0, rectified flow) and +∞ at t = 0.
    (Named apart from the training schedule ``cosine``, whose λ is clamped.)
    """

    name = "cosine_logsnr"

    def __init__(self, to_data: bool = True, **kwargs) -> None:
        super().__init__(to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        # cos(πt/2) written as sin(π(1 − t)/2): exactly 0 at t = 1, so λ(1) = −∞.
        return 2 * (torch.log(torch.sin(math.pi * (1 - t) / 2)) - torch.log(torch.sin(math.pi * t / 2)))


class FlowShiftSchedule(SamplingSchedule):
    """Rectified-flow time with SD3's shift: λ = 2·log((1 − t)/t) − 2·log(shift) (Esser et al. 2024, §5.3.2).

    The time shift t′ = s·t/(1 + (s − 1)·t) is exactly λ ← λ − 2·log s, i.e. the
    shared ``shift`` parameter. It defaults to 1 (no shift): the usual place for
    SD3's 3 is the GDF's own ``shift``, which ``sample`` applies to this grid as it
    does to training draws; a shift set here as well multiplies with it (3 here
    and 3 there is 9). ``t_max`` < 1 stops short of pure noise (λ(1) finite) for
    targets that cannot start at λ = −∞ (ε).
    """

    name = "flow_shift"

    def __init__(self, shift: Positive = 1.0, t_max: TimeFraction = 1.0, to_data: bool = True, **kwargs) -> None:
        self.t_max = t_max
        super().__init__(shift=shift, to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        tt = t * self.t_max
        return 2 * (torch.log1p(-tt) - torch.log(tt))


def sd_alphas_cumprod(beta_start: float, beta_end: float, num_train_timesteps: int) -> Tensor:
    """ᾱ of Stable Diffusion's "scaled linear" betas (float64)."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


def _interp(table: Tensor, pos: Tensor) -> Tensor:
    """Piecewise-linear interpolation of ``table`` at fractional indices ``pos`` ∈ [0, len − 1]."""
    last = table.shape[0] - 1
    pos = pos.clamp(0, last)
    lo = pos.floor().clamp(max=last - 1).long()
    frac = pos - lo.to(pos.dtype)
    tab = table.to(pos.dtype)
    return tab[lo] * (1 - frac) + tab[lo + 1] * frac


def _logsnr_from_sqrt_alpha(sa: Tensor) -> Tensor:
    a2 = sa * sa
    return torch.log(a2) - torch.log1p(-a2)


class ZeroTerminalSNRSchedule(SamplingSchedule):
    """Stable Diffusion's scaled-linear schedule rescaled to zero terminal SNR (Lin et al. 2024, Alg. 1).

    √ᾱ is shifted and scaled so that √ᾱ_T = 0 and √ᾱ_0 is kept, then
    interpolated linearly in the (fractional) timestep t·(T − 1): λ(1) = −∞, so
    sampling starts from pure noise, for the targets where that is defined
    (v, x0, rectified flow; an ε-model cannot give x0 there).
    """

    name = "zero_terminal_snr"
    ordered_parameters = (("beta_start", "beta_end"),)

    def __init__(
        self,
        beta_start: OpenUnitInterval = 0.00085,
        beta_end: OpenUnitInterval = 0.012,
        num_train_timesteps: IntRange(2, 100_000) = 1000,  # type: ignore[valid-type]
        to_data: bool = True,
        **kwargs,
    ) -> None:
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.num_train_timesteps = num_train_timesteps
        sa = sd_alphas_cumprod(beta_start, beta_end, num_train_timesteps).sqrt()
        self._sqrt_alpha = (sa - sa[-1]) * sa[0] / (sa[0] - sa[-1])
        super().__init__(to_data=to_data, **kwargs)

    def curve(self, t: Tensor) -> Tensor:
        sa = _interp(self._sqrt_alpha, t * (self.num_train_timesteps - 1))
        return _logsnr_from_sqrt_alpha(sa)


def _beta_ppf_table(alpha: float, beta: float, points: int = 4097) -> tuple[Tensor, Tensor]:
    """(cdf, x) of the Beta(α, β) law on a grid dense at both ends (x = (1 − cos πu)/2)."""
    u = torch.linspace(0, 1, points, dtype=torch.float64)
    x = (1 - torch.cos(math.pi * u)) / 2
    # density in u: x^(α−1)(1 − x)^(β−1)·dx/du, dx/du = (π/2)·sin(πu); finite for α, β ≥ 1/2
    logc = math.lgamma(alpha + beta) - math.lgamma(alpha) - math.lgamma(beta)
    s = torch.sin(math.pi * u)
    inner = x.clamp(min=1e-300) ** (alpha - 1) * (1 - x).clamp(min=1e-300) ** (beta - 1) * (math.pi / 2) * s
    dens = torch.exp(torch.tensor(logc, dtype=torch.float64)) * inner
    dens[0] = dens[1] if alpha < 1 else dens[0]
    dens[-1] = dens[-2] if beta < 1 else dens[-1]
    cdf = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum((dens[1:] + dens[:-1]) / 2, 0) / (points - 1)])
    cdf = cdf / cdf[-1]
    return cdf, x


class BetaSchedule(SamplingSchedule):
    """Timesteps at the quantiles of a Beta(α, β) law (Lee et al. 2024, "Beta Sampling is All You Need";
    ComfyUI's "beta" scheduler), on Stable Diffusion's scaled-linear schedule.

    The level at t is that of the fractional training timestep
    F⁻¹(t)·(T − 1), F the Beta(α, β) CDF: α = β = 0.6 puts more steps at both ends.
    The CDF is tabulated by the trapezoid rule (α, β ≥ 1/2) and inverted by
    interpolation.
    """

    name = "beta"
    ordered_parameters = (("beta_start", "beta_end"),)

    def __init__(
        self,
        alpha: BetaShape = 0.6,
        beta: BetaShape = 0.6,
        beta_start: OpenUnitInterval = 0.00085,
        beta_end: OpenUnitInterval = 0.012,
        num_train_timesteps: IntRange(2, 100_000) = 1000,  # type: ignore[valid-type]
        to_data: bool = True,
        **kwargs,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.num_train_timesteps = num_train_timesteps
        self._cdf, self._x = _beta_ppf_table(alpha, beta)
        self._logsnr = _logsnr_from_sqrt_alpha(sd_alphas_cumprod(beta_start, beta_end, num_train_timesteps).sqrt())
        super().__init__(to_data=to_data, **kwargs)

    def ppf(self, t: Tensor) -> Tensor:
        """F⁻¹(t) of the Beta(α, β) law."""
        tt = t.to(torch.float64).clamp(0, 1)
        idx = torch.searchsorted(self._cdf, tt.contiguous()).clamp(1, self._cdf.shape[0] - 1)
        c0, c1 = self._cdf[idx - 1], self._cdf[idx]
        x0, x1 = self._x[idx - 1], self._x[idx]
        w = torch.where(c1 > c0, (tt - c0) / (c1 - c0), torch.zeros_like(tt))
        return (x0 + w * (x1 - x0)).to(t.dtype)

    def curve(self, t: Tensor) -> Tensor:
        pos = self.ppf(t) * (self.num_train_timesteps - 1)
        return _interp(self._logsnr, pos.to(torch.float64)).to(t.dtype)


SAMPLING_SCHEDULES: list[type] = [
    KarrasSchedule,
    ExponentialSchedule,
    LinearLogSNRSchedule,
    CosineLogSNRSchedule,
    FlowShiftSchedule,
    BetaSchedule,
    ZeroTerminalSNRSchedule,
]

__all__ = [
    "BetaSchedule",
    "CosineLogSNRSchedule",
    "ExponentialSchedule",
    "FlowShiftSchedule",
    "KarrasSchedule",
    "LinearLogSNRSchedule",
    "SAMPLING_SCHEDULES",
    "SamplingSchedule",
    "ZeroTerminalSNRSchedule",
    "sd_alphas_cumprod",
]
