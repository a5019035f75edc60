"""Σ_i c_i·v_i over full-size tensors: (batch,) coefficients broadcast, one pass over x per term."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from gdf_core.tensors import as_dtype, batch_view


def compute(x: Tensor) -> Tensor:
    """x in at least float32 (bf16/fp16 inputs are computed in float32); no copy otherwise."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def combine(terms: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """Σ c_i·v_i with (batch,) coefficients c_i: one multiplication, then one fused ``addcmul_`` per term."""
    out = None
    for c, v in terms:
        cv = as_dtype(batch_view(c, v), v.dtype)
        out = cv * v if out is None else out.addcmul_(cv, v)
    assert out is not None
    return out


def combine_rows(coeffs: Tensor, values: Sequence[Tensor], base: Optional[Tensor] = None) -> Tensor:
    """``base`` + Σ_i coeffs[i]·values[i] (a new tensor; no ``base``: the sum alone) for stacked
    (terms, batch) coefficients (one cast for all)."""
    v0 = values[0]
    cs = as_dtype(coeffs, v0.dtype).view(coeffs.shape[0], -1, *([1] * (v0.dim() - 1))).unbind(0)
    out = cs[0] * v0 if base is None else torch.addcmul(base, cs[0], v0)
    for c, v in zip(cs[1:], values[1:]):
        out.addcmul_(c, v)
    return out
