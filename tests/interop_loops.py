"""Helpers of the diffusers interop tests: a small random model that records its inputs, and the two loops.

The diffusers loop is the scheduler's own, as its docs write it:
``set_timesteps(N)``; ``x = noise·init_noise_sigma``; for each t:
``x = step(model(scale_model_input(x, t), t), t, x).prev_sample``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


class RecordingNet(torch.nn.Module):
    """A small random network ``(x, t) -> pred`` that records the timesteps it is given.

    pred = tanh(W·x + c)·0.5 + 0.3·sin(t·f)·w, W mixing the channels: smooth in x,
    and dependent on t strongly enough that a wrong timestep shows in the output.
    """

    def __init__(self, channels: int = 2, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("mix", torch.randn(channels, channels, generator=g) * 0.6)
        self.register_buffer("bias", torch.randn(channels, 1, 1, generator=g) * 0.1)
        self.register_buffer("w", torch.randn(channels, 1, 1, generator=g))
        self.timesteps: list[Tensor] = []

    def forward(self, x: Tensor, t: Any, **_: Any) -> Tensor:
        t = torch.as_tensor(t)
        self.timesteps.append(t.detach().clone().reshape(-1)[:1].to(torch.float64))
        tt = t.to(torch.float32).reshape(-1, *([1] * (x.dim() - 1))) if t.dim() else t.to(torch.float32)
        mixed = torch.einsum("oc,bc...->bo...", self.mix, x) + self.bias
        return torch.tanh(mixed) * 0.5 + 0.3 * torch.sin(tt * 0.013 + 0.5) * self.w

    def calls(self) -> Tensor:
        return torch.cat(self.timesteps) if self.timesteps else torch.zeros(0, dtype=torch.float64)


def diffusers_loop(
    scheduler: Any, model: RecordingNet, noise: Tensor, steps: int, *, generator: Optional[torch.Generator] = None, **set_kwargs: Any
) -> Tensor:
    """diffusers' own sampling loop; ``generator`` goes to ``step`` when the scheduler takes one."""
    import inspect

    scheduler.set_timesteps(steps, **set_kwargs)
    x = noise * getattr(scheduler, "init_noise_sigma", 1.0)  # flow-matching schedulers start at σ = 1
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters
    for t in scheduler.timesteps:
        scaled = scheduler.scale_model_input(x, t) if hasattr(scheduler, "scale_model_input") else x
        pred = model(scaled, t)
        kwargs = {"generator": generator} if takes_generator and generator is not None else {}
        x = scheduler.step(pred, t, x, **kwargs).prev_sample
    return x


def gdf_loop(gdf: Any, model: RecordingNet, noise: Tensor, steps: int, *, generator: Optional[torch.Generator] = None) -> Tensor:
    """``gdf.sample(model, {}, shape, timesteps=N, cfg=None, x_init=noise)`` run to the end."""
    x = None
    for _, x, _ in gdf.sample(model, {}, noise.shape, timesteps=steps, cfg=None, x_init=noise, generator=generator):
        pass
    assert x is not None
    return x


def relative_error(a: Tensor, b: Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp(min=1e-30))


__all__ = ["RecordingNet", "diffusers_loop", "gdf_loop", "relative_error"]
