"""Finds plugins (entry-point group "gdf"), collects their components and presets.

Discovery is lazy (nothing is imported until a name is looked up), cached, and
refreshable (``registry.refresh()``). A plugin that fails to import, or whose
hook fails or returns something that is not a component of its kind, becomes a
``PluginLoadWarning`` naming the entry point and its distribution, with the
traceback; the other plugins still load (``strict=True`` raises instead).
Distributions are read one by one, so one with a malformed ``entry_points.txt``
is reported and skipped rather than hiding every plugin.

Environment:
- ``GDF_DISABLE_PLUGIN_AUTOLOAD=1``: load only gdf's own built-in plugins, plus
  the entry points or distributions named in ``GDF_PLUGINS`` (comma-separated).
"""

from __future__ import annotations

import importlib
import os
import re
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
#: The entry-point name of a distribution whose entry points cannot be read.
UNREADABLE = "*"

#: Methods a class must have to be a component of each kind (beyond ``name``).
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "schedule": ("__call__",),
    "input_scaler": ("__call__",),
    "target": ("__call__", "x0", "epsilon"),
    "noise_cond": ("__call__",),
    "loss_weight": ("__call__",),
    "sampler": ("init_x", "prepare", "step"),
    "guidance": ("__call__", "active", "init_state"),
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
    #: Why the entry point was not loaded (an environment variable), or None.
    disabled: Optional[str] = None

    @property
    def where(self) -> str:
        """How messages name this plugin: entry point, value and distribution."""
        dist = f"{self.distribution or '?'} {self.version or ''}".rstrip()
        if self.entry_point == UNREADABLE:
            return f"the gdf plugins of distribution {dist}"
        return f"gdf plugin {self.entry_point!r} ({self.value}) from distribution {dist}"


def component_problem(kind: str, cls: Any) -> Optional[str]:
    """Why ``cls`` cannot be registered as a ``kind`` component, or None."""
    if not isinstance(cls, type):
        return f"expected a class, got {type(cls).__name__} {cls!r}"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{cls.__qualname__} has no string class attribute 'name' (its registry name)"
    if ":" in name or name != name.strip():
        return f"{cls.__qualname__}.name {name!r} may not contain ':' (it separates a distribution from a name) or spaces"
    declared = getattr(cls, "kind", kind)
    if declared != kind:
        return f"{cls.__qualname__} declares kind = {declared!r}"
    missing = [
        m
        for m in REQUIRED_METHODS[kind]
        if not any(callable(vars(k).get(m)) for k in cls.__mro__ if k is not object)
    ]
    if missing:
        return f"{cls.__qualname__} is not a {kind}: it has no method {', '.join(missing)}"
    return None


