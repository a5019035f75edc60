"""A GDF's caches for repeated ``sample`` runs: run plans (λ grid, sampler plan, level tables, t values) and built samplers.

Both depend only on host values of the call (sampler spec, grid arguments,
shift, batch size, dtype, device, and whether ``torch.inference_mode`` is on: its
tensors cannot be saved for backward by a later run outside it) and on the GDF's
own schedule, scaler and noise condition, so
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

``BuiltSamplers`` keeps the sampler built from a spec given to ``sample`` (a
name, or a dict of plain data), so a repeated spec is not validated and built
again in every run.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional

import torch
from torch import Tensor


@dataclass(frozen=True)
class RunPlan:
    """A run's grid, (steps + 1, batch), the plan its sampler prepared for it, the denoiser's level tables
    and the grid's t values (host floats)."""

    logsnrs: Tensor
    plan: Any
    tables: Any  # gdf_core.denoiser.LevelTables: noise condition and (a, b) at every level
    schedule: Any  # held, so the key's id() cannot be reused by another object while the entry lives
    scaler: Any
    noise_cond: Any
    t_values: tuple[float, ...] = ()


def _stateful(component: Any) -> bool:
    """``isinstance(component, Stateful)``, without the protocol check's cost on every run."""
    return hasattr(component, "state_dict") and hasattr(component, "load_state_dict")


class RunPlans:
    """Least-recently-used run plans, at most ``size`` of them."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, RunPlan] = OrderedDict()

    def key(self, sampler: Any, schedule: Any, scaler: Any, noise_cond: Any, host_values: tuple[Any, ...]) -> Optional[Hashable]:
        """The entry's key, or None when this run must not be cached.

        ``host_values``: the call's host values that shape the plan, in a fixed order (hashable).
        """
        if torch.compiler.is_compiling():  # a traced run builds its plan in the graph: nothing to look up
            return None
        if not hasattr(sampler, "params") or _stateful(schedule) or _stateful(sampler):
            return None
        parts = tuple(_fingerprint(getattr(c, "params", None)) for c in (sampler, schedule, scaler, noise_cond))
        inference = torch.is_inference_mode_enabled()  # read after the compile check: dynamo cannot trace it
        return (type(sampler), id(schedule), id(scaler), id(noise_cond), parts, host_values, inference)

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


#: Parameter values whose equality is their value's (a tensor's hash is its identity: not one of them).
_PLAIN = (bool, int, float, str, type(None))


def _fingerprint(params: Optional[dict[str, Any]]) -> Hashable:
    """``params`` as a hashable value: its items when every value is plain, else its repr (values shown)."""
    if params is None:
        return None
    if all(type(v) in _PLAIN for v in params.values()):
        return tuple((k, type(v), v) for k, v in params.items())  # the type too: 1, 1.0 and True differ
    return repr(params)


class BuiltSamplers:
    """The samplers a GDF built from specs given to ``sample`` (a name, or a dict of plain data).

    A spec repeated across runs (``sampler="dpmpp_2m"`` in every call) is
    validated and built once. An entry is for one generation of the registry
    (``Registry.generation``: registering or unregistering a component may
    change what a name means), and for the parameters it was built with: one
    changed in place since (``prepare_sample(...).sampler.eta = 1``) is built
    again. A sampler with learned state (``Stateful``) is not kept: each run
    gets its own. Least recently used first out, at most ``size``.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[Any, Hashable]] = OrderedDict()

    def get(self, spec: Any, generation: int, make: Callable[[], Any]) -> Any:
        """The sampler of ``spec``: the one built earlier in this generation, else ``make()``."""
        key = _spec_key(spec, generation)
        if key is None:
            return make()
        entry = self._entries.get(key)
        if entry is not None and _fingerprint(getattr(entry[0], "params", None)) == entry[1]:
            self._entries.move_to_end(key)
            return entry[0]
        sampler = make()  # not built yet, or the one built was changed in place since (its parameters differ)
        if not _stateful(sampler):
            self._entries[key] = (sampler, _fingerprint(getattr(sampler, "params", None)))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return sampler

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _spec_key(spec: Any, generation: int) -> Optional[Hashable]:
    """A hashable key for a name or a dict of JSON data; None for anything else (a class, an object)."""
    if isinstance(spec, str):
        return (generation, spec)
    if isinstance(spec, dict):
        try:
            return (generation, json.dumps(spec, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError):  # not plain data (a tensor, an object, NaN): built every time
            return None
    return None


__all__ = ["BuiltSamplers", "RunPlan", "RunPlans"]
