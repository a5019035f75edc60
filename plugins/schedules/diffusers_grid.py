"""The sampling grids of diffusers' schedulers (their ``set_timesteps``), as gdf sampling schedules.

A diffusers grid depends on the number of steps N in a way no fixed λ(t) can
follow: ``leading`` spacing puts the first timestep at (N − 1)·⌊T/N⌋ + offset,
``linspace`` at T − 1, Karras σ bounds are taken from the N-step grid. These
schedules therefore give the whole grid of an N-step run, ``run_logsnrs(N)``
(the ``RunGrid`` capability, used by ``GDF.sample``), and, for t given alone,
a continuous λ(t) on the same β table (τ = t·(T − 1), +∞ at t = 0 when the
run ends on data).

``algorithm`` names whose ``set_timesteps`` is reproduced:

- ``ddim``: DDIM, DDPM, PNDM (integer timesteps; a step goes from τ to
  τ − ⌊T/N⌋, the last one to ᾱ = 1 or ᾱ_0: ``final``);
- ``euler``: Euler, Euler ancestral, Heun, LMS (σ interpolated linearly at
  fractional timesteps; Karras, exponential or beta σ from the grid's ends);
- ``dpm``: DPM-Solver multistep, UniPC, DEIS (N + 1 points, the last dropped;
  Karras σ from the table's ends; ``lambda_min_clipped``).

``final``: the level a run ends on: clean data (σ = 0), the first timestep's
(σ of ᾱ_0), or ``last_level``, the last model level again, a step of zero width
(what UniPC with ``final_sigmas_type="sigma_min"`` and DEIS do on Karras,
exponential and beta σ).

Timestep spacings: Lin et al. 2024 ("Common Diffusion Noise Schedules and
Sample Steps are Flawed"), Table 2. Karras σ: Karras et al. 2022, eq. 5.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from torch import Tensor

from gdf_plugins.schedules.diffusers_betas import BetaScheduleName, DiffusersTable, interpolate_logsnr
from gdf_plugins.schedules.grids import SamplingSchedule
from gdf_core.domains import IntRange, OpenUnitInterval, UnitInterval
from typing import Annotated

import annotated_types as at

Spacing = Literal["leading", "trailing", "linspace"]


def _f32(x: Tensor) -> Tensor:
    """Rounded to float32 and back, as diffusers stores its σ and ᾱ."""
    return x.to(torch.float32).to(torch.float64)


def numpy_linspace(start: float, stop: float, num: int) -> list[float]:
    """``numpy.linspace(start, stop, num)``'s float64 values: i·step + start, the last exactly ``stop``.

    Not ``torch.linspace``, which fills its second half from ``stop`` down: the two differ in the last
    bit at some points, and where diffusers then rounds (895.4999999999999 against 895.5) its timestep
    is one less than torch's (PixArt's DPM-Solver at 26, 30, 46, 52 … steps).
    """
    if num == 1:
        return [float(start)]
    step = (stop - start) / (num - 1)
    values = [i * step + start for i in range(num)]
    values[-1] = float(stop)
    return values


def numpy_arange(start: float, stop: float, step: float) -> list[float]:
    """``numpy.arange(start, stop, step)``'s float64 values: start + i·δ with δ = (start + step) − start,
    ⌈(stop − start)/step⌉ of them (SDXL's Euler at 48 trailing steps: 936, not torch's 937)."""
    count = max(math.ceil((stop - start) / step), 0)
    delta = (start + step) - start
    return [start + i * delta for i in range(count)]


def spaced_timesteps(spacing: str, steps: int, train_steps: int, steps_offset: int, *, extra_point: bool = False, last: Optional[int] = None) -> Tensor:
    """The timesteps of an N-step run, noisiest first (float64; integers except Euler's ``linspace``).

    ``extra_point``: DPM-Solver's layout (N + 1 points of ``linspace``/``leading``, the last dropped).
    """
    last = train_steps if last is None else last
    n = steps + 1 if extra_point else steps
    if spacing == "linspace":
        top = (last if extra_point else train_steps) - 1
        ts = torch.tensor(numpy_linspace(0.0, float(top), n), dtype=torch.float64).flip(0)
    elif spacing == "leading":
        ratio = (last if extra_point else train_steps) // n
        ts = (torch.arange(n, dtype=torch.float64) * ratio).flip(0) + steps_offset
    elif spacing == "trailing":
        ts = torch.round(torch.tensor(numpy_arange(float(last), 0.0, -train_steps / steps), dtype=torch.float64)) - 1
        return ts
    else:
        raise ValueError(f"unknown timestep_spacing {spacing!r}; expected leading, trailing or linspace")
    return ts[:-1] if extra_point else ts


def karras_sigmas(sigma_min: float, sigma_max: float, steps: int, rho: float = 7.0) -> Tensor:
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def exponential_sigmas(sigma_min: float, sigma_max: float, steps: int) -> Tensor:
    return torch.linspace(math.log(sigma_max), math.log(sigma_min), steps, dtype=torch.float64).exp()


def beta_sigmas(sigma_min: float, sigma_max: float, steps: int, alpha: float = 0.6, beta: float = 0.6) -> Tensor:
    """σ at the Beta(0.6, 0.6) quantiles (Lee et al. 2024), through scipy's exact inverse."""
    try:
        from scipy.special import betaincinv
    except ImportError:  # pragma: no cover - scipy is in the test extra
        raise ValueError("use_beta_sigmas needs scipy (the inverse of the regularised incomplete beta function)") from None
    u = 1 - torch.linspace(0, 1, steps, dtype=torch.float64)
    ppf = torch.tensor([float(betaincinv(alpha, beta, float(v))) for v in u], dtype=torch.float64)
    return sigma_min + ppf * (sigma_max - sigma_min)


SIGMA_GRIDS = {"karras": karras_sigmas, "exponential": exponential_sigmas, "beta": beta_sigmas}


def sigma_to_timestep(log_sigma: Tensor, table_log_sigma: Tensor) -> Tensor:
    """Fractional timestep of σ by linear interpolation in log σ over the table (diffusers' ``_sigma_to_t``)."""
    ls = table_log_sigma
    last = ls.shape[0] - 1
    q = log_sigma.clamp(min=math.log(1e-10))
    low = ((q[None, :] - ls[:, None]) >= 0).long().cumsum(0).argmax(0).clamp(max=last - 1)
    lo_v, hi_v = ls[low], ls[low + 1]
    w = torch.where(torch.isinf(hi_v), torch.zeros_like(q), (lo_v - q) / (lo_v - hi_v)).clamp(0, 1)
    tau = (1 - w) * low.to(q.dtype) + w * (low + 1).to(q.dtype)
    # σ = ∞ (λ = −∞, zero terminal SNR): the table's last timestep when it reaches σ = ∞ there
    return torch.where(torch.isinf(q) & (q > 0), torch.full_like(tau, float(last)), tau)



#: diffusers' number of training timesteps (a table needs at least two).
TrainTimesteps = IntRange(2, 100_000)

#: diffusers' ``lambda_min_clipped``: a λ floor ≤ 0, or −∞ for none (its default); NaN is refused.
LogSNRBound = Annotated[float, at.Le(0)]

class DiffusersGridSchedule(DiffusersTable, SamplingSchedule):
    """The λ grid of a diffusers scheduler's ``set_timesteps(N)`` on its β table (see the module)."""

    name = "diffusers_grid"
    spec_exclude = ("to_data",)  # follows from ``final``: not a parameter of its own
    example_spec = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1}

    def __init__(
        self,
        num_train_timesteps: TrainTimesteps = 1000,
        beta_start: OpenUnitInterval = 0.0001,
        beta_end: OpenUnitInterval = 0.02,
        beta_schedule: BetaScheduleName = "linear",
        trained_betas: Optional[list[float]] = None,
        rescale_betas_zero_snr: bool = False,
        terminal_alphas_cumprod: Optional[UnitInterval] = None,
        algorithm: Literal["ddim", "euler", "dpm"] = "ddim",
        timestep_spacing: Spacing = "leading",
        steps_offset: IntRange(0, 100_000) = 0,  # type: ignore[valid-type]
        final: Literal["data", "first_timestep", "last_level"] = "data",
        sigmas: Literal["table", "karras", "exponential", "beta"] = "table",
        lambda_min_clipped: LogSNRBound = -math.inf,
        exact_steps: bool = True,
        **kwargs,
    ) -> None:
        self._init_table(
            num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas,
            rescale_betas_zero_snr, terminal_alphas_cumprod,
        )
        if int(steps_offset) != steps_offset or steps_offset < 0:
            raise ValueError(f"schedule {self.name!r}: steps_offset must be an integer ≥ 0, got {steps_offset}")
        if algorithm == "ddim" and sigmas != "table":
            raise ValueError(f"schedule {self.name!r}: algorithm 'ddim' steps on the β table's timesteps; sigmas={sigmas!r} is for 'euler' or 'dpm'")
        self.algorithm = algorithm
        self.timestep_spacing = timestep_spacing
        self.steps_offset = int(steps_offset)
        self.final = final
        self.sigmas = sigmas
        self.lambda_min_clipped = lambda_min_clipped
        self.exact_steps = exact_steps
        super().__init__(to_data=final == "data", **kwargs)

    # -- continuous λ(t), for t given alone --------------------------------
    def curve(self, t: Tensor) -> Tensor:
        lam = interpolate_logsnr(self._logsnr, t.to(torch.float64) * (self.num_train_timesteps - 1))
        if self.final == "first_timestep":
            lam = torch.where(t == 0, self._logsnr[0].expand_as(lam), lam)
        return lam.to(t.dtype)

    # -- the grid of an N-step run ------------------------------------------
    def run_logsnrs(self, steps: int) -> Tensor:
        """λ of the N + 1 levels of an N-step run (float64), exactly as diffusers' ``set_timesteps(N)`` + ``step``."""
        if int(steps) != steps or steps < 1:
            raise ValueError(f"schedule {self.name!r}: a run needs an integer number of steps ≥ 1, got {steps}")
        T = self.num_train_timesteps
        if steps > T:
            raise ValueError(f"schedule {self.name!r}: {steps} steps is more than the {T} training timesteps")
        final = math.inf if self.final == "data" else float(_logsnr_of(self._alphas_cumprod)[0])
        if self.algorithm == "ddim":
            if self.final == "last_level":
                raise ValueError(f"schedule {self.name!r}: final='last_level' is for the 'euler' and 'dpm' grids")
            lam = self._ddim_grid(steps, final)
        else:
            levels = -2 * torch.log(self.run_sigmas(steps))
            end = levels[-1:] if self.final == "last_level" else torch.tensor([final], dtype=torch.float64)
            lam = torch.cat([levels, end])
        if self.shift != 1:
            lam = lam - 2 * math.log(self.shift)
        return lam

    levels = run_logsnrs  # type: ignore[assignment]

    def _ddim_grid(self, steps: int, final: float) -> Tensor:
        T = self.num_train_timesteps
        ts = spaced_timesteps(self.timestep_spacing, steps, T, self.steps_offset).round().long()
        outside = ((ts < 0) | (ts >= T)).nonzero().flatten()
        if ts.shape[0] != steps or outside.numel():
            wrong = (f"{ts.shape[0]} of them" if ts.shape[0] != steps else
                     f"{_listed(ts[outside])} {'lies' if outside.numel() == 1 else 'lie'} outside the training timesteps 0 … {T - 1}")
            raise ValueError(
                f"schedule {self.name!r}: timestep_spacing={self.timestep_spacing!r} with steps_offset={self.steps_offset} "
                f"gives the timesteps {_listed(ts)} for {steps} steps: {wrong}; take fewer steps, or another "
                f"timestep_spacing or steps_offset"
            )
        lam_tab = _logsnr_of(self._alphas_cumprod)
        now = lam_tab[ts]
        prev = ts - T // steps  # where diffusers' step lands
        lands = torch.where(prev >= 0, lam_tab[prev.clamp(min=0)], torch.full_like(now, final))
        if self.exact_steps:
            bad = [i for i in range(steps - 1) if int(prev[i]) != int(ts[i + 1])]
            if bad:
                i = bad[0]
                raise ValueError(
                    f"schedule {self.name!r}: with timestep_spacing={self.timestep_spacing!r} and {steps} steps diffusers' "
                    f"step {i} goes from timestep {int(ts[i])} to {int(prev[i])} (τ − ⌊T/N⌋) but evaluates the model next "
                    f"at {int(ts[i + 1])}: the run is not a grid; choose a step count dividing {T}, or exact_steps=False "
                    f"for the consistent grid through the same timesteps"
                )
            return torch.cat([now, lands[-1:]])
        return torch.cat([now, lands[-1:] if int(prev[-1]) < 0 else torch.tensor([final], dtype=torch.float64)])

    def run_sigmas(self, steps: int) -> Tensor:
        """σ = e^(−λ/2) of the N model evaluations of an ``euler``/``dpm`` run (float64 of diffusers' float32)."""
        T = self.num_train_timesteps
        ab32 = self._alphas_cumprod.to(torch.float32)
        table_sigma = (((1 - ab32) / ab32) ** 0.5).to(torch.float64)
        if self.algorithm == "euler":
            ts = spaced_timesteps(self.timestep_spacing, steps, T, self.steps_offset)
            ts = ts.to(torch.float32).to(torch.float64)
            sig = _interp(ts, table_sigma)
            if self.sigmas != "table":
                sig = SIGMA_GRIDS[self.sigmas](float(sig[-1]), float(sig[0]), steps)
        else:
            half = 0.5 * _logsnr_of(self._alphas_cumprod).to(torch.float32)
            clipped = int(torch.searchsorted(half.flip(0), torch.tensor(self.lambda_min_clipped, dtype=torch.float32)))
            ts = spaced_timesteps(self.timestep_spacing, steps, T, self.steps_offset, extra_point=True, last=T - clipped)
            ts = ts.round()
            if self.sigmas != "table":
                sig = SIGMA_GRIDS[self.sigmas](float(table_sigma[0]), float(table_sigma[-1]), steps)
            else:
                sig = _interp(ts, table_sigma)
        if sig.shape[0] != steps:
            raise ValueError(
                f"schedule {self.name!r}: timestep_spacing={self.timestep_spacing!r} gives {sig.shape[0]} timesteps for {steps} steps"
            )
        return _f32(sig)


def _logsnr_of(ab: Tensor) -> Tensor:
    """λ of ᾱ as diffusers stores it (float32), in float64."""
    a = _f32(ab)
    return torch.log(a) - torch.log1p(-a)


def _interp(pos: Tensor, table: Tensor) -> Tensor:
    """numpy.interp(pos, arange(len(table)), table): linear, clamped at the ends."""
    last = table.shape[0] - 1
    p = pos.clamp(0, last)
    lo = p.floor().clamp(max=last - 1).long()
    frac = p - lo.to(p.dtype)
    return table[lo] * (1 - frac) + table[lo + 1] * frac


def _listed(values: Tensor, ends: int = 3) -> str:
    """Integer values as a short list: all of them up to 2·ends + 1, else the first and last ``ends``."""
    v = values.tolist()
    if len(v) <= 2 * ends + 1:
        return ", ".join(map(str, v))
    return ", ".join(map(str, v[:ends])) + ", …, " + ", ".join(map(str, v[-ends:]))


__all__ = [
    "DiffusersGridSchedule",
    "beta_sigmas",
    "exponential_sigmas",
    "karras_sigmas",
    "sigma_to_timestep",
    "spaced_timesteps",
]
