"""The component kinds, defined once: one record per kind.

Everything that lists the kinds (the protocols table, the hooks, the registry's
method checks, the spec keys, the JSON Schema, the CLI, the testing kit, the GDF
object's parts) reads this table. A new kind is one new record here, plus its
protocol (``gdf_core/protocols.py``) and its hook (``gdf_core/hookspecs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gdf_core import protocols


@dataclass(frozen=True)
class Kind:
    """One component kind: its spec/registry name, protocol, hook and what a class must have."""

    #: The kind's name in specs, messages and ``registry.get(kind, ...)``: snake_case.
    name: str
    #: The runtime-checkable protocol its components satisfy.
    protocol: type
    #: The plural, as in ``gdf list schedules`` and the hook's name.
    plural: str
    #: Methods a class must define to be registered as this kind (beyond ``name``).
    required_methods: tuple[str, ...]
    #: Whether a GDF spec must give one (the training recipe); else it is an optional default.
    required_in_spec: bool

    @property
    def hook(self) -> str:
        """The pluggy hook that registers components of this kind."""
        return f"gdf_register_{self.plural}"


#: Every kind, in the order a GDF takes them.
KIND_RECORDS: tuple[Kind, ...] = (
    Kind("schedule", protocols.Schedule, "schedules", ("__call__",), True),
    Kind("input_scaler", protocols.InputScaler, "input_scalers", ("__call__",), True),
    Kind("target", protocols.Target, "targets", ("__call__", "x0", "epsilon"), True),
    Kind("noise_cond", protocols.NoiseCond, "noise_conds", ("__call__",), True),
    Kind("loss_weight", protocols.LossWeight, "loss_weights", ("__call__",), True),
    Kind("sampler", protocols.Sampler, "samplers", ("init_x", "prepare", "step"), False),
    Kind("guidance", protocols.Guidance, "guidances", ("__call__", "active", "init_state"), False),
)

#: kind name → its record.
BY_NAME: dict[str, Kind] = {k.name: k for k in KIND_RECORDS}

#: The kind names, in order.
KINDS: tuple[str, ...] = tuple(BY_NAME)

#: kind name → protocol class.
PROTOCOLS: dict[str, type] = {k.name: k.protocol for k in KIND_RECORDS}

#: kind name → the hook that registers it.
KIND_HOOKS: dict[str, str] = {k.name: k.hook for k in KIND_RECORDS}

#: kind name → methods a class must have to be registered as one.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {k.name: k.required_methods for k in KIND_RECORDS}

#: The kinds every GDF holds (its training recipe); the others are optional defaults of ``sample``.
GDF_PARTS: tuple[str, ...] = tuple(k.name for k in KIND_RECORDS if k.required_in_spec)

#: The pseudo-kind of presets in the registry's name table and the CLI.
PRESET = "preset"


def kind_named(word: str) -> Kind | None:
    """The kind a user's word means: ``schedule``, ``schedules``, ``loss-weights``…, or None."""
    normal = word.strip().lower().replace("-", "_")
    for k in KIND_RECORDS:
        if normal in (k.name, k.plural):
            return k
    return None


__all__ = ["BY_NAME", "GDF_PARTS", "KINDS", "KIND_HOOKS", "KIND_RECORDS", "PRESET", "PROTOCOLS", "REQUIRED_METHODS", "Kind", "kind_named"]