class Registry:
    """Components and presets from every installed plugin, plus in-process registrations.

    ``path`` is where distributions are looked for (default: ``sys.path``); a
    plugin module is still imported through ``sys.path``.
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP, *, path: Optional[list[str]] = None) -> None:
        self.group = group
        self.path = path
        self._loaded = False
        self._components: dict[str, dict[str, list[Registration]]] = {k: {} for k in KINDS}
        self._presets: dict[str, list[tuple[Any, Registration]]] = {}
        self.plugins: list[PluginInfo] = []
        self._local: list[tuple[Any, str, bool]] = []

    # -- discovery ---------------------------------------------------------
    def entry_points(self) -> list[Any]:
        """The entry points this registry loads, after the environment's filters."""
        return [ep for ep, problem in self._discover() if problem is None]

    def _discover(self) -> list[tuple[Any, Optional[str]]]:
        """(entry point, why it is not loaded or None), distribution by distribution.

        The first distribution of a name on the path wins, as for imports. A
        distribution whose entry points cannot be read yields (its fake entry
        point, the problem).
        """
        found: list[tuple[Any, Optional[str]]] = []
        seen: set[str] = set()
        kwargs = {} if self.path is None else {"path": self.path}
        disabled = os.environ.get("GDF_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0")
        allowed = {_normalize(s.strip()) for s in os.environ.get("GDF_PLUGINS", "").split(",") if s.strip()}
        for dist in importlib_metadata.distributions(**kwargs):
            # The folder's name is enough to tell duplicates (and much cheaper than METADATA).
            key = getattr(dist, "_normalized_name", None) or _normalize(_metadata_name(dist) or "")
            if not key or _normalize(key) in seen:
                continue
            seen.add(_normalize(key))
            try:
                eps = list(dist.entry_points.select(group=self.group))
            except Exception as exc:
                if _declares_group(dist, self.group):
                    reason = f"were skipped: its entry_points.txt cannot be parsed ({_parse_problem(dist, exc)})"
                    found.append((_Unreadable(dist, _metadata_name(dist) or key), reason))
                continue
            name = _metadata_name(dist) if eps else None
            for ep in eps:
                problem: Optional[str] = None
                dist_name = _normalize(name or key)
                if disabled and dist_name != BUILTIN_DISTRIBUTION and not (
                    _normalize(ep.name) in allowed or dist_name in allowed
                ):
                    problem = "disabled by GDF_DISABLE_PLUGIN_AUTOLOAD (allow it with GDF_PLUGINS)"
                found.append((ep, problem))
        return found

    def load(self, *, strict: bool = False) -> "Registry":
        """Discover and register every plugin once; later calls only re-check ``strict``.

        ``strict=True`` raises ``PluginLoadError`` for the first plugin that
        failed, also when the plugins were already loaded (leniently) before.
        """
        if self._loaded:
            failed = [info for info in self.plugins if info.errors]
            if strict and failed:
                raise PluginLoadError(f"{failed[0].where} {failed[0].errors[0]}")
            return self
        self._loaded = True
        try:
            pm = pluggy.PluginManager("gdf")
            pm.add_hookspecs(hookspecs)
            for ep, problem in self._discover():
                if problem is None:
                    self._load_entry_point(pm, ep, strict)
                elif isinstance(ep, _Unreadable):
                    info = PluginInfo(ep.name, ep.value, ep.distribution, ep.version)
                    self.plugins.append(info)
                    self._fail(info, problem, strict)
                else:
                    info = PluginInfo(ep.name, ep.value, _dist_name(ep), _dist_version(ep), disabled=problem)
                    self.plugins.append(info)
        except PluginLoadError:
            self._forget()  # a strict failure leaves nothing half-loaded
            raise
        for cls_or_preset, kind, replace in self._local:
            if kind == "preset":
                name, spec = cls_or_preset
                self._add_preset(name, spec, Registration("preset", name, dict, IN_PROCESS))
            else:
                self._add(Registration(kind, cls_or_preset.name, cls_or_preset, IN_PROCESS), replace=replace)
        return self

    def refresh(self, *, strict: bool = False) -> "Registry":
        """Forget what was discovered and discover again (in-process registrations are kept).

        Import caches are invalidated too, so a package installed since is found.
        """
        importlib.invalidate_caches()
        self._forget()
        return self.load(strict=strict)

    def _forget(self) -> None:
        self._loaded = False
        self._components = {k: {} for k in KINDS}
        self._presets = {}
        self.plugins = []

    @staticmethod
    def _fail(info: PluginInfo, problem: str, strict: bool) -> None:
        info.errors.append(problem)
        message = f"{info.where} {problem}"
        if strict:
            raise PluginLoadError(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=5)

    def _load_entry_point(self, pm: pluggy.PluginManager, ep: Any, strict: bool) -> None:
        dist, version = _dist_name(ep), _dist_version(ep)
        info = PluginInfo(ep.name, ep.value, dist, version)
        self.plugins.append(info)
        # Two distributions may both call their entry point "plugin": pluggy's name is qualified.
        plugin_name = f"{dist or '?'}:{ep.name}"

        def fail(problem: str) -> None:
            self._fail(info, problem, strict)

        try:
            module = ep.load()
        except Exception:
            fail(f"failed to import and was skipped:\n{traceback.format_exc()}")
            return
        try:
            pm.register(module, name=plugin_name)
        except Exception as exc:  # a hookimpl that matches no hookspec, a name clash
            fail(f"could not be registered with pluggy: {exc}")
            return
        unknown = [
            impl.function.__name__
            for caller in pm.hook.__dict__.values()
            if isinstance(caller, pluggy.HookCaller) and not caller.has_spec()
            for impl in caller.get_hookimpls()
            if impl.plugin_name == plugin_name
        ]
        for hook in unknown:
            fail(f"implements {hook!r}, which is not a gdf hook (known: {', '.join(_hook_names())})")
        for hook in _hook_names():
            function = getattr(module, hook, None)
            if callable(function) and not hasattr(function, "gdf_impl"):
                fail(f"defines {hook} without the @gdf_core.hookimpl decorator, so it was ignored")
        for kind, hook_name in hookspecs.KIND_HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != plugin_name:
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
            if impl.plugin_name != plugin_name:
                continue
            try:
                presets = impl.function() or {}
            except Exception:
                fail(f"raised in gdf_register_presets:\n{traceback.format_exc()}")
                continue
            if not isinstance(presets, dict):
                fail(f"returned from gdf_register_presets a {type(presets).__name__}, not a dict of preset name → spec")
                continue
            for name, spec in presets.items():
                if not isinstance(name, str) or ":" in name or not isinstance(spec, dict):
                    fail(
                        f"returned from gdf_register_presets an invalid preset {name!r}: a preset is a "
                        f"name without ':' and a spec (a dict), got {type(spec).__name__}"
                    )
                    continue
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
            self._add(Registration(kind, getattr(cls, "name"), cls, IN_PROCESS), replace=replace)
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
        dist, name = _split_qualified(name)
        entries = regs.get(name, [])
        if dist is not None:
            entries = [e for e in entries if _normalize(e.distribution or "local") == _normalize(dist)]
        if not entries:
            raise UnknownComponentError(self._unknown_message(kind, name, dist), path=path)
        if len(entries) > 1:
            entries = sorted(entries, key=lambda e: (e.qualified_name, e.cls.__module__))
            listed = "; ".join(f"{e.cls.__module__}.{e.cls.__qualname__} from {e.source}" for e in entries)
            choices = ", ".join(repr(e.qualified_name) for e in entries)
            raise DuplicateComponentError(
                f"the {kind} name {name!r} is registered by more than one class: {listed}. "
                f"Choose one with a qualified name: {choices}",
                path=path,
            )
        return entries[0].cls

    def spec_name(self, cls: type) -> str:
        """The name a spec gives ``cls``: ``cls.name``, or ``distribution:name`` where that name is ambiguous."""
        kind = getattr(cls, "kind", None)
        if kind not in KINDS:
            return cls.name  # type: ignore[attr-defined, no-any-return]
        entries = self.registrations(kind).get(cls.name, [])  # type: ignore[attr-defined]
        if len(entries) > 1:
            for entry in entries:
                if entry.cls is cls:
                    return entry.qualified_name
        return cls.name  # type: ignore[attr-defined, no-any-return]

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
        elsewhere = self._components[kind].get(name, [])
        if dist is not None and elsewhere:
            choices = ", ".join(repr(e.qualified_name) for e in sorted(elsewhere, key=lambda e: e.qualified_name))
            return f"no distribution {dist!r} registers the {kind} {name!r}; it is registered as {choices}"
        names = self.names(kind)
        where = f" from distribution {dist!r}" if dist else ""
        return (
            f"unknown {kind} {name!r}{where}{did_you_mean(name, names) or '.'} "
            f"Available {kind}s: {', '.join(names) or '(none)'}. If it comes from a plugin package, "
            f"that package may not be installed (`gdf plugins` lists what is).{self._disabled_note()}"
        )

    def _disabled_note(self) -> str:
        if not any(info.disabled for info in self.plugins):
            return ""
        return (
            " GDF_DISABLE_PLUGIN_AUTOLOAD is set: only gdf's own plugins and those named in "
            "GDF_PLUGINS were loaded."
        )

    def presets(self) -> dict[str, Any]:
        """Preset name → spec (a name registered twice raises when used)."""
        self.load()
        return {name: entries[0][0] for name, entries in self._presets.items()}

    def preset_registration(self, name: str) -> Registration:
        """Where preset ``name`` came from (its first registration); KeyError if there is none."""
        self.load()
        return self._presets[name][0][1]

    def preset(self, name: str, *, path: Optional[str] = None) -> Any:
        """The spec of preset ``name`` (or ``distribution:name``)."""
        self.load()
        dist, name = _split_qualified(name)
        entries = self._presets.get(name, [])
        if dist is not None:
            entries = [(s, r) for s, r in entries if _normalize(r.distribution or "local") == _normalize(dist)]
        if not entries:
            names = sorted(self._presets)
            where = f" from distribution {dist!r}" if dist else ""
            raise UnknownComponentError(
                f"unknown preset {name!r}{where}{did_you_mean(name, names) or '.'} "
                f"Available presets: {', '.join(names) or '(none)'}. If it comes from a plugin package, "
                f"that package may not be installed (`gdf plugins` lists what is).{self._disabled_note()}",
                path=path,
            )
        if len(entries) > 1:
            entries = sorted(entries, key=lambda entry: entry[1].qualified_name)
            raise DuplicateComponentError(
                f"the preset {name!r} is registered by more than one plugin: "
                + "; ".join(f"{reg.plugin} from {reg.source}" for _, reg in entries)
                + ". Choose one with a qualified name: "
                + ", ".join(repr(reg.qualified_name) for _, reg in entries),
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


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it: ``GDF_Example`` == ``gdf-example``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_qualified(name: str) -> tuple[Optional[str], str]:
    """``"dist:name"`` → ("dist", "name"); ``"name"`` → (None, "name")."""
    if ":" in name:
        dist, name = name.split(":", 1)
        return dist, name
    return None, name


def _metadata_name(dist: Any) -> Optional[str]:
    try:
        name = dist.metadata.get("Name")
    except Exception:  # unreadable METADATA: not a distribution we can name
        return None
    return name or None


def _declares_group(dist: Any, group: str) -> bool:
    try:
        text = dist.read_text("entry_points.txt") or ""
    except Exception:
        return False
    return f"[{group}]" in text


def _parse_problem(dist: Any, exc: Exception) -> str:
    """The first line of an entry_points.txt that is not ``name = module:attr``, or the error."""
    text = dist.read_text("entry_points.txt") or ""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" not in line:
            return f"the line {line!r} is not 'name = module:attr'"
    return f"{type(exc).__name__}: {exc}"


def _dist_name(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else _metadata_name(dist)


def _dist_version(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.version


@dataclass(frozen=True)
class _Unreadable:
    """Stands for the entry points of a distribution whose entry_points.txt cannot be parsed."""

    dist: Any
    distribution: str

    name = UNREADABLE

    @property
    def value(self) -> str:
        return "entry_points.txt"

    @property
    def version(self) -> Optional[str]:
        return self.dist.version


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
