"""Dtype and shape rules shared by every component (see docs/design-decisions.md, "Dtypes").

Components compute in float32 at least (float64 stays float64) and give their
result back in the input's dtype when that is a floating dtype, float32
otherwise: bf16/fp16 inputs work and keep their dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def compute_dtype(x: Tensor) -> torch.dtype:
    """float32 or float64: the precision a formula of ``x`` is evaluated in."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def result_dtype(x: Tensor) -> torch.dtype:
    """The dtype a component returns for input ``x``."""
    return x.dtype if x.is_floating_point() else torch.float32


def as_dtype(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x.to(dtype)``, skipping the call when ``x`` is already ``dtype`` (a no-op ``.to`` still costs ~1.5 µs)."""
    return x if x.dtype == dtype else x.to(dtype)


def noise_cond_dtype(cond: Tensor, x: Tensor) -> Tensor:
    """A floating noise condition in x's compute dtype (float32 at least), an integer one as it is.

    Not x's dtype: in bfloat16 a timestep 999 rounds to 1000 and t near 1 moves by 2⁻⁸; the
    original GDF and diffusers' pipelines give a half-precision model its condition in float32 too.
    """
    return as_dtype(cond, compute_dtype(x)) if cond.is_floating_point() else cond


def to_compute(x: Tensor | float | int) -> Tensor:
    """``x`` as a tensor in its compute dtype (never a view that could alias for writing)."""
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x, dtype=torch.float32)
    return as_dtype(x, compute_dtype(x))


def log_shift(shift: float | Tensor) -> float | Tensor:
    """2·log(shift): how far a shift moves λ (Simple Diffusion, Hoogeboom et al. 2023)."""
    if isinstance(shift, Tensor):
        return 2 * torch.log(shift)
    return 2 * math.log(shift)


def batch_view(v: Tensor, x: Tensor) -> Tensor:
    """A per-sample tensor of shape (B,) viewed as (B, 1, 1, ...) to broadcast against ``x``."""
    if v.dim() == 1 and x.dim() > 1:
        return v.view(-1, *([1] * (x.dim() - 1)))
    return v


__all__ = ["as_dtype", "batch_view", "compute_dtype", "log_shift", "result_dtype", "to_compute"]
