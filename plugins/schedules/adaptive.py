"""A training schedule that learns where the loss is: λ drawn per bucket with probability ∝ its EMA loss.

Differences from the original: when several samples of a batch fall in one
bucket, the bucket moves towards their mean loss (the original's indexed
assignment kept one arbitrary sample's update); λ outside ``logsnr_range``
counts for the nearest end bucket (the original sent it to bucket 0); a
non-finite or negative loss is skipped (counted, warned about once) instead of
poisoning its bucket; under torch.distributed every rank's batch counts, so
all ranks hold the same state (see ``update_buckets``).
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Mapping, Optional

import torch
from pydantic import Field
from torch import Tensor

from gdf_core.bases import ScheduleBase
from gdf_core.distributed import all_reduce_sum

#: The most buckets an adaptive component takes (a spec cannot ask for terabytes).
MAX_BUCKETS = 100_000


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


class BucketEMA:
    """Per-bucket EMA of the loss, shared by the adaptive schedule and loss weight.

    ``update`` sums the loss and counts the samples of each bucket, sums both
    over the ranks of ``group`` (torch.distributed's default group when None;
    nothing without torch.distributed), then moves every touched bucket to
    beta·v + (1 − beta)·mean: every rank ends with the state one process reaches
    on the concatenated batches. Under torch.distributed every rank of the group
    must call it (it is a collective, like ``all_reduce``). Losses that are NaN,
    ±inf or negative are left out and counted in ``skipped``; the first time any
    are, a warning says so.
    """

    def __init__(self, owner: str, key: str, buckets: int) -> None:
        self.owner, self.key = owner, key
        self.values = torch.ones(buckets)
        self.skipped = 0
        self._warned = False

    def update(self, index: Tensor, logsnr: Tensor, loss: Tensor, beta: float, group: Any = None) -> None:
        n = self.values.numel()
        valid = torch.isfinite(loss) & (loss >= 0) & ~torch.isnan(logsnr)
        index = torch.where(valid, index, torch.zeros_like(index))
        kept = torch.where(valid, loss, torch.zeros_like(loss))
        stats = torch.cat(
            [
                torch.zeros(n, dtype=torch.float64).index_add_(0, index, kept),
                torch.zeros(n, dtype=torch.float64).index_add_(0, index, valid.to(torch.float64)),
                (~valid).sum().to(torch.float64).reshape(1),
            ]
        )
        stats = all_reduce_sum(stats, group)
        sums, counts, skipped = stats[:n], stats[n : 2 * n], int(stats[2 * n])
        hit = counts > 0
        old = self.values.to(torch.float64)
        updated = old * beta + sums / counts.clamp(min=1) * (1 - beta)
        self.values = torch.where(hit, updated, old).to(self.values.dtype)
        if skipped:
            self.skipped += skipped
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"{self.owner}.update_buckets: {skipped} loss value(s) were NaN, infinite or negative and "
                    f"were skipped (the count so far is kept in state_dict()['skipped_losses']; "
                    "this warning is shown once)",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def state_dict(self) -> dict[str, Any]:
        return {self.key: self.values.clone(), "skipped_losses": torch.tensor(self.skipped, dtype=torch.int64)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        where = f"{self.owner}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: expected the dict that state_dict() returned, got {type(state).__name__}")
        unknown = set(state) - {self.key, "skipped_losses"}
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(map(str, unknown))}; expected {self.key!r} (and 'skipped_losses')")
        if self.key not in state:
            raise ValueError(f"{where}: the state has no {self.key!r} (keys: {sorted(map(str, state))})")
        values = state[self.key]
        if not isinstance(values, Tensor):
            raise TypeError(f"{where}: {self.key!r} must be a tensor (as state_dict() gives it), got {type(values).__name__}")
        if not values.is_floating_point():
            raise TypeError(f"{where}: {self.key!r} must be a floating-point tensor, got dtype {values.dtype}")
        if values.shape != self.values.shape:
            raise ValueError(
                f"{where}: {self.key!r} has shape {tuple(values.shape)}; this component has "
                f"{self.values.numel()} buckets (shape {tuple(self.values.shape)})"
            )
        values = values.detach().to("cpu", torch.float64)
        if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
            raise ValueError(f"{where}: {self.key!r} must be finite and ≥ 0 in every bucket, got {values.tolist()[:8]}…")
        skipped = state.get("skipped_losses", 0)
        if isinstance(skipped, Tensor):
            if skipped.numel() != 1 or skipped.is_floating_point() or skipped.is_complex():
                raise TypeError(f"{where}: 'skipped_losses' must be an integer count, got {skipped!r}")
            skipped = int(skipped)
        if isinstance(skipped, bool) or not isinstance(skipped, int) or skipped < 0:
            raise TypeError(f"{where}: 'skipped_losses' must be an integer count ≥ 0, got {skipped!r}")
        self.values = values.to(self.values.dtype)
        self.skipped = skipped


Range = tuple[float, float]


class AdaptiveTrainSchedule(ScheduleBase):
    """Training draws only: bucket i of ``logsnr_range`` with probability ∝ p_i + min_probs, λ uniform in it.

    ``update_buckets(λ, loss, beta, group=None)`` sets p_i ← beta·p_i + (1 − beta)·mean loss
    for the buckets the batch touched, so training concentrates where the loss is
    high; under torch.distributed the statistics are summed over ``group`` first
    (see ``BucketEMA``). The learned p is kept in ``state_dict()`` (``"bucket_probs"``).
    """

    name = "adaptive"
    supports_t = False

    def __init__(
        self,
        logsnr_range: Range = (-10, 10),
        buckets: Annotated[int, Field(ge=1, le=MAX_BUCKETS)] = 100,
        min_probs: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0,
        **kwargs,
    ) -> None:
        lo, hi = logsnr_range
        if not lo < hi or not all(map(_finite, (lo, hi))):
            raise ValueError(f"schedule 'adaptive': logsnr_range must be finite (low, high) with low < high, got {tuple(logsnr_range)}")
        if int(buckets) != buckets or not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"schedule 'adaptive': buckets must be an integer in [1, {MAX_BUCKETS}], got {buckets}")
        if not min_probs >= 0 or not _finite(min_probs):
            raise ValueError(f"schedule 'adaptive': min_probs must be finite and ≥ 0, got {min_probs}")
        self.logsnr_range = tuple(logsnr_range)
        self.buckets = int(buckets)
        self.min_probs = min_probs
        self.edges = torch.linspace(float(lo), float(hi), self.buckets + 1)
        self._ema = BucketEMA("AdaptiveTrainSchedule", "bucket_probs", self.buckets)
        super().__init__(**kwargs)

    @property
    def bucket_probs(self) -> Tensor:
        """The learned (unnormalised) probability of each bucket."""
        return self._ema.values

    @bucket_probs.setter
    def bucket_probs(self, value: Tensor) -> None:
        self._ema.values = value

    def _weights(self) -> Tensor:
        """p + min_probs, or uniform where that sums to 0 (no host read: a tensor select)."""
        w = self.bucket_probs.to(torch.float64) + self.min_probs
        return torch.where(w.sum() > 0, w, torch.ones_like(w))

    def draw(self, batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
        weights = self._weights()
        index = torch.multinomial(weights / weights.sum(), batch_size, replacement=True, generator=generator)
        lo, hi = self.edges[index], self.edges[index + 1]
        return lo + torch.rand(batch_size, generator=generator) * (hi - lo)

    def quantile(self, u: Tensor) -> Tensor:
        """The λ at quantile u of the draw's piecewise-uniform distribution (for stratified draws)."""
        w = self._weights()
        cdf = torch.cumsum(w, 0) / w.sum()
        q = u.to(torch.float64).clamp(0, 1)
        index = torch.searchsorted(cdf, q, right=True).clamp(max=self.buckets - 1)
        below = torch.cat([cdf.new_zeros(1), cdf])[index]
        frac = ((q - below) / (w[index] / w.sum()).clamp(min=1e-300)).clamp(0, 1)
        edges = self.edges.to(torch.float64)
        lo, hi = edges[index], edges[index + 1]
        return (lo + frac * (hi - lo)).to(torch.float32)

    def bucket_index(self, logsnr: Tensor) -> Tensor:
        """The bucket i with edge_i ≤ λ < edge_(i+1); λ outside the range counts for the end bucket."""
        edges = self.edges.to(logsnr.device, logsnr.dtype)
        lam = torch.nan_to_num(logsnr.contiguous(), nan=0.0)
        return (torch.searchsorted(edges, lam, right=True) - 1).clamp(0, self.buckets - 1)

    def update_buckets(self, logsnr: Tensor, loss: Tensor, beta: float = 0.99, *, group: Any = None) -> None:
        """Move the probability of each touched bucket towards the mean loss of its samples (over all ranks)."""
        logsnr, loss = check_update("AdaptiveTrainSchedule", logsnr, loss, beta)
        self._ema.update(self.bucket_index(logsnr), logsnr, loss, beta, group)

    def state_dict(self) -> dict[str, Any]:
        return self._ema.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._ema.load_state_dict(state)


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")
