"""Stratified training draws: the global batch spreads its uniform variates over [0, 1] in equal strata.

With N = batch · world_size samples per global batch, sample i of rank r takes
stratum j = i·world_size + r and u = (j + U)/N with U ~ U(0, 1) from that rank's
generator; each stratum [j/N, (j + 1)/N) holds exactly one sample of the global
batch, and each rank's own batch is itself spread over all of [0, 1]. The
schedule turns u into λ through its quantile function (``draw_quantiles``), so
the training distribution is unchanged while the loss estimate's variance falls
(as k-diffusion's ``stratified_uniform`` does on one process).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from gdf_core.distributed import rank_and_world_size

#: u stays this far inside (0, 1), where every quantile function is finite.
EDGE = 1e-7


def stratified_uniform(
    batch_size: int,
    *,
    generator: Optional[torch.Generator] = None,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
    group: Any = None,
) -> Tensor:
    """This rank's (batch_size,) float64 variates; rank and world_size from torch.distributed when not given."""
    if (rank is None) != (world_size is None):
        raise ValueError("stratified_uniform: give both rank and world_size, or neither (then torch.distributed's are used)")
    if rank is None:
        rank, world_size = rank_and_world_size(group)
    assert world_size is not None
    if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"stratified_uniform: need 0 ≤ rank < world_size, got rank={rank!r}, world_size={world_size!r}")
    total = batch_size * world_size
    strata = torch.arange(batch_size, dtype=torch.float64) * world_size + rank
    jitter = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    return ((strata + jitter) / total).clamp(EDGE, 1 - EDGE)


def stratified_draw(schedule: Any, batch_size: int, *, shift: float = 1.0, generator: Optional[torch.Generator] = None, group: Any = None) -> Tensor:
    """A stratified training draw of λ from ``schedule`` (see the module docstring)."""
    draw = getattr(schedule, "draw_quantiles", None)
    if draw is None:
        raise TypeError(
            f"stratified draws need the schedule's quantile function: {type(schedule).__name__} has no "
            "draw_quantiles (derive it from gdf_core.ScheduleBase and implement quantile or quantile_t)"
        )
    u = stratified_uniform(batch_size, generator=generator, group=group)
    try:
        return draw(u, shift=shift)  # type: ignore[no-any-return]
    except NotImplementedError as exc:
        raise TypeError(f"stratified draws need the schedule's quantile function: {exc}") from None


__all__ = ["stratified_draw", "stratified_uniform"]
