"""Invariants of guidances (conditional and other predictions → the guided one).

A guidance is called directly, as the engine calls it, with predictions drawn
in its own space: random samples of varied magnitudes per sample, and the
cases that break careless formulas (a zero unconditional or conditional
prediction, equal predictions, constant samples). Every branch is given
(unconditional and guide), so a guidance takes what it asks for. The neutral
setting is the class attribute ``neutral`` (e.g. ``{"scale": 1.0}``) or the
check option of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.guidance import Predictions
from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, rebuild, run_check
from gdf_core.testing.host_reads import HostReadRecorder

KIND = "guidance"

#: How the drawn predictions relate: the cases where a formula divides by a norm or a spread.
PATTERNS: tuple[str, ...] = ("random", "zero_unconditional", "zero_conditional", "equal", "constant_samples")

#: Orders of magnitude of the drawn predictions.
MAGNITUDES: tuple[float, ...] = (1.0, 1e-3, 1e3)


@dataclass
class Call:
    """The inputs of one guidance call: predictions, x, λ, t and step."""

    predictions: Predictions
    x: Tensor
    logsnr: Tensor
    t: float
    step: int

    def tensors(self) -> dict[str, Tensor]:
        named = {f"the {k} prediction": v for k, v in self.predictions.items()}
        return {**named, "x": self.x, "λ": self.logsnr}

    def to(self, dtype: torch.dtype, device: Any = "cpu") -> "Call":
        return Call(
            self.predictions.map(lambda p: p.to(dtype=dtype, device=device)),
            self.x.to(dtype=dtype, device=device),
            self.logsnr.to(device=device),
            self.t,
            self.step,
        )

    def sample(self, i: int) -> "Call":
        """The same call for sample i alone (a batch of one)."""
        return Call(self.predictions.map(lambda p: p[i : i + 1]), self.x[i : i + 1], self.logsnr[i : i + 1], self.t, self.step)


def make_call(shape: tuple, pattern: str, magnitude: float, seed: int, t: float = 0.5, step: int = 1) -> Call:
    """A float32 call of the given shape whose predictions follow ``pattern``."""
    g = torch.Generator().manual_seed(seed)
    per_sample = (10.0 ** torch.empty(shape[0], dtype=torch.float64).uniform_(-1, 1, generator=g)).view(-1, *[1] * (len(shape) - 1))

    def draw() -> Tensor:
        return torch.randn(shape, generator=g, dtype=torch.float64) * per_sample * magnitude

    cond, uncond, guide = draw(), draw(), draw()
    if pattern == "zero_unconditional":
        uncond = torch.zeros(shape, dtype=torch.float64)
    elif pattern == "zero_conditional":
        cond = torch.zeros(shape, dtype=torch.float64)
    elif pattern == "equal":
        uncond, guide = cond.clone(), cond.clone()
    elif pattern == "constant_samples":
        n = cond[0].numel()
        cond, uncond, guide = (p.reshape(shape[0], -1)[:, :1].expand(-1, n).reshape(shape).clone() for p in (cond, uncond, guide))
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    logsnr = torch.empty(shape[0], dtype=torch.float64).uniform_(-15, 15, generator=g)
    preds = Predictions(cond.float(), uncond.float(), guide.float())
    return Call(preds, x.float(), logsnr.float(), t, step)


def run(guidance: Any, call: Call, state: Any = None, *, fresh: bool = True) -> Tensor:
    """One guidance call (with a fresh per-run state unless one is given)."""
    if fresh and state is None:
        state = guidance.init_state()
    return guidance(call.predictions, x=call.x, logsnr=call.logsnr, t=call.t, step=call.step, state=state)


def run_steps(guidance: Any, call: Call, steps: int = 3) -> list[Tensor]:
    """``steps`` calls at steps 0, 1, ... sharing one per-run state, as in a sampling run."""
    state = guidance.init_state()
    return [
        guidance(call.predictions, x=call.x, logsnr=call.logsnr, t=call.t, step=i, state=state) for i in range(steps)
    ]


def _close(got: Tensor, want: Tensor, rtol: float = 1e-5) -> Tensor:
    got64, want64 = got.to(torch.float64), want.to(torch.float64)
    return (got64 == want64) | ((got64 - want64).abs() <= rtol * (want64.abs() + 1e-6 * (1 + want64.abs().max())))


def _first_difference(got: Tensor, want: Tensor) -> str:
    bad = ~_close(got, want)
    i = int(bad.reshape(-1).nonzero()[0]) if bad.any() else 0
    return f"value {i}: {want.reshape(-1)[i].item():.6g} expected, {got.reshape(-1)[i].item():.6g} returned"


def _calls(patterns: tuple[str, ...] = PATTERNS) -> dict[str, Any]:
    return {
        "shape": gst.batch_shapes(max_dims=3),
        "pattern": st.sampled_from(patterns),
        "magnitude": st.sampled_from(MAGNITUDES),
        "seed": gst.seeds(),
        "t": gst.t_floats(),
    }


def neutral_of(guidance: Any, options: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    neutral = option(guidance, options, "neutral")
    return dict(neutral) if neutral is not None else None


def neutral_is_conditional(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    neutral = neutral_of(guidance, options)
    assert neutral is not None
    at_neutral = rebuild(guidance, KIND, **neutral)
    call = make_call(shape, pattern, magnitude, seed, t)
    for step, got in enumerate(run_steps(at_neutral, call)):
        want = call.predictions.conditional
        if got.shape != want.shape or not _close(got, want).all():
            raise Violation(
                f"at its neutral setting {neutral} it should return the conditional prediction, but does not "
                f"(step {step}, t = {t:.6g}; {_first_difference(got, want) if got.shape == want.shape else f'shape {tuple(got.shape)}'})"
            )


def conditional_outside_interval(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    lo, hi = (0.0, t / 2) if t > 0.5 else ((1 + t) / 2, 1.0)
    limited = rebuild(guidance, KIND, interval=(lo, hi))
    call = make_call(shape, pattern, magnitude, seed, t)
    if limited.active(t):
        raise Violation(f"with interval = ({lo:.6g}, {hi:.6g}) it says it is active at t = {t:.6g}, outside the interval")
    got, want = run(limited, call), call.predictions.conditional
    if got.shape != want.shape or not torch.equal(got, want):
        raise Violation(
            f"with interval = ({lo:.6g}, {hi:.6g}) at t = {t:.6g} (outside) it should return the conditional prediction "
            f"unchanged, but returned {fmt(got)} for {fmt(want)}"
        )


def batch_independent(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    shape = (max(shape[0], 2),) + tuple(shape[1:])
    call = make_call(shape, pattern, magnitude, seed, t)
    together = run_steps(guidance, call)
    for i in range(shape[0]):
        alone = run_steps(guidance, call.sample(i))
        for step, (a, b) in enumerate(zip(alone, together)):
            if not _close(a, b[i : i + 1]).all():
                raise Violation(
                    f"sample {i} guided alone differs from the same sample guided in a batch of {shape[0]} "
                    f"(step {step}; {_first_difference(b[i : i + 1], a)}): the result depends on the other samples "
                    "(a norm, mean or std taken over the batch instead of over each sample)"
                )


def fresh_state_per_run(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    call = make_call(shape, pattern, magnitude, seed, t)
    first, second = run_steps(guidance, call), run_steps(guidance, call)
    for step, (a, b) in enumerate(zip(first, second)):
        if not torch.equal(a, b):
            raise Violation(
                f"two runs, each from a fresh init_state(), differ at step {step} ({_first_difference(b, a)}): "
                "the guidance keeps state of its own across runs; keep it in the state init_state() returns"
            )


def no_host_reads(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    call = make_call(shape, pattern, magnitude, seed, t)
    with HostReadRecorder() as recorder:
        run_steps(guidance, call)
    if recorder.reads:
        what, where = recorder.reads[0]
        raise Violation(
            f"a call read tensor values into Python ({len(recorder.reads)} reads; the first: {what} at {where}): "
            "a device sync per model call and a branch on values; keep it in tensor operations (torch.where)"
        )


def no_input_mutation(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    call = make_call(shape, pattern, magnitude, seed, t)
    before = {k: v.clone() for k, v in call.tensors().items()}
    run_steps(guidance, call)
    for name, value in call.tensors().items():
        if not torch.equal(before[name], value):
            raise Violation(f"a call changed {name} in place: {fmt(before[name])} became {fmt(value)}")


def keeps_dtype_device_shape(guidance: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device, seed: int) -> None:
    call = make_call(shape, "random", 1.0, seed).to(dtype, device)
    for step, out in enumerate(run_steps(guidance, call)):
        if out.dtype != dtype or out.device.type != device.type or out.shape != tuple(shape):
            raise Violation(
                f"predictions of dtype {dtype}, shape {tuple(shape)} on {device} gave a guided prediction of dtype "
                f"{out.dtype}, shape {tuple(out.shape)} on {out.device} at step {step} (expected the same dtype, shape and device)"
            )


def finite(guidance: Any, options: Mapping[str, Any], shape: tuple, pattern: str, magnitude: float, seed: int, t: float) -> None:
    call = make_call(shape, pattern, magnitude, seed, t)
    for step, out in enumerate(run_steps(guidance, call)):
        if not torch.isfinite(out).all():
            raise Violation(
                f"finite predictions ({pattern.replace('_', ' ')}, magnitude {magnitude:g}) gave a non-finite guided "
                f"prediction at step {step}: {fmt(out)}"
            )


def _needs_neutral(guidance: Any, options: Mapping[str, Any]) -> Optional[str]:
    if neutral_of(guidance, options) is None:
        return "the guidance declares no neutral setting (class attribute or check option 'neutral')"
    return None


def _needs_interval(guidance: Any, options: Mapping[str, Any]) -> Optional[str]:
    params = getattr(guidance, "params", None)
    if not isinstance(params, dict) or "interval" not in params:
        return "the guidance takes no interval parameter"
    return None


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "neutral_is_conditional",
        "at its neutral setting (scale 1) the guided prediction is the conditional one",
        neutral_is_conditional,
        lambda o: _calls(),
        applies=_needs_neutral,
        examples_cap=20,
    ),
    Invariant(
        "conditional_outside_interval",
        "outside its interval it is inactive and returns the conditional prediction unchanged",
        conditional_outside_interval,
        lambda o: _calls(),
        applies=_needs_interval,
        examples_cap=10,
    ),
    Invariant(
        "batch_independent",
        "each sample's guided prediction is the same alone and in a batch",
        batch_independent,
        # Not on constant samples: there a spread is 0 up to rounding, which differs with the batch's
        # memory layout, and a formula dividing by it (Lin et al.'s rescale) amplifies that noise.
        lambda o: _calls(PATTERNS[:4]),
        examples_cap=15,
    ),
    Invariant(
        "fresh_state_per_run",
        "two runs, each from a fresh init_state(), give the same guided predictions",
        fresh_state_per_run,
        lambda o: _calls(),
        examples_cap=5,
    ),
    Invariant(
        "no_host_reads",
        "a call never reads tensor values into Python (.item(), .tolist(), bool(tensor), torch.equal, ...)",
        no_host_reads,
        lambda o: _calls(),
        examples_cap=3,
    ),
    Invariant(
        "no_input_mutation",
        "a call leaves the predictions, x and λ unchanged",
        no_input_mutation,
        lambda o: _calls(),
        examples_cap=10,
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "the guided prediction has the conditional prediction's dtype, shape and device",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices(), "seed": gst.seeds()},
        examples_cap=10,
    ),
    Invariant(
        "finite",
        "finite predictions (zero, equal and constant ones included) give a finite guided prediction",
        finite,
        lambda o: _calls(),
        examples_cap=30,
    ),
)


def check_guidance(
    guidance: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    neutral: Optional[dict[str, Any]] = None,
) -> CheckReport:
    """Check a guidance (or a strategy of them) against every guidance invariant.

    ``neutral`` (default: the class attribute) gives the parameters at which
    the guided prediction must be the conditional one.
    """
    options = {"neutral": neutral}
    return run_check(KIND, INVARIANTS, guidance, options=options, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)


__all__ = ["INVARIANTS", "check_guidance", "make_call"]
