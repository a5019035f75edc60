"""Adaptive state: NaN-safe updates, validated loading, nested state, exact save/load (issue 11 item 6)."""

from __future__ import annotations

import io
import warnings

import pytest
import torch

from gdf_core import GDF
from gdf_core.bases import ScheduleBase
from gdf_plugins.loss_weights.adaptive import AdaptiveLossWeight
from gdf_plugins.schedules.adaptive import AdaptiveTrainSchedule
from gdf_plugins.schedules.interpolated import InterpolatedSchedule
from gdf_plugins.schedules.linear import LinearSchedule

NESTED = {
    "schedule": {"name": "adaptive", "buckets": 8},
    "input_scaler": "vp",
    "target": "epsilon",
    "noise_cond": "cosine_t",
    "loss_weight": {"name": "composed", "mul": ["p2", {"name": "adaptive", "buckets": 10}], "div": "sech"},
}


@pytest.mark.parametrize("cls", [AdaptiveTrainSchedule, AdaptiveLossWeight])
def test_nan_inf_and_negative_losses_are_skipped_counted_and_warned_once(cls) -> None:
    comp = cls(buckets=4) if cls is AdaptiveTrainSchedule else cls(buckets=4, logsnr_range=(-10, 10))
    lam = torch.tensor([-8.0, -8.0, 0.5, 0.5, 8.0, 8.0, 8.0, 8.0])
    loss = torch.tensor([2.0, float("nan"), 3.0, float("inf"), -1.0, 4.0, 4.0, float("-inf")])
    with pytest.warns(RuntimeWarning, match="4 loss value"):
        comp.update_buckets(lam, loss, beta=0.5)
    state = comp.state_dict()
    values = next(v for k, v in state.items() if k != "skipped_losses")
    assert torch.isfinite(values).all() and int(state["skipped_losses"]) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        comp.update_buckets(torch.tensor([0.5]), torch.tensor([float("nan")]))
    assert int(comp.state_dict()["skipped_losses"]) == 5
    # the finite losses still count: bucket of λ = −8 moved to 0.5·1 + 0.5·2
    assert 1.5 in values.tolist()


def test_schedule_draws_stay_valid_after_every_loss_was_nan_or_zero() -> None:
    schedule = AdaptiveTrainSchedule(buckets=5)
    with pytest.warns(RuntimeWarning):
        schedule.update_buckets(torch.linspace(-9, 9, 10), torch.full((10,), float("nan")))
    assert schedule(64, generator=torch.Generator().manual_seed(0)).isfinite().all()
    for _ in range(60):  # every bucket decays towards a zero loss
        schedule.update_buckets(torch.linspace(-9, 9, 10), torch.zeros(10), beta=0.5)
    lam = schedule(64, generator=torch.Generator().manual_seed(0))  # all p = 0: uniform, not a multinomial error
    assert lam.isfinite().all() and lam.min() >= -10 and lam.max() <= 10
    weight = AdaptiveLossWeight()
    with pytest.warns(RuntimeWarning):
        weight.update_buckets(torch.zeros(3), torch.tensor([float("nan")] * 3))
    assert weight(torch.linspace(-12, 12, 9)).isfinite().all()


@pytest.mark.parametrize(
    ("state", "error", "words"),
    [
        ([1.0] * 8, TypeError, "expected the dict"),
        ({"bucket_probs": [1.0] * 8}, TypeError, "must be a tensor"),
        ({"bucket_probs": torch.ones(8, dtype=torch.int64)}, TypeError, "floating-point"),
        ({"bucket_probs": torch.ones(9)}, ValueError, "shape (9,); this component has 8 buckets"),
        ({"bucket_probs": torch.tensor([1.0] * 7 + [float("nan")])}, ValueError, "finite and ≥ 0"),
        ({"bucket_probs": torch.tensor([1.0] * 7 + [-1.0])}, ValueError, "finite and ≥ 0"),
        ({}, ValueError, "has no 'bucket_probs'"),
        ({"bucket_probs": torch.ones(8), "bucket_lossess": torch.ones(8)}, ValueError, "unknown key"),
        ({"bucket_probs": torch.ones(8), "skipped_losses": 1.5}, TypeError, "integer count"),
    ],
)
def test_load_state_dict_refuses_bad_states_with_clear_errors(state, error, words) -> None:
    schedule = AdaptiveTrainSchedule(buckets=8)
    before = schedule.bucket_probs.clone()
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        schedule.load_state_dict(state)
    assert torch.equal(schedule.bucket_probs, before)  # nothing half-loaded


