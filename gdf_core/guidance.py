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

from typing import Any

import torch
from torch import Tensor

from gdf_core.protocols import BRANCHES, SPACES, Guidance, Predictions

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


def pred_space_outputs(pred: Tensor, *, x: Tensor, logsnr: Tensor, a: Tensor, b: Tensor, target: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(pred, x0, ε) of a guided value in the ``"pred"`` space: the model's target, converted."""
    return pred, target.x0(x, pred, logsnr, a, b), target.epsilon(x, pred, logsnr, a, b)


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
        return pred_space_outputs(pred, x=x, logsnr=logsnr, a=a, b=b, target=target)
    pairs = {k: (target.x0(x, v, logsnr, a, b), target.epsilon(x, v, logsnr, a, b)) for k, v in raw.items()}
    spaced = Predictions(**{k: to_space(space, pred=v, x0=pairs[k][0], epsilon=pairs[k][1]) for k, v in raw.items()})
    value = guidance(spaced, x=x, logsnr=logsnr, t=t, step=step, state=state)
    x0, epsilon = from_space(space, value, x=x, logsnr=logsnr, a=a, b=b, target=target, conditional=pairs["conditional"])
    return target(x0, epsilon, logsnr, a, b), x0, epsilon


__all__ = ["BRANCHES", "SPACES", "Guidance", "Predictions", "from_space", "guide_predictions", "pred_space_outputs", "to_space"]
