"""Finds plugins (entry-point group "gdf"), collects their components and presets.

Discovery is lazy (nothing is imported until a name is looked up), cached, and
refreshable (``registry.refresh()``). A plugin that fails to import, or whose
hook fails or returns something that is not a component of its kind, becomes a
``PluginLoadWarning`` naming the entry point and its distribution, with the
traceback; the other plugins still load (``strict=True`` raises instead).

Environment:
- ``GDF_DISABLE_PLUGIN_AUTOLOAD=1``: load only gdf's own built-in plugins, plus
  the entry points or distributions named in ``GDF_PLUGINS`` (comma-separated).
"""

from __future__ import annotations

import os
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import importlib_metadata
import pluggy

from gdf_core import hookspecs
from gdf_core.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginLoadWarning,
    UnknownComponentError,
    did_you_mean,
)
from gdf_core.protocols import KINDS

ENTRY_POINT_GROUP = "gdf"
BUILTIN_DISTRIBUTION = "gdf"
IN_PROCESS = "<in-process>"

#: Methods a class must have to be a component of each kind (beyond ``name``).
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "schedule": ("__call__",),
    "input_scaler": ("__call__",),
    "target": ("__call__", "x0", "epsilon"),
    "noise_cond": ("__call__",),
    "loss_weight": ("__call__",),
    "sampler": ("step",),
}


@dataclass(frozen=True)
class Registration:
    """One registered component class and where it came from."""

    kind: str
    name: str
    cls: type
    plugin: str
    distribution: Optional[str] = None
    version: Optional[str] = None

    @property
    def source(self) -> str:
        if self.distribution is None:
            return f"{self.plugin}"
        return f"{self.distribution} {self.version or ''}".strip()

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution or 'local'}:{self.name}"


@dataclass
class PluginInfo:
    """What one entry point brought, or why it brought nothing."""

    entry_point: str
    value: str
    distribution: Optional[str]
    version: Optional[str]
    components: dict[str, list[str]] = field(default_factory=dict)
    presets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def component_problem(kind: str, cls: Any) -> Optional[str]:
    """Why ``cls`` cannot be registered as a ``kind`` component, or None."""
    if not isinstance(cls, type):
        return f"expected a class, got {type(cls).__name__} {cls!r}"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{cls.__qualname__} has no string class attribute 'name' (its registry name)"
    missing = [
        m
        for m in REQUIRED_METHODS[kind]
        if not any(callable(vars(k).get(m)) for k in cls.__mro__ if k is not object)
    ]
    if missing:
        return f"{cls.__qualname__} is not a {kind}: it has no method {', '.join(missing)}"
    return None


