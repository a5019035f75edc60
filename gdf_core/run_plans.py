"""A GDF's cache of run plans: a ``sample`` run's λ grid, its sampler's plan and the denoiser's level tables.

Both depend only on host values of the call (sampler spec, grid arguments,
shift, batch size, dtype, device) and on the GDF's own schedule, scaler and noise condition, so
a run that repeats them (the common case: many batches with one setting)
reuses them instead of building them again; with a cheap model, building the
plan costs as much as several steps. Nothing is read from a tensor to find an
entry. A run is not cached when its sampler has no spec (a protocol-only
sampler), when the schedule is passed to the call, or when schedule or
sampler has learned state (``Stateful``: its grid may change between runs),
or under ``torch.compile`` (the traced run builds its plan in the graph).
Plans are read-only to the samplers, so one is safely shared by later runs.
The key holds the parameters of sampler, schedule, scaler and noise condition, so changing
one's parameters in place misses the cache; ``GDF.setup_limits`` clears it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable, Optional

import torch
from torch import Tensor



@dataclass(frozen=True)
class RunPlan:
    """A run's grid, (steps + 1, batch), the plan its sampler prepared for it and the denoiser's level tables."""

    logsnrs: Tensor
    plan: Any
    tables: Any  # gdf_core.denoiser.LevelTables: noise condition and (a, b) at every level
    schedule: Any  # held, so the key's id() cannot be reused by another object while the entry lives
    scaler: Any
    noise_cond: Any


def _stateful(component: Any) -> bool:
    """``isinstance(component, Stateful)``, without the protocol check's cost on every run."""
    return hasattr(component, "state_dict") and hasattr(component, "load_state_dict")


class RunPlans:
    """Least-recently-used run plans, at most ``size`` of them."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, RunPlan] = OrderedDict()

    def key(self, sampler: Any, schedule: Any, scaler: Any, noise_cond: Any, **host_values: Any) -> Optional[Hashable]:
        """The entry's key, or None when this run must not be cached."""
        if torch.compiler.is_compiling():  # a traced run builds its plan in the graph: nothing to look up
            return None
        if not hasattr(sampler, "params") or _stateful(schedule) or _stateful(sampler):
            return None
        values = tuple(sorted((k, str(v) if isinstance(v, (torch.device, torch.dtype)) else v) for k, v in host_values.items()))
        parts = tuple(repr(getattr(c, "params", None)) for c in (sampler, schedule, scaler, noise_cond))
        return (type(sampler), id(schedule), id(scaler), id(noise_cond), parts, values)

    def get(self, key: Optional[Hashable], schedule: Any, scaler: Any, noise_cond: Any) -> Optional[RunPlan]:
        entry = None if key is None else self._entries.get(key)
        if entry is None or entry.schedule is not schedule or entry.scaler is not scaler or entry.noise_cond is not noise_cond:
            return None
        self._entries.move_to_end(key)  # type: ignore[arg-type]
        return entry

    def put(self, key: Optional[Hashable], entry: RunPlan) -> None:
        if key is None:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["RunPlan", "RunPlans"]
