"""Looking components and presets up: one name table for every kind and for presets.

The plugins are found and loaded by ``gdf_core.discovery``; this module keeps
what they brought, plus in-process registrations, in one table keyed by
(kind, name), presets being the kind ``"preset"``. Discovery is lazy (nothing
is imported until a name is looked up), cached, and refreshable
(``registry.refresh()``).

Names:
- A built-in's name keeps meaning the built-in. A third-party (or in-process)
  component or preset that takes it is reachable only as ``distribution:name``
  (``local:name`` for in-process ones), and a ``PluginLoadWarning`` names both.
- Two third parties registering one name make it ambiguous: a bare lookup is
  a ``DuplicateComponentError`` naming both; ``distribution:name`` chooses.

A plugin that fails (an import error, ``SystemExit``, a hook that raises or
returns something that is not a component of its kind) becomes a
``PluginLoadWarning`` naming the entry point and its distribution, with the
traceback; the other plugins still load (``strict=True`` raises instead).
``KeyboardInterrupt`` while loading propagates and leaves the registry
unloaded, so the next lookup tries again.
"""

from __future__ import annotations

import copy
import importlib
import warnings
from dataclasses import dataclass
from typing import Any, Optional

from gdf_core.discovery import (
    BUILTIN_DISTRIBUTION,
    ENTRY_POINT_GROUP,
    PluginInfo,
    Unreadable,
    component_problem,
    discover,
    dist_name,
    dist_version,
    load_plugin,
    normalize,
)
from gdf_core.errors import (
    DuplicateComponentError,
    PluginLoadError,
    PluginLoadWarning,
    UnknownComponentError,
    did_you_mean,
    excerpt,
)
from gdf_core.kinds import KINDS, PRESET, REQUIRED_METHODS

IN_PROCESS = "<in-process>"

# Kept importable from here, where they used to live (REQUIRED_METHODS is defined in gdf_core.kinds).
_normalize = normalize


@dataclass(frozen=True)
class Registration:
    """One registered component class (or preset, ``kind == "preset"``) and where it came from."""

    kind: str
    name: str
    cls: type
    plugin: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    #: The spec of a preset (None for a component).
    spec: Optional[dict[str, Any]] = None

    @property
    def source(self) -> str:
        if self.distribution is None:
            return f"{self.plugin}"
        return f"{self.distribution} {self.version or ''}".strip()

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution or 'local'}:{self.name}"

    @property
    def is_builtin(self) -> bool:
        return normalize(self.distribution or "") == BUILTIN_DISTRIBUTION

    def describe(self) -> str:
        """``module.Class from distribution`` (a preset: its plugin and distribution)."""
        if self.kind == PRESET:
            return f"{self.plugin} from {self.source}"
        return f"{self.cls.__module__}.{self.cls.__qualname__} from {self.source}"


