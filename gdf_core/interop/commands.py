"""``gdf import diffusers`` and ``gdf export diffusers``: scheduler configs to gdf specs and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import click
import yaml


@click.group("import", short_help="Read another library's config into a gdf spec.")
def import_group() -> None:
    """Read another library's config into a gdf spec."""


@import_group.command("diffusers", short_help="A diffusers scheduler config → a gdf spec.")
@click.argument("path", type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Spec file to write (.yaml or .json).")
@click.option("--scheduler-class", default=None, help="The scheduler's class, when the config has no _class_name.")
@click.option("--mu", default=None, type=float, help="The per-run shift of flow matching with use_dynamic_shifting.")
def import_diffusers(path: str, output: str, scheduler_class: Optional[str], mu: Optional[float]) -> None:
    """PATH: a scheduler_config.json or a model folder holding one (or a scheduler/ subfolder).

    Prints what each option became and anything approximated.
    """
    from gdf_core.interop import convert_diffusers

    conversion = convert_diffusers(path, scheduler_class=scheduler_class, mu=mu)
    out = Path(output)
    text = json.dumps(conversion.spec, indent=2) if out.suffix == ".json" else yaml.safe_dump(conversion.spec, sort_keys=False)
    out.write_text(text)
    click.echo(conversion.report())
    click.echo(f"wrote {out}")


@click.group("export", short_help="Write a gdf spec as another library's config.")
def export_group() -> None:
    """Write a gdf spec as another library's config."""


@export_group.command("diffusers", short_help="A gdf spec → a diffusers scheduler_config.json.")
@click.argument("spec")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="scheduler_config.json to write.")
def export_diffusers_command(spec: str, output: str) -> None:
    """SPEC: a preset name, a spec file or inline spec whose sampler and grid diffusers can express.

    Prints the scheduler and anything approximated.
    """
    from gdf_core.cli import load_spec_argument
    from gdf_core.gdf import GDF
    from gdf_core.interop import export_diffusers

    exported = export_diffusers(GDF.from_spec(load_spec_argument(spec)))
    Path(output).write_text(json.dumps(exported.config, indent=2))
    click.echo(f"gdf → {exported.config['_class_name']}")
    for key, value in exported.config.items():
        if key != "_class_name":
            click.echo(f"  {key}: {value!r}")
    for note in exported.approximations:
        click.echo(f"  APPROXIMATED: {note}")
    click.echo(f"wrote {output}")


__all__ = ["export_group", "import_group"]
