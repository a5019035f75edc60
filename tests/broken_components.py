"""Deliberately broken components: each breaks one invariant of its kind, and the kit must say so.

Each subclasses a sound built-in-like component and changes one thing; the
comment on each names the invariant it breaks.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import FirstOrderSampler, LossWeightBase, NoiseCondBase, ScalerBase, ScheduleBase, TargetBase
from gdf_core.bases.guidance import GuidanceBase, scale_at
from gdf_core.bases.sampler import scaled
from gdf_core.guidance import Predictions
from gdf_plugins.samplers.dpmpp import DPMPP2MSampler, DPMPP3MSampler
from gdf_plugins.samplers.maths.levels import ETA_FLOOR


# -- schedules -----------------------------------------------------------------------
class LinearLogSNR(ScheduleBase):
    """A sound schedule: λ = 10 − 20·t."""

    name = "test_linear"

    def logsnr(self, t: Tensor) -> Tensor:
        return 10 - 20 * t


class IncreasingSchedule(LinearLogSNR):
    """non_increasing_in_t: falls from λ(0) = 10 to λ(1) = −10, but rises for t in (0.4, 0.6)."""

    name = "test_increasing"

    def logsnr(self, t: Tensor) -> Tensor:
        return 10 - 20 * t - 4 * torch.sin(2 * torch.pi * t)


class RisingSchedule(LinearLogSNR):
    """non_increasing_in_t: runs from noise to data (λ = −10 + 20·t; its limits clamp it to a constant)."""

    name = "test_rising"

    def logsnr(self, t: Tensor) -> Tensor:
        return -10 + 20 * t


class InfiniteEndSchedule(LinearLogSNR):
    """finite_on_unit_interval: λ(1) = −inf (and no force_limits to clamp it)."""

    name = "test_infinite_end"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(force_limits=False, **kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        return torch.log1p(-t) - torch.log(t)


class WrongShiftSchedule(LinearLogSNR):
    """shift_moves_logsnr: shifts by +2·log(shift) (the noise condition's sign) instead of −2·log(shift)."""

    name = "test_wrong_shift"

    def __call__(self, t: Any, *, shift: float = 1.0, generator: Any = None) -> Tensor:
        return super().__call__(t, generator=generator, shift=1.0) + (2 * math.log(shift) if shift != 1 else 0.0)


class IgnoresDiscreteSteps(LinearLogSNR):
    """discrete_steps_levels: takes discrete_steps but never rounds t."""

    name = "test_ignores_discrete_steps"

    def _discretise(self, t: Tensor) -> Tensor:
        return t.to(torch.float32).clamp(0, 1) if not t.is_floating_point() else t.clamp(0, 1)


class MutatingSchedule(LinearLogSNR):
    """no_input_mutation: clamps t in place."""

    name = "test_mutating_schedule"

    def __call__(self, t: Any, **kwargs: Any) -> Tensor:
        if isinstance(t, Tensor):
            t.clamp_(0.1, 0.9)
        return super().__call__(t, **kwargs)


class Float32Schedule(LinearLogSNR):
    """keeps_dtype_device_shape: always answers in float32."""

    name = "test_float32_schedule"

    def __call__(self, t: Any, **kwargs: Any) -> Tensor:
        return super().__call__(t, **kwargs).to(torch.float32)


class EscapingDrawSchedule(LinearLogSNR):
    """training_draws_within_limits: training draws reach past λ(0) = 10, the upper limit."""

    name = "test_escaping_draws"

    def __call__(self, t: Any, **kwargs: Any) -> Tensor:
        if isinstance(t, int):
            return self.draw(t, kwargs.get("generator")) + 5
        return super().__call__(t, **kwargs)


class SkewedDrawSchedule(LinearLogSNR):
    """training_draws_distribution: draws t = U² instead of the documented uniform t."""

    name = "test_skewed_draws"

    def draw_t(self, batch_size: int, generator: Any = None) -> Tensor:
        return torch.rand(batch_size, generator=generator) ** 2


# -- input scalers -------------------------------------------------------------------
class VP(ScalerBase):
    """A sound VP scaler."""

    name = "test_vp"
    preserves = "variance"

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()


class NotVarianceVP(VP):
    """preserves_identity: a and b both scaled by 0.9, so a²/b² = e^λ holds but a² + b² = 0.81."""

    name = "test_not_variance"

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        a, b = super().scalers(logsnr)
        return a * 0.9, b * 0.9


class WrongLogSNRScaler(VP):
    """logsnr_definition: a² + b² = 1 but at 2·λ (a²/b² = e^(2λ))."""

    name = "test_wrong_logsnr"

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        return super().scalers(2 * logsnr)


class ReversedScaler(VP):
    """monotone_in_logsnr: a falls and b rises as λ grows."""

    name = "test_reversed"
    preserves = None

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        return super().scalers(-logsnr)


class OverOneScaler(VP):
    """coefficients_in_unit_interval: a reaches 1.5."""

    name = "test_over_one"
    preserves = None

    def scalers(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        a, b = super().scalers(logsnr)
        return a * 1.5, b * 1.5


class BadStretchScaler(VP):
    """limits_stretching: setup_limits records the ends swapped."""

    name = "test_bad_stretch"

    def setup_limits(self, schedule: Any, *args: Any, **kwargs: Any) -> list[float]:
        limits = super().setup_limits(schedule, *args, **kwargs)
        self.limits = (0.0, limits[1], 0.0, limits[3])
        return list(self.limits)


class Float64Scaler(VP):
    """keeps_dtype_device_shape: a, b always float64."""

    name = "test_float64_scaler"

    def __call__(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        a, b = super().__call__(logsnr)
        return a.double(), b.double()


class MutatingScaler(VP):
    """no_input_mutation: rounds λ in place."""

    name = "test_mutating_scaler"

    def __call__(self, logsnr: Tensor) -> tuple[Tensor, Tensor]:
        logsnr.round_()
        return super().__call__(logsnr)


# -- targets -------------------------------------------------------------------------
class Epsilon(TargetBase):
    """A sound ε target."""

    name = "test_epsilon"

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return epsilon.clone()

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return ((x - b * pred) / a).to(x.dtype)

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return pred.clone()


class X0OffByFactor(Epsilon):
    """x0_round_trip: x0 inverted with a factor 1.01 too many."""

    name = "test_x0_off"

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return super().x0(x, pred, logsnr, a, b) * 1.01


class WrongEpsilonTarget(Epsilon):
    """epsilon_round_trip: returns the noised x for ε."""

    name = "test_wrong_epsilon"

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return x.clone()


class Float32Target(Epsilon):
    """keeps_dtype_device_shape: x0 always in float32."""

    name = "test_float32_target"

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return super().x0(x, pred, logsnr, a, b).float()


class MutatingTarget(Epsilon):
    """no_input_mutation: scales the prediction in place in epsilon()."""

    name = "test_mutating_target"

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return pred.mul_(1.0).add_(0.5)


# -- noise conditions ---------------------------------------------------------------
class LinearT(NoiseCondBase):
    """A sound inverse of the linear schedule λ = 10 − 20·t: t = (10 − λ)/20."""

    name = "test_linear_t"
    inverts = LinearLogSNR(force_limits=False)

    def cond(self, logsnr: Tensor) -> Tensor:
        return (10 - logsnr) / 20


class NonMonotoneCond(NoiseCondBase):
    """monotone_in_logsnr: λ²."""

    name = "test_non_monotone"

    def cond(self, logsnr: Tensor) -> Tensor:
        return logsnr * logsnr


class InfiniteCond(NoiseCondBase):
    """finite: e^(−λ·5), which overflows for λ ≪ 0."""

    name = "test_infinite_cond"

    def cond(self, logsnr: Tensor) -> Tensor:
        return torch.exp(-5 * logsnr).to(torch.float32)


class WrongInverseCond(LinearT):
    """inverts_schedule: off by 0.1 in t."""

    name = "test_wrong_inverse"

    def cond(self, logsnr: Tensor) -> Tensor:
        return super().cond(logsnr) + 0.1


class WrongShiftCond(LinearT):
    """shift_moves_logsnr: shifts λ by −2·log(shift) (a schedule's sign)."""

    name = "test_wrong_shift_cond"

    def __call__(self, logsnr: Tensor) -> Tensor:
        return self.cond(logsnr - 2 * math.log(self.shift)).to(logsnr.dtype)


class Float64Cond(LinearT):
    """keeps_dtype_device_shape: always float64."""

    name = "test_float64_cond"

    def __call__(self, logsnr: Tensor) -> Tensor:
        return super().__call__(logsnr).double()


class MutatingCond(LinearT):
    """no_input_mutation: clamps λ in place."""

    name = "test_mutating_cond"

    def __call__(self, logsnr: Tensor) -> Tensor:
        logsnr.clamp_(-5, 5)
        return super().__call__(logsnr)


# -- loss weights --------------------------------------------------------------------
class SNRWeight(LossWeightBase):
    """A sound weight: e^λ."""

    name = "test_snr"

    def weight(self, logsnr: Tensor) -> Tensor:
        return logsnr.exp()


class NegativeWeight(SNRWeight):
    """finite_non_negative: λ itself, negative for λ < 0."""

    name = "test_negative"

    def weight(self, logsnr: Tensor) -> Tensor:
        return logsnr.clone()


class IgnoresShiftWeight(SNRWeight):
    """shift_moves_logsnr: ignores shift."""

    name = "test_ignores_shift"

    def __call__(self, logsnr: Tensor, *, shift: float = 1.0, **kwargs: Any) -> Tensor:
        return super().__call__(logsnr)


class Float64Weight(SNRWeight):
    """keeps_dtype_device_shape: always float64."""

    name = "test_float64_weight"

    def __call__(self, logsnr: Tensor, **kwargs: Any) -> Tensor:
        return super().__call__(logsnr, **kwargs).double()


class MutatingWeight(SNRWeight):
    """no_input_mutation: zeroes λ in place."""

    name = "test_mutating_weight"

    def __call__(self, logsnr: Tensor, **kwargs: Any) -> Tensor:
        out = super().__call__(logsnr, **kwargs)
        logsnr.zero_()
        return out


# -- samplers ------------------------------------------------------------------------
class DDIM(FirstOrderSampler):
    """A sound deterministic DDIM step: x′ = a′·x0 + b′·ε, valid either way (``Reversible``)."""

    name = "test_ddim"

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        a_next, b_next = scaled(scaler, logsnr_next, x)
        return a_next * x0 + b_next * epsilon

    def steps_toward_noise(self) -> bool:
        return True


class ForwardOnlyDDIM(DDIM):
    """inverts_to_reference: says it steps towards noise, but its step stops at λ (λ′ taken as max(λ, λ′))."""

    name = "test_forward_only_ddim"

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        return super().update(x, x0, epsilon, logsnr, torch.maximum(logsnr, logsnr_next), scaler=scaler, generator=generator)


class UnguardedDPMPP3M(DPMPP3MSampler):
    """stable_on_uneven_grids: DPM-Solver++(3M) keeping every interpolation node, however near a newer one."""

    name = "test_unguarded_dpmpp_3m"
    node_separation = 0.0


class PureNoiseDroppingDPMPP2M(DPMPP2MSampler):
    """inverts_to_reference: DPM-Solver++(2M) taking a′ = 0 at λ′ = −∞ against the floored σ′ there (gdf's own
    step before it took a′ at the floor too), so x′ loses its −a·b′/b·x̂0 part."""

    name = "test_pure_noise_dropping_dpmpp_2m"

    def coefficients(self, etas: list[Tensor], lv: Any, active: list[Tensor]) -> list[Tensor]:
        lv = copy.copy(lv)
        lv.a_next = torch.where(lv.eta_next <= ETA_FLOOR, torch.zeros_like(lv.a_next), lv.a_next)
        return super().coefficients(etas, lv, active)


class KeptXDPMPP2M(DPMPP2MSampler):
    """follows_a_sent_x: DPM-Solver++(2M) stepping from the x it returned last, which it keeps, instead of the x it
    is given (what gdf's warm-up redo from x_0, and UniPC's corrector from x_(i−1), did with a sent x)."""

    name = "test_kept_x_dpmpp_2m"

    def step(self, denoise: Any, x: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, state: Any, generator: Any = None) -> Tensor:
        kept = getattr(state, "kept_x", None) if state.step > 0 else None
        out = super().step(denoise, x if kept is None else kept, logsnr, logsnr_next, scaler=scaler, state=state, generator=generator)
        state.kept_x = out
        return out


class WrongCoefficientDDIM(DDIM):
    """converges_to_reference: ε weighted by 1.05·b′."""

    name = "test_wrong_coefficient"

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        a_next, b_next = scaled(scaler, logsnr_next, x)
        return a_next * x0 + 1.05 * b_next * epsilon


class GlobalNoiseSampler(DDIM):
    """draws_only_from_generator and deterministic_for_fixed_generator: noise from the global RNG."""

    name = "test_global_noise"
    stochastic = True

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        a_next, b_next = scaled(scaler, logsnr_next, x)
        return a_next * x0 + b_next * torch.randn_like(x)


class Float32Sampler(DDIM):
    """keeps_dtype_device_shape: answers in float32."""

    name = "test_float32_sampler"

    def update(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return super().update(x, *args, **kwargs).float()


class MutatingSampler(DDIM):
    """no_input_mutation: updates x in place."""

    name = "test_mutating_sampler"

    def update(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return x.copy_(super().update(x, *args, **kwargs))


class RenoisingSampler(DDIM):
    """repeated_level_is_a_no_op: redraws the noise share of x at every step, also between equal levels."""

    name = "test_renoising_sampler"
    stochastic = True

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        a_next, b_next = scaled(scaler, logsnr_next, x)
        return a_next * x0 + b_next * torch.randn(x.shape, generator=generator, dtype=x.dtype)


class BranchingSampler(DDIM):
    """no_host_reads: branches in Python on whether λ′ is positive."""

    name = "test_branching_sampler"

    def update(self, x: Tensor, x0: Tensor, epsilon: Tensor, logsnr: Tensor, logsnr_next: Tensor, *, scaler: Any, generator: Any = None) -> Tensor:
        if (logsnr_next > 0).all():
            return super().update(x, x0, epsilon, logsnr, logsnr_next, scaler=scaler, generator=generator)
        return super().update(x, x0, epsilon, logsnr, logsnr_next, scaler=scaler, generator=generator)


# -- guidances -----------------------------------------------------------------------
class Lerp(GuidanceBase):
    """A sound guidance: lerp(u, c, w), classifier-free guidance."""

    name = "test_lerp"

    def __init__(self, scale: float = 3.0, **kwargs: Any) -> None:
        self.scale = scale
        super().__init__(**kwargs)

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        return torch.lerp(predictions.unconditional, predictions.conditional, scale_at(self.scale, t))


class OffByOneCFG(Lerp):
    """neutral_is_conditional: w + 1 where w is meant (scale 1 extrapolates past the conditional)."""

    name = "test_off_by_one"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        return torch.lerp(predictions.unconditional, predictions.conditional, scale_at(self.scale, t) + 1)


class IgnoresInterval(Lerp):
    """conditional_outside_interval: takes an interval and guides at every step anyway."""

    name = "test_ignores_interval"

    def active(self, t: float) -> bool:
        return True


class BatchStdRescale(Lerp):
    """batch_independent: the original GDF's cfg_rho, one std over the whole batch."""

    name = "test_batch_std_rescale"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        guided = super().guide(predictions, x=x, logsnr=logsnr, t=t, step=step, state=state)
        return 0.7 * guided * predictions.conditional.std(correction=0) / (guided.std(correction=0) + 1e-9) + 0.3 * guided


class SelfMomentum(Lerp):
    """fresh_state_per_run: keeps its momentum on itself, so a second run starts from the first's."""

    name = "test_self_momentum"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        diff = predictions.conditional - predictions.unconditional
        previous = getattr(self, "_running", None)
        if previous is not None and previous.shape == diff.shape:
            diff = diff - 0.5 * previous
        self._running = diff
        return predictions.conditional + (scale_at(self.scale, t) - 1) * diff


class BranchingGuidance(Lerp):
    """no_host_reads: skips the work in Python when the predictions agree."""

    name = "test_branching_guidance"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        if (predictions.conditional == predictions.unconditional).all():
            return predictions.conditional
        return super().guide(predictions, x=x, logsnr=logsnr, t=t, step=step, state=state)


class InPlaceGuidance(Lerp):
    """no_input_mutation: lerps the unconditional prediction in place."""

    name = "test_in_place_guidance"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        return predictions.unconditional.lerp_(predictions.conditional, scale_at(self.scale, t))


class Float32Guidance(Lerp):
    """keeps_dtype_device_shape: answers in float32."""

    name = "test_float32_guidance"

    def __call__(self, predictions: Predictions, **kwargs: Any) -> Tensor:
        return super().__call__(predictions, **kwargs).float()


class UnguardedProjection(Lerp):
    """finite: divides by the norm of the conditional prediction, NaN when it is zero (APG without its guard)."""

    name = "test_unguarded_projection"

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        cond, diff = predictions.conditional, predictions.conditional - predictions.unconditional
        dims = tuple(range(1, cond.dim()))
        unit = cond / torch.linalg.vector_norm(cond, dim=dims, keepdim=True)
        orthogonal = diff - (diff * unit).sum(dim=dims, keepdim=True) * unit
        return cond + (scale_at(self.scale, t) - 1) * orthogonal
# -- parameters (every kind) -------------------------------------------------------------
class NaNScaleWeight(LossWeightBase):
    """refuses_nan_parameters: ``scale`` is a plain float, so NaN is accepted and every weight is NaN."""

    name = "test_nan_scale"

    def __init__(self, scale: float = 1.0, **kwargs: Any) -> None:
        self.scale = scale
        super().__init__(**kwargs)

    def weight(self, logsnr: Tensor) -> Tensor:
        return torch.sigmoid(logsnr) * self.scale


class NaNOffsetSchedule(LinearLogSNR):
    """refuses_nan_parameters: ``offset`` is a plain float (no declared domain)."""

    name = "test_nan_offset"

    def __init__(self, offset: float = 0.0, **kwargs: Any) -> None:
        self.offset = offset
        super().__init__(**kwargs)

    def logsnr(self, t: Tensor) -> Tensor:
        return 10 - 20 * t + self.offset


class NaNGainScaler(VP):
    """refuses_nan_parameters: ``gain`` is a plain float (no declared domain)."""

    name = "test_nan_gain"

    def __init__(self, gain: float = 1.0, **kwargs: Any) -> None:
        self.gain = gain
        super().__init__(**kwargs)


class NaNScaleTarget(Epsilon):
    """refuses_nan_parameters: ``scale`` is a plain float (no declared domain)."""

    name = "test_nan_scale_target"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale


class NaNScaleCond(LinearT):
    """refuses_nan_parameters: ``scale`` is a plain float (no declared domain)."""

    name = "test_nan_scale_cond"

    def __init__(self, scale: float = 1.0, **kwargs: Any) -> None:
        self.scale = scale
        super().__init__(**kwargs)
