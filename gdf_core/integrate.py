"""The sampling loop: a sampler stepped over a λ grid. ``GDF.sample`` and ``GDF.sample_final`` run it.

``start`` makes a run's state (the grid, and the sampler's ``prepare``-d plan,
computed once); ``integrate`` steps it as a generator (``send`` a tensor to
replace x between steps); ``solve`` steps it to the end and returns x, with no
generator in between, so ``torch.compile(fullgraph=True)`` traces a whole run.

Two levels whose η = λ/2 differ by at most ``LEVEL_TOLERANCE`` are one level:
``start`` makes such a level an exact repeat of the one before it
(``snap_repeated_levels``), so every sampler sees the repeats it must handle (a
step λ → λ is a no-op) instead of a step of 10⁻¹⁹⁴ that some formulas divide by.
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Optional

import torch
from torch import Tensor

from gdf_core.protocols import Denoiser, InputScaler, Sampler, SamplingState


#: Levels whose η = λ/2 differ by at most this are one level (clamped schedules repeat theirs exactly).
LEVEL_TOLERANCE = 1e-6


def snap_repeated_levels(grid: Tensor) -> Tensor:
    """``grid`` (steps + 1, batch), a new tensor, with near-repeats made exact repeats.

    A run of levels each within ``LEVEL_TOLERANCE`` (in η) of the one before it starts at its
    anchor, its first level; a level of the run within the tolerance of the anchor becomes the
    anchor, the others stay (so no level moves by more than the tolerance, and a long chain of
    tiny steps keeps its length instead of collapsing onto its first level).
    """
    prev, nxt = grid[:-1], grid[1:]
    same = (nxt == prev) | ((nxt - prev).abs() <= 2 * LEVEL_TOLERANCE)
    index = torch.arange(grid.shape[0], device=grid.device)[:, None].expand(grid.shape)
    keep = torch.cat([torch.ones_like(same[:1]), ~same])
    anchor = grid.gather(0, torch.where(keep, index, torch.zeros_like(index)).cummax(0).values)
    return torch.where((anchor == grid) | ((anchor - grid).abs() <= 2 * LEVEL_TOLERANCE), anchor, grid)


def start(sampler: Sampler, logsnrs: Tensor, batch: int, scaler: InputScaler, direction: int = 0) -> SamplingState:
    """The state of a run over ``logsnrs`` ((steps + 1,) or (steps + 1, batch)), with the sampler's plan;
    nearly repeated levels are made exact repeats (``snap_repeated_levels``). ``direction``: +1 when
    the grid runs towards data, −1 towards noise, 0 not known (``SamplingState.direction``)."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be +1 (towards data), -1 (towards noise) or 0 (not known); got {direction!r}")
    grid = logsnrs[:, None].expand(-1, batch) if logsnrs.dim() == 1 else logsnrs
    if grid.dim() != 2 or grid.shape[1] != batch or grid.shape[0] < 2:
        raise ValueError(
            f"logsnrs must have shape (steps + 1,) or (steps + 1, {batch}) with at least one step; got {tuple(logsnrs.shape)}"
        )
    grid = snap_repeated_levels(grid)
    return SamplingState(logsnrs=grid, plan=sampler.prepare(grid, scaler), rows=tuple(grid.unbind(0)), direction=direction)


def integrate(
    sampler: Sampler,
    denoise: Denoiser,
    x: Tensor,
    logsnrs: Tensor,
    *,
    scaler: InputScaler,
    generator: Any = None,
    state: Optional[SamplingState] = None,
) -> Generator[Tensor, Optional[Tensor], None]:
    """Step ``sampler`` from ``logsnrs[0]`` to ``logsnrs[-1]``, yielding x after every step.

    ``state`` (from ``start``) is made here if not given. ``send(x)`` replaces
    the current x before the next step. ``x`` is never modified in place.
    """
    state = start(sampler, logsnrs, x.shape[0], scaler) if state is None else state
    rows = _rows(state)
    for i in range(len(rows) - 1):
        state.step = i
        x = sampler.step(denoise, x, rows[i], rows[i + 1], scaler=scaler, state=state, generator=generator)
        sent = yield x
        if sent is not None:
            x = sent


def solve(
    sampler: Sampler,
    denoise: Denoiser,
    x: Tensor,
    logsnrs: Tensor,
    *,
    scaler: InputScaler,
    generator: Any = None,
    state: Optional[SamplingState] = None,
    callback: Optional[Callable[[int, Tensor], None]] = None,
) -> Tensor:
    """The same run as ``integrate``, to the end: the final x."""
    state = start(sampler, logsnrs, x.shape[0], scaler) if state is None else state
    rows = _rows(state)
    for i in range(len(rows) - 1):
        state.step = i
        x = sampler.step(denoise, x, rows[i], rows[i + 1], scaler=scaler, state=state, generator=generator)
        if callback is not None:
            callback(i, x)
    return x


def _rows(state: SamplingState) -> tuple[Tensor, ...]:
    """The levels the loop hands the sampler: the state's own rows (see ``SamplingState``)."""
    if not state.rows:
        assert state.logsnrs is not None
        state.rows = tuple(state.logsnrs.unbind(0))
    return state.rows


__all__ = ["LEVEL_TOLERANCE", "integrate", "snap_repeated_levels", "solve", "start"]
