"""Training a denoiser with a GDF: draw noise levels from the spec, regress its target."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from gdf_core.gdf import GDF


@dataclass
class TrainResult:
    """The trained model (its exponential moving average) and the loss curve."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def train(
    gdf: GDF,
    model: nn.Module,
    draw_data: Callable[[int, torch.Generator], Tensor],
    *,
    steps: int = 3000,
    seconds: Optional[float] = None,
    batch_size: int = 512,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    ema_decay: float = 0.995,
    seed: int = 0,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` for ``steps`` steps (or until ``seconds`` have passed).

    Each step: x0 from ``draw_data``; (noised, ε, target, λ, cond, weight) =
    ``gdf.diffuse(x0)``; loss = mean(weight · ‖model(noised, cond) − target‖²).
    AdamW (``betas``) with a short warm-up and a cosine decay to a tenth of ``lr``;
    returns an exponential moving average of the weights (``AveragedModel``, decay
    ``ema_decay``, warmed up as min(decay, (1 + n)/(10 + n)) after n updates).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=0.0)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * min(i, steps) / steps))
    )
    def ema_update(averaged: Tensor, current: Tensor, updates: Tensor | int) -> Tensor:
        n = torch.as_tensor(updates, dtype=torch.float32)
        decay = torch.clamp((1 + n) / (10 + n), max=ema_decay).to(averaged.dtype)
        return torch.lerp(current, averaged, decay)

    ema = AveragedModel(model, avg_fn=ema_update)
    result = TrainResult(model=ema.module.requires_grad_(False))
    start = time.perf_counter()
    columns = (
        TextColumn("training"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("train", total=steps, loss=float("nan"))
        running = None
        for step in range(steps):
            x0 = draw_data(batch_size, generator)
            noised, _, target, _, cond, weight = gdf.diffuse(x0, generator=generator)
            pred = model(noised, cond)
            loss = (weight * ((pred - target) ** 2).mean(dim=1)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            ema.update_parameters(model)
            value = loss.detach().item()
            running = value if running is None else 0.98 * running + 0.02 * value
            result.losses.append(value)
            result.steps = step + 1
            if step % 25 == 0 or step == steps - 1:
                bar.update(task, completed=step + 1, loss=running)
            if seconds is not None and time.perf_counter() - start > seconds:
                bar.update(task, completed=step + 1, loss=running)
                break
    result.seconds = time.perf_counter() - start
    return result


__all__ = ["TrainResult", "train"]
