"""Dtype conversions in a run: a float16/bfloat16 run casts each full-size tensor once per direction (no
round trip through x's dtype), and a float32 run makes no ``.to`` call that changes nothing.

The model answers in x's dtype; the denoiser computes x̂0 and ε̂ in float32
and hands them to the sampler as they are, which computes in float32 and
casts its result back. Counted over a whole run per model call (an operation
count: no timing): x and the prediction up (x once more by a sampler that
combines x itself), the result down; 6 to 7 casts per call when x̂0 and ε̂ went
down to bfloat16 and up again.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from torch.overrides import TorchFunctionMode

from gdf_core import GDF, registry
from gdf_core.denoiser import ModelDenoiser
from gdf_plugins.presets import PRESETS

SAMPLERS = registry.builtin_names("sampler")
SHAPE = (4, 4, 8, 8)


class FullSizeCasts(TorchDispatchMode):
    """Counts dtype conversions whose output is a whole latent."""

    def __init__(self) -> None:
        super().__init__()
        self.casts = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket is torch.ops.aten._to_copy and isinstance(out, torch.Tensor) and out.numel() >= 256:
            self.casts += 1
        return out


def _casts_per_call(sampler: str, dtype: torch.dtype) -> float:
    gdf = GDF.from_spec("stable_cascade")
    calls = [0]

    def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        return 0.1 * x

    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0)).to(dtype)
    with FullSizeCasts() as counter:
        out = gdf.sample_final(model, {}, SHAPE, sampler=sampler, timesteps=10, cfg=None, x_init=x,
                               generator=torch.Generator().manual_seed(1))
    assert out.dtype == dtype and torch.isfinite(out.float()).all()
    return counter.casts / calls[0]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_low_precision_run_makes_no_round_trip(sampler: str, dtype: torch.dtype) -> None:
    assert _casts_per_call(sampler, dtype) <= 4.0 + 1e-9


def test_the_count_catches_x0_and_epsilon_sent_back_to_x_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    """The denoiser of before: x̂0 and ε̂ cast to x's dtype, then up again by the sampler."""
    convert = ModelDenoiser.convert

    def round_trip(self, x, logsnr, pred, level=None):
        x0, eps = convert(self, x, logsnr, pred, level)
        return x0.to(x.dtype), eps.to(x.dtype)

    monkeypatch.setattr(ModelDenoiser, "convert", round_trip)
    assert _casts_per_call("dpmpp_2m", torch.bfloat16) > 4.0


def test_float32_and_float64_runs_cast_nothing_full_size() -> None:
    assert _casts_per_call("dpmpp_2m", torch.float32) == 0
    assert _casts_per_call("unipc", torch.float64) == 0


class NoOpConversions(TorchFunctionMode):
    """Counts ``Tensor.to`` calls that return their input unchanged (each ~1.5 µs of dispatch)."""

    def __init__(self) -> None:
        super().__init__()
        self.no_ops = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.Tensor.to and out is args[0]:
            self.no_ops += 1
        return out


def _no_op_conversions_per_step(sampler: str) -> float:
    gdf = GDF.from_spec("stable_cascade")
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    model = lambda x, cond: 0.1 * x  # noqa: E731
    for _ in gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=10, cfg=None, x_init=x):
        pass  # the run plan is cached: what is left is the steps' own work
    with NoOpConversions() as counter:
        for _ in gdf.sample(model, {}, SHAPE, sampler=sampler, timesteps=10, cfg=None, x_init=x,
                            generator=torch.Generator().manual_seed(1)):
            pass
    return counter.no_ops / 10


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_a_float32_run_makes_no_no_op_conversions(sampler: str) -> None:
    assert _no_op_conversions_per_step(sampler) == 0


def test_the_count_catches_no_op_conversions(monkeypatch: pytest.MonkeyPatch) -> None:
    """``as_dtype`` calling ``.to`` whatever the dtype (the targets' formulas of before)."""
    import gdf_plugins.targets as targets

    monkeypatch.setattr(targets, "as_dtype", lambda x, dtype: x.to(dtype))
    assert _no_op_conversions_per_step("ddim") >= 5


EULER_SD = {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "timestep_spacing": "trailing"}


def _conditions_seen(gdf: GDF, dtype: torch.dtype, sampler: str) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []

    def model(x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        seen.append(cond.clone())
        return 0.1 * x

    gdf.sample_final(model, {}, (2, 3), sampler=sampler, timesteps=10, cfg=None, dtype=dtype, generator=torch.Generator().manual_seed(0))
    return seen


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("config", sorted(PRESETS) + ["diffusers euler, SD 1.5"])
def test_a_half_precision_run_gives_the_model_the_float32_runs_noise_conditions(config: str, dtype: torch.dtype) -> None:
    """Not rounded to x's dtype: in bfloat16 diffusers' timestep 999 would be 1000 (outside 0…999) and t near 1
    would move by 2⁻⁸. Both samplers: the first takes the level tables' conditions, heun its own (a second call)."""
    gdf = GDF.from_diffusers(EULER_SD) if config.startswith("diffusers") else GDF.from_spec(config)
    for sampler in ("ddim", "heun"):
        full, half = _conditions_seen(gdf, torch.float32, sampler), _conditions_seen(gdf, dtype, sampler)
        assert len(full) == len(half)
        for f, h in zip(full, half):
            assert h.dtype == f.dtype and torch.equal(h, f), (sampler, f, h)
