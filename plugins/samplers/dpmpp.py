"""DPM-Solver++ samplers of the probability-flow ODE: ``dpmpp_2m``, ``dpmpp_3m``, ``dpmpp_2s_ancestral``.

Data-prediction exponential integrators in η = λ/2 (Lu et al. 2022b,
"DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models"); see ``gdf_plugins.samplers._maths`` for the shared derivation, the
λ = −∞ start and the λ′ = +∞ last step.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from gdf_core.bases import SamplerBase
from gdf_core.noise import randn_like
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_plugins.samplers._maths import (
    INTERPOLATIONS,
    Levels,
    combine,
    combine_rows,
    compute,
    data_weights,
    grid_streak,
    half_logsnr,
    scaler_coeffs,
    step_table,
    warmup_correction,
)
from gdf_plugins.samplers.euler import AncestralSamplerBase, ancestral_split


def check_order(name: str, order: int, highest: int) -> int:
    if not isinstance(order, int) or not 1 <= order <= highest:
        raise ValueError(f"sampler {name!r}: order must be an int in 1..{highest}, got {order!r}")
    return order


def multistep_data_step(
    x: Tensor,
    x0: Tensor,
    lv: Levels,
    state: SamplingState,
    order: int,
    *,
    kappa: float = 1.0,
    midpoint: bool = False,
    x_coeff: Tensor | None = None,
    interpolation: str = "logsnr",
    warmup: bool = False,
) -> Tensor:
    """Push (η, x̂0) to the history and take the Adams-type exponential-integrator step.

    x′ = c·x + a′·Σ_j w_j·x̂0_j over the last ``order`` levels (fewer at the start:
    the lower-order warm-up), c = b′/b unless ``x_coeff`` is given. ``warmup``
    corrects the first step at the second level (``warmup_correction``).
    """
    if state.step == 0:
        state.history.clear()
    if warmup:
        x = warmup_correction(state, x, x0, lv)
    state.history.insert(0, (lv.eta, compute(x0)))
    del state.history[order:]
    etas = [e for e, _ in state.history]
    w = data_weights(etas, lv.eta_next, kappa=kappa, midpoint=midpoint, interpolation=interpolation)
    c = lv.b_ratio if x_coeff is None else x_coeff
    return combine([(c, compute(x))] + [(lv.a_next * wj, d) for wj, (_, d) in zip(w, state.history)])


class _DPMPPMultistep(SamplerBase):
    default_order = 2

    def __init__(
        self,
        solver_type: Literal["taylor", "midpoint"] = "taylor",
        interpolation: Literal["t2", "t", "logsnr"] = "t2",
        warmup_corrector: bool = True,
    ) -> None:
        if solver_type not in ("taylor", "midpoint"):
            raise ValueError(f"sampler {self.name!r}: solver_type must be 'taylor' or 'midpoint', got {solver_type!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"sampler {self.name!r}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if solver_type == "midpoint" and interpolation != "logsnr":
            raise ValueError(f"sampler {self.name!r}: solver_type='midpoint' is a form in logsnr: use interpolation='logsnr'")
        self.solver_type = solver_type
        self.interpolation = interpolation
        self.warmup_corrector = warmup_corrector

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, _ = denoise(x, logsnr)
        if state.step == 0:
            state.history.clear()
        streak = grid_streak(state, logsnr, logsnr_next)
        xc, x0c = compute(x), compute(x0)
        lv = None
        if self.warmup_corrector and state.step <= 1:
            lv = Levels(scaler, logsnr, logsnr_next)
            xc = warmup_correction(state, xc, x0c, lv)
        state.history.insert(0, (half_logsnr(logsnr) if lv is None else lv.eta, x0c))
        del state.history[self.default_order :]
        n = len(state.history)
        if streak >= n:  # on the grid: this step's row of the run's coefficients
            c = step_table(state, scaler, ("data", self.solver_type, self.interpolation), n, self._coefficients)
        else:
            lv = Levels(scaler, logsnr, logsnr_next) if lv is None else lv
            c = torch.stack(self._coefficients([e for e, _ in state.history], lv))
        return combine_rows(c, [xc] + [d for _, d in state.history]).to(x.dtype)

    def _coefficients(self, etas: list[Tensor], lv: Levels) -> list[Tensor]:
        """[b′/b, a′·w_0, a′·w_1, …]: x′ = (b′/b)·x + a′·Σ_j w_j·x̂0_j."""
        w = data_weights(
            etas, lv.eta_next, midpoint=self.solver_type == "midpoint", interpolation=self.interpolation
        )
        return [lv.b_ratio] + [lv.a_next * wj for wj in w]


class DPMPP2MSampler(_DPMPPMultistep):
    """DPM-Solver++(2M), second-order multistep (Lu et al. 2022b, Alg. 2).

    x′ = (b′/b)·x + a′·Σ_j w_j·x̂0_j with x̂0 linear in η through this level and the
    previous one. ``solver_type="taylor"`` integrates that line exactly (the
    φ-function form of the paper's Taylor expansion); ``"midpoint"`` is the
    paper's Alg. 2 form (1 − e^(−h))·((1 + 1/2r)·x̂0_0 − x̂0_1/2r), in η.
    ``interpolation="t"`` (default) interpolates x̂0 in t = σ/(1 + σ) instead of
    η = λ/2, which keeps the order near λ = ±∞ (starts from pure noise, grids
    uniform in rectified-flow time); ``"logsnr"`` is the paper's choice. First
    step first order, corrected at the second level when ``warmup_corrector``;
    a last step into λ′ = +∞ extrapolates x̂0 to σ = 0 in σ².
    """

    name = "dpmpp_2m"
    default_order = 2


class DPMPP3MSampler(_DPMPPMultistep):
    """DPM-Solver++(3M), third-order multistep (Lu et al. 2022b, §4 and App. B; Zheng et al. 2023).

    x̂0 quadratic through the last three levels, integrated exactly against
    e^(−(h−τ)) (the φ₁, φ₂, φ₃ form when ``interpolation="logsnr"``; in
    t = σ/(1 + σ) by default, see ``dpmpp_2m``). Orders 1, 2 for the first two
    steps (the first corrected at the second level when ``warmup_corrector``);
    a last step into λ′ = +∞ extrapolates x̂0 to σ = 0 in σ² through the same levels.
    """

    name = "dpmpp_3m"
    default_order = 3

    def __init__(self, interpolation: Literal["t2", "t", "logsnr"] = "t2", warmup_corrector: bool = True) -> None:
        super().__init__("taylor", interpolation, warmup_corrector)


class DPMPP2SAncestralSampler(AncestralSamplerBase):
    """DPM-Solver++(2S), single-step second order, with ancestral noise (Lu et al. 2022b, Alg. 1).

    Per step: the ancestral split (σ_down, σ_up) of ``euler_ancestral``; a
    first-order step to the midpoint η_s = η + h_d/2 of [η, η_down]; the
    model there; x_down = (σ_down/σ)·y + (1 − e^(−h_d))·x̂0(η_s) (times a′);
    then fresh noise b′·(σ_up/σ′)·s_noise·z. Two model calls per step; the
    last step is a single ancestral Euler step (x̂0 itself at λ′ = +∞).
    """

    name = "dpmpp_2s_ancestral"

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, eps = denoise(x, logsnr)
        x0c, xc = compute(x0), compute(x)
        lv = Levels(scaler, logsnr, logsnr_next)
        down, up = ancestral_split(lv.h, self.eta)
        z = randn_like(x0c, generator, logsnrs=(logsnr, logsnr_next))
        noise = (lv.b_next * up * self.s_noise, z)
        if state.is_last_step:
            return combine([(lv.a_next, x0c), (lv.b_next * down, compute(eps)), noise]).to(x.dtype)
        # η_down = η′ − log(σ_down/σ′); h_d = η_down − η.
        h_d = lv.h - torch.log(down)
        eta_s = lv.eta + h_d / 2
        a_s, b_s = scaler_coeffs(scaler, 2 * eta_s)
        x_s = combine([(b_s / lv.b, xc), (-a_s * torch.expm1(-h_d / 2), x0c)])
        x0_s, _ = denoise(x_s.to(x.dtype), (2 * eta_s).to(logsnr.dtype))
        out = combine([(lv.b_ratio * down, xc), (-lv.a_next * torch.expm1(-h_d), compute(x0_s)), noise])
        return out.to(x.dtype)


__all__ = ["DPMPP2MSampler", "DPMPP2SAncestralSampler", "DPMPP3MSampler", "check_order", "multistep_data_step"]
