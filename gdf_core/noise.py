"""Gaussian draws from a ``torch.Generator``, or one generator per sample.

With a list of generators, sample i's noise comes from generator i only, so a
sample does not change with the batch it is drawn in (as diffusers does).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Standard normal noise of ``shape``; see the module docstring for ``generator``."""
    shape = tuple(shape)
    if generator is None or isinstance(generator, torch.Generator):
        gen_device = generator.device if generator is not None else device
        noise = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device)
        return noise.to(device)
    generators = list(generator)
    if len(generators) != shape[0]:
        raise ValueError(
            f"got {len(generators)} generators for a batch of {shape[0]}: "
            "pass one torch.Generator per sample, or a single one"
        )
    return torch.stack(
        [randn(shape[1:], generator=g, dtype=dtype, device=device) for g in generators]
    )


def randn_like(x: Tensor, generator: torch.Generator | Sequence[torch.Generator] | None = None) -> Tensor:
    """Standard normal noise shaped, typed and placed like ``x``."""
    return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


__all__ = ["randn", "randn_like"]