class Registry:
    """Components and presets from every installed plugin, plus in-process registrations."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._loaded = False
        self._components: dict[str, dict[str, list[Registration]]] = {k: {} for k in KINDS}
        self._presets: dict[str, list[tuple[Any, Registration]]] = {}
        self.plugins: list[PluginInfo] = []
        self._local: list[tuple[str, Any, bool]] = []

    # -- discovery ---------------------------------------------------------
    def entry_points(self) -> list[Any]:
        """The entry points this registry loads, after the environment's filters."""
        eps = list(importlib_metadata.entry_points(group=self.group))
        if os.environ.get("GDF_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0"):
            allowed = {s.strip() for s in os.environ.get("GDF_PLUGINS", "").split(",") if s.strip()}
            eps = [
                ep
                for ep in eps
                if _dist_name(ep) == BUILTIN_DISTRIBUTION or ep.name in allowed or _dist_name(ep) in allowed
            ]
        return eps

    def load(self, *, strict: bool = False) -> "Registry":
        """Discover and register every plugin once (later calls do nothing)."""
        if self._loaded:
            return self
        self._loaded = True
        pm = pluggy.PluginManager("gdf")
        pm.add_hookspecs(hookspecs)
        for ep in self.entry_points():
            self._load_entry_point(pm, ep, strict)
        for cls_or_preset, kind, replace in self._local:
            if kind == "preset":
                name, spec = cls_or_preset
                self._add_preset(name, spec, Registration("preset", name, dict, IN_PROCESS))
            else:
                self._add(Registration(kind, cls_or_preset.name, cls_or_preset, IN_PROCESS), replace=replace)
        return self

    def refresh(self, *, strict: bool = False) -> "Registry":
        """Forget what was discovered and discover again (in-process registrations are kept)."""
        self._loaded = False
        self._components = {k: {} for k in KINDS}
        self._presets = {}
        self.plugins = []
        return self.load(strict=strict)

    def _load_entry_point(self, pm: pluggy.PluginManager, ep: Any, strict: bool) -> None:
        dist, version = _dist_name(ep), _dist_version(ep)
        info = PluginInfo(ep.name, ep.value, dist, version)
        self.plugins.append(info)
        where = f"gdf plugin {ep.name!r} ({ep.value}) from distribution {dist or '?'} {version or ''}".rstrip()

        def fail(problem: str) -> None:
            info.errors.append(problem)
            message = f"{where} {problem}"
            if strict:
                raise PluginLoadError(message)
            warnings.warn(message, PluginLoadWarning, stacklevel=4)

        try:
            module = ep.load()
        except Exception:
            fail(f"failed to import and was skipped:\n{traceback.format_exc()}")
            return
        try:
            pm.register(module, name=ep.name)
        except Exception as exc:  # a hookimpl that matches no hookspec, a name clash
            fail(f"could not be registered with pluggy: {exc}")
            return
        unknown = [
            impl.function.__name__
            for caller in pm.hook.__dict__.values()
            if isinstance(caller, pluggy.HookCaller) and not caller.has_spec()
            for impl in caller.get_hookimpls()
            if impl.plugin_name == ep.name
        ]
        for hook in unknown:
            fail(f"implements {hook!r}, which is not a gdf hook (known: {', '.join(_hook_names())})")
        for kind, hook_name in hookspecs.KIND_HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != ep.name:
                    continue
                try:
                    result = impl.function()
                except Exception:
                    fail(f"raised in {hook_name}:\n{traceback.format_exc()}")
                    continue
                for cls in _as_list(result):
                    problem = component_problem(kind, cls)
                    if problem is not None:
                        fail(f"returned from {hook_name} something that is not a {kind}: {problem}")
                        continue
                    self._add(Registration(kind, cls.name, cls, ep.name, dist, version))
                    info.components.setdefault(kind, []).append(cls.name)
        for impl in pm.hook.gdf_register_presets.get_hookimpls():
            if impl.plugin_name != ep.name:
                continue
            try:
                presets = impl.function() or {}
                if not isinstance(presets, dict):
                    raise TypeError(f"expected a dict of name → spec, got {type(presets).__name__}")
            except Exception:
                fail(f"raised in gdf_register_presets:\n{traceback.format_exc()}")
                continue
            for name, spec in presets.items():
                self._add_preset(name, spec, Registration("preset", name, dict, ep.name, dist, version))
                info.presets.append(name)

    def _add(self, reg: Registration, *, replace: bool = False) -> None:
        entries = self._components[reg.kind].setdefault(reg.name, [])
        if replace:
            entries[:] = [e for e in entries if e.plugin != IN_PROCESS]
        if any(e.cls is reg.cls for e in entries):
            return
        entries.append(reg)

    def _add_preset(self, name: str, spec: Any, reg: Registration) -> None:
        self._presets.setdefault(name, []).append((spec, reg))

    # -- in-process registration -------------------------------------------
    def register(self, cls: type, *, kind: Optional[str] = None, replace: bool = True) -> type:
        """Register a component class from this process (a notebook, a test); returns it.

        ``kind`` defaults to the class attribute ``kind``. A class registered
        again under the same name replaces the earlier in-process one
        (``replace=False`` keeps both, making the name ambiguous).
        """
        kind = kind or getattr(cls, "kind", None)
        if kind not in KINDS:
            raise TypeError(
                f"cannot tell which kind of component {getattr(cls, '__qualname__', cls)!r} is: "
                f"pass kind= one of {', '.join(KINDS)}"
            )
        problem = component_problem(kind, cls)
        if problem is not None:
            raise TypeError(f"cannot register as a {kind}: {problem}")
        self._local.append((cls, kind, replace))
        if self._loaded:
            self._add(Registration(kind, cls.name, cls, IN_PROCESS), replace=replace)
        return cls

    def register_preset(self, name: str, spec: Any) -> None:
        """Register a preset (a GDF spec under a name) from this process."""
        self._local.append(((name, spec), "preset", True))
        if self._loaded:
            self._presets[name] = [(spec, Registration("preset", name, dict, IN_PROCESS))]

    # -- lookup ------------------------------------------------------------
    def registrations(self, kind: str) -> dict[str, list[Registration]]:
        """name → registrations of ``kind`` (more than one: the name is ambiguous)."""
        self._check_kind(kind)
        self.load()
        return self._components[kind]

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, sorted."""
        return sorted(self.registrations(kind))

    def get(self, kind: str, name: str, *, path: Optional[str] = None) -> type:
        """The class registered as ``name`` (or ``distribution:name``) for ``kind``."""
        regs = self.registrations(kind)
        dist = None
        if ":" in name:
            dist, name = name.split(":", 1)
        entries = regs.get(name, [])
        if dist is not None:
            entries = [e for e in entries if (e.distribution or "local") == dist]
        if not entries:
            raise UnknownComponentError(self._unknown_message(kind, name, dist), path=path)
        if len(entries) > 1:
            listed = "; ".join(f"{e.cls.__module__}.{e.cls.__qualname__} from {e.source}" for e in entries)
            choices = ", ".join(repr(e.qualified_name) for e in entries)
            raise DuplicateComponentError(
                f"the {kind} name {name!r} is registered by more than one class: {listed}. "
                f"Choose one with a qualified name: {choices}",
                path=path,
            )
        return entries[0].cls

    def registration_of(self, cls: type) -> Optional[Registration]:
        """Where a registered class came from, or None."""
        kind = getattr(cls, "kind", None)
        for k in [kind] if kind in KINDS else list(KINDS):
            for entries in self.registrations(k).values():
                for e in entries:
                    if e.cls is cls:
                        return e
        return None

    def _unknown_message(self, kind: str, name: str, dist: Optional[str]) -> str:
        names = self.names(kind)
        where = f" from distribution {dist!r}" if dist else ""
        return (
            f"unknown {kind} {name!r}{where}{did_you_mean(name, names) or '.'} "
            f"Available {kind}s: {', '.join(names) or '(none)'}. If it comes from a plugin package, "
            "that package may not be installed (`gdf plugins` lists what is)."
        )

    def presets(self) -> dict[str, Any]:
        """Preset name → spec (a name registered twice raises when used)."""
        self.load()
        return {name: entries[0][0] for name, entries in self._presets.items()}

    def preset(self, name: str, *, path: Optional[str] = None) -> Any:
        """The spec of preset ``name``."""
        self.load()
        entries = self._presets.get(name, [])
        if not entries:
            names = sorted(self._presets)
            raise UnknownComponentError(
                f"unknown preset {name!r}{did_you_mean(name, names) or '.'} Available presets: {', '.join(names)}",
                path=path,
            )
        if len(entries) > 1:
            raise DuplicateComponentError(
                f"the preset {name!r} is registered by more than one plugin: "
                + "; ".join(f"{reg.plugin} from {reg.source}" for _, reg in entries),
                path=path,
            )
        return entries[0][0]

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise UnknownComponentError(f"unknown component kind {kind!r}{did_you_mean(kind, KINDS) or '.'} Kinds: {', '.join(KINDS)}")


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


def _dist_name(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.metadata["Name"]


def _dist_version(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.version


def _hook_names() -> Iterable[str]:
    return [n for n in dir(hookspecs) if n.startswith("gdf_register_")]


#: The process-wide registry used by ``GDF.from_spec``, ``build`` and the CLI.
registry = Registry()


def register(cls: type, *, kind: Optional[str] = None, replace: bool = True) -> type:
    """Register a component class in the process-wide registry (usable as a decorator)."""
    return registry.register(cls, kind=kind, replace=replace)


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registration",
    "Registry",
    "component_problem",
    "register",
    "registry",
]
