"""One runtime-checkable protocol per component kind.

Everything is a function of the log signal-to-noise ratio λ (``logsnr``):
for a noised sample ``x = a·x0 + b·ε``, λ = log(a²/b²). ``t`` runs over
[0, 1], t = 0 is clean data and t = 1 pure noise.

A component is any object with these methods and a ``name`` class attribute
(its registry name); it need not inherit from anything in gdf.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Optional, Protocol, Sequence, Union, runtime_checkable

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
    """Per-run state of a sampler; the sampling loop makes a fresh one for every run.

    ``logsnrs`` is the whole grid of the run, shape (steps + 1, batch), so that a
    solver can see where it is going (e.g. to take a lower-order last step);
    ``step`` is the index of the step being taken. ``plan`` is what the
    sampler's ``prepare`` returned for this grid: while it is set, step ``i``
    goes from ``logsnrs[i]`` to ``logsnrs[i + 1]`` and may take its
    coefficients from it; ``None`` (a step driven by hand) means the step
    computes them from its own λ and λ′. ``history`` belongs to the sampler
    (earlier predictions of a multistep method, say). ``rows`` are the grid's
    levels as the loop hands them to ``step`` (``logsnrs.unbind(0)``): a
    denoiser that sees one of these very tensors knows the call is at a level of
    the grid and may take what it needs there from tables made once per grid.
    ``direction`` is +1 when every step goes towards data (λ′ ≥ λ: sampling), −1
    when every step goes towards noise (an inversion), 0 when not known (a grid
    stepped by hand); the engine sets it from its own arguments, read on the host,
    and a sampler may skip work that only the other direction needs.
    """

    logsnrs: Tensor | None = None
    step: int = 0
    plan: Any = None
    history: list[Any] = field(default_factory=list)
    rows: tuple[Tensor, ...] = ()
    direction: int = 0

    @property
    def num_steps(self) -> int:
        return 0 if self.logsnrs is None else self.logsnrs.shape[0] - 1

    @property
    def is_last_step(self) -> bool:
        return self.step == self.num_steps - 1


@runtime_checkable
class Sampler(Protocol):
    """A solver over a λ grid: a starting point, a per-run plan and one step from λ to λ′.

    The sampling loop (``gdf_core.integrate``) calls ``init_x`` for the start
    (unless given one), ``prepare(logsnrs, scaler)`` once per run, before the
    first step, and then ``step`` for every row pair of the grid with the
    plan in ``state.plan``. ``prepare`` holds every coefficient that depends
    on the grid only (it may return ``None``); it reads no tensor value into
    Python either, so that a whole run compiles as one graph.

    A step may call ``denoise`` several times (higher-order methods) and keep
    earlier predictions in ``state.history`` (multistep methods). Stochastic
    samplers draw only from ``generator``. No ``.item()`` or branching on
    tensor values inside a step; λ and λ′ have shape (batch,).
    """

    name: ClassVar[str]

    def init_x(
        self,
        shape: Sequence[int],
        *,
        generator: Any = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> Tensor: ...

    def prepare(self, logsnrs: Tensor, scaler: "InputScaler") -> Any: ...

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


#: The spaces a guidance may combine predictions in (see ``gdf_core.guidance``).
SPACES: tuple[str, ...] = ("pred", "x0", "epsilon", "velocity")

#: The predictions a guidance may ask for besides the conditional one.
BRANCHES: tuple[str, ...] = ("unconditional", "guide")


@dataclass(frozen=True)
class Predictions:
    """The predictions a guidance combines: all at the same x and λ, all in the guidance's space.

    ``conditional``: the model on the conditional inputs. ``unconditional``: the
    model on the unconditional inputs (when the guidance's ``branches`` lists
    ``"unconditional"``). ``guide``: ``guide_model`` on the conditional inputs
    (``"guide"``). Each has the shape of x.
    """

    conditional: Tensor
    unconditional: Optional[Tensor] = None
    guide: Optional[Tensor] = None

    def map(self, fn: Callable[[Tensor], Tensor]) -> "Predictions":
        """Every prediction present, through ``fn``."""
        return replace(self, **{k: fn(v) for k, v in self.items()})

    def items(self) -> list[tuple[str, Tensor]]:
        """(branch, prediction) of the predictions present, the conditional first."""
        out = [("conditional", self.conditional)]
        return out + [(k, getattr(self, k)) for k in BRANCHES if getattr(self, k) is not None]


@runtime_checkable
class Guidance(Protocol):
    """Turns the conditional prediction, and the others it asks for, into the guided one.

    ``space`` (one of ``SPACES``) is where it combines predictions; ``branches``
    (a subset of ``BRANCHES``) the predictions it needs besides the conditional
    one. ``active(t)`` says whether it guides at a step's t (a host number from
    the grid, known before the loop): when it does not, the engine skips the
    extra model calls and uses the conditional prediction. ``init_state()``
    makes the per-run state (e.g. APG's momentum), fresh for every ``sample``
    run. ``__call__`` returns the guided prediction, in ``space``, with the
    shape, dtype and device of the conditional one; it reads no tensor value
    into Python, treats every sample on its own, and changes no input.
    """

    name: ClassVar[str]
    space: ClassVar[str]
    branches: ClassVar[tuple[str, ...]]

    def active(self, t: float) -> bool: ...

    def init_state(self) -> Any: ...

    def __call__(self, predictions: Predictions, *, x: Tensor, logsnr: Tensor, t: float, step: int, state: Any) -> Tensor: ...


# -- optional capabilities ------------------------------------------------------------
@runtime_checkable
class Stateful(Protocol):
    """A component with learned state (e.g. adaptive loss buckets), saved with the GDF."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class StretchableLimits(Protocol):
    """An input scaler whose ends can be stretched so a schedule's ends are exactly noise and data."""

    def setup_limits(
        self, schedule: Any, input_scaler: Any, stretch_max: bool = True, stretch_min: bool = True, shift: float = 1
    ) -> list[float]: ...


@runtime_checkable
class Reversible(Protocol):
    """A sampler whose step is also valid toward noise (λ′ < λ), so it can run a grid from data to noise.

    A run with ``t_start < t_end`` is an inversion: it carries x at ``t_start``
    (data, or a little noised) to the noise it came from along the
    probability-flow ODE (DDIM inversion, Song et al. 2021, §4.3; its use for
    editing: Mokady et al. 2023, "Null-text inversion"). ``steps_toward_noise()``
    says whether this instance can (deterministic DDIM can, with ``eta = 0``).
    """

    def steps_toward_noise(self) -> bool: ...


@runtime_checkable
class RunGrid(Protocol):
    """A sampling schedule whose grid depends on the number of steps (e.g. diffusers' timestep spacings).

    ``run_logsnrs(steps)`` gives λ of the steps + 1 levels of a whole run, noisiest
    first; ``GDF.prepare_sample`` (so ``sample`` and ``sample_final``) uses it for a
    full run (t from 1 to 0) instead of λ(t) at evenly spaced t.
    """

    def run_logsnrs(self, steps: int) -> Tensor: ...


def __getattr__(attr: str) -> Any:
    # KINDS and PROTOCOLS are defined once, in gdf_core.kinds (which imports this module).
    if attr in ("KINDS", "PROTOCOLS"):
        from gdf_core import kinds

        return getattr(kinds, attr)
    raise AttributeError(f"module 'gdf_core.protocols' has no attribute {attr!r}")


__all__ = [
    "BRANCHES",
    "SPACES",
    "Guidance",
    "Predictions",
    "Denoiser",
    "InputScaler",
    "LossWeight",
    "NoiseCond",
    "Reversible",
    "RunGrid",
    "Sampler",
    "SamplingState",
    "Schedule",
    "Stateful",
    "StretchableLimits",
    "Target",
    "GeneratorLike",
]
