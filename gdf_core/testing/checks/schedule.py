"""Invariants of schedules (t → λ).

Options (each also read from the schedule's class attribute of that name):
``reference_draw(n, generator) -> λ`` gives the documented training
distribution to test draws against (default: λ(U) with U uniform on [0, 1],
for schedules that take t; training-only schedules need it given);
``infinite_ends=True`` lets λ(0) be +∞ and λ(1) be −∞ (sampling schedules
that end on clean data or start from zero terminal SNR).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, rebuild, run_check
from gdf_core.testing.checks.parameters import REFUSES_NAN

KIND = "schedule"
#: Levels of a training draw's KS test: sample size and critical coefficient (α = 0.001).
DRAWS, KS_C_ALPHA = 4000, 1.95


def takes_t(schedule: Any) -> bool:
    return bool(getattr(schedule, "supports_t", True))


def needs_t(schedule: Any, options: Mapping[str, Any]) -> Optional[str]:
    return None if takes_t(schedule) else "training-only schedule (supports_t = False): no λ(t)"


def limits_of(schedule: Any) -> Optional[tuple[float, float]]:
    limits = getattr(schedule, "limits", None)
    return None if limits is None else (float(limits[0]), float(limits[1]))


def _close(x: Tensor, y: Tensor, tol: float) -> Tensor:
    both_inf = torch.isinf(x) & (x == y)
    return both_inf | ((x - y).abs() <= tol * (1 + y.abs()))


# -- invariants ------------------------------------------------------------------------
def finite_on_unit_interval(schedule: Any, options: Mapping[str, Any], t: Tensor) -> None:
    lam = schedule(t)
    bad = ~torch.isfinite(lam)
    if option(schedule, options, "infinite_ends", False):
        bad = bad & ~((lam == math.inf) & (t == 0)) & ~((lam == -math.inf) & (t == 1))
    if bad.any():
        i = int(bad.nonzero()[0])
        ends = " (only λ(0) = +inf and λ(1) = −inf are allowed, with infinite_ends)" if option(schedule, options, "infinite_ends", False) else ""
        raise Violation(f"λ(t) is not finite at t={t[i].item():.6g}: λ={lam[i].item()}{ends}")
    limits = limits_of(schedule)
    if limits is not None:
        lo, hi = limits
        out = (lam < lo - 1e-6 * (1 + abs(lo))) | (lam > hi + 1e-6 * (1 + abs(hi)))
        if out.any():
            i = int(out.nonzero()[0])
            raise Violation(f"λ(t={t[i].item():.6g}) = {lam[i].item():.6g} lies outside the schedule's limits [{lo:.6g}, {hi:.6g}]")


def non_increasing_in_t(schedule: Any, options: Mapping[str, Any], t: Tensor) -> None:
    ends = schedule(torch.tensor([0.0, 1.0], dtype=torch.float64))
    if not ends[0] > ends[1]:
        raise Violation(
            f"λ does not fall from t = 0 to t = 1: λ(0) = {ends[0].item():.6g}, λ(1) = {ends[1].item():.6g} "
            "(a schedule runs from data, high λ, to noise, low λ)"
        )
    lam = schedule(t)
    rises = lam[1:] > lam[:-1] + 1e-9 * (1 + lam[:-1].abs())
    if rises.any():
        i = int(rises.nonzero()[0])
        raise Violation(
            f"λ increases with t: λ({t[i].item():.6g}) = {lam[i].item():.6g} < λ({t[i + 1].item():.6g}) = {lam[i + 1].item():.6g}"
        )


def shift_moves_logsnr(schedule: Any, options: Mapping[str, Any], t: Tensor, shift: float) -> None:
    lam = schedule(t)
    expected = lam - 2 * math.log(shift)
    limits = limits_of(schedule)
    if limits is not None:
        expected = expected.clamp(*limits)
    got = schedule(t, shift=shift)
    ok = _close(got, expected, 1e-6)
    if limits is not None:  # where λ(t) itself sits on a limit, the unclamped λ is unknown
        ok = ok | (lam <= limits[0]) | (lam >= limits[1])
    if not ok.all():
        i = int((~ok).nonzero()[0])
        raise Violation(
            f"at t={t[i].item():.6g}, λ={lam[i].item():.6g} and shift={shift:.6g} should give "
            f"λ − 2·log(shift) = {expected[i].item():.6g}{' (clamped to the limits)' if limits else ''}, got {got[i].item():.6g}"
        )


def takes_discrete_steps(schedule: Any, options: Mapping[str, Any]) -> Optional[str]:
    from gdf_core.spec import component_fields

    reason = needs_t(schedule, options)
    if reason:
        return reason
    try:
        has = "discrete_steps" in component_fields(type(schedule))  # type: ignore[arg-type]
    except Exception:
        has = False
    return None if has else "no discrete_steps parameter"


def discrete_steps_levels(schedule: Any, options: Mapping[str, Any], t: Tensor, steps: int) -> None:
    discrete = rebuild(schedule, KIND, discrete_steps=steps)
    levels = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    allowed = schedule(levels) if getattr(schedule, "discrete_steps", None) in (None, steps) else discrete(levels)
    lam = discrete(t)
    distance = (lam[:, None] - allowed[None, :]).abs().min(dim=1).values
    off = distance > 1e-6 * (1 + lam.abs())
    if off.any():
        i = int(off.nonzero()[0])
        raise Violation(
            f"with discrete_steps={steps}, λ(t={t[i].item():.6g}) = {lam[i].item():.6g} is none of the "
            f"{steps} allowed levels λ(i/{steps - 1}) (nearest is {distance[i].item():.3g} away)"
        )
    # An integer t is a step index: it must give what t = i/(N − 1) gives (both evaluated in float32).
    by_index = discrete(torch.arange(steps)).to(torch.float64)
    allowed = discrete(levels.to(torch.float32)).to(torch.float64)
    wrong = ~_close(by_index, allowed, 1e-5)
    if wrong.any():
        i = int(wrong.nonzero()[0])
        raise Violation(
            f"with discrete_steps={steps}, the step index {i} should give λ(t={i}/{steps - 1}) = "
            f"{allowed[i].item():.6g}, got {by_index[i].item():.6g}"
        )


def no_input_mutation(schedule: Any, options: Mapping[str, Any], t: Tensor, shift: float) -> None:
    before = t.clone()
    schedule(t, shift=shift)
    if not torch.equal(before, t):
        raise Violation(f"the call changed its input t in place: {fmt(before)} became {fmt(t)}")


def keeps_dtype_device_shape(schedule: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    t = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(dtype=dtype, device=device)
    lam = schedule(t)
    if lam.dtype != dtype or lam.device.type != device.type or lam.shape != t.shape:
        raise Violation(
            f"t of dtype {dtype}, shape {tuple(shape)} on {device} gave λ of dtype {lam.dtype}, "
            f"shape {tuple(lam.shape)} on {lam.device} (expected the same dtype, shape and device)"
        )


def draw(schedule: Any, batch: int, seed: int) -> Tensor:
    """A training draw from a generator seeded with ``seed`` (the global RNG, seeded, if the call takes none)."""
    try:
        return schedule(batch, generator=torch.Generator().manual_seed(seed))
    except TypeError as exc:
        if "generator" not in str(exc):
            raise
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return schedule(batch)


def training_draws_within_limits(schedule: Any, options: Mapping[str, Any], batch: int, seed: int) -> None:
    lam = draw(schedule, batch, seed)
    if lam.shape != (batch,):
        raise Violation(f"a training draw of batch size {batch} has shape {tuple(lam.shape)}, expected ({batch},)")
    if not lam.is_floating_point():
        raise Violation(f"a training draw has dtype {lam.dtype}, expected a floating dtype")
    bad = ~torch.isfinite(lam)
    if bad.any():
        raise Violation(f"a training draw is not finite: {fmt(lam[bad])}")
    limits = limits_of(schedule)
    if limits is not None:
        lo, hi = limits
        out = (lam < lo - 1e-5 * (1 + abs(lo))) | (lam > hi + 1e-5 * (1 + abs(hi)))
        if out.any():
            raise Violation(f"training draws {fmt(lam[out])} lie outside the limits [{lo:.6g}, {hi:.6g}]")


def reference_of(schedule: Any, options: Mapping[str, Any]) -> Optional[Callable[[int, torch.Generator], Tensor]]:
    reference = option(schedule, options, "reference_draw")
    if reference is not None:
        return reference
    if takes_t(schedule):
        return lambda n, generator: schedule(torch.rand(n, generator=generator, dtype=torch.float64))
    return None


def has_reference(schedule: Any, options: Mapping[str, Any]) -> Optional[str]:
    if reference_of(schedule, options) is None:
        return "training-only schedule without a reference_draw option: its distribution is not documented to the kit"
    return None


def ks_statistic(x: Tensor, y: Tensor) -> float:
    """The two-sample Kolmogorov–Smirnov statistic sup |F_x − F_y|."""
    x, y = x.to(torch.float64).sort().values, y.to(torch.float64).sort().values
    grid = torch.cat([x, y])
    fx = torch.searchsorted(x, grid, right=True).to(torch.float64) / x.numel()
    fy = torch.searchsorted(y, grid, right=True).to(torch.float64) / y.numel()
    return float((fx - fy).abs().max())


def training_draws_distribution(schedule: Any, options: Mapping[str, Any], seed: int) -> None:
    reference = reference_of(schedule, options)
    assert reference is not None
    draws = draw(schedule, DRAWS, seed)
    expected = reference(DRAWS, torch.Generator().manual_seed(seed + 1))
    d = ks_statistic(draws, expected)
    critical = KS_C_ALPHA * math.sqrt(2 / DRAWS)
    if d > critical:
        raise Violation(
            f"training draws do not follow the documented distribution: two-sample KS statistic "
            f"{d:.4f} > {critical:.4f} (α = 0.001, {DRAWS} draws each); draws have mean "
            f"{draws.double().mean().item():.4g}, std {draws.double().std().item():.4g}; the reference "
            f"has mean {expected.double().mean().item():.4g}, std {expected.double().std().item():.4g}"
        )


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "finite_on_unit_interval",
        "λ(t) is finite for every t in [0, 1] (±∞ at the ends with infinite_ends) and lies within the schedule's limits",
        finite_on_unit_interval,
        lambda o: {"t": gst.t_values()},
        needs_t,
    ),
    Invariant(
        "non_increasing_in_t",
        "λ(t) never increases with t",
        non_increasing_in_t,
        lambda o: {"t": gst.t_values(min_size=2, sort=True)},
        needs_t,
    ),
    Invariant(
        "shift_moves_logsnr",
        "λ(t, shift=s) = λ(t) − 2·log(s) (clamped to the limits) wherever λ(t) is inside the limits",
        shift_moves_logsnr,
        lambda o: {"t": gst.t_values(), "shift": st.floats(0.25, 4.0)},
        needs_t,
    ),
    Invariant(
        "discrete_steps_levels",
        "with discrete_steps=N, λ takes only the N levels λ(i/(N − 1)); an integer t is a step index",
        discrete_steps_levels,
        lambda o: {"t": gst.t_values(), "steps": st.integers(2, 50)},
        takes_discrete_steps,
    ),
    Invariant(
        "no_input_mutation",
        "calling the schedule leaves t unchanged",
        no_input_mutation,
        lambda o: {"t": gst.t_values(), "shift": st.sampled_from([1.0, 2.0])},
        needs_t,
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "λ(t) has t's dtype, shape and device",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
        needs_t,
    ),
    Invariant(
        "training_draws_within_limits",
        "schedule(batch_size) gives batch_size finite λ within the limits",
        training_draws_within_limits,
        lambda o: {"batch": st.integers(1, 64), "seed": gst.seeds()},
    ),
    Invariant(
        "training_draws_distribution",
        "training draws follow the documented distribution (two-sample KS test, fixed seeds)",
        training_draws_distribution,
        lambda o: {"seed": st.just(0)},
        has_reference,
        examples_cap=1,
    ),
    REFUSES_NAN,
)


def check_schedule(
    schedule: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    reference_draw: Optional[Callable[[int, torch.Generator], Tensor]] = None,
    infinite_ends: Optional[bool] = None,
) -> CheckReport:
    """Check a schedule (or a strategy of schedules) against every schedule invariant.

    ``reference_draw(n, generator)`` gives λ drawn from the documented training
    distribution (default: λ(U), U uniform, for schedules that take t);
    ``infinite_ends=True`` allows λ(0) = +∞ and λ(1) = −∞.
    """
    options = {"reference_draw": reference_draw, "infinite_ends": infinite_ends}
    return run_check(KIND, INVARIANTS, schedule, options=options, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
