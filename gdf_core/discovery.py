"""Finding plugins: the entry points of group "gdf", the environment's filters, and loading one plugin.

A plugin is a module listed in the entry-point group ``gdf``. ``discover`` reads
every distribution on the path one by one (so that one with a malformed
``entry_points.txt`` is reported and skipped rather than hiding every plugin)
and applies the environment:

- ``GDF_DISABLE_PLUGIN_AUTOLOAD=1``: load only gdf's own built-in plugins, plus
  the entry points or distributions named in ``GDF_PLUGINS`` (comma-separated).

``load_plugin`` imports one plugin and calls its hooks through pluggy's public
API (a plugin manager of its own, so a hook's results are that plugin's only).
It returns what the plugin brought and what went wrong; it never touches a
name table (that is ``gdf_core.registry``'s). A failing import, ``SystemExit``
included, is a problem of that plugin; ``KeyboardInterrupt`` propagates.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional

import importlib_metadata
import pluggy

from gdf_core import hookspecs
from gdf_core.kinds import KIND_RECORDS, REQUIRED_METHODS

ENTRY_POINT_GROUP = "gdf"
BUILTIN_DISTRIBUTION = "gdf"
#: The entry-point name of a distribution whose entry points cannot be read.
UNREADABLE = "*"
#: A plugin whose import takes longer than this (seconds) is named in a warning.
SLOW_IMPORT_SECONDS = 1.0

#: Every hook a plugin may implement: one per kind, and the presets'.
HOOK_NAMES: tuple[str, ...] = tuple(sorted([k.hook for k in KIND_RECORDS] + [hookspecs.PRESET_HOOK]))


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
    #: Caveats that are not failures: a slow import, a name that a built-in keeps.
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """How messages name this plugin: entry point, value and distribution."""
        dist = f"{self.distribution or '?'} {self.version or ''}".rstrip()
        if self.entry_point == UNREADABLE:
            return f"the gdf plugins of distribution {dist}"
        return f"gdf plugin {self.entry_point!r} ({self.value}) from distribution {dist}"

    @property
    def is_builtin(self) -> bool:
        return normalize(self.distribution or "") == BUILTIN_DISTRIBUTION


@dataclass
class LoadedPlugin:
    """The result of loading one plugin: its info, the classes and presets it registers, its problems."""

    info: PluginInfo
    components: list[tuple[str, type]] = field(default_factory=list)
    presets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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


# -- discovery ----------------------------------------------------------------------
def discover(group: str = ENTRY_POINT_GROUP, path: Optional[list[str]] = None) -> list[tuple[Any, Optional[str]]]:
    """(entry point, why it is not loaded or None), distribution by distribution.

    The first distribution of a name on the path wins, as for imports. A
    distribution whose entry points cannot be read yields (its stand-in, the problem).
    """
    found: list[tuple[Any, Optional[str]]] = []
    seen: set[str] = set()
    kwargs = {} if path is None else {"path": path}
    disabled = os.environ.get("GDF_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0")
    allowed = {normalize(s.strip()) for s in os.environ.get("GDF_PLUGINS", "").split(",") if s.strip()}
    for dist in importlib_metadata.distributions(**kwargs):
        name = metadata_name(dist)
        if not name or normalize(name) in seen:
            continue
        seen.add(normalize(name))
        try:
            eps = list(dist.entry_points.select(group=group))
        except Exception as exc:
            if _declares_group(dist, group):
                reason = f"were skipped: its entry_points.txt cannot be parsed ({_parse_problem(dist, exc)})"
                found.append((Unreadable(dist, name), reason))
            continue
        for ep in eps:
            problem: Optional[str] = None
            if disabled and normalize(name) != BUILTIN_DISTRIBUTION and not (
                normalize(ep.name) in allowed or normalize(name) in allowed
            ):
                problem = "disabled by GDF_DISABLE_PLUGIN_AUTOLOAD (allow it with GDF_PLUGINS)"
            found.append((ep, problem))
    return found


# -- loading one plugin ---------------------------------------------------------------
def load_plugin(ep: Any) -> LoadedPlugin:
    """Import the plugin of entry point ``ep`` and call its hooks; every problem is collected, not raised.

    ``KeyboardInterrupt`` (and other ``BaseException``s that are not ``SystemExit``) propagate.
    """
    dist, version = dist_name(ep), dist_version(ep)
    loaded = LoadedPlugin(PluginInfo(ep.name, ep.value, dist, version))
    info = loaded.info
    started = time.perf_counter()
    try:
        module = ep.load()
    except (Exception, SystemExit):  # sys.exit() in a plugin's import is its failure, not the process's
        loaded.problems.append(f"failed to import and was skipped:\n{traceback.format_exc()}")
        return loaded
    finally:
        seconds = time.perf_counter() - started
    if seconds > SLOW_IMPORT_SECONDS:
        info.notes.append(
            f"took {seconds:.1f} s to import (more than {SLOW_IMPORT_SECONDS:g} s); gdf imports its plugins on "
            "the first lookup, so every process waits for it (GDF_DISABLE_PLUGIN_AUTOLOAD=1 leaves it out)"
        )
    pm = pluggy.PluginManager("gdf")
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(module, name=f"{dist or '?'}:{ep.name}")
    except Exception as exc:  # a hookimpl with arguments no hookspec has, a name clash
        loaded.problems.append(f"could not be registered with pluggy: {exc}")
        return loaded
    for attr in sorted(dir(module)):
        if pm.parse_hookimpl_opts(module, attr) is not None and attr not in HOOK_NAMES:
            loaded.problems.append(f"implements {attr!r}, which is not a gdf hook (known: {', '.join(HOOK_NAMES)})")
    for hook in HOOK_NAMES:
        if callable(getattr(module, hook, None)) and pm.parse_hookimpl_opts(module, hook) is None:
            loaded.problems.append(f"defines {hook} without the @gdf_core.hookimpl decorator, so it was ignored")
    for kind in KIND_RECORDS:
        for result in _call(pm, kind.hook, loaded):
            for cls in _as_list(result):
                problem = component_problem(kind.name, cls)
                if problem is not None:
                    loaded.problems.append(f"returned from {kind.hook} something that is not a {kind.name}: {problem}")
                    continue
                loaded.components.append((kind.name, cls))
                info.components.setdefault(kind.name, []).append(cls.name)
    for presets in _call(pm, hookspecs.PRESET_HOOK, loaded):
        presets = presets or {}
        if not isinstance(presets, dict):
            loaded.problems.append(
                f"returned from {hookspecs.PRESET_HOOK} a {type(presets).__name__}, not a dict of preset name → spec"
            )
            continue
        for name, spec in presets.items():
            if not isinstance(name, str) or ":" in name or not isinstance(spec, dict):
                loaded.problems.append(
                    f"returned from {hookspecs.PRESET_HOOK} an invalid preset {name!r}: a preset is a "
                    f"name without ':' and a spec (a dict), got {type(spec).__name__}"
                )
                continue
            loaded.presets.append((name, spec))
            info.presets.append(name)
    return loaded


def _call(pm: pluggy.PluginManager, hook: str, loaded: LoadedPlugin) -> list[Any]:
    """The results of ``hook`` of the plugin's own manager; a failure is one problem."""
    caller = getattr(pm.hook, hook)
    if not caller.get_hookimpls():
        return []
    try:
        return list(caller())
    except (Exception, SystemExit):
        loaded.problems.append(f"raised in {hook}:\n{traceback.format_exc()}")
        return []


def _as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


# -- distribution metadata --------------------------------------------------------------
def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it: ``GDF_Example`` == ``gdf-example``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_name(dist: Any) -> Optional[str]:
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


def dist_name(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else metadata_name(dist)


def dist_version(ep: Any) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    return None if dist is None else dist.version


@dataclass(frozen=True)
class Unreadable:
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


__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "HOOK_NAMES",
    "LoadedPlugin",
    "PluginInfo",
    "SLOW_IMPORT_SECONDS",
    "UNREADABLE",
    "Unreadable",
    "component_problem",
    "discover",
    "load_plugin",
    "normalize",
]