def test_gdf_state_dict_gathers_nested_components_and_round_trips_through_weights_only_load() -> None:
    gdf = GDF.from_spec(NESTED)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        lam = torch.rand(16, generator=g) * 20 - 10
        loss = torch.rand(16, generator=g) + 0.1
        gdf.schedule.update_buckets(lam, loss)
        gdf.loss_weight.mul[1].update_buckets(lam, loss)
    state = gdf.state_dict()
    assert set(state) == {"schedule", "loss_weight.mul.1"}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    fresh = GDF.from_spec(NESTED)
    fresh.load_state_dict(loaded)
    lam = torch.linspace(-12, 12, 49)
    assert torch.equal(fresh.loss_weight(lam), gdf.loss_weight(lam))
    assert torch.equal(fresh.schedule(40, generator=torch.Generator().manual_seed(3)), gdf.schedule(40, generator=torch.Generator().manual_seed(3)))
    # strictness and unknown paths
    with pytest.raises(ValueError, match=r"nothing for \['loss_weight.mul.1'\]"):
        GDF.from_spec(NESTED).load_state_dict({"schedule": state["schedule"]})
    GDF.from_spec(NESTED).load_state_dict({"schedule": state["schedule"]}, strict=False)
    with pytest.raises(ValueError, match="state for \\['loss_weight'\\]"):
        GDF.from_spec(NESTED).load_state_dict({**state, "loss_weight": {}})
    with pytest.raises(ValueError, match="at 'loss_weight.mul.1'.*shape"):
        GDF.from_spec(NESTED).load_state_dict({**state, "loss_weight.mul.1": {"bucket_losses": torch.ones(3)}})


class CountingSchedule(ScheduleBase):
    """A t-schedule with a learned state, to nest inside ``interpolated``."""

    name = "counting"

    def __init__(self, **kwargs) -> None:
        self.count = 0
        super().__init__(**kwargs)

    def logsnr(self, t):
        return 5 - 10 * t

    def state_dict(self):
        return {"count": torch.tensor(self.count)}

    def load_state_dict(self, state):
        self.count = int(state["count"])


def test_state_inside_an_interpolated_schedule_is_gathered() -> None:
    inner = CountingSchedule()
    inner.count = 7
    gdf = GDF(InterpolatedSchedule(scheduler1=inner, scheduler2=LinearSchedule()), "vp", "epsilon", "cosine_t", "constant")
    assert gdf.state_dict() == {"schedule.scheduler1": {"count": torch.tensor(7)}}
    other = GDF(InterpolatedSchedule(scheduler1=CountingSchedule(), scheduler2=LinearSchedule()), "vp", "epsilon", "cosine_t", "constant")
    other.load_state_dict(gdf.state_dict())
    assert other.schedule.scheduler1.count == 7


def test_adaptive_quantiles_follow_the_bucket_distribution() -> None:
    schedule = AdaptiveTrainSchedule(buckets=4)  # edges −10, −5, 0, 5, 10
    schedule.load_state_dict({"bucket_probs": torch.tensor([1.0, 0.0, 3.0, 0.0])})
    u = torch.tensor([0.0, 0.125, 0.25, 0.25 + 0.375, 1.0], dtype=torch.float64)
    # CDF: bucket 0 holds u ∈ [0, ¼) over [−10, −5), bucket 2 u ∈ [¼, 1) over [0, 5)
    assert schedule.quantile(u).tolist() == pytest.approx([-10.0, -7.5, 0.0, 2.5, 5.0])


def test_buckets_are_bounded() -> None:
    from gdf_core.errors import SpecError

    with pytest.raises(SpecError, match="buckets"):
        GDF.from_spec({**NESTED, "schedule": {"name": "adaptive", "buckets": 10**12}})
