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

from gdf_core.ema import EMA
from gdf_core.gdf import GDF


@dataclass
class TrainResult:
    """The trained model (its exponential moving average) and the loss curve."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def lr_factor(step: int, steps: int, lr_final: float = 0.1) -> float:
    """The learning rate at ``step`` of ``steps`` over the peak: a linear warm-up over the first
    twentieth, times a cosine from 1 to ``lr_final`` (reached at ``steps``)."""
    warmup = max(1, steps // 20)
    return min(1.0, (step + 1) / warmup) * (lr_final + (1 - lr_final) * (0.5 + 0.5 * math.cos(math.pi * min(step, steps) / steps)))


def train(
    gdf: GDF,
    model: nn.Module,
    draw_data: Callable[[int, torch.Generator], Tensor],
    *,
    steps: int = 3000,
    seconds: Optional[float] = None,
    batch_size: int = 512,
    lr: float = 2e-3,
    lr_final: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.999),
    ema_decay: float = 0.995,
    ema_sigma_rel: Optional[float] = None,
    clip: Optional[float] = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` for ``steps`` steps (or until ``seconds`` have passed).

    Each step: x0 from ``draw_data``; (noised, ε, target, λ, cond, weight) =
    ``gdf.diffuse(x0)``; loss = mean(weight · ‖model(noised, cond) − target‖²).
    AdamW (``betas``) with a short warm-up and a cosine decay from ``lr`` to
    ``lr_final``·``lr``, gradients clipped to norm ``clip`` (None: not clipped);
    returns an exponential moving average of the weights: ``AveragedModel``, decay
    ``ema_decay``, warmed up as min(decay, (1 + n)/(10 + n)) after n updates, or
    with ``ema_sigma_rel`` EDM2's power-function EMA (``gdf_core.ema.EMA``).
    """
    if not 0 <= lr_final <= 1:
        raise ValueError(f"lr_final is a fraction of lr in [0, 1], got {lr_final!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive (or None), got {clip!r}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, steps, lr_final))
    def ema_update(averaged: Tensor, current: Tensor, updates: Tensor | int) -> Tensor:
        n = torch.as_tensor(updates, dtype=torch.float32)
        decay = torch.clamp((1 + n) / (10 + n), max=ema_decay).to(averaged.dtype)
        return torch.lerp(current, averaged, decay)

    ema: AveragedModel | EMA
    if ema_sigma_rel is not None:
        ema = EMA(model, sigma_rel=ema_sigma_rel)
        update_ema = ema.update
    else:
        ema = AveragedModel(model, avg_fn=ema_update)
        update_ema = ema.update_parameters
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
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            sched.step()
            update_ema(model)
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


__all__ = ["TrainResult", "lr_factor", "train"]
