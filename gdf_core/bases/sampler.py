"""Base of samplers, and the first-order (one model call, no history) special case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor

from gdf_core.component import Component
from gdf_core.noise import randn
from gdf_core.protocols import Denoiser, InputScaler, SamplingState
from gdf_core.tensors import as_dtype, batch_view


@dataclass(frozen=True)
class StepRows:
    """A plan of per-step coefficients: ``rows[i]`` (terms, batch) belongs to step i."""

    rows: Tensor

    def __getitem__(self, step: int) -> Tensor:
        return self.rows[step]


class SamplerBase(Component):
    """A sampler: ``init_x``, ``prepare(logsnrs, scaler) -> plan`` and ``step``.

    ``stochastic`` tells the testing kit and the docs whether a step draws noise.
    The defaults: standard normal noise as the start, no plan (``None``).
    """

    kind = "sampler"
    stochastic: ClassVar[bool] = False

    def init_x(
        self,
        shape: Sequence[int],
        *,
        generator: Any = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """The starting point of a run: standard normal noise."""
        return randn(shape, generator=generator, dtype=dtype, device=device)

    def prepare(self, logsnrs: Tensor, scaler: InputScaler) -> Any:
        """Everything of a run that depends on its grid only, (steps + 1, batch); none here."""
        return None

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        raise NotImplementedError


class FirstOrderSampler(SamplerBase):
    """One ``denoise`` call per step, then ``update(x, x0, ε, λ, λ′)``; the original's samplers.

    The original constructed samplers as ``DDIMSampler(gdf)`` and called them
    as ``sampler(x, x0, epsilon, logSNR, logSNR_prev)``; both still work
    (the GDF gives the input scaler). In a spec a sampler needs no ``gdf``.
    """

    spec_exclude: ClassVar[tuple[str, ...]] = ("gdf",)

    def __init__(self, gdf: Any = None) -> None:
        self.gdf = gdf

    def update(
        self,
        x: Tensor,
        x0: Tensor,
        epsilon: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        generator: Any = None,
    ) -> Tensor:
        """x′ from the model's x0 and ε at λ; override this."""
        raise NotImplementedError

    def step(
        self,
        denoise: Denoiser,
        x: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        *,
        scaler: InputScaler,
        state: SamplingState,
        generator: Any = None,
    ) -> Tensor:
        x0, epsilon = denoise(x, logsnr)
        return self.update(x, x0, epsilon, logsnr, logsnr_next, scaler=scaler, generator=generator)

    def __call__(
        self,
        x: Tensor,
        x0: Tensor,
        epsilon: Tensor,
        logsnr: Tensor,
        logsnr_next: Tensor,
        generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        """The original's call: one update with the scaler of the GDF given at construction."""
        if self.gdf is None:
            raise TypeError(
                f"{type(self).__name__}(...)(x, x0, epsilon, logsnr, logsnr_next) needs the GDF whose "
                f"input scaler it uses: construct it as {type(self).__name__}(gdf)"
            )
        return self.update(x, x0, epsilon, logsnr, logsnr_next, scaler=self.gdf.input_scaler, generator=generator)


def scaled(scaler: InputScaler, logsnr: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """(a, b) at λ, shaped to broadcast against ``x`` and in ``x``'s dtype."""
    a, b = scaler(logsnr)
    return as_dtype(batch_view(a, x), x.dtype), as_dtype(batch_view(b, x), x.dtype)


__all__ = ["FirstOrderSampler", "SamplerBase", "StepRows", "scaled"]
