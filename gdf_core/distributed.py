"""torch.distributed helpers: which rank this is, and summing statistics over a process group.

Everything here is a no-op on one process: without an initialised default
process group (``torch.distributed.is_initialized()`` is false) the rank is 0,
the world size 1 and a sum over ranks is the local value.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


def is_distributed(group: Any = None) -> bool:
    """Whether ``torch.distributed`` is available and its default process group initialised."""
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized())


def rank_and_world_size(group: Any = None) -> tuple[int, int]:
    """(rank, world_size) of this process in ``group`` (the default group when None); (0, 1) without one."""
    if not is_distributed(group):
        return 0, 1
    import torch.distributed as dist

    return dist.get_rank(group), dist.get_world_size(group)


def all_reduce_sum(tensor: Tensor, group: Any = None) -> Tensor:
    """The sum of ``tensor`` over the ranks of ``group`` (a new tensor; ``tensor`` itself is untouched).

    The sum is taken on the device of the group's backend: CPU for gloo, the
    current CUDA device for NCCL. Without torch.distributed it is a copy of ``tensor``.
    """
    out = tensor.clone()
    if not is_distributed(group):
        return out
    import torch.distributed as dist

    device = _backend_device(group)
    moved = out.to(device)
    dist.all_reduce(moved, op=dist.ReduceOp.SUM, group=group)
    return moved.to(tensor.device)


def broadcast_object(obj: Any, src: int = 0, group: Any = None) -> Any:
    """``obj`` from rank ``src`` on every rank (itself without torch.distributed)."""
    if not is_distributed(group):
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src, group=group)
    return box[0]


def _backend_device(group: Optional[Any]) -> torch.device:
    import torch.distributed as dist

    backend = str(dist.get_backend(group)).lower()
    if "nccl" in backend and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


__all__ = ["all_reduce_sum", "broadcast_object", "is_distributed", "rank_and_world_size"]
