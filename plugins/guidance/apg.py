"""Adaptive projected guidance (Sadat et al. 2024), on the denoised sample x0."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases.guidance import GuidanceBase, Scale, scale_at
from gdf_core.guidance import Predictions


def sample_dims(x: Tensor) -> tuple[int, ...]:
    """Every dimension but the batch: one sample's values."""
    return tuple(range(1, x.dim()))


def parallel_part(v: Tensor, direction: Tensor) -> Tensor:
    """The component of each sample of v along the same sample of ``direction`` (float64; 0 for a zero direction)."""
    dims = sample_dims(v)
    v64, d64 = v.to(torch.float64), direction.to(torch.float64)
    if not dims:  # one value per sample: v is parallel to any non-zero direction
        return torch.where(d64 != 0, v64, torch.zeros_like(v64))
    unit = d64 / torch.linalg.vector_norm(d64, dim=dims, keepdim=True).clamp_min(1e-12)
    return (v64 * unit).sum(dim=dims, keepdim=True) * unit


class APG(GuidanceBase):
    """guided = c + (w − 1)·(Δ⊥ + η·Δ∥), Δ = c − u split along c; in x0 space.

    Adaptive projected guidance (Sadat, Hilliges & Weber 2024, "Eliminating
    Oversaturation and Artifacts of High Guidance Scales in Diffusion
    Models", Alg. 1). c and u are the conditional and unconditional denoised
    predictions (x0: the paper applies APG to the denoised sample, not to ε).
    The update Δ = c − u is, per sample:

    1. with ``momentum`` β ≠ 0, replaced by the running average Δ + β·Δ_prev
       (the paper uses a negative β, e.g. −0.5), kept in the per-run state;
    2. with ``norm_threshold`` r > 0, scaled down to norm at most r;
    3. split into its part parallel to c, Δ∥ (which over-saturates), and the
       orthogonal rest Δ⊥; ``eta`` (η) weighs the parallel part.

    With η = 1, no threshold and no momentum it is CFG: c + (w − 1)·(c − u).
    The projection is computed in float64, as in the paper's code.
    """

    name = "apg"
    space = "x0"
    branches = ("unconditional",)
    neutral = {"scale": 1.0}

    def __init__(
        self,
        scale: Scale = 3.0,
        eta: Annotated[float, Field(ge=0.0, le=1.0, strict=True)] = 0.0,
        norm_threshold: Annotated[float, Field(ge=0.0, allow_inf_nan=False, strict=True)] = 0.0,
        momentum: Annotated[float, Field(gt=-1.0, lt=1.0, strict=True)] = 0.0,
        **kwargs: Any,
    ) -> None:
        self.scale = scale
        self.eta = eta
        self.norm_threshold = norm_threshold
        self.momentum = momentum
        super().__init__(**kwargs)

    def init_state(self) -> dict[str, Tensor]:
        """The running average of Δ (empty until the first guided call)."""
        return {}

    def guide(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor:
        cond, uncond = predictions.conditional, predictions.unconditional
        diff = cond - uncond
        if self.momentum != 0:
            previous = state.get("running") if state is not None else None
            if previous is not None:
                diff = diff + self.momentum * previous
            if state is not None:
                state["running"] = diff
        if self.norm_threshold > 0:
            dims = sample_dims(diff)
            norm = torch.linalg.vector_norm(diff, dim=dims, keepdim=True) if dims else diff.abs()
            diff = diff * (self.norm_threshold / norm.clamp(min=self.norm_threshold))  # min(r/‖Δ‖, 1), finite gradient at Δ = 0
        if self.eta != 1:
            diff = diff - (1 - self.eta) * parallel_part(diff, cond).to(diff.dtype)
        return cond + (scale_at(self.scale, t) - 1) * diff
