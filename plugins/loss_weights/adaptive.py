"""A loss weight that learns the loss per λ bucket and divides it out.

Difference from the original: when several samples of a batch fall in one
bucket, the bucket moves towards their mean loss (the original's indexed
assignment kept one arbitrary sample's update).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gdf_core.bases import LossWeightBase
from gdf_core.domains import Finite, IntRange, OrderedPair, Positive
from gdf_plugins.schedules.adaptive import bucket_ema, check_update


class AdaptiveLossWeight(LossWeightBase):
    """w = 1/L_i for the bucket i of λ, clamped to ``weight_range``; L_i an EMA of the loss there.

    Buckets: ``buckets − 1`` edges evenly over ``logsnr_range``; bucket i holds
    edge_(i−1) < λ ≤ edge_i (``searchsorted``), with the two open ends as the first
    and last buckets. ``update_buckets(λ, loss, beta)`` sets L_i ← beta·L_i + (1 − beta)·loss;
    the learned L is kept in ``state_dict()`` (``"bucket_losses"``). Together with the
    loss this equalises the loss over noise levels (as in Karras et al. 2024, "EDM2",
    which learns the same weighting with a small network).
    """

    name = "adaptive"

    def __init__(
        self,
        logsnr_range: OrderedPair[Finite] = (-10, 10),
        buckets: IntRange(2, 100_000) = 300,  # type: ignore[valid-type]
        weight_range: OrderedPair[Positive] = (1e-7, 1e7),
        **kwargs,
    ) -> None:
        lo, hi = logsnr_range
        if not lo < hi:
            raise ValueError(f"loss_weight 'adaptive': logsnr_range must be (low, high) with low < high, got {tuple(logsnr_range)}")
        if int(buckets) != buckets or buckets < 2:
            raise ValueError(f"loss_weight 'adaptive': buckets must be an integer ≥ 2, got {buckets}")
        wlo, whi = weight_range
        if not 0 < wlo <= whi:
            raise ValueError(f"loss_weight 'adaptive': weight_range must satisfy 0 < low ≤ high, got {tuple(weight_range)}")
        self.logsnr_range = tuple(logsnr_range)
        self.buckets = int(buckets)
        self.weight_range = tuple(weight_range)
        self.edges = torch.linspace(float(lo), float(hi), self.buckets - 1)
        self.bucket_losses = torch.ones(self.buckets)
        super().__init__(**kwargs)

    def bucket_index(self, logsnr: Tensor) -> Tensor:
        """The bucket of each λ: ``searchsorted`` over the edges, in 0 … buckets − 1."""
        return torch.searchsorted(self.edges.to(logsnr.device, logsnr.dtype), logsnr.contiguous())

    def weight(self, logsnr: Tensor) -> Tensor:
        losses = self.bucket_losses.to(logsnr.device, logsnr.dtype)
        return (1 / losses[self.bucket_index(logsnr)]).clamp(*self.weight_range)

    def update_buckets(self, logsnr: Tensor, loss: Tensor, beta: float = 0.99) -> None:
        """Move the loss of each touched bucket towards the (mean) loss of its samples."""
        logsnr, loss = check_update("AdaptiveLossWeight", logsnr, loss, beta)
        self.bucket_losses = bucket_ema(self.bucket_losses, self.bucket_index(logsnr), loss, beta)

    def state_dict(self) -> dict[str, Any]:
        return {"bucket_losses": self.bucket_losses.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        losses = torch.as_tensor(state["bucket_losses"], dtype=torch.float32)
        if losses.shape != self.bucket_losses.shape:
            raise ValueError(
                f"AdaptiveLossWeight.load_state_dict: the state has {losses.numel()} buckets, "
                f"this loss weight has {self.buckets}"
            )
        self.bucket_losses = losses.clone()
