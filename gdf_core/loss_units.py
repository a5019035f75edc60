"""Loss units: the same model error costs a different MSE under each target (Kingma & Gao 2023, §2).

For a target whose inversion is linear in the prediction, ε = α·x + β·pred, a
prediction error δ of the target is an ε error β·δ. So

    MSE(target) = k(λ) · MSE(ε),   k(λ) = 1/β²   (the target's *ε-MSE scale*)

e.g. k = 1 for ε, (b/a)² = e^(−λ) for x0, (a² + b²)²/a² for v (1 + e^(−λ) under ``vp``),
((a + b)/a)² for the rectified-flow velocity and (σ² + σ_d²)/σ_d² for EDM's F.
A target may give ``epsilon_mse_scale(λ, a, b)`` itself; otherwise β is read off its
``epsilon`` inversion (ε at x = 0, pred = 1).

A loss weight that sets ``reference_target`` (a target name) states its weight in
that target's units; ``GDF.diffuse`` converts it to the chosen target's,
w_target = w_ref · k_ref / k_target, so that one spec means one objective for every
target. ``effective_weight`` is the weight in ε-MSE units, w_target · k_target,
which ``gdf plot`` draws.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


def epsilon_mse_scale(target: Any, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """k(λ) with MSE(target) = k·MSE(ε) for the same model error; λ, a, b of shape (B,)."""
    own = getattr(target, "epsilon_mse_scale", None)
    if callable(own):
        return own(logsnr, a, b)  # type: ignore[no-any-return]
    dtype = torch.float64 if logsnr.dtype == torch.float64 else torch.float32
    a, b, lam = a.to(dtype), b.to(dtype), logsnr.to(dtype)
    beta = target.epsilon(torch.zeros_like(a), torch.ones_like(a), lam, a, b).to(dtype)
    return 1 / (beta * beta)


def reference_target(loss_weight: Any) -> Optional[str]:
    """The target whose units ``loss_weight`` is stated in, or None (a plain multiplier of the loss)."""
    ref = getattr(loss_weight, "reference_target", None)
    return ref if isinstance(ref, str) else None


def _reference(name: str) -> Any:
    from gdf_core.spec import build

    return build("target", name, path="loss_weight.reference_target")


def to_target_units(loss_weight: Any, target: Any, weight: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``weight`` (from ``loss_weight``) in the chosen ``target``'s units: w·k_ref/k_target (unchanged without a reference)."""
    ref = reference_target(loss_weight)
    if ref is None:
        return weight
    ratio = epsilon_mse_scale(_reference(ref), logsnr, a, b) / epsilon_mse_scale(target, logsnr, a, b)
    return weight * ratio.to(weight.dtype)


def effective_weight(loss_weight: Any, target: Any, scaler: Any, logsnr: Tensor) -> Tensor:
    """The weight of a sample's loss in ε-MSE units: what the objective puts on each λ, whatever the target."""
    a, b = scaler(logsnr)
    w = to_target_units(loss_weight, target, loss_weight(logsnr).to(a.dtype), logsnr, a, b)
    return w * epsilon_mse_scale(target, logsnr, a, b).to(w.dtype)


__all__ = ["effective_weight", "epsilon_mse_scale", "reference_target", "to_target_units"]
