"""Gaussian draws from a ``torch.Generator``, one generator per sample, or a noise source.

With a list of generators, sample i's noise comes from generator i only, so a
sample does not change with the batch it is drawn in (as diffusers does).
A noise source (an object with ``randn(shape, dtype=, device=)`` and
``increment(like, λ, λ′)``, e.g. ``gdf_core.brownian.BrownianNoise``) gives the
start noise and, for a sampler that says which step its noise is for
(``randn_like(x, generator, logsnrs=(λ, λ′))``), the increment of its path.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

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
    if is_noise_source(generator):
        return generator.randn(shape, dtype=dtype, device=device)  # type: ignore[union-attr]
    if generator is None or isinstance(generator, torch.Generator):
        gen_device = generator.device if generator is not None else device
        noise = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device)
        return noise if noise.device == torch.device(device) else noise.to(device)
    generators = list(generator)
    if len(generators) != shape[0]:
        raise ValueError(
            f"got {len(generators)} generators for a batch of {shape[0]}: "
            "pass one torch.Generator per sample, or a single one"
        )
    return torch.stack(
        [randn(shape[1:], generator=g, dtype=dtype, device=device) for g in generators]
    )


def is_noise_source(generator: Any) -> bool:
    """Whether ``generator`` is a noise source (``randn`` and ``increment``) rather than torch generators."""
    return hasattr(generator, "increment") and hasattr(generator, "randn")


def randn_like(
    x: Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | Any = None,
    *,
    logsnrs: Optional[tuple[Tensor, Tensor]] = None,
) -> Tensor:
    """Standard normal noise shaped, typed and placed like ``x``.

    ``logsnrs`` = (λ, λ′): the step the noise is for; a noise source then gives
    its path's normalised increment over it.
    """
    if is_noise_source(generator):
        if logsnrs is None:
            raise TypeError(
                f"{type(generator).__name__} gives noise per step: the sampler must call "
                "randn_like(x, generator, logsnrs=(logsnr, logsnr_next))"
            )
        return generator.increment(x, *logsnrs)  # type: ignore[union-attr]
    return randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


__all__ = ["is_noise_source", "randn", "randn_like"]
