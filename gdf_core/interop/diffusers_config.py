"""Reading a diffusers scheduler config from whatever the user has: an instance, its config, a dict, a file, a folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from gdf_core.errors import SpecError
from gdf_core.interop.scheduler_options import SCHEDULER_OPTIONS

#: Keys diffusers writes into every config that are not options.
BOOKKEEPING = ("_class_name", "_diffusers_version", "_use_default_values", "_name_or_path")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read the diffusers scheduler config {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{str(path)!r} is not a scheduler config (a JSON object)")
    return data


def _config_file(path: Path) -> Path:
    if path.is_file():
        return path
    for candidate in (path / "scheduler_config.json", path / "scheduler" / "scheduler_config.json"):
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"{str(path)!r} is neither a scheduler_config.json nor a folder holding one (or a scheduler/ subfolder with one)"
    )


def read_scheduler_config(source: Any, scheduler_class: Optional[str] = None) -> tuple[str, dict[str, Any]]:
    """(class name, config with diffusers' defaults filled in) of ``source``.

    ``source``: a diffusers scheduler, its ``.config``, a plain dict, a path to
    ``scheduler_config.json``, or a model folder with one (or a ``scheduler/``
    subfolder). The class comes from the instance, the config's ``_class_name``
    or ``scheduler_class``.
    """
    name: Optional[str]
    if hasattr(source, "config") and hasattr(source, "step") and hasattr(source, "set_timesteps"):
        name, raw = type(source).__name__, dict(source.config)
    elif isinstance(source, (str, Path)):
        raw = _read_json(_config_file(Path(source)))
        name = raw.get("_class_name")
    elif isinstance(source, dict):
        raw = dict(source)
        name = raw.get("_class_name")
    else:
        raise TypeError(
            "from_diffusers takes a diffusers scheduler, its .config, a dict, a path to scheduler_config.json "
            f"or a model folder; got {type(source).__name__}"
        )
    name = scheduler_class or name
    if not name:
        raise SpecError(
            "the config does not say which scheduler it is (no '_class_name'): pass scheduler_class=, e.g. 'DDIMScheduler'"
        )
    if name not in SCHEDULER_OPTIONS:
        raise SpecError(
            f"scheduler {name!r} is not one gdf converts; known: {', '.join(sorted(SCHEDULER_OPTIONS))}",
            path="_class_name",
        )
    config = {k: v for k, v in raw.items() if k not in BOOKKEEPING}
    full = {**SCHEDULER_OPTIONS[name], **config}
    for key, value in full.items():
        if isinstance(value, float) and math.isnan(value):
            raise SpecError(f"option {key!r} is NaN", path=key)
    return name, full


__all__ = ["BOOKKEEPING", "read_scheduler_config"]