class Registry:
    """Components and presets from every installed plugin, plus in-process registrations.

    ``path`` is where distributions are looked for (default: ``sys.path``); a
    plugin module is still imported through ``sys.path``.
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP, *, path: Optional[list[str]] = None) -> None:
        self.group = group
        self.path = path
        self._loaded = False
        #: (kind, name) → registrations, for every kind and for presets.
        self._table: dict[tuple[str, str], list[Registration]] = {}
        self.plugins: list[PluginInfo] = []
        self._local: list[tuple[Registration, bool]] = []
        #: Bumped whenever what a name resolves to may have changed (a registration added, removed, or
        #: everything forgotten), so a cache of components built by name can tell it is stale.
        self.generation = 0

    # -- discovery ---------------------------------------------------------
    def entry_points(self) -> list[Any]:
        """The entry points this registry loads, after the environment's filters."""
        return [ep for ep, problem in discover(self.group, self.path) if problem is None]

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
            for ep, problem in discover(self.group, self.path):
                if problem is None:
                    self._load_entry_point(ep, strict)
                elif isinstance(ep, Unreadable):
                    info = PluginInfo(ep.name, ep.value, ep.distribution, ep.version)
                    self.plugins.append(info)
                    self._fail(info, problem, strict)
                else:
                    self.plugins.append(PluginInfo(ep.name, ep.value, dist_name(ep), dist_version(ep), disabled=problem))
        except BaseException:  # a strict failure, or KeyboardInterrupt: nothing stays half-loaded
            self._forget()
            raise
        for reg, replace in self._local:
            self._add(reg, replace=replace)
        self._warn_about_shadowed(strict)
        return self

    def refresh(self, *, strict: bool = False) -> "Registry":
        """Forget what was discovered and discover again (in-process registrations are kept).

        Import caches are invalidated too, so a package installed since is found.
        """
        importlib.invalidate_caches()
        self._forget()
        return self.load(strict=strict)

    def _forget(self) -> None:
        self.generation += 1
        self._loaded = False
        self._table = {}
        self.plugins = []

    @staticmethod
    def _fail(info: PluginInfo, problem: str, strict: bool) -> None:
        info.errors.append(problem)
        message = f"{info.where} {problem}"
        if strict:
            raise PluginLoadError(message)
        warnings.warn(message, PluginLoadWarning, stacklevel=5)

    def _load_entry_point(self, ep: Any, strict: bool) -> None:
        loaded = load_plugin(ep)
        info = loaded.info
        self.plugins.append(info)
        for problem in loaded.problems:
            self._fail(info, problem, strict)
        for note in info.notes:
            warnings.warn(f"{info.where} {note}", PluginLoadWarning, stacklevel=4)
        for kind, cls in loaded.components:
            self._add(Registration(kind, getattr(cls, "name"), cls, ep.name, info.distribution, info.version))
        for name, spec in loaded.presets:
            self._add(Registration(PRESET, name, dict, ep.name, info.distribution, info.version, spec=spec))

    def _add(self, reg: Registration, *, replace: bool = False) -> None:
        self.generation += 1
        entries = self._table.setdefault((reg.kind, reg.name), [])
        if replace:
            entries[:] = [e for e in entries if e.plugin != IN_PROCESS]
        if reg.kind != PRESET and any(e.cls is reg.cls for e in entries):
            return
        entries.append(reg)

    def _warn_about_shadowed(self, strict: bool) -> None:
        """A ``PluginLoadWarning`` for every component or preset that takes a built-in's name."""
        infos = {(i.entry_point, i.distribution): i for i in self.plugins}
        for (kind, name), entries in sorted(self._table.items()):
            builtins = [e for e in entries if e.is_builtin]
            if not builtins:
                continue
            for entry in entries:
                if entry.is_builtin:
                    continue
                what = "preset" if kind == PRESET else kind
                where = (
                    f"the {what} {entry.cls.__qualname__} registered in this process"
                    if entry.plugin == IN_PROCESS
                    else f"{infos[(entry.plugin, entry.distribution)].where}"
                    if (entry.plugin, entry.distribution) in infos
                    else entry.source
                )
                message = (
                    f"{where} registers the {what} {name!r}, which is the name of gdf's built-in "
                    f"{builtins[0].describe()}: {name!r} keeps meaning the built-in, and "
                    f"{entry.describe()} is reachable only as {entry.qualified_name!r}"
                )
                info = infos.get((entry.plugin, entry.distribution))
                if info is not None and message not in info.notes:
                    info.notes.append(message)
                warnings.warn(message, PluginLoadWarning, stacklevel=4)

    # -- in-process registration -------------------------------------------
    def register(self, cls: type, *, kind: Optional[str] = None, replace: bool = True) -> type:
        """Register a component class from this process (a notebook, a test); returns it.

        ``kind`` defaults to the class attribute ``kind``. A class registered
        again under the same name replaces the earlier in-process one
        (``replace=False`` keeps both, making the name ambiguous). A built-in's
        name keeps meaning the built-in: the class is then ``local:name``.
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
        reg = Registration(kind, getattr(cls, "name"), cls, IN_PROCESS)
        self._local.append((reg, replace))
        if self._loaded:
            self._add(reg, replace=replace)
            self._warn_if_shadowing(reg)
        return cls

    def unregister(self, cls: type) -> None:
        """Forget the in-process registrations of ``cls`` (a test's, a notebook's)."""
        self._local = [(reg, replace) for reg, replace in self._local if reg.cls is not cls]
        self.generation += 1
        for entries in self._table.values():
            entries[:] = [e for e in entries if not (e.plugin == IN_PROCESS and e.cls is cls)]

    def register_preset(self, name: str, spec: Any) -> None:
        """Register a preset (a GDF spec under a name) from this process."""
        reg = Registration(PRESET, name, dict, IN_PROCESS, spec=spec)
        self._local.append((reg, True))
        if self._loaded:
            self._add(reg, replace=True)
            self._warn_if_shadowing(reg)

    def _warn_if_shadowing(self, reg: Registration) -> None:
        builtins = [e for e in self._table.get((reg.kind, reg.name), []) if e.is_builtin]
        if builtins:
            warnings.warn(
                f"the {reg.kind} {reg.name!r} registered in this process takes the name of gdf's built-in "
                f"{builtins[0].describe()}: {reg.name!r} keeps meaning the built-in, and yours is reachable "
                f"only as {reg.qualified_name!r}",
                PluginLoadWarning,
                stacklevel=3,
            )

    # -- lookup ------------------------------------------------------------
    def _entries(self, kind: str) -> dict[str, list[Registration]]:
        self.load()
        return {name: list(entries) for (k, name), entries in self._table.items() if k == kind and entries}

    def registrations(self, kind: str) -> dict[str, list[Registration]]:
        """name → registrations of ``kind`` (more than one: the name is shared, see ``get``)."""
        self._check_kind(kind)
        return dict(sorted(self._entries(kind).items()))

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, sorted."""
        return sorted(self.registrations(kind))

    def builtin_names(self, kind: str) -> list[str]:
        """The names of gdf's own components of ``kind`` (``gdf_plugins``), sorted."""
        return [name for name, entries in self.registrations(kind).items() if any(e.is_builtin for e in entries)]

    def _resolve(self, kind: str, name: str, path: Optional[str]) -> Registration:
        """The one registration ``name`` (or ``distribution:name``) means for ``kind``."""
        self.load()
        dist, bare = _split_qualified(name)
        entries = list(self._table.get((kind, bare), []))
        what = "preset" if kind == PRESET else kind
        if dist is not None:
            entries = [e for e in entries if normalize(e.distribution or "local") == normalize(dist)]
        elif any(e.is_builtin for e in entries):
            entries = [e for e in entries if e.is_builtin]  # a built-in's name keeps meaning the built-in
        if not entries:
            raise UnknownComponentError(self._unknown_message(kind, bare, dist), path=path)
        if len(entries) > 1:
            entries = sorted(entries, key=lambda e: (e.qualified_name, e.cls.__module__))
            listed = "; ".join(e.describe() for e in entries)
            choices = ", ".join(repr(e.qualified_name) for e in entries)
            by = "plugin" if kind == PRESET else "class"
            name_word = f"the preset {bare!r}" if kind == PRESET else f"the {what} name {bare!r}"
            raise DuplicateComponentError(
                f"{name_word} is registered by more than one {by}: {listed}. Choose one with a qualified name: {choices}",
                path=path,
            )
        return entries[0]

    def get(self, kind: str, name: str, *, path: Optional[str] = None) -> type:
        """The class registered as ``name`` (or ``distribution:name``) for ``kind``."""
        self._check_kind(kind)
        return self._resolve(kind, name, path).cls

    def spec_name(self, cls: type) -> str:
        """The name a spec gives ``cls``: ``cls.name`` if that bare name means it, else ``distribution:name``."""
        kind = getattr(cls, "kind", None)
        if kind not in KINDS:
            return cls.name  # type: ignore[attr-defined, no-any-return]
        name = cls.name  # type: ignore[attr-defined]
        self.load()
        entries = list(self._table.get((kind, name), ()))
        mine = [e for e in entries if e.cls is cls]
        if not mine or len(entries) == 1:
            return name  # type: ignore[no-any-return]
        try:
            if self._resolve(kind, name, None).cls is cls:
                return name  # type: ignore[no-any-return]
        except DuplicateComponentError:
            pass
        return mine[0].qualified_name

    def registration_of(self, cls: type) -> Optional[Registration]:
        """Where a registered class came from, or None."""
        kind = getattr(cls, "kind", None)
        for k in [kind] if kind in KINDS else list(KINDS):
            for entries in self._entries(k).values():
                for e in entries:
                    if e.cls is cls:
                        return e
        return None

    def _unknown_message(self, kind: str, name: str, dist: Optional[str]) -> str:
        what = "preset" if kind == PRESET else kind
        shown = excerpt(name)
        elsewhere = self._table.get((kind, name), [])
        if dist is not None and elsewhere:
            choices = ", ".join(repr(e.qualified_name) for e in sorted(elsewhere, key=lambda e: e.qualified_name))
            return f"no distribution {excerpt(dist)} registers the {what} {shown}; it is registered as {choices}"
        names = sorted(n for (k, n), entries in self._table.items() if k == kind and entries)
        where = f" from distribution {excerpt(dist)}" if dist else ""
        return (
            f"unknown {what} {shown}{where}{did_you_mean(name, names) or '.'} "
            f"Available {what}s: {', '.join(names) or '(none)'}. If it comes from a plugin package, "
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
        """Preset name → a copy of its spec (a name registered twice raises when used)."""
        return {name: copy.deepcopy(entries[0].spec) for name, entries in sorted(self._entries(PRESET).items())}

    def preset_registration(self, name: str) -> Registration:
        """Where preset ``name`` came from (the registration its bare name means); KeyError if there is none."""
        entries = self._entries(PRESET).get(name)
        if not entries:
            raise KeyError(name)
        builtins = [e for e in entries if e.is_builtin]
        return (builtins or entries)[0]

    def preset(self, name: str, *, path: Optional[str] = None) -> Any:
        """A copy of the spec of preset ``name`` (or ``distribution:name``)."""
        return copy.deepcopy(self._resolve(PRESET, name, path).spec)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise UnknownComponentError(
                f"unknown component kind {excerpt(kind)}{did_you_mean(kind, KINDS) or '.'} Kinds: {', '.join(KINDS)}"
            )


def _split_qualified(name: str) -> tuple[Optional[str], str]:
    """``"dist:name"`` → ("dist", "name"); ``"name"`` → (None, "name")."""
    if ":" in name:
        dist, name = name.split(":", 1)
        return dist, name
    return None, name


#: The process-wide registry used by ``GDF.from_spec``, ``build`` and the CLI.
registry = Registry()


def register(cls: type, *, kind: Optional[str] = None, replace: bool = True) -> type:
    """Register a component class in the process-wide registry (usable as a decorator)."""
    return registry.register(cls, kind=kind, replace=replace)


__all__ = [
    "ENTRY_POINT_GROUP",
    "IN_PROCESS",
    "PluginInfo",
    "Registration",
    "Registry",
    "component_problem",
    "register",
    "registry",
]
