"""Invariants of input scalers (λ → a, b with noised = a·x0 + b·ε).

Option ``preserves`` (or the class attribute of that name): ``"variance"``
checks a² + b² = 1 (e.g. ``vp``), ``"sum"`` checks a + b = 1 (e.g. ``lerp``).
Option ``max_a`` (default 1) bounds a for scalers whose signal gain exceeds 1
(EDM's c_in = 1/√(σ² + σ_data²) reaches 1/σ_data).
A scaler stretched by limits (``limits`` set) is checked only for what
stretching promises; the unstretched invariants apply to the bare scaler.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, run_check
from gdf_core.testing.checks.parameters import REFUSES_NAN

KIND = "input_scaler"
IDENTITIES = {"variance": "a² + b² = 1", "sum": "a + b = 1"}


class LinearLogSNR:
    """A minimal schedule, λ(t) = hi + t·(lo − hi), to stretch a scaler's limits onto."""

    name = "linear_logsnr"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def __call__(self, t: Tensor, *, shift: float = 1.0) -> Tensor:
        return self.hi + t * (self.lo - self.hi)


def unstretched(scaler: Any, options: Mapping[str, Any]) -> Optional[str]:
    if getattr(scaler, "limits", None) is not None:
        return "the scaler's limits are stretched (limits set); checked by limits_stretching instead"
    return None


def _ab(scaler: Any, lam: Tensor) -> tuple[Tensor, Tensor]:
    a, b = scaler(lam)
    return a.to(torch.float64), b.to(torch.float64)


