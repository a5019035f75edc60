"""A loss weight that learns the loss per λ bucket and divides it out.

Differences from the original: when several samples of a batch fall in one
bucket, the bucket moves towards their mean loss (the original's indexed
assignment kept one arbitrary sample's update); non-finite or negative losses
are skipped and counted; under torch.distributed all ranks' batches count
(see ``BucketEMA``).
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import LossWeightBase
from gdf_plugins.schedules.adaptive import MAX_BUCKETS, BucketEMA, _finite, check_update


class AdaptiveLossWeight(LossWeightBase):
    """w = 1/L_i for the bucket i of λ, clamped to ``weight_range``; L_i an EMA of the loss there.

    Buckets: ``buckets − 1`` edges evenly over ``logsnr_range``; bucket i holds
    edge_(i−1) < λ ≤ edge_i (``searchsorted``), with the two open ends as the first
    and last buckets. ``update_buckets(λ, loss, beta, group=None)`` sets
    L_i ← beta·L_i + (1 − beta)·mean loss, summed over the ranks of ``group`` under
    torch.distributed; the learned L is kept in ``state_dict()`` (``"bucket_losses"``).
    Together with the loss this equalises the loss over noise levels (as in Karras
    et al. 2024, "EDM2", which learns the same weighting with a small network).
    """

    name = "adaptive"

    def __init__(
        self,
        logsnr_range: tuple[float, float] = (-10, 10),
        buckets: Annotated[int, Field(ge=2, le=MAX_BUCKETS)] = 300,
        weight_range: tuple[float, float] = (1e-7, 1e7),
        **kwargs,
    ) -> None:
        lo, hi = logsnr_range
        if not lo < hi or not (_finite(lo) and _finite(hi)):
            raise ValueError(f"loss_weight 'adaptive': logsnr_range must be finite (low, high) with low < high, got {tuple(logsnr_range)}")
        if int(buckets) != buckets or not 2 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"loss_weight 'adaptive': buckets must be an integer in [2, {MAX_BUCKETS}], got {buckets}")
        wlo, whi = weight_range
        if not 0 < wlo <= whi or not (_finite(wlo) and _finite(whi)):
            raise ValueError(f"loss_weight 'adaptive': weight_range must satisfy 0 < low ≤ high (finite), got {tuple(weight_range)}")
        self.logsnr_range = tuple(logsnr_range)
        self.buckets = int(buckets)
        self.weight_range = tuple(weight_range)
        self.edges = torch.linspace(float(lo), float(hi), self.buckets - 1)
        self._ema = BucketEMA("AdaptiveLossWeight", "bucket_losses", self.buckets)
        super().__init__(**kwargs)

    @property
    def bucket_losses(self) -> Tensor:
        """The learned EMA loss of each bucket."""
        return self._ema.values

    @bucket_losses.setter
    def bucket_losses(self, value: Tensor) -> None:
        self._ema.values = value

    def bucket_index(self, logsnr: Tensor) -> Tensor:
        """The bucket of each λ: ``searchsorted`` over the edges, in 0 … buckets − 1."""
        lam = torch.nan_to_num(logsnr.contiguous(), nan=0.0)
        return torch.searchsorted(self.edges.to(logsnr.device, logsnr.dtype), lam)

    def weight(self, logsnr: Tensor) -> Tensor:
        losses = self.bucket_losses.to(logsnr.device, logsnr.dtype)
        return (1 / losses[self.bucket_index(logsnr)]).clamp(*self.weight_range)

    def update_buckets(self, logsnr: Tensor, loss: Tensor, beta: float = 0.99, *, group: Any = None) -> None:
        """Move the loss of each touched bucket towards the mean loss of its samples (over all ranks)."""
        logsnr, loss = check_update("AdaptiveLossWeight", logsnr, loss, beta)
        self._ema.update(self.bucket_index(logsnr), logsnr, loss, beta, group)

    def state_dict(self) -> dict[str, Any]:
        return self._ema.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._ema.load_state_dict(state)
