"""The ``gdf plugins`` and ``gdf schema`` commands (attached to the ``gdf`` group in cli.py).

Both read the process-wide registry, or a ``Registry`` given as the click
context object (``CliRunner().invoke(plugins, obj=Registry(...))`` in tests).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Optional

import click

from gdf_core.errors import PluginLoadWarning
from gdf_core.kinds import KINDS
from gdf_core.discovery import PluginInfo, normalize as _normalize
from gdf_core.registry import Registry, registry as default_registry


def _registry() -> Registry:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Registry) if ctx is not None else None
    return found if found is not None else default_registry


def plugins_report(registry: Optional[Registry] = None) -> list[dict[str, Any]]:
    """Installed plugin distributions as plain data: name, version, and per entry point
    what it registers (components by kind, presets), its load errors, notes (a slow import, a
    built-in name it cannot take) and why it is disabled."""
    reg = registry or default_registry
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # the report shows them
        reg.load()
    by_dist: dict[str, dict[str, Any]] = {}
    for info in reg.plugins:
        name = info.distribution or "?"
        dist = by_dist.setdefault(name, {"distribution": name, "version": info.version, "plugins": []})
        dist["plugins"].append(_plugin_entry(info))
    for dist in by_dist.values():
        dist["plugins"].sort(key=lambda p: p["entry_point"])
    return sorted(by_dist.values(), key=lambda d: _normalize(d["distribution"]))


def _plugin_entry(info: PluginInfo) -> dict[str, Any]:
    return {
        "entry_point": info.entry_point,
        "value": info.value,
        "components": {kind: list(info.components[kind]) for kind in KINDS if kind in info.components},
        "presets": list(info.presets),
        "errors": list(info.errors),
        "notes": list(info.notes),
        "disabled": info.disabled,
    }


def _short(error: str) -> str:
    """An error's first line, with the exception line of its traceback if it has one."""
    lines = [line for line in error.splitlines() if line.strip()]
    head = lines[0]
    if len(lines) > 1 and lines[1].startswith("Traceback"):
        return f"{head} {lines[-1].strip()}"
    return head


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks of plugins that failed to load.")
def plugins(as_json: bool, verbose: bool) -> None:
    """List installed plugin distributions, their versions, and the components each brings."""
    report = plugins_report(_registry())
    if as_json:
        click.echo(json.dumps({"distributions": report}, indent=2))
        return
    if not report:
        click.echo("no gdf plugins are installed")
        return
    for dist in report:
        click.echo(f"{dist['distribution']} {dist['version'] or ''}".rstrip())
        for plugin in dist["plugins"]:
            click.echo(f"  {plugin['entry_point']} ({plugin['value']})")
            if plugin["disabled"]:
                click.echo(f"    {plugin['disabled']}")
            for kind, names in plugin["components"].items():
                click.echo(f"    {kind}: {', '.join(names)}")
            if plugin["presets"]:
                click.echo(f"    preset: {', '.join(plugin['presets'])}")
            for note in plugin["notes"]:
                click.echo(f"    note: {note}")
            for error in plugin["errors"]:
                text = error.rstrip() if verbose else _short(error)
                click.echo("    error: " + text.replace("\n", "\n      "))


@click.command("schema")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout."
)
def schema(output: Optional[Path]) -> None:
    """Print the JSON Schema of GDF specs, covering every installed component (for editors)."""
    from gdf_core.schema import json_schema

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # `gdf plugins` reports them
        document = json_schema(_registry())
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    components = sum(1 for key in document["$defs"] if key.count(".") == 1)
    plural = "" if components == 1 else "s"
    click.echo(f"wrote the JSON Schema of gdf specs, covering {components} component{plural}, to {output}", err=True)


__all__ = ["plugins", "plugins_report", "schema"]
