"""Invariants of loss weights (λ → the weight of each sample's loss)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, run_check
from gdf_core.testing.checks.parameters import REFUSES_NAN

KIND = "loss_weight"


def finite_non_negative(weight: Any, options: Mapping[str, Any], logsnr: Tensor) -> None:
    w = weight(logsnr).to(torch.float64)
    if w.shape != logsnr.shape:
        raise Violation(f"λ of shape {tuple(logsnr.shape)} gave weights of shape {tuple(w.shape)}")
    bad = ~(torch.isfinite(w) & (w >= 0))
    if bad.any():
        i = int(bad.nonzero()[0])
        raise Violation(f"the weight at λ = {logsnr[i].item():.6g} is {w[i].item():.6g}; a weight must be finite and ≥ 0")


def shift_moves_logsnr(weight: Any, options: Mapping[str, Any], logsnr: Tensor, shift: float) -> None:
    got = weight(logsnr, shift=shift).to(torch.float64)
    want = weight(logsnr + 2 * math.log(shift)).to(torch.float64)
    ok = (got == want) | ((got - want).abs() <= 1e-6 * (1 + want.abs()))
    if not ok.all():
        i = int((~ok).nonzero()[0])
        raise Violation(
            f"weight(λ = {logsnr[i].item():.6g}, shift={shift:.6g}) should be weight(λ + 2·log(shift)) = "
            f"{want[i].item():.6g}, got {got[i].item():.6g}"
        )


def keeps_dtype_device_shape(weight: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    lam = (torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5).to(dtype=dtype, device=device)
    w = weight(lam)
    want = torch.promote_types(dtype, torch.float32)  # float32 at least: the weight multiplies a float32 loss
    if w.dtype != want or w.device.type != device.type or w.shape != lam.shape:
        raise Violation(
            f"λ of dtype {dtype}, shape {tuple(shape)} on {device} gave weights of dtype {w.dtype}, "
            f"shape {tuple(w.shape)} on {w.device} (expected dtype {want}, λ's shape and device)"
        )


def no_input_mutation(weight: Any, options: Mapping[str, Any], logsnr: Tensor, shift: float) -> None:
    before = logsnr.clone()
    weight(logsnr, shift=shift)
    if not torch.equal(before, logsnr):
        raise Violation(f"the call changed its input λ in place: {fmt(before)} became {fmt(logsnr)}")


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("finite_non_negative", "weight(λ) is finite and ≥ 0 for λ in [−20, 20]", finite_non_negative, lambda o: {"logsnr": gst.logsnrs()}),
    Invariant(
        "shift_moves_logsnr",
        "weight(λ, shift=s) = weight(λ + 2·log(s))",
        shift_moves_logsnr,
        lambda o: {"logsnr": gst.logsnrs(-15.0, 15.0), "shift": st.floats(0.25, 4.0)},
    ),
    Invariant(
        "keeps_dtype_device_shape",
        "the weights are float32 at least (float64 for float64 λ), with λ's shape and device",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
    ),
    Invariant(
        "no_input_mutation",
        "calling the weight leaves λ unchanged",
        no_input_mutation,
        lambda o: {"logsnr": gst.logsnrs(), "shift": st.sampled_from([1.0, 2.0])},
    ),
    REFUSES_NAN,
)


def check_loss_weight(
    loss_weight: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
) -> CheckReport:
    """Check a loss weight (or a strategy of them) against every loss-weight invariant."""
    return run_check(KIND, INVARIANTS, loss_weight, options={}, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
