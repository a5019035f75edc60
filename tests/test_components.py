"""Unit tests of the built-in components beyond the golden values.

Ends of range, the limits of the maths at t ∈ {0, 1} and λ = ±inf, dtypes,
input immutability, the shared shift/limits/discrete_steps semantics, the
learned state of the adaptive components, inverses and round trips, and the
error messages a user sees.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch

from gdf_core.kinds import PROTOCOLS
from gdf_core.protocols import SamplingState
from gdf_plugins.loss_weights import (
    AdaptiveLossWeight,
    ComposedLossWeight,
    ConstantLossWeight,
    DebiasedLossWeight,
    MinSNRLossWeight,
    MinSNRPlusOneLossWeight,
    P2LossWeight,
    SechLossWeight,
    SigmoidLossWeight,
    SNRLossWeight,
    SNRPlusOneLossWeight,
    TruncatedSNRLossWeight,
    gdf_register_loss_weights,
)
from gdf_plugins.noise_conds import (
    CosineTNoiseCond,
    DiscreteNoiseCond,
    EDMNoiseCond,
    EDMSigmaNoiseCond,
    LogSNRNoiseCond,
    PiecewiseLinearNoiseCond,
    RectifiedFlowsNoiseCond,
    SigmoidNoiseCond,
    StableDiffusionNoiseCond,
    gdf_register_noise_conds,
)
from gdf_plugins.samplers import DDIMSampler, DDPMSampler, LCMSampler, gdf_register_samplers
from gdf_plugins.scalers import LERPScaler, VPScaler, gdf_register_input_scalers
from gdf_plugins.schedules import (
    AdaptiveTrainSchedule,
    CosineSchedule,
    CosineSchedule2,
    EDMSampleSchedule,
    EDMTrainSchedule,
    InterpolatedSchedule,
    LinearSchedule,
    PiecewiseLinearSchedule,
    RectifiedFlowsSchedule,
    SqrtSchedule,
    StableDiffusionSchedule,
    TabulatedSchedule,
    gdf_register_schedules,
)
from gdf_plugins.targets import EpsilonTarget, RectifiedFlowsTarget, VTarget, X0Target, gdf_register_targets

LOW_PRECISION = [torch.bfloat16, torch.float16, torch.float64]
INF = math.inf


def logit(v: float) -> float:
    return math.log(v / (1 - v))


def sd_alphas_bar(lo: float = 0.00085, hi: float = 0.012, n: int = 1000) -> list[float]:
    out, prod = [], 1.0
    for i in range(n + 1):
        t = i / n
        prod *= 1 - (math.sqrt(lo) * (1 - t) + math.sqrt(hi) * t) ** 2
        out.append(prod)
    return out


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------
HOOKS = {
    "schedule": gdf_register_schedules,
    "input_scaler": gdf_register_input_scalers,
    "target": gdf_register_targets,
    "noise_cond": gdf_register_noise_conds,
    "loss_weight": gdf_register_loss_weights,
    "sampler": gdf_register_samplers,
}
EXPECTED_NAMES = {
    "schedule": {
        "cosine": "CosineSchedule", "cosine2": "CosineSchedule2", "sqrt": "SqrtSchedule",
        "rectified_flows": "RectifiedFlowsSchedule", "edm_sample": "EDMSampleSchedule",
        "edm_train": "EDMTrainSchedule", "linear": "LinearSchedule",
        "piecewise_linear": "PiecewiseLinearSchedule", "stable_diffusion": "StableDiffusionSchedule",
        "adaptive": "AdaptiveTrainSchedule", "interpolated": "InterpolatedSchedule",
    },
    "input_scaler": {"vp": "VPScaler", "lerp": "LERPScaler"},
    "target": {"epsilon": "EpsilonTarget", "x0": "X0Target", "v": "VTarget", "rectified_flows": "RectifiedFlowsTarget"},
    "noise_cond": {
        "cosine_t": "CosineTNoiseCond", "edm": "EDMNoiseCond", "sigmoid": "SigmoidNoiseCond",
        "logsnr": "LogSNRNoiseCond", "edm_sigma": "EDMSigmaNoiseCond",
        "rectified_flows": "RectifiedFlowsNoiseCond", "piecewise_linear": "PiecewiseLinearNoiseCond",
        "stable_diffusion": "StableDiffusionNoiseCond", "discrete": "DiscreteNoiseCond",
        "diffusers_timestep": "DiffusersTimestepNoiseCond", "flow_timestep": "FlowTimestepNoiseCond",
    },
    "loss_weight": {
        "constant": "ConstantLossWeight", "snr": "SNRLossWeight", "p2": "P2LossWeight",
        "snr_plus_one": "SNRPlusOneLossWeight", "min_snr": "MinSNRLossWeight",
        "min_snr_plus_one": "MinSNRPlusOneLossWeight", "truncated_snr": "TruncatedSNRLossWeight",
        "sech": "SechLossWeight", "debiased": "DebiasedLossWeight", "sigmoid": "SigmoidLossWeight",
        "adaptive": "AdaptiveLossWeight", "composed": "ComposedLossWeight",
    },
    "sampler": {"ddim": "DDIMSampler", "ddpm": "DDPMSampler", "lcm": "LCMSampler"},
}

#: Components gdf adds to the original's in the same hooks (training recipes of issue 12).
ADDED_NAMES = {
    "input_scaler": {"edm": "EDMScaler"},
    "target": {"edm": "EDMTarget", "edm_v": "EDMVTarget", "consistency": "ConsistencyTarget", "thresholded": "ThresholdedTarget"},
    "loss_weight": {"min_snr_gamma": "MinSNRGammaLossWeight", "edm": "EDMLossWeight"},
}


@pytest.mark.parametrize("kind", sorted(HOOKS))
def test_hook_registers_every_component_under_its_registry_name_and_original_class_name(kind: str) -> None:
    classes = HOOKS[kind]()
    names = [cls.name for cls in classes]
    assert len(names) == len(set(names)), f"duplicate {kind} names: {names}"
    registered = {cls.name: cls.__name__ for cls in classes}
    assert EXPECTED_NAMES[kind].items() <= registered.items()
    if kind not in ("sampler", "schedule"):  # solvers and sampling schedules join the originals in the same hooks
        assert registered == {**EXPECTED_NAMES[kind], **ADDED_NAMES.get(kind, {})}
    for cls in classes:
        assert cls.kind == kind


# Instances of every component that can be built without arguments, plus the ones that need some.
def all_instances() -> list[Any]:
    out: list[Any] = []
    needs_args = {
        PiecewiseLinearSchedule: lambda: PiecewiseLinearSchedule(x=[0.0, 0.5, 1.0], y=[0.99, 0.5, 0.01]),
        InterpolatedSchedule: lambda: InterpolatedSchedule(CosineSchedule(), RectifiedFlowsSchedule(), shifts=[1.0, 2.0]),
        TabulatedSchedule: lambda: TabulatedSchedule(logsnrs=[-6.0, -1.0, 2.0, 7.0, float("inf")]),
        PiecewiseLinearNoiseCond: lambda: PiecewiseLinearNoiseCond(x=[0.0, 0.5, 1.0], y=[0.99, 0.5, 0.01]),
        DiscreteNoiseCond: lambda: DiscreteNoiseCond(CosineTNoiseCond(), steps=500),
        ComposedLossWeight: lambda: ComposedLossWeight(div=SNRLossWeight(), mul=[P2LossWeight(), SigmoidLossWeight()]),
    }
    for hook in HOOKS.values():
        for cls in hook():
            out.append(needs_args[cls]() if cls in needs_args else cls())
    return out


@pytest.mark.parametrize("component", all_instances(), ids=lambda c: f"{c.kind}-{c.name}")
def test_component_satisfies_its_protocol_and_its_spec_reads_back(component: Any) -> None:
    assert isinstance(component, PROTOCOLS[component.kind])
    spec = component.to_spec()  # raises if a constructor parameter is not stored under its name
    assert spec == component.name or spec["name"] == component.name


def test_spec_of_nested_components_is_plain_data() -> None:
    composed = ComposedLossWeight(div=SNRLossWeight(), mul=[P2LossWeight(gamma=0.5), SigmoidLossWeight()])
    assert composed.to_spec() == {
        "name": "composed",
        "div": ["snr"],
        "mul": [{"name": "p2", "gamma": 0.5}, "sigmoid"],
    }
    interpolated = InterpolatedSchedule(CosineSchedule(), RectifiedFlowsSchedule(), shifts=(1.0, 2.0))
    assert interpolated.to_spec() == {
        "name": "interpolated", "scheduler1": "cosine", "scheduler2": "rectified_flows", "shifts": [1.0, 2.0],
    }
    assert DiscreteNoiseCond(CosineTNoiseCond()).to_spec() == {"name": "discrete", "noise_cond": "cosine_t"}
    assert DDIMSampler(eta=0.5).to_spec() == {"name": "ddim", "eta": 0.5}
    assert DDPMSampler().to_spec() == "ddpm"


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------
SCHEDULES_WITH_T: dict[str, Callable[[], Any]] = {
    "cosine": CosineSchedule,
    "cosine_norm": lambda: CosineSchedule(norm_instead=True),
    "cosine2": CosineSchedule2,
    "sqrt": SqrtSchedule,
    "rectified_flows": RectifiedFlowsSchedule,
    "edm_sample": EDMSampleSchedule,
    "linear": LinearSchedule,
    "piecewise_linear": lambda: PiecewiseLinearSchedule(x=[0.0, 0.3, 1.0], y=[0.99, 0.6, 0.01]),
    "stable_diffusion": StableDiffusionSchedule,
    "interpolated": lambda: InterpolatedSchedule(CosineSchedule(), RectifiedFlowsSchedule(), shifts=(1.0, 2.0)),
}

#: schedule → (λ(t=0), λ(t=1)) from the maths, in float64.
SCHEDULE_ENDS = {
    "cosine": (logit(0.9999), logit(0.0001)),
    "cosine_norm": (logit(0.9999), logit(0.0001)),
    "cosine2": (15.0, -15.0),
    "sqrt": (logit(1 - math.sqrt(1e-4)), logit(0.0001)),
    "rectified_flows": (15.0, -15.0),
    "edm_sample": (-2 * math.log(0.002), -2 * math.log(80)),
    "linear": (10.0, -10.0),
    "piecewise_linear": (logit(0.99), logit(0.01)),
    "stable_diffusion": (logit(sd_alphas_bar()[0]), logit(sd_alphas_bar()[-1])),
    # t is clamped to [1e-7, 1 - 1e-7]: at t → 0 the rectified_flows part (shift 2) dominates.
    "interpolated": (15.0 - 2 * math.log(2), logit(0.0001)),
}


@pytest.mark.parametrize("key", sorted(SCHEDULES_WITH_T))
def test_schedule_ends_are_the_limits_of_its_formula(key: str) -> None:
    schedule = SCHEDULES_WITH_T[key]()
    lam = schedule(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert lam[0].item() == pytest.approx(SCHEDULE_ENDS[key][0], rel=1e-5)
    assert lam[1].item() == pytest.approx(SCHEDULE_ENDS[key][1], rel=1e-5)
    assert schedule.limits == pytest.approx((lam[1].item(), lam[0].item()))


@pytest.mark.parametrize("key", sorted(SCHEDULES_WITH_T))
def test_schedule_is_finite_and_non_increasing_in_t(key: str) -> None:
    schedule = SCHEDULES_WITH_T[key]()
    lam = schedule(torch.linspace(0, 1, 2001))
    assert torch.isfinite(lam).all()
    assert (lam[1:] <= lam[:-1] + 1e-5).all()


@pytest.mark.parametrize("key", sorted(SCHEDULES_WITH_T))
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_schedule_keeps_the_dtype_of_t_and_does_not_mutate_it(key: str, dtype: torch.dtype) -> None:
    schedule = SCHEDULES_WITH_T[key]()
    t = torch.linspace(0, 1, 11, dtype=dtype)
    before = t.clone()
    lam = schedule(t, shift=2.0)
    assert lam.dtype == dtype
    assert torch.equal(t, before)
    reference = schedule(t.to(torch.float64), shift=2.0)
    tol = 1e-12 if dtype == torch.float64 else 0.05
    assert torch.allclose(lam.to(torch.float64), reference, rtol=tol, atol=tol)


@pytest.mark.parametrize("key", sorted(SCHEDULES_WITH_T))
def test_schedule_shift_moves_logsnr_by_minus_two_log_shift_within_the_limits(key: str) -> None:
    schedule = SCHEDULES_WITH_T[key]()
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    lo, hi = schedule.limits
    expected = (schedule(t) - 2 * math.log(3.0)).clamp(lo, hi)
    assert torch.allclose(schedule(t, shift=3.0), expected, atol=1e-9)
    # The constructor's shift and the call's multiply; as in the original, the limits are
    # recorded at construction with the constructor's shift applied.
    shifted = type(schedule)(**{**schedule.params, "shift": 1.5})
    assert shifted.limits == pytest.approx((lo - 2 * math.log(1.5), hi - 2 * math.log(1.5)))
    unclamped = type(schedule)(**{**schedule.params, "force_limits": False})
    expected = (unclamped(t) - 2 * math.log(3.0)).clamp(*shifted.limits)
    assert torch.allclose(shifted(t, shift=2.0), expected, atol=1e-9)


def test_schedule_shift_above_one_moves_every_step_toward_noise() -> None:
    schedule = LinearSchedule()
    t = torch.linspace(0.1, 0.9, 9)
    assert (schedule(t, shift=2.0) < schedule(t)).all()


def test_discrete_steps_gives_at_most_n_levels_and_integer_t_is_a_step_index() -> None:
    schedule = CosineSchedule(discrete_steps=10)
    lam = schedule(torch.linspace(0, 1, 1001))
    assert torch.unique(lam).numel() == 10
    index = torch.arange(10)
    assert torch.allclose(schedule(index), schedule(index.to(torch.float32) / 9))
    # Rounding, not truncation: t = 0.06 is nearest to level 1/9 = 0.111 …, not 0.
    assert schedule(torch.tensor([0.06])).item() == pytest.approx(schedule(torch.tensor([1 / 9])).item())


@pytest.mark.parametrize("key", sorted(SCHEDULES_WITH_T))
def test_schedule_training_draw_is_reproducible_and_inside_the_limits(key: str) -> None:
    schedule = SCHEDULES_WITH_T[key]()
    lam = schedule(64, generator=torch.Generator().manual_seed(3))
    again = schedule(64, generator=torch.Generator().manual_seed(3))
    assert lam.shape == (64,) and lam.dtype == torch.float32
    assert torch.equal(lam, again)
    lo, hi = schedule.limits
    assert ((lam >= lo - 1e-5) & (lam <= hi + 1e-5)).all()


def test_cosine_training_draw_keeps_t_at_least_0_001() -> None:
    schedule = CosineSchedule()
    t = schedule.draw_t(10000, torch.Generator().manual_seed(0))
    assert t.min().item() >= 0.001 and t.max().item() <= 1.0


def test_rectified_flows_schedule_is_two_log_of_one_minus_t_over_t_and_never_nan() -> None:
    schedule = RectifiedFlowsSchedule(logsnr_range=(-100, 100), force_limits=False)
    t = torch.tensor([0.0, 0.2, 0.5, 0.8, 1.0], dtype=torch.float64)
    lam = schedule(t)
    assert not torch.isnan(lam).any()
    assert lam[0].item() == 100 and lam[-1].item() == -100
    assert lam[1].item() == pytest.approx(2 * math.log(0.8 / 0.2))
    assert lam[2].item() == 0.0


def test_stable_diffusion_schedule_hits_its_knots() -> None:
    schedule = StableDiffusionSchedule()
    alphas = sd_alphas_bar()
    steps = torch.tensor([0, 1, 10, 500, 999, 1000], dtype=torch.float64)
    lam = schedule(steps / 1000)
    for s, value in zip(steps.tolist(), lam.tolist()):
        assert value == pytest.approx(logit(alphas[int(s)]), rel=1e-9)


def test_piecewise_linear_schedule_interpolates_alpha_bar_linearly_between_knots() -> None:
    schedule = PiecewiseLinearSchedule(x=[0.0, 0.5, 1.0], y=[0.9, 0.5, 0.1])
    lam = schedule(torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64))
    expected = [logit(v) for v in (0.9, 0.7, 0.5, 0.3, 0.1)]
    assert lam.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_interpolated_schedule_blends_with_weight_t() -> None:
    one, two = LinearSchedule(), CosineSchedule()
    schedule = InterpolatedSchedule(one, two, shifts=(1.0, 2.0))
    t = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    expected = t * one(t) + (1 - t) * two(t, shift=2.0)
    assert torch.allclose(schedule(t), expected)


def test_edm_sample_schedule_ends_at_sigma_range() -> None:
    schedule = EDMSampleSchedule(sigma_range=(0.01, 50), p=3)
    lam = schedule(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    sigma = torch.exp(-lam / 2)
    mid = (50 ** (1 / 3) + 0.5 * (0.01 ** (1 / 3) - 50 ** (1 / 3))) ** 3
    assert sigma.tolist() == pytest.approx([0.01, mid, 50], rel=1e-9)


@pytest.mark.parametrize("schedule", [EDMTrainSchedule(), AdaptiveTrainSchedule()], ids=lambda s: s.name)
def test_training_only_schedule_refuses_t_with_a_clear_error(schedule: Any) -> None:
    with pytest.raises(TypeError, match="only draws λ for training"):
        schedule(torch.tensor([0.5]))
    lam = schedule(8, generator=torch.Generator().manual_seed(0))
    assert lam.shape == (8,) and torch.isfinite(lam).all()


def test_adaptive_schedule_draws_inside_its_range_and_learns_from_the_loss() -> None:
    schedule = AdaptiveTrainSchedule(logsnr_range=(-10, 10), buckets=10)
    lam = schedule(5000, generator=torch.Generator().manual_seed(0))
    assert lam.min().item() >= -10 and lam.max().item() <= 10
    # Uniform at first: every bucket is drawn.
    assert torch.histc(lam, bins=10, min=-10, max=10).min().item() > 300
    # A high loss in bucket [4, 6) makes it far more likely.
    for _ in range(300):
        schedule.update_buckets(torch.full((4,), 5.0), torch.full((4,), 100.0))
    lam = schedule(5000, generator=torch.Generator().manual_seed(1))
    share = ((lam >= 4) & (lam < 6)).float().mean().item()
    assert share > 0.8


def test_adaptive_schedule_update_is_an_ema_of_the_mean_loss_per_bucket() -> None:
    schedule = AdaptiveTrainSchedule(logsnr_range=(-10, 10), buckets=4)  # edges -10, -5, 0, 5, 10
    schedule.update_buckets(torch.tensor([-7.0, -6.0, 0.0, 10.0, 99.0]), torch.tensor([2.0, 4.0, 5.0, 7.0, 9.0]), beta=0.5)
    # bucket 0: mean(2, 4) = 3; bucket 2 holds λ = 0 (lo ≤ λ < hi); λ = 10 and 99 count for the last bucket.
    assert schedule.bucket_probs.tolist() == pytest.approx([0.5 + 1.5, 1.0, 0.5 + 2.5, 0.5 + 4.0])


def test_adaptive_schedule_state_dict_round_trip_reproduces_the_draws() -> None:
    schedule = AdaptiveTrainSchedule(buckets=20, min_probs=0.1)
    schedule.update_buckets(torch.linspace(-9, 9, 50), torch.linspace(0, 5, 50))
    fresh = AdaptiveTrainSchedule(buckets=20, min_probs=0.1)
    fresh.load_state_dict(schedule.state_dict())
    assert torch.equal(fresh.bucket_probs, schedule.bucket_probs)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(fresh(100, generator=g1), schedule(100, generator=g2))
    # The state is a copy, not a view of the live tensor.
    state = schedule.state_dict()
    schedule.update_buckets(torch.zeros(3), torch.ones(3) * 50)
    assert not torch.equal(state["bucket_probs"], schedule.bucket_probs)
    with pytest.raises(ValueError, match=r"'bucket_probs' has shape \(20,\); this component has 5 buckets"):
        AdaptiveTrainSchedule(buckets=5).load_state_dict(state)


def test_adaptive_update_rejects_mismatched_loss_shape() -> None:
    with pytest.raises(ValueError, match="one loss per sample"):
        AdaptiveTrainSchedule().update_buckets(torch.zeros(4), torch.zeros(3))


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: CosineSchedule(clamp_range=(0.9, 0.1)), r"clamp_range: must be in increasing order"),
        (lambda: SqrtSchedule(clamp_range=(-0.1, 0.9)), r"clamp_range.*greater than or equal to 0"),
        (lambda: LinearSchedule(logsnr_range=(10, -10)), "low < high"),
        (lambda: CosineSchedule2(logsnr_range=(5, 5)), "low < high"),
        (lambda: RectifiedFlowsSchedule(logsnr_range=(15, -15)), "low < high"),
        (lambda: EDMSampleSchedule(sigma_range=(80, 0.002)), "sigma_range: must be in increasing order"),
        (lambda: EDMSampleSchedule(p=0), r"p: Input should be greater than 0; got 0; allowed: a finite number > 0"),
        (lambda: EDMTrainSchedule(std=-1), r"std: Input should be greater than or equal to 0; got -1"),
        (lambda: PiecewiseLinearSchedule(x=[0.0, 1.0], y=[0.9]), "same length"),
        (lambda: PiecewiseLinearSchedule(x=[0.0, 0.0, 1.0], y=[0.9, 0.5, 0.1]), "x: must be in increasing order"),
        (lambda: PiecewiseLinearSchedule(x=[0.0, 1.0], y=[1.0, 0.1]), r"y.*less than 1"),
        (lambda: StableDiffusionSchedule(linear_range=(0.012, 0.00085)), "linear_range: must be in increasing order"),
        (lambda: StableDiffusionSchedule(total_steps=0), "total_steps"),
        (lambda: AdaptiveTrainSchedule(buckets=0), "buckets"),
        (lambda: AdaptiveTrainSchedule(min_probs=-1), "min_probs"),
        (lambda: InterpolatedSchedule(CosineSchedule(), LinearSchedule(), shifts=(1.0,)), r"shifts: Tuple should have at most 2 items|shifts.*allowed: a pair"),
    ],
)
def test_schedule_rejects_bad_arguments_with_a_message_naming_them(factory: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


# ---------------------------------------------------------------------------
# Input scalers
# ---------------------------------------------------------------------------
WIDE_LOGSNR = torch.tensor([-INF, -200.0, -30.0, -5.0, -1e-6, 0.0, 1e-6, 5.0, 30.0, 200.0, INF])


def test_vp_scaler_preserves_variance_everywhere_including_infinite_logsnr() -> None:
    a, b = VPScaler()(WIDE_LOGSNR.to(torch.float64))
    assert torch.allclose(a**2 + b**2, torch.ones_like(a), atol=1e-12)
    assert a[0].item() == 0 and b[0].item() == 1 and a[-1].item() == 1 and b[-1].item() == 0
    # λ = log(a²/b²) where both are positive.
    inner = slice(1, -1)
    assert torch.allclose(torch.log(a[inner] ** 2 / b[inner] ** 2), WIDE_LOGSNR[inner].double(), rtol=1e-9)


def test_lerp_scaler_coefficients_sum_to_one_and_match_rectified_flow_time() -> None:
    a, b = LERPScaler()(WIDE_LOGSNR.to(torch.float64))
    assert torch.allclose(a + b, torch.ones_like(a), atol=1e-15)
    assert not torch.isnan(a).any() and not torch.isnan(b).any()
    t = torch.tensor([0.1, 0.3, 0.5, 0.9], dtype=torch.float64)
    a, b = LERPScaler()(RectifiedFlowsSchedule()(t))
    assert torch.allclose(a, 1 - t) and torch.allclose(b, t)


@pytest.mark.parametrize("scaler_cls", [VPScaler, LERPScaler])
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_scaler_keeps_dtype_and_does_not_mutate_logsnr(scaler_cls: type, dtype: torch.dtype) -> None:
    lam = torch.tensor([-3.0, 0.0, 2.0], dtype=dtype)
    before = lam.clone()
    a, b = scaler_cls()(lam)
    assert a.dtype == dtype and b.dtype == dtype
    assert torch.equal(lam, before)


@pytest.mark.parametrize("scaler_cls", [VPScaler, LERPScaler])
@pytest.mark.parametrize("schedule_factory", [CosineSchedule, LinearSchedule, EDMSampleSchedule, StableDiffusionSchedule])
def test_limits_stretching_maps_schedule_ends_exactly_onto_noise_and_data(
    scaler_cls: type, schedule_factory: Callable[[], Any]
) -> None:
    scaler, schedule = scaler_cls(), schedule_factory()
    scaler.setup_limits(schedule)
    a, b = scaler(schedule(torch.tensor([1.0, 0.0])))
    assert (a[0].item(), b[0].item()) == (0.0, 1.0)
    assert (a[1].item(), b[1].item()) == (1.0, 0.0)
    # Inside, a grows and b shrinks toward the data end.
    a_mid, b_mid = scaler(schedule(torch.linspace(1, 0, 11)))
    assert (a_mid[1:] >= a_mid[:-1]).all() and (b_mid[1:] <= b_mid[:-1]).all()
    # The stretched scaler's spec carries its limits and rebuilds an equal scaler.
    assert scaler_cls(**{k: v for k, v in scaler.to_spec().items() if k != "name"}) == scaler


def test_limits_stretching_can_keep_either_end() -> None:
    scaler = VPScaler()
    limits = scaler.setup_limits(CosineSchedule(), stretch_max=False, stretch_min=False)
    assert limits == [0.0, 1.0, 0.0, 1.0]


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------
TARGET_SCALER_PAIRS = [
    (EpsilonTarget, VPScaler), (X0Target, VPScaler), (VTarget, VPScaler),
    (EpsilonTarget, LERPScaler), (X0Target, LERPScaler), (VTarget, LERPScaler),
    (RectifiedFlowsTarget, LERPScaler), (RectifiedFlowsTarget, VPScaler),
]


@pytest.mark.parametrize(("target_cls", "scaler_cls"), TARGET_SCALER_PAIRS, ids=lambda c: c.__name__)
def test_target_inversion_recovers_x0_and_epsilon(target_cls: type, scaler_cls: type) -> None:
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    lam = torch.linspace(-6, 6, 6, dtype=torch.float64)
    a, b = (v[:, None] for v in scaler_cls()(lam))
    noised = a * x0 + b * eps
    target = target_cls()
    pred = target(x0, eps, lam, a, b)
    assert torch.allclose(target.x0(noised, pred, lam, a, b), x0, atol=1e-9)
    assert torch.allclose(target.epsilon(noised, pred, lam, a, b), eps, atol=1e-9)


def test_v_target_is_a_epsilon_minus_b_x0() -> None:
    x0, eps = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    a, b = torch.tensor([0.6, 0.8]), torch.tensor([0.8, 0.6])
    assert torch.allclose(VTarget()(x0, eps, torch.zeros(2), a, b), a * eps - b * x0)
    assert torch.equal(RectifiedFlowsTarget()(x0, eps, torch.zeros(2), a, b), eps - x0)


@pytest.mark.parametrize("target_cls", [EpsilonTarget, X0Target, VTarget, RectifiedFlowsTarget])
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_target_keeps_dtype_and_does_not_mutate_inputs(target_cls: type, dtype: torch.dtype) -> None:
    x0, eps = torch.randn(4, 2).to(dtype), torch.randn(4, 2).to(dtype)
    a, b = (v[:, None] for v in VPScaler()(torch.linspace(-2, 2, 4, dtype=dtype)))
    inputs = [x0, eps, a, b]
    before = [v.clone() for v in inputs]
    target = target_cls()
    pred = target(x0, eps, torch.zeros(4), a, b)
    x = a * x0 + b * eps
    outs = [pred, target.x0(x, pred, torch.zeros(4), a, b), target.epsilon(x, pred, torch.zeros(4), a, b)]
    assert all(o.dtype == dtype for o in outs)
    assert all(torch.equal(v, w) for v, w in zip(inputs, before))


# ---------------------------------------------------------------------------
# Noise conditions
# ---------------------------------------------------------------------------
ALL_NOISE_CONDS: dict[str, Callable[[], Any]] = {
    "cosine_t": CosineTNoiseCond,
    "edm": EDMNoiseCond,
    "sigmoid": SigmoidNoiseCond,
    "logsnr": LogSNRNoiseCond,
    "edm_sigma": lambda: EDMSigmaNoiseCond(sigma_data=0.5),
    "rectified_flows": RectifiedFlowsNoiseCond,
    "piecewise_linear": lambda: PiecewiseLinearNoiseCond(x=[0.0, 0.3, 1.0], y=[0.99, 0.6, 0.01]),
    "stable_diffusion": StableDiffusionNoiseCond,
    "discrete": lambda: DiscreteNoiseCond(CosineTNoiseCond()),
}

#: noise cond → (cond(λ = +inf), cond(λ = −inf)): the limits of the maths.
NOISE_COND_AT_INF = {
    "cosine_t": (0.0, 1.0),
    "edm": (-INF, INF),
    "sigmoid": (0.0, 1.0),
    "logsnr": (INF, -INF),
    "edm_sigma": (0.0, INF),
    "rectified_flows": (1.0, 0.0),
    "stable_diffusion": (0.0, 1.0),
    "discrete": (0, 999),
}


@pytest.mark.parametrize("key", sorted(NOISE_COND_AT_INF))
def test_noise_cond_takes_the_limit_of_its_formula_at_infinite_logsnr(key: str) -> None:
    cond = ALL_NOISE_CONDS[key]()(torch.tensor([INF, -INF]))
    assert cond.tolist() == list(NOISE_COND_AT_INF[key])


@pytest.mark.parametrize("key", sorted(ALL_NOISE_CONDS))
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_noise_cond_keeps_dtype_is_finite_and_does_not_mutate_logsnr(key: str, dtype: torch.dtype) -> None:
    lam = torch.linspace(-12, 12, 25, dtype=dtype)
    before = lam.clone()
    cond = ALL_NOISE_CONDS[key]()(lam)
    assert torch.equal(lam, before)
    assert cond.dtype == (torch.int64 if key == "discrete" else dtype)
    assert torch.isfinite(cond.double()).all()


def test_cosine_t_noise_cond_inverts_the_cosine_schedule() -> None:
    t = torch.linspace(0.02, 0.98, 49, dtype=torch.float64)
    schedule = CosineSchedule(clamp_range=(1e-9, 1 - 1e-9))
    assert torch.allclose(CosineTNoiseCond()(schedule(t)), t, atol=1e-9)


@pytest.mark.parametrize(
    ("schedule", "cond"),
    [
        (StableDiffusionSchedule(), StableDiffusionNoiseCond()),
        (
            PiecewiseLinearSchedule(x=[0.0, 0.3, 1.0], y=[0.99, 0.6, 0.01]),
            PiecewiseLinearNoiseCond(x=[0.0, 0.3, 1.0], y=[0.99, 0.6, 0.01]),
        ),
        (RectifiedFlowsSchedule(), None),
    ],
    ids=["stable_diffusion", "piecewise_linear", "rectified_flows"],
)
def test_noise_cond_recovers_t_from_its_schedule(schedule: Any, cond: Any) -> None:
    t = torch.linspace(0.0005, 0.9995, 401, dtype=torch.float64)
    if cond is None:  # the rectified-flow noise cond is 1 − t (inside λ ∈ [−15, 15], i.e. t ∈ [5.6e−4, 1 − 5.6e−4])
        t = t[(t > 6e-4) & (t < 1 - 6e-4)]
        assert torch.allclose(RectifiedFlowsNoiseCond()(schedule(t)), 1 - t, atol=1e-12)
    else:
        assert torch.allclose(cond(schedule(t)), t, atol=1e-9)


def test_stable_diffusion_noise_cond_is_clamped_to_the_unit_interval() -> None:
    cond = StableDiffusionNoiseCond()(torch.tensor([-30.0, 30.0]))
    assert cond.tolist() == [1.0, 0.0]
    # The plain piecewise inverse extrapolates instead (as the original did).
    raw = PiecewiseLinearNoiseCond(x=[0.0, 1.0], y=[0.9, 0.1])(torch.tensor([math.log(0.95 / 0.05)], dtype=torch.float64))
    assert raw.item() == pytest.approx(-0.0625)


def test_noise_cond_shift_is_the_opposite_of_a_schedule_shift() -> None:
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    schedule = LinearSchedule(logsnr_range=(-30, 30), force_limits=False)
    for cls in (EDMNoiseCond, LogSNRNoiseCond, CosineTNoiseCond):
        assert torch.allclose(cls(shift=2.0)(schedule(t, shift=2.0)), cls()(schedule(t)), atol=1e-9)
    lam = torch.tensor([-1.0, 0.0, 3.0])
    assert torch.allclose(EDMNoiseCond(shift=2.0)(lam), -(lam + 2 * math.log(2)) / 8)


def test_noise_cond_clamp_range_bounds_the_output() -> None:
    assert LogSNRNoiseCond(clamp_range=(-5, 5))(torch.tensor([-9.0, 1.0, 9.0])).tolist() == [-5.0, 1.0, 5.0]


def test_discrete_noise_cond_truncates_into_integer_levels() -> None:
    discrete = DiscreteNoiseCond(SigmoidNoiseCond(), steps=10)
    # σ(−λ) = 0.25, 0.5, 0.999 → 2.5, 5, 9.99 → 2, 5, 9
    lam = torch.tensor([math.log(3), 0.0, -math.log(999)], dtype=torch.float64)
    out = discrete(lam)
    assert out.dtype == torch.int64 and out.tolist() == [2, 5, 9]
    # Levels cover 0 … steps − 1 and never leave it, and fall as λ grows.
    levels = DiscreteNoiseCond(CosineTNoiseCond())(torch.linspace(-40, 40, 10001))
    assert levels.min().item() == 0 and levels.max().item() == 999
    assert (levels[1:] <= levels[:-1]).all()
    assert DiscreteNoiseCond(CosineTNoiseCond())(torch.tensor([-20.0])).item() == 999


def test_discrete_noise_cond_maps_the_continuous_range() -> None:
    discrete = DiscreteNoiseCond(LogSNRNoiseCond(), steps=4, continuous_range=(-10, 10))
    assert discrete(torch.tensor([-10.0, -4.9, 0.0, 9.9, 50.0])).tolist() == [0, 1, 2, 3, 3]


def test_edm_sigma_noise_cond_is_sigma_times_sigma_data() -> None:
    lam = torch.tensor([-4.0, 0.0, 2.0], dtype=torch.float64)
    assert torch.allclose(EDMSigmaNoiseCond(sigma_data=0.5)(lam), torch.exp(-lam / 2) * 0.5)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: DiscreteNoiseCond(CosineTNoiseCond(), steps=0), "discrete.steps: Input should be greater than or equal to 1"),
        (lambda: DiscreteNoiseCond(CosineTNoiseCond(), continuous_range=(1, 0)), "low < high"),
        (lambda: PiecewiseLinearNoiseCond(x=[0.0, 1.0], y=[0.1, 0.9]), "decrease strictly"),
        (lambda: PiecewiseLinearNoiseCond(x=[1.0, 0.0], y=[0.9, 0.1]), "strictly increasing"),
    ],
)
def test_noise_cond_rejects_bad_arguments_with_a_message_naming_them(factory: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


# ---------------------------------------------------------------------------
# Loss weights
# ---------------------------------------------------------------------------

#: loss weight → its formula in plain float64 Python maths.
LOSS_WEIGHT_FORMULAS: dict[str, tuple[Callable[[], Any], Callable[[float], float]]] = {
    "constant": (lambda: ConstantLossWeight(v=2.5), lambda lam: 2.5),
    "snr": (SNRLossWeight, lambda lam: math.exp(lam)),
    "p2": (lambda: P2LossWeight(k=2.0, gamma=0.5, s=1.5), lambda lam: (2.0 + math.exp(1.5 * lam)) ** -0.5),
    "snr_plus_one": (SNRPlusOneLossWeight, lambda lam: math.exp(lam) + 1),
    "min_snr": (lambda: MinSNRLossWeight(max_snr=5), lambda lam: min(math.exp(lam), 5)),
    "min_snr_plus_one": (lambda: MinSNRPlusOneLossWeight(max_snr=5), lambda lam: min(math.exp(lam) + 1, 5)),
    "truncated_snr": (lambda: TruncatedSNRLossWeight(min_snr=1), lambda lam: max(math.exp(lam), 1)),
    "sech": (lambda: SechLossWeight(div=2), lambda lam: 1 / math.cosh(lam / 2)),
    "debiased": (DebiasedLossWeight, lambda lam: math.exp(-lam / 2)),
    "sigmoid": (lambda: SigmoidLossWeight(s=2), lambda lam: 1 / (1 + math.exp(-2 * lam))),
    "composed": (
        lambda: ComposedLossWeight(div=[SNRLossWeight()], mul=[P2LossWeight(), SigmoidLossWeight()]),
        lambda lam: (1 / (1 + math.exp(lam))) * (1 / (1 + math.exp(-lam))) / math.exp(lam),
    ),
}
MODERATE = [-12.0, -3.0, -0.5, 0.0, 0.7, 4.0, 11.0]


@pytest.mark.parametrize("key", sorted(LOSS_WEIGHT_FORMULAS))
def test_loss_weight_follows_its_formula_and_its_shift(key: str) -> None:
    factory, formula = LOSS_WEIGHT_FORMULAS[key]
    weight = factory()
    lam = torch.tensor(MODERATE, dtype=torch.float64)
    assert weight(lam).tolist() == pytest.approx([formula(v) for v in MODERATE], rel=1e-10)
    shifted = [formula(v + 2 * math.log(3.0)) for v in MODERATE]
    assert weight(lam, shift=3.0).tolist() == pytest.approx(shifted, rel=1e-10)


#: loss weight → (w(λ = −inf), w(λ = +inf)): the limits of the maths.
LOSS_WEIGHT_AT_INF = {
    "constant": (2.5, 2.5),
    "snr": (0.0, INF),
    "p2": (2.0**-0.5, 0.0),
    "snr_plus_one": (1.0, INF),
    "min_snr": (0.0, 5.0),
    "min_snr_plus_one": (1.0, 5.0),
    "truncated_snr": (1.0, INF),
    "sech": (0.0, 0.0),
    "debiased": (INF, 0.0),
    "sigmoid": (0.0, 1.0),
}


@pytest.mark.parametrize("key", sorted(LOSS_WEIGHT_AT_INF))
def test_loss_weight_takes_the_limit_of_its_formula_at_infinite_logsnr(key: str) -> None:
    weight = LOSS_WEIGHT_FORMULAS[key][0]()
    assert weight(torch.tensor([-INF, INF], dtype=torch.float64)).tolist() == pytest.approx(list(LOSS_WEIGHT_AT_INF[key]), rel=1e-12)


def test_sech_and_p2_loss_weights_do_not_overflow_in_float32() -> None:
    lam = torch.tensor([-500.0, -200.0, 200.0, 500.0])
    sech = SechLossWeight(div=2)(lam)
    assert not torch.isnan(sech).any() and sech.max().item() < 1e-40
    p2 = P2LossWeight(gamma=0.5)(torch.tensor([-500.0, 100.0, 500.0]))  # (1 + e^λ)^(−1/2)
    assert p2.tolist() == pytest.approx([1.0, math.exp(-50), 0.0], rel=1e-5, abs=0)


@pytest.mark.parametrize("key", sorted(LOSS_WEIGHT_FORMULAS))
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_loss_weight_is_float32_at_least_finite_and_does_not_mutate_logsnr(key: str, dtype: torch.dtype) -> None:
    lam = torch.linspace(-4, 4, 9, dtype=dtype)
    before = lam.clone()
    w = LOSS_WEIGHT_FORMULAS[key][0]()(lam, shift=2.0)
    assert w.dtype == torch.promote_types(dtype, torch.float32)
    assert torch.equal(lam, before)
    # fp16 overflows past 65504: e^λ at λ = 15 and e^(−λ/2) at λ = −30 do not fit, float32 does.
    extremes = torch.tensor([-30.0, 15.0], dtype=dtype)
    assert torch.isfinite(LOSS_WEIGHT_FORMULAS[key][0]()(extremes)).all()


def test_loss_weight_clamp_range_from_constructor_and_from_call() -> None:
    lam = torch.tensor([-5.0, 0.0, 5.0])
    assert SNRLossWeight(clamp_range=(0.1, 10))(lam).tolist() == pytest.approx([0.1, 1.0, 10.0])
    assert SNRLossWeight(clamp_range=(0.1, 10))(lam, clamp_range=(0.5, 2)).tolist() == pytest.approx([0.5, 1.0, 2.0])


def test_composed_loss_weight_applies_the_shift_once_and_accepts_single_components() -> None:
    composed = ComposedLossWeight(div=SNRLossWeight(), mul=SNRPlusOneLossWeight())
    assert composed.div == (composed.div[0],) and isinstance(composed.mul[0], SNRPlusOneLossWeight)
    lam = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    expected = [(math.exp(v + 2 * math.log(2)) + 1) / math.exp(v + 2 * math.log(2)) for v in lam.tolist()]
    assert composed(lam, shift=2.0).tolist() == pytest.approx(expected, rel=1e-12)
    # Inner components' own clamp_range is not applied (their raw weight is used).
    inner = ComposedLossWeight(div=[], mul=[SNRLossWeight(clamp_range=(0, 1))])
    assert inner(torch.tensor([3.0])).item() == pytest.approx(math.exp(3.0), rel=1e-6)


def test_composed_loss_weight_rejects_non_components() -> None:
    with pytest.raises(TypeError, match="div and mul take loss weights"):
        ComposedLossWeight(div=3, mul=[])


def test_adaptive_loss_weight_divides_out_the_learned_loss() -> None:
    weight = AdaptiveLossWeight(logsnr_range=(-10, 10), buckets=6)  # edges -10, -5, 0, 5, 10
    lam = torch.tensor([-20.0, -7.0, -1.0, 1.0, 7.0, 20.0])
    assert weight(lam).tolist() == [1.0] * 6
    # Two samples in bucket (0, 5]: the EMA moves towards their mean loss.
    weight.update_buckets(torch.tensor([1.0, 4.0]), torch.tensor([3.0, 5.0]), beta=0.5)
    assert weight.bucket_losses.tolist() == pytest.approx([1, 1, 1, 2.5, 1, 1])
    assert weight(lam).tolist() == pytest.approx([1, 1, 1, 0.4, 1, 1])
    for _ in range(2000):
        weight.update_buckets(torch.tensor([-20.0]), torch.tensor([1e-9]))
    assert weight(torch.tensor([-30.0])).item() == pytest.approx(1e7)  # clamped to weight_range


def test_adaptive_loss_weight_state_dict_round_trip() -> None:
    weight = AdaptiveLossWeight(buckets=50)
    weight.update_buckets(torch.linspace(-12, 12, 40), torch.linspace(0.5, 3, 40))
    fresh = AdaptiveLossWeight(buckets=50)
    fresh.load_state_dict(weight.state_dict())
    lam = torch.linspace(-15, 15, 101)
    assert torch.equal(fresh(lam), weight(lam))
    with pytest.raises(ValueError, match=r"'bucket_losses' has shape \(50,\); this component has 300 buckets"):
        AdaptiveLossWeight().load_state_dict(weight.state_dict())


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: P2LossWeight(k=-1), r"p2.k: Input should be greater than or equal to 0; got -1"),
        (lambda: SechLossWeight(div=0), "sech.div: must not be 0; got 0"),
        (lambda: AdaptiveLossWeight(buckets=1), "buckets"),
        (lambda: AdaptiveLossWeight(weight_range=(0, 1)), "weight_range"),
        (lambda: AdaptiveLossWeight(logsnr_range=(1, -1)), "low < high"),
    ],
)
def test_loss_weight_rejects_bad_arguments_with_a_message_naming_them(factory: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


# ---------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------
def _batch(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x, x0, eps = (torch.randn(3, 2, 4, generator=g).to(dtype) for _ in range(3))
    return x, x0, eps


def _coeffs(scaler: Any, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = scaler(lam.to(torch.float64))
    return a.view(-1, 1, 1), b.view(-1, 1, 1)


@pytest.mark.parametrize("scaler", [VPScaler(), LERPScaler()], ids=lambda s: s.name)
def test_ddim_with_eta_zero_is_the_deterministic_step(scaler: Any) -> None:
    x, x0, eps = _batch()
    lam, lam_next = torch.tensor([-3.0, 0.0, 4.0]), torch.tensor([-1.0, 2.0, 8.0])
    out = DDIMSampler().update(x, x0, eps, lam, lam_next, scaler=scaler)
    a_next, b_next = _coeffs(scaler, lam_next)
    assert torch.allclose(out.double(), a_next * x0.double() + b_next * eps.double(), atol=1e-6)


@pytest.mark.parametrize("sampler_cls", [DDIMSampler, DDPMSampler])
def test_ddim_step_matches_its_formula_with_the_generators_noise(sampler_cls: type) -> None:
    x, x0, eps = _batch()
    scaler = VPScaler()
    lam, lam_next = torch.tensor([-3.0, 0.0, 4.0]), torch.tensor([-1.0, 2.0, 8.0])
    sampler = sampler_cls(eta=0.7) if sampler_cls is DDIMSampler else sampler_cls()
    eta = sampler.eta
    out = sampler.update(x, x0, eps, lam, lam_next, scaler=scaler, generator=torch.Generator().manual_seed(9))
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(9)).double()
    a, b = _coeffs(scaler, lam)
    a_next, b_next = _coeffs(scaler, lam_next)
    sigma = eta * (b_next / b) * torch.sqrt(1 - a**2 / a_next**2)
    expected = a_next * x0.double() + torch.sqrt(b_next**2 - sigma**2) * eps.double() + sigma * z
    assert torch.allclose(out.double(), expected, atol=1e-5)
    assert eta == (1.0 if sampler_cls is DDPMSampler else 0.7)


@pytest.mark.parametrize("sampler", [DDIMSampler(), DDPMSampler(), LCMSampler()], ids=lambda s: s.name)
def test_sampler_step_to_clean_data_returns_x0_and_never_nan(sampler: Any) -> None:
    x, x0, eps = _batch()
    # From a finite level to λ′ = +inf (b′ = 0), and from λ = +inf to λ′ = +inf (b = b′ = 0).
    for lam in (torch.tensor([2.0, 5.0, 9.0]), torch.full((3,), INF)):
        out = sampler.update(x, x0, eps, lam, torch.full((3,), INF), scaler=VPScaler(), generator=torch.Generator().manual_seed(0))
        assert not torch.isnan(out).any()
        assert torch.allclose(out, x0)


def test_lcm_step_renoises_x0_to_the_next_level() -> None:
    x, x0, eps = _batch()
    scaler = LERPScaler()
    lam_next = torch.tensor([-1.0, 0.5, 3.0])
    out = LCMSampler().update(x, x0, eps, torch.zeros(3), lam_next, scaler=scaler, generator=torch.Generator().manual_seed(4))
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(4)).double()
    a_next, b_next = _coeffs(scaler, lam_next)
    assert torch.allclose(out.double(), a_next * x0.double() + b_next * z, atol=1e-6)


@pytest.mark.parametrize("sampler", [DDIMSampler(), DDPMSampler(), LCMSampler()], ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_sampler_keeps_dtype_and_does_not_mutate_inputs(sampler: Any, dtype: torch.dtype) -> None:
    x, x0, eps = _batch(dtype=dtype)
    lam, lam_next = torch.tensor([-3.0, 0.0, 4.0]), torch.tensor([-1.0, 2.0, 8.0])
    inputs = [x, x0, eps, lam, lam_next]
    before = [v.clone() for v in inputs]
    out = sampler.update(x, x0, eps, lam, lam_next, scaler=VPScaler(), generator=torch.Generator().manual_seed(0))
    assert out.dtype == dtype and out.shape == x.shape
    assert all(torch.equal(v, w) for v, w in zip(inputs, before))


def test_sampler_step_calls_denoise_once_and_equals_update() -> None:
    x, x0, eps = _batch()
    calls: list[torch.Tensor] = []

    def denoise(x_in: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(lam)
        return x0, eps

    lam, lam_next = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])
    out = DDIMSampler().step(denoise, x, lam, lam_next, scaler=VPScaler(), state=SamplingState())
    assert len(calls) == 1
    assert torch.equal(out, DDIMSampler().update(x, x0, eps, lam, lam_next, scaler=VPScaler()))


def test_stochastic_samplers_are_marked_and_reproducible_with_a_generator() -> None:
    flags = (DDIMSampler().stochastic, DDIMSampler(eta=0.5).stochastic, DDPMSampler().stochastic, LCMSampler.stochastic)
    assert flags == (False, True, True, True)
    x, x0, eps = _batch()
    lam, lam_next = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])
    runs = [
        DDPMSampler().update(x, x0, eps, lam, lam_next, scaler=VPScaler(), generator=torch.Generator().manual_seed(s))
        for s in (1, 1, 2)
    ]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_ddim_rejects_negative_eta() -> None:
    with pytest.raises(ValueError, match=r"sampler\.ddim\.eta: .*greater than or equal to 0; got -0\.1; allowed: a finite number in \[0, 1000\]"):
        DDIMSampler(eta=-0.1)
    with pytest.raises(ValueError, match=r"sampler\.ddim\.eta: .*less than or equal to 1000; got 1e\+308"):
        DDIMSampler(eta=1e308)
