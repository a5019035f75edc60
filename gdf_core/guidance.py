"""Guidance between the model and the sampler: the predictions a guidance combines, and its spaces.

At every denoiser call the engine runs the model on the conditional inputs and
on whatever else the guidance lists in ``branches`` (``"unconditional"``: the
unconditional inputs; ``"guide"``: ``guide_model`` on the conditional inputs),
turns each prediction into the guidance's ``space``, calls the guidance, and
turns the guided value back into (x0, ε) for the sampler::

    raw predictions (model's target) → space → guidance → space⁻¹ → (x0, ε)

The spaces, for a noised x = a·x0 + b·ε:

- ``"pred"``: the model's own output, in its target's parametrisation (ε, x0, v,
  or the rectified-flow velocity). The original GDF's lerp works here, and so
  does gdf's ``cfg``; it costs no conversion.
- ``"x0"``: the denoised sample. APG (Sadat et al. 2024) projects here.
- ``"epsilon"``: the noise.
- ``"velocity"``: v = ε − x0, the rectified-flow velocity, whatever the model's
  target (dx/dt for the lerp scaler). CFG-Zero* (Fan et al. 2025) works here.

x0 and ε do not depend on how x is scaled, so neither do the last three
spaces. Going back, x0 from ε needs a > 0 and ε from x0 needs b > 0; at
λ = −∞ (a = 0) or λ = +∞ (b = 0), the value that cannot be recovered is taken
from the conditional prediction (there the sampler does not use it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Optional, Protocol, runtime_checkable

import torch
from torch import Tensor

#: The spaces a guidance may combine predictions in.
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


def to_space(space: str, *, pred: Tensor, x0: Tensor, epsilon: Tensor) -> Tensor:
    """One prediction, given as the model's output and its (x0, ε), in ``space``."""
    if space == "pred":
        return pred
    if space == "x0":
        return x0
    if space == "epsilon":
        return epsilon
    if space == "velocity":
        return epsilon - x0
    raise ValueError(f"unknown guidance space {space!r}; spaces: {', '.join(SPACES)}")


def from_space(
    space: str, value: Tensor, *, x: Tensor, logsnr: Tensor, a: Tensor, b: Tensor, target: Any, conditional: tuple[Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """(x0, ε) of a guided value in ``space`` at x = a·x0 + b·ε (a, b broadcast against x).

    ``conditional`` is the conditional (x0, ε), used where ``value`` cannot give
    one of them (a = 0 or b = 0, see the module docstring).
    """
    if space == "pred":
        return target.x0(x, value, logsnr, a, b), target.epsilon(x, value, logsnr, a, b)
    x0_c, eps_c = conditional
    if space == "x0":
        safe_b = torch.where(b > 0, b, torch.ones_like(b))
        return value, torch.where(b > 0, (x - a * value) / safe_b, eps_c)
    if space == "epsilon":
        safe_a = torch.where(a > 0, a, torch.ones_like(a))
        return torch.where(a > 0, (x - b * value) / safe_a, x0_c), value
    if space == "velocity":  # x = a·x0 + b·ε and v = ε − x0
        s = a + b
        return (x - b * value) / s, (x + a * value) / s
    raise ValueError(f"unknown guidance space {space!r}; spaces: {', '.join(SPACES)}")


def guide_predictions(
    guidance: Any,
    raw: Predictions,
    *,
    x: Tensor,
    logsnr: Tensor,
    a: Tensor,
    b: Tensor,
    target: Any,
    t: float,
    step: int,
    state: Any,
) -> tuple[Tensor, Tensor, Tensor]:
    """(pred, x0, ε) of the guided prediction, from the raw model outputs ``raw``.

    Everything is in the compute dtype of x (float32 at least); a and b are
    broadcast against x. In the ``"pred"`` space no conversion is made, so a
    guidance there sees exactly what the model returned.
    """
    space = getattr(guidance, "space", "pred")
    if space == "pred":
        pred = guidance(raw, x=x, logsnr=logsnr, t=t, step=step, state=state)
        return pred, target.x0(x, pred, logsnr, a, b), target.epsilon(x, pred, logsnr, a, b)
    pairs = {k: (target.x0(x, v, logsnr, a, b), target.epsilon(x, v, logsnr, a, b)) for k, v in raw.items()}
    spaced = Predictions(**{k: to_space(space, pred=v, x0=pairs[k][0], epsilon=pairs[k][1]) for k, v in raw.items()})
    value = guidance(spaced, x=x, logsnr=logsnr, t=t, step=step, state=state)
    x0, epsilon = from_space(space, value, x=x, logsnr=logsnr, a=a, b=b, target=target, conditional=pairs["conditional"])
    return target(x0, epsilon, logsnr, a, b), x0, epsilon


__all__ = ["BRANCHES", "SPACES", "Guidance", "Predictions", "from_space", "guide_predictions", "to_space"]
