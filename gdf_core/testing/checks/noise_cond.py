"""Invariants of noise conditions (λ → what the model is given).

Option ``inverts`` (or the class attribute of that name): the schedule the
condition inverts, as a schedule, a spec, or a registry name. Given a name,
the schedule is built with the condition's own parameters that the schedule
also takes (``s`` of ``cosine_t`` → ``cosine``; the knots of
``piecewise_linear``), except the shared ``shift`` and ``clamp_range``. The
check is then cond(schedule(t, shift=cond.shift)) = t wherever the schedule
is not clamped at one of its ends.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, rebuild, run_check
from gdf_core.testing.checks.parameters import REFUSES_NAN

KIND = "noise_cond"
SHARED = ("shift", "clamp_range")


def _cond(nc: Any, lam: Tensor) -> Tensor:
    c = nc(lam)
    return c.to(torch.float64)


def finite(nc: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    c = _cond(nc, logsnr)
    bad = ~torch.isfinite(c)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise Violation(f"cond(λ = {logsnr[i].item():.6g}) = {c[i].item()} is not finite")
    if c.shape != logsnr.shape:
        raise Violation(f"λ of shape {tuple(logsnr.shape)} gave a condition of shape {tuple(c.shape)}")


def monotone_in_logsnr(nc: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    c = _cond(nc, logsnr)
    steps = c[1:] - c[:-1]
    tol = 1e-9 * (1 + c.abs().max())
    rising, falling = steps > tol, steps < -tol
    if rising.any() and falling.any():
        i, j = int(rising.nonzero()[0]), int(falling.nonzero()[0])
        raise Violation(
            "the condition is not monotone in λ: it rises from "
            f"{c[i].item():.6g} at λ = {logsnr[i].item():.6g} to {c[i + 1].item():.6g} at λ = {logsnr[i + 1].item():.6g} "
            f"but falls from {c[j].item():.6g} at λ = {logsnr[j].item():.6g} to {c[j + 1].item():.6g} at λ = {logsnr[j + 1].item():.6g}"
        )


def takes_shift(nc: Any, options: Mapping[str, Any]) -> Optional[str]:
    from gdf_core.spec import component_fields

    try:
        return None if "shift" in component_fields(type(nc)) else "no shift parameter"  # type: ignore[arg-type]
    except Exception:
        return "no shift parameter"


def shift_moves_logsnr(nc: Any, options: Mapping[str, Any], logsnr: Tensor, shift: float) -> None:
    base = getattr(nc, "shift", 1.0)
    shifted = rebuild(nc, KIND, shift=base * shift)
    got = _cond(shifted, logsnr)
    want = _cond(nc, logsnr + 2 * math.log(shift))
    # An integer condition may land one level off where λ sits on a level boundary.
    tol = 1.0 if not nc(logsnr[:1]).is_floating_point() else 1e-6
    ok = (got == want) | ((got - want).abs() <= tol * (1 + want.abs()) if tol < 1 else (got - want).abs() <= tol)
    if not ok.all():
        i = int((~ok).nonzero()[0])
        raise Violation(
            f"with shift multiplied by {shift:.6g}, cond(λ = {logsnr[i].item():.6g}) should be the unshifted "
            f"cond(λ + 2·log(shift)) = {want[i].item():.6g}, got {got[i].item():.6g}"
        )


def schedule_inverted(nc: Any, options: Mapping[str, Any]) -> Any:
    """The schedule ``nc`` inverts, built, or None."""
    from gdf_core.registry import registry
    from gdf_core.spec import build, component_fields

    inverts = option(nc, options, "inverts")
    if inverts is None:
        return None
    if isinstance(inverts, str):
        fields = component_fields(registry.get("schedule", inverts))
        params = getattr(nc, "params", None) or {}
        shared = {k: v for k, v in params.items() if k in fields and k not in SHARED}
        inverts = {"name": inverts, **shared}
    return build("schedule", inverts)


def declares_inverse(nc: Any, options: Mapping[str, Any]) -> Optional[str]:
    if option(nc, options, "inverts") is None:
        return "inverts no schedule (declare inverts = '<schedule name>')"
    return None


def inverts_schedule(nc: Any, options: Mapping[str, Any], t: Tensor) -> None:
    schedule = schedule_inverted(nc, options)
    shift = float(getattr(nc, "shift", 1.0))
    lam = schedule(t, shift=shift).to(torch.float64)
    ends = schedule(torch.tensor([0.0, 1.0], dtype=torch.float64), shift=shift).to(torch.float64)
    inside = (lam < ends[0]) & (lam > ends[1])
    got = _cond(nc, lam)
    wrong = inside & ~((got - t).abs() <= 1e-5)
    if wrong.any():
        i = int(wrong.nonzero()[0])
        raise Violation(
            f"cond(schedule(t)) should give t back: t = {t[i].item():.6g}, λ = {lam[i].item():.6g}, "
            f"cond = {got[i].item():.6g} (schedule {schedule.to_spec() if hasattr(schedule, 'to_spec') else schedule!r})"
        )


def keeps_dtype_device_shape(nc: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    lam = (torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5).to(dtype=dtype, device=device)
    c = nc(lam)
    dtype_ok = c.dtype == dtype or not c.is_floating_point()
    if not dtype_ok or c.device.type != device.type or c.shape != lam.shape:
        raise Violation(
            f"λ of dtype {dtype}, shape {tuple(shape)} on {device} gave a condition of dtype {c.dtype}, "
            f"shape {tuple(c.shape)} on {c.device} (expected λ's shape and device, and its dtype or an integer one)"
        )


def no_input_mutation(nc: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    before = logsnr.clone()
    nc(logsnr)
    if not torch.equal(before, logsnr):
        raise Violation(f"the call changed its input λ in place: {fmt(before)} became {fmt(logsnr)}")


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("finite", "cond(λ) is finite for λ in [−20, 20]", finite, lambda o: {"logsnr": gst.logsnrs()}),
    Invariant(
        "monotone_in_logsnr",
        "cond(λ) is monotone in λ (either direction)",
        monotone_in_logsnr,
        lambda o: {"logsnr": gst.logsnrs(min_size=3, sort=True)},
    ),
    Invariant(
        "shift_moves_logsnr",
        "the condition with shift s is the unshifted one at λ + 2·log(s)",
        shift_moves_logsnr,
        lambda o: {"logsnr": gst.logsnrs(-15.0, 15.0), "shift": st.floats(0.25, 4.0)},
        takes_shift,
    ),
    Invariant(
        "inverts_schedule",
        "cond(schedule(t)) = t for the schedule it inverts",
        inverts_schedule,
        lambda o: {"t": gst.t_values()},
        declares_inverse,
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "the condition has λ's shape, device and dtype (or an integer dtype)",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
    ),
    Invariant("no_input_mutation", "calling the condition leaves λ unchanged", no_input_mutation, lambda o: {"logsnr": gst.logsnrs()}),
    REFUSES_NAN,
)


def check_noise_cond(
    noise_cond: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    inverts: Any = None,
) -> CheckReport:
    """Check a noise condition (or a strategy of them) against every noise-condition invariant.

    ``inverts``: the schedule it inverts (a schedule, spec or name; default:
    the class attribute ``inverts``, if any).
    """
    return run_check(KIND, INVARIANTS, noise_cond, options={"inverts": inverts}, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