def coefficients_in_unit_interval(scaler: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    a, b = _ab(scaler, logsnr)
    max_a = float(option(scaler, options, "max_a", 1.0))  # e.g. EDM's c_in ≤ 1/σ_data
    for label, v, top in (("a", a, max_a), ("b", b, 1.0)):
        bad = ~((v >= 0) & (v <= top))
        if bad.any():
            i = int(bad.nonzero()[0])
            raise Violation(f"{label} = {v[i].item():.6g} at λ = {logsnr[i].item():.6g} is not in [0, {top:.6g}]")


def monotone_in_logsnr(scaler: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    a, b = _ab(scaler, logsnr)
    for label, v, sign, word in (("a", a, 1, "decreases"), ("b", b, -1, "increases")):
        wrong = sign * (v[1:] - v[:-1]) < -1e-12
        if wrong.any():
            i = int(wrong.nonzero()[0])
            raise Violation(
                f"{label} {word} as λ grows: {label}({logsnr[i].item():.6g}) = {v[i].item():.6g}, "
                f"{label}({logsnr[i + 1].item():.6g}) = {v[i + 1].item():.6g}"
            )


def logsnr_definition(scaler: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    a, b = _ab(scaler, logsnr)
    got = 2 * (a.log() - b.log())
    wrong = ~((got - logsnr).abs() <= 1e-6 * (1 + logsnr.abs()))
    if wrong.any():
        i = int(wrong.nonzero()[0])
        raise Violation(
            f"log(a²/b²) should be λ = {logsnr[i].item():.6g}, got {got[i].item():.6g} "
            f"(a = {a[i].item():.6g}, b = {b[i].item():.6g})"
        )


def identity_of(scaler: Any, options: Mapping[str, Any]) -> Optional[str]:
    return option(scaler, options, "preserves")


def declares_identity(scaler: Any, options: Mapping[str, Any]) -> Optional[str]:
    identity = identity_of(scaler, options)
    if identity is None:
        return "no identity declared (preserves = 'variance' or 'sum')"
    if identity not in IDENTITIES:
        raise ValueError(f"preserves must be one of {', '.join(map(repr, IDENTITIES))}, got {identity!r}")
    return unstretched(scaler, options)


def preserves_identity(scaler: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    identity = str(identity_of(scaler, options))
    a, b = _ab(scaler, logsnr)
    value = a * a + b * b if identity == "variance" else a + b
    wrong = ~((value - 1).abs() <= 1e-6)
    if wrong.any():
        i = int(wrong.nonzero()[0])
        left = IDENTITIES[identity].split(" =")[0]
        raise Violation(
            f"{IDENTITIES[identity]} fails at λ = {logsnr[i].item():.6g}: {left} = {value[i].item():.8g} "
            f"(a = {a[i].item():.6g}, b = {b[i].item():.6g})"
        )


def can_stretch(scaler: Any, options: Mapping[str, Any]) -> Optional[str]:
    return None if callable(getattr(scaler, "setup_limits", None)) else "no setup_limits method"


def limits_stretching(scaler: Any, options: Mapping[str, Any], lo: float, hi: float, logsnr: Tensor) -> None:
    scaler.setup_limits(LinearLogSNR(lo, hi))
    ends = torch.tensor([lo, hi], dtype=torch.float64)
    a, b = _ab(scaler, ends)
    expected = ((0.0, 1.0), (1.0, 0.0))
    for i, where in enumerate(("the noise end λ(1)", "the data end λ(0)")):
        if abs(a[i].item() - expected[i][0]) > 1e-5 or abs(b[i].item() - expected[i][1]) > 1e-5:
            raise Violation(
                f"after setup_limits on a schedule from λ = {hi:.6g} to {lo:.6g}, {where} = {ends[i].item():.6g} "
                f"should map to (a, b) = {expected[i]}, got ({a[i].item():.6g}, {b[i].item():.6g})"
            )
    inside = logsnr.clamp(lo, hi)
    a, b = _ab(scaler, inside)
    bad = ~((a >= -1e-6) & (a <= 1 + 1e-6) & (b >= -1e-6) & (b <= 1 + 1e-6))
    if bad.any():
        i = int(bad.nonzero()[0])
        raise Violation(
            f"after setup_limits on [{lo:.6g}, {hi:.6g}], λ = {inside[i].item():.6g} gives "
            f"(a, b) = ({a[i].item():.6g}, {b[i].item():.6g}), outside [0, 1]"
        )


def keeps_dtype_device_shape(scaler: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    lam = (torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5).to(dtype=dtype, device=device)
    for label, v in zip(("a", "b"), scaler(lam)):
        if v.dtype != dtype or v.device.type != device.type or v.shape != lam.shape:
            raise Violation(
                f"λ of dtype {dtype}, shape {tuple(shape)} on {device} gave {label} of dtype {v.dtype}, "
                f"shape {tuple(v.shape)} on {v.device} (expected the same dtype, shape and device)"
            )


def no_input_mutation(scaler: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    before = logsnr.clone()
    scaler(logsnr)
    if not torch.equal(before, logsnr):
        raise Violation(f"the call changed its input λ in place: {fmt(before)} became {fmt(logsnr)}")


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "coefficients_in_unit_interval",
        "a and b lie in [0, 1] (a in [0, max_a] where the scaler declares it) for every λ, ±∞ included",
        coefficients_in_unit_interval,
        lambda o: {"logsnr": gst.logsnrs(allow_infinity=True)},
        unstretched,
    ),
    Invariant(
        "monotone_in_logsnr",
        "a never decreases and b never increases as λ grows",
        monotone_in_logsnr,
        lambda o: {"logsnr": gst.logsnrs(allow_infinity=True, min_size=2, sort=True)},
        unstretched,
    ),
    Invariant(
        "logsnr_definition",
        "log(a²/b²) = λ",
        logsnr_definition,
        lambda o: {"logsnr": gst.logsnrs()},
        unstretched,
    ),
    Invariant(
        "preserves_identity",
        "a² + b² = 1 (preserves='variance') or a + b = 1 (preserves='sum')",
        preserves_identity,
        lambda o: {"logsnr": gst.logsnrs(allow_infinity=True)},
        declares_identity,
    ),
    Invariant(
        "limits_stretching",
        "setup_limits(schedule) maps the schedule's ends onto (a, b) = (0, 1) and (1, 0), staying in [0, 1] between",
        limits_stretching,
        lambda o: {"lo": st.floats(-15.0, -1.0), "hi": st.floats(1.0, 15.0), "logsnr": gst.logsnrs(-15.0, 15.0)},
        can_stretch,
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "a and b have λ's dtype, shape and device",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
    ),
    Invariant(
        "no_input_mutation",
        "calling the scaler leaves λ unchanged",
        no_input_mutation,
        lambda o: {"logsnr": gst.logsnrs()},
    ),
    REFUSES_NAN,
)


def check_input_scaler(
    scaler: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    preserves: Optional[str] = None,
) -> CheckReport:
    """Check an input scaler (or a strategy of them) against every input-scaler invariant.

    ``preserves="variance"`` adds a² + b² = 1, ``preserves="sum"`` adds a + b = 1
    (default: the scaler's class attribute ``preserves``, if any).
    """
    return run_check(KIND, INVARIANTS, scaler, options={"preserves": preserves}, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
