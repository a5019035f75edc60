"""One runtime-checkable protocol per component kind.

Everything is a function of the log signal-to-noise ratio λ (``logsnr``):
for a noised sample ``x = a·x0 + b·ε``, λ = log(a²/b²). ``t`` runs over
[0, 1], t = 0 is clean data and t = 1 pure noise.

A component is any object with these methods and a ``name`` class attribute
(its registry name); it need not inherit from anything in gdf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Protocol, Sequence, Union, runtime_checkable

import torch
from torch import Tensor

#: ``denoise(x, logsnr) -> (x0, epsilon)``: model call, guidance and target
#: conversion in one, built by the GDF for every sampling step.
Denoiser = Callable[[Tensor, Tensor], "tuple[Tensor, Tensor]"]

#: A ``torch.Generator``, a list of them (one per sample, so that a sample
#: does not depend on the batch it is drawn in), or ``None`` (global RNG).
GeneratorLike = Union[torch.Generator, Sequence[torch.Generator], None]


@runtime_checkable
class Schedule(Protocol):
    """Maps t ∈ [0, 1] to λ(t); an int is a batch size and draws t at random (training)."""

    name: ClassVar[str]

    def __call__(self, t: Tensor | int, *, shift: float = 1.0) -> Tensor: ...


@runtime_checkable
class InputScaler(Protocol):
    """Maps λ to the coefficients (a, b) of ``noised = a·x0 + b·ε``."""

    name: ClassVar[str]

    def __call__(self, logsnr: Tensor) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class Target(Protocol):
    """What the model predicts, and how to recover x0 and ε from a prediction."""

    name: ClassVar[str]

    def __call__(self, x0: Tensor, epsilon: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor: ...

    def x0(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor: ...

    def epsilon(self, x: Tensor, pred: Tensor, logsnr: Tensor, a: Tensor, b: Tensor) -> Tensor: ...


@runtime_checkable
class NoiseCond(Protocol):
    """Maps λ to what the model is given as its noise-level input."""

    name: ClassVar[str]

    def __call__(self, logsnr: Tensor) -> Tensor: ...


@runtime_checkable
class LossWeight(Protocol):
    """Maps λ to the weight of each sample's loss; ``shift`` moves λ by +2·log(shift)."""

    name: ClassVar[str]

    def __call__(self, logsnr: Tensor, *, shift: float = 1.0) -> Tensor: ...


@dataclass
class SamplingState:
    """Per-run state of a sampler; ``GDF.sample`` makes a fresh one for every run.

    ``logsnrs`` is the whole grid of the run, shape (steps + 1, batch), so that a
    solver can see where it is going (e.g. to take a lower-order last step);
    ``step`` is the index of the step being taken. ``history`` and ``scratch``
    belong to the sampler (earlier predictions of a multistep method, say).
    """

    logsnrs: Tensor | None = None
    step: int = 0
    history: list[Any] = field(default_factory=list)
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return 0 if self.logsnrs is None else self.logsnrs.shape[0] - 1

    @property
    def is_last_step(self) -> bool:
        return self.step == self.num_steps - 1


@runtime_checkable
class Sampler(Protocol):
    """One step of a solver from λ to λ′ (both of shape (batch,)).

    A step may call ``denoise`` several times (higher-order methods) and keep
    earlier predictions in ``state.history`` (multistep methods). Stochastic
    samplers draw only from ``generator``. No ``.item()`` or branching on
    tensor values inside a step.
    """

    name: ClassVar[str]

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
    ) -> Tensor: ...



def __getattr__(attr: str) -> Any:
    # KINDS and PROTOCOLS are defined once, in gdf_core.kinds (which imports this module).
    if attr in ("KINDS", "PROTOCOLS"):
        from gdf_core import kinds

        return getattr(kinds, attr)
    raise AttributeError(f"module 'gdf_core.protocols' has no attribute {attr!r}")


__all__ = [
    "Denoiser",
    "InputScaler",
    "LossWeight",
    "NoiseCond",
    "Sampler",
    "SamplingState",
    "Schedule",
    "Target",
    "GeneratorLike",
]
