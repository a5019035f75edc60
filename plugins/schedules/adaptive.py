"""A training schedule that learns where the loss is: λ drawn per bucket with probability ∝ its EMA loss.

Differences from the original: when several samples of a batch fall in one
bucket, the bucket moves towards their mean loss (the original's indexed
assignment kept one arbitrary sample's update); λ outside ``logsnr_range``
counts for the nearest end bucket (the original sent it to bucket 0).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.domains import Finite, IntRange, NonNegative, OrderedPair


def bucket_ema(
    values: Tensor, index: Tensor, loss: Tensor, beta: float
) -> Tensor:
    """``values`` with each bucket hit by ``index`` moved to beta·v + (1 − beta)·mean(loss of its samples)."""
    n = values.numel()
    sums = torch.zeros(n, dtype=torch.float64).index_add_(0, index, loss.to(torch.float64))
    counts = torch.zeros(n, dtype=torch.float64).index_add_(0, index, torch.ones_like(loss, dtype=torch.float64))
    hit = counts > 0
    mean = sums / counts.clamp(min=1)
    updated = values.to(torch.float64) * beta + mean * (1 - beta)
    return torch.where(hit, updated, values.to(torch.float64)).to(values.dtype)


def check_update(name: str, logsnr: Tensor, loss: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """λ and loss as flat float64 CPU tensors of the same length."""
    logsnr = torch.as_tensor(logsnr).detach().reshape(-1).to("cpu", torch.float64)
    loss = torch.as_tensor(loss).detach().reshape(-1).to("cpu", torch.float64)
    if logsnr.shape != loss.shape:
        raise ValueError(
            f"{name}.update_buckets: give one loss per sample (shape (batch,)) alongside its λ; "
            f"got {logsnr.numel()} λ values and {loss.numel()} losses"
        )
    if not 0 <= beta <= 1:
        raise ValueError(f"{name}.update_buckets: beta is an EMA factor in [0, 1], got {beta}")
    return logsnr, loss


class AdaptiveTrainSchedule(ScheduleBase):
    """Training draws only: bucket i of ``logsnr_range`` with probability ∝ p_i + min_probs, λ uniform in it.

    ``update_buckets(λ, loss, beta)`` sets p_i ← beta·p_i + (1 − beta)·loss for the
    buckets the batch touched, so training concentrates where the loss is high.
    The learned p is kept in ``state_dict()`` (``"bucket_probs"``).
    """

    name = "adaptive"
    supports_t = False

    def __init__(
        self,
        logsnr_range: OrderedPair[Finite] = (-10, 10),
        buckets: IntRange(1, 100_000) = 100,  # type: ignore[valid-type]
        min_probs: NonNegative = 0.0,
        **kwargs,
    ) -> None:
        lo, hi = logsnr_range
        if not lo < hi:
            raise ValueError(f"schedule 'adaptive': logsnr_range must be (low, high) with low < high, got {tuple(logsnr_range)}")
        if int(buckets) != buckets or buckets < 1:
            raise ValueError(f"schedule 'adaptive': buckets must be an integer ≥ 1, got {buckets}")
        if min_probs < 0:
            raise ValueError(f"schedule 'adaptive': min_probs must be ≥ 0, got {min_probs}")
        self.logsnr_range = tuple(logsnr_range)
        self.buckets = int(buckets)
        self.min_probs = min_probs
        self.edges = torch.linspace(float(lo), float(hi), self.buckets + 1)
        self.bucket_probs = torch.ones(self.buckets)
        super().__init__(**kwargs)

    def draw(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        weights = self.bucket_probs + self.min_probs
        index = torch.multinomial(weights / weights.sum(), batch_size, replacement=True, generator=generator)
        lo, hi = self.edges[index], self.edges[index + 1]
        return lo + torch.rand(batch_size, generator=generator) * (hi - lo)

    def bucket_index(self, logsnr: Tensor) -> Tensor:
        """The bucket i with edge_i ≤ λ < edge_(i+1); λ outside the range counts for the end bucket."""
        edges = self.edges.to(logsnr.device, logsnr.dtype)
        return (torch.searchsorted(edges, logsnr.contiguous(), right=True) - 1).clamp(0, self.buckets - 1)

    def update_buckets(self, logsnr: Tensor, loss: Tensor, beta: float = 0.99) -> None:
        """Move the probability of each touched bucket towards the (mean) loss of its samples."""
        logsnr, loss = check_update("AdaptiveTrainSchedule", logsnr, loss, beta)
        self.bucket_probs = bucket_ema(self.bucket_probs, self.bucket_index(logsnr), loss, beta)

    def state_dict(self) -> dict[str, Any]:
        return {"bucket_probs": self.bucket_probs.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        probs = torch.as_tensor(state["bucket_probs"], dtype=torch.float32)
        if probs.shape != self.bucket_probs.shape:
            raise ValueError(
                f"AdaptiveTrainSchedule.load_state_dict: the state has {probs.numel()} buckets, "
                f"this schedule has {self.buckets}"
            )
        self.bucket_probs = probs.clone()
