"""One checkpoint for a training run: model, EMA, optimiser, the GDF's learned state and its spec.

``TrainState(gdf, model, optimizer, ema).save(path)`` writes (on rank 0 only under
torch.distributed) a dict of tensors and plain data that ``torch.load(weights_only=True)``
reads back; ``load(path)`` restores every part in place and returns the saved
``step`` and ``extra``. The GDF's spec is stored so that a run can check it resumes
the same recipe. RNG streams: seed a generator per step (and rank) from the step
count, e.g. ``torch.Generator().manual_seed(step_seed(seed, step, rank))``, and a
resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from gdf_core.distributed import rank_and_world_size
from gdf_core.ema import EMA, unwrap


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """A 63-bit seed for (seed, step, rank): a counter-based stream that needs no saved RNG state."""
    return (int(seed) * 1_000_003 + int(step) * 65_537 + int(rank)) % (2**63 - 1)


class TrainState:
    """What a checkpoint holds: ``model`` (unwrapped from DDP), ``ema``, ``optimizer``, ``gdf`` state and spec, ``step``."""

    def __init__(self, gdf: Any, model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None, ema: Optional[EMA] = None) -> None:
        self.gdf, self.model, self.optimizer, self.ema = gdf, model, optimizer, ema

    def state_dict(self, step: int = 0, extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        return {
            "step": int(step),
            "model": unwrap(self.model).state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "gdf": self.gdf.state_dict(),
            "gdf_spec": self.gdf.to_spec(),
            "extra": extra or {},
        }

    def save(self, path: str | Path, step: int = 0, extra: Optional[dict[str, Any]] = None) -> None:
        """Write the checkpoint atomically (a temporary file renamed); only rank 0 writes under torch.distributed."""
        rank, _ = rank_and_world_size()
        if rank != 0:
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state_dict(step, extra), tmp)
        os.replace(tmp, path)

    def load(self, path: str | Path, map_location: Any = "cpu") -> tuple[int, dict[str, Any]]:
        """Restore every part from ``path``; (step, extra) of the checkpoint."""
        state = torch.load(path, map_location=map_location, weights_only=True)
        if state.get("gdf_spec") != self.gdf.to_spec():
            raise ValueError(
                f"checkpoint {str(path)!r} was written for another recipe: its spec is {state.get('gdf_spec')!r}, "
                f"this run's is {self.gdf.to_spec()!r}"
            )
        unwrap(self.model).load_state_dict(state["model"])
        if self.ema is not None:
            if state["ema"] is None:
                raise ValueError(f"checkpoint {str(path)!r} has no EMA state, but this run keeps an EMA")
            self.ema.load_state_dict(state["ema"])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.gdf.load_state_dict(state["gdf"])
        return int(state["step"]), dict(state["extra"])


__all__ = ["TrainState", "step_seed"]
