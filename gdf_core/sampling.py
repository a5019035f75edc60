"""The sampling loop shared by ``GDF.sample`` and the benchmarks: a sampler over a λ grid."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

from torch import Tensor

from gdf_core.protocols import Denoiser, InputScaler, Sampler, SamplingState


def integrate(
    sampler: Sampler,
    denoise: Denoiser,
    x: Tensor,
    logsnrs: Tensor,
    *,
    scaler: InputScaler,
    generator: Any = None,
    state: Optional[SamplingState] = None,
) -> Iterator[Tensor]:
    """Step ``sampler`` from ``logsnrs[0]`` to ``logsnrs[-1]``, yielding x after every step.

    ``logsnrs`` has shape (steps + 1, batch) (or (steps + 1,), broadcast over the
    batch). ``x`` is never modified in place.
    """
    if logsnrs.dim() == 1:
        logsnrs = logsnrs[:, None].expand(-1, x.shape[0])
    state = SamplingState(logsnrs=logsnrs) if state is None else state
    state.logsnrs = logsnrs
    for i in range(logsnrs.shape[0] - 1):
        state.step = i
        x = sampler.step(
            denoise, x, logsnrs[i], logsnrs[i + 1], scaler=scaler, state=state, generator=generator
        )
        yield x


def solve(
    sampler: Sampler,
    denoise: Denoiser,
    x: Tensor,
    logsnrs: Tensor,
    *,
    scaler: InputScaler,
    generator: Any = None,
    callback: Optional[Callable[[int, Tensor], None]] = None,
) -> Tensor:
    """Run ``integrate`` to the end and return the final x."""
    for i, x in enumerate(integrate(sampler, denoise, x, logsnrs, scaler=scaler, generator=generator)):
        if callback is not None:
            callback(i, x)
    return x


__all__ = ["integrate", "solve"]
