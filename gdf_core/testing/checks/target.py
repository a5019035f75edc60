"""Invariants of targets: a prediction of the target gives back x0 and ε.

The coefficients come from a closed-form scaler: ``"variance"`` (a² + b² = 1,
as ``vp``) and ``"sum"`` (a + b = 1, as ``lerp``). Option ``scalers`` (or the
class attribute ``scalers``) restricts the check to the scalers a target is
meant for, e.g. ``("sum",)`` for a rectified-flow velocity. A target that limits
x̂0 (clipping, dynamic thresholding) declares ``x0_bound``: the round trips are
then checked for data within that bound, where the limit must be the identity.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch
from hypothesis import strategies as st
from torch import Tensor

from gdf_core.tensors import batch_view
from gdf_core.testing.gaussian import coefficients
from gdf_core.testing import strategies as gst
from gdf_core.testing.checks._core import CheckReport, Invariant, Violation, fmt, option, run_check
from gdf_core.testing.checks.parameters import REFUSES_NAN

KIND = "target"
SCALERS = ("variance", "sum")


def scalers_of(target: Any, options: Mapping[str, Any]) -> Sequence[str]:
    return tuple(option(target, options, "scalers", SCALERS))


def _case(target: Any, options: Mapping[str, Any], scaler_index: int, shape: tuple, logsnr: Tensor, seed: int, dtype: torch.dtype = torch.float64):
    """x0, ε, λ (one per sample), a, b (viewed to broadcast), the noised x, and the scaler used."""
    names = scalers_of(target, options)
    identity = names[scaler_index % len(names)]
    batch = shape[0]
    lam = logsnr.repeat((batch + logsnr.numel() - 1) // logsnr.numel())[:batch]
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(shape, generator=g, dtype=torch.float64)
    eps = torch.randn(shape, generator=g, dtype=torch.float64)
    bound = getattr(target, "x0_bound", None)
    if bound is not None:  # data the limit leaves alone
        x0 = 0.99 * float(bound) * torch.tanh(x0)
    a, b = coefficients(identity, lam)
    a, b = batch_view(a, x0), batch_view(b, x0)
    noised = a * x0 + b * eps
    cast = [v.to(dtype) for v in (x0, eps, lam, a, b, noised)]
    return (*cast, identity)


def _round_trip(target: Any, options: Mapping[str, Any], which: str, scaler: int, shape: tuple, logsnr: Tensor, seed: int) -> None:
    x0, eps, lam, a, b, noised, identity = _case(target, options, scaler, shape, logsnr, seed)
    pred = target(x0, eps, lam, a, b)
    got = getattr(target, which)(noised, pred, lam, a, b).to(torch.float64)
    want = x0 if which == "x0" else eps
    err = (got - want).abs()
    tol = 1e-6 * (1 + want.abs())
    if not (err <= tol).all():
        i = int((~(err <= tol)).reshape(-1).nonzero()[0])
        sample = i // max(1, want[0].numel())
        raise Violation(
            f"{which}(noised, target(x0, ε)) does not give back {which} under the {identity!r} scaler: at "
            f"λ = {lam[sample].item():.6g} (a = {a.reshape(-1)[sample].item():.6g}, b = {b.reshape(-1)[sample].item():.6g}) "
            f"expected {want.reshape(-1)[i].item():.6g}, got {got.reshape(-1)[i].item():.6g}"
        )


def x0_round_trip(target: Any, options: Mapping[str, Any], scaler: int, shape: tuple, logsnr: Tensor, seed: int) -> None:
    _round_trip(target, options, "x0", scaler, shape, logsnr, seed)


def epsilon_round_trip(target: Any, options: Mapping[str, Any], scaler: int, shape: tuple, logsnr: Tensor, seed: int) -> None:
    _round_trip(target, options, "epsilon", scaler, shape, logsnr, seed)


def keeps_dtype_device_shape(target: Any, options: Mapping[str, Any], shape: tuple, dtype: torch.dtype, device: torch.device) -> None:
    x0, eps, lam, a, b, noised, _ = _case(target, options, 0, shape, torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64), 0, dtype)
    x0, eps, lam, a, b, noised = (v.to(device) for v in (x0, eps, lam, a, b, noised))
    pred = target(x0, eps, lam, a, b)
    outputs = {"target(x0, ε, ...)": pred, "x0(x, pred, ...)": target.x0(noised, pred, lam, a, b), "epsilon(x, pred, ...)": target.epsilon(noised, pred, lam, a, b)}
    for label, v in outputs.items():
        if v.dtype != dtype or v.device.type != device.type or v.shape != x0.shape:
            raise Violation(
                f"with inputs of dtype {dtype}, shape {tuple(shape)} on {device}, {label} gave dtype {v.dtype}, "
                f"shape {tuple(v.shape)} on {v.device} (expected the same dtype, shape and device)"
            )


def no_input_mutation(target: Any, options: Mapping[str, Any], shape: tuple, logsnr: Tensor, seed: int) -> None:
    inputs = _case(target, options, 0, shape, logsnr, seed)[:6]
    x0, eps, lam, a, b, noised = inputs
    before = [v.clone() for v in inputs]
    pred = target(x0, eps, lam, a, b)
    pred_before = pred.clone()
    target.x0(noised, pred, lam, a, b)
    target.epsilon(noised, pred, lam, a, b)
    names = ("x0", "ε", "λ", "a", "b", "x")
    for name, old, new in zip(names, before, inputs):
        if not torch.equal(old, new):
            raise Violation(f"the target changed its input {name} in place: {fmt(old)} became {fmt(new)}")
    if not torch.equal(pred_before, pred):
        raise Violation(f"x0() or epsilon() changed the prediction in place: {fmt(pred_before)} became {fmt(pred)}")


def _inputs(o: Mapping[str, Any]) -> dict:
    return {
        "scaler": st.integers(0, 1),
        "shape": gst.batch_shapes(max_dims=3),
        "logsnr": gst.logsnrs(-10.0, 10.0, max_size=4),
        "seed": gst.seeds(),
    }


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("x0_round_trip", "x0(a·x0 + b·ε, target(x0, ε)) = x0", x0_round_trip, _inputs),
    Invariant("epsilon_round_trip", "epsilon(a·x0 + b·ε, target(x0, ε)) = ε", epsilon_round_trip, _inputs),
    Invariant(
        "keeps_dtype_device_shape",
        "target, x0 and epsilon keep the inputs' dtype, shape and device",
        keeps_dtype_device_shape,
        lambda o: {"shape": gst.batch_shapes(max_dims=3), "dtype": gst.dtypes(), "device": gst.devices()},
    ),
    Invariant(
        "no_input_mutation",
        "target, x0 and epsilon leave their inputs unchanged",
        no_input_mutation,
        lambda o: {"shape": gst.batch_shapes(max_dims=2), "logsnr": gst.logsnrs(-10.0, 10.0, max_size=4), "seed": gst.seeds()},
    ),
    REFUSES_NAN,
)


def check_target(
    target: Any,
    *,
    max_examples: Optional[int] = None,
    raise_on_failure: bool = True,
    only: Optional[list[str]] = None,
    scalers: Optional[Sequence[str]] = None,
) -> CheckReport:
    """Check a target (or a strategy of them) against every target invariant.

    ``scalers``: the scaler identities to round-trip under, ``"variance"``
    and/or ``"sum"`` (default: the class attribute ``scalers``, else both).
    """
    return run_check(KIND, INVARIANTS, target, options={"scalers": scalers}, max_examples=max_examples, raise_on_failure=raise_on_failure, only=only)
