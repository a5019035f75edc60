"""The ``gdf`` command: list, show, validate and plot components and specs; run the demo.

User errors (a bad spec, an unknown name, a missing file) print one message on
stderr and exit with status 1, without a traceback (``GDF_DEBUG=1`` shows it).
Usage errors (a missing argument, a bad option) exit with click's status 2.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any, Optional

import click
import yaml
from rich.console import Console
from rich.table import Table

from gdf_core.errors import PluginLoadError, SpecError
from gdf_core.plugin_commands import plugins, schema
from gdf_core.interop.commands import export_group, import_group
from gdf_core.domains import describe
from gdf_core.kinds import KINDS, PRESET, kind_named
from gdf_core.parameters import component_fields
from gdf_core.registry import Registration, registry
from gdf_core.spec import load_spec
from gdf_core.summaries import summary
from gdf_core.testing.command import check
from gdf_core.accuracy.command import bench
from gdf_core.tuning_command import tune

#: Errors that are the user's to fix: shown as one line, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (SpecError, PluginLoadError, FileNotFoundError, IsADirectoryError, PermissionError)


class GdfGroup(click.Group):
    """A click group that turns user errors into a message on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if os.environ.get("GDF_DEBUG", "").strip() not in ("", "0"):
                raise
            raise click.ClickException(_message(exc)) from None


def _message(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        return f"no such file: {exc.filename}"
    return str(exc)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def load_spec_argument(spec: str) -> Any:
    """A SPEC argument: a preset name, a spec file (its name ends in .json, .yaml, .yml or .toml), or inline text.

    As for ``GDF.from_spec``, any other string is never read as a file.
    """
    return spec


def _kind_argument(kind: Optional[str]) -> list[str]:
    if kind is None:
        return [*KINDS, PRESET]
    found = kind_named(kind)
    if found is not None:
        return [found.name]
    normal = kind.strip().lower().replace("-", "_")
    if normal in (PRESET, PRESET + "s"):
        return [PRESET]
    from gdf_core.errors import did_you_mean

    choices = [*KINDS, PRESET]
    raise SpecError(f"unknown kind {kind!r}{did_you_mean(normal, choices) or '.'} Kinds: {', '.join(choices)}")


@click.group(cls=GdfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gdf", prog_name="gdf")
def main() -> None:
    """gdf: every diffusion recipe as six small logSNR-centric components.

    Try `gdf list`, `gdf show cosine`, `gdf plot edm -o edm.png`, `gdf demo`.
    """


@main.command(
    "list",
    short_help="List installed components and presets.",
    help=f"List the installed components of KIND (all kinds and presets if omitted).\n\n"
    f"KIND is one of: {', '.join([*KINDS, PRESET])} (plurals work too).",
)
@click.argument("kind", required=False)
def list_components(kind: Optional[str]) -> None:
    table = Table(title="installed gdf components" if kind is None else f"installed {kind}")
    for column in ("kind", "name", "from", "summary"):
        table.add_column(column, no_wrap=column in ("kind", "name"))
    for k in _kind_argument(kind):
        if k == "preset":
            for name, spec in sorted(registry.presets().items()):
                reg = registry.preset_registration(name)
                table.add_row("preset", name, reg.source, _preset_summary(spec))
            continue
        for name, regs in sorted(registry.registrations(k).items()):
            for reg in regs:
                table.add_row(k, reg.qualified_name if len(regs) > 1 else name, reg.source, summary(reg.cls))
    _console().print(table)


def _preset_summary(spec: Any) -> str:
    try:
        data = load_spec(spec)
    except SpecError as exc:
        return f"(invalid: {exc})"
    from gdf_core.kinds import GDF_PARTS

    parts = []
    for kind in GDF_PARTS:
        value = data.get(kind)
        parts.append(value if isinstance(value, str) else value.get("name", "?") if isinstance(value, dict) else "?")
    return " / ".join(parts)


@main.command(short_help="Show a component or preset.")
@click.argument("name")
@click.option("--kind", "-k", help="Only this kind (when NAME is used by several kinds).")
def show(name: str, kind: Optional[str]) -> None:
    """Show a component or preset: parameters and defaults, docstring, where it comes from."""
    kinds = _kind_argument(kind)
    console = _console()
    found = 0
    for k in kinds:
        if k == "preset":
            if name in registry.presets():
                found += 1
                _show_preset(console, name)
            continue
        bare = name.split(":", 1)[-1]
        regs = registry.registrations(k).get(bare, [])
        if ":" in name:
            regs = [r for r in regs if r.qualified_name == name]
        for reg in regs:
            found += 1
            _show_component(console, reg)
    if not found:
        from gdf_core.errors import did_you_mean

        every = sorted({n for k in KINDS for n in registry.names(k)} | set(registry.presets()))
        where = f"{kinds[0]} " if kind else "component or preset "
        raise SpecError(
            f"no {where}named {name!r}{did_you_mean(name, every) or '.'} `gdf list` shows what is installed."
        )


def _show_component(console: Console, reg: Registration) -> None:
    cls = reg.cls
    console.rule(f"[bold]{reg.kind} [cyan]{reg.name}[/]")
    console.print(f"class:  {cls.__module__}.{cls.__qualname__}")
    console.print(f"from:   distribution {reg.distribution or '(none, registered in-process)'} {reg.version or ''}".rstrip()
                  + f", plugin {reg.plugin}")
    fields = component_fields(cls)
    if fields:
        table = Table(show_edge=False, box=None, pad_edge=False)
        for column in ("parameter", "allowed", "default"):
            table.add_column(column)
        for pname, (annotation, default, nested, is_list) in fields.items():
            allowed = (f"a list of {nested} specs" if is_list else f"a {nested} spec") if nested else describe(annotation)
            table.add_row(pname, allowed, "(required)" if default is ... else repr(default))
        console.print(table)
    else:
        console.print("parameters: none")
    if reg.kind == "schedule":
        console.print(_draw_summary(cls))
    doc = inspect.getdoc(cls)
    if doc:
        console.print()
        console.print(doc, markup=False)
    console.print()


def _draw_summary(cls: type) -> str:
    """The training distribution of λ of a schedule built with its defaults, as quantiles."""
    import torch

    try:
        schedule = cls()
        draws = schedule(20_000, generator=torch.Generator().manual_seed(0)).double()
    except Exception as exc:  # needs parameters, or cannot draw
        return f"training draw of λ: (not shown with default parameters: {exc})"
    q = torch.quantile(draws.float(), torch.tensor([0.05, 0.5, 0.95]))
    return f"training draw of λ (defaults): 5% {q[0]:.2f}, median {q[1]:.2f}, 95% {q[2]:.2f}"


def _show_preset(console: Console, name: str) -> None:
    reg = registry.preset_registration(name)
    console.rule(f"[bold]preset [cyan]{name}[/]")
    console.print(f"from:   {reg.source}, plugin {reg.plugin}")
    console.print(yaml.safe_dump(load_spec(name), sort_keys=False).rstrip(), markup=False)
    console.print()


@main.command(short_help="Check a spec; exit 1 with the reason if invalid.")
@click.argument("spec")
def validate(spec: str) -> None:
    """Check SPEC (a preset name, a JSON/YAML/TOML file, or inline text) and print it resolved.

    Exits with status 1 and the reason (with the path inside the spec) if it is invalid.
    """
    from gdf_core.gdf import GDF

    gdf = GDF.from_spec(load_spec_argument(spec))
    click.echo(f"valid: {spec if len(spec) < 60 and chr(10) not in spec else 'spec'}")
    click.echo(yaml.safe_dump(gdf.to_spec(), sort_keys=False).rstrip())


@main.command(short_help="Plot what a spec does against λ.")
@click.argument("spec")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--dpi", default=110, show_default=True, help="Resolution of the PNG.")
def plot(spec: str, output: str, dpi: int) -> None:
    """Plot SPEC: λ(t) of its schedules, a and b, noise condition and loss weight against λ, training draw."""
    from gdf_core.gdf import GDF
    from gdf_core.plotting import plot_gdf

    gdf = GDF.from_spec(load_spec_argument(spec))
    title = f"gdf plot: {spec}" if len(spec) < 60 and "\n" not in spec else "gdf plot"
    path = plot_gdf(gdf, output, title=title, dpi=dpi)
    click.echo(f"wrote {path}")


def _int_list(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        numbers = [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not numbers or any(n < 1 for n in numbers):
        raise click.BadParameter(f"expected positive integers, got {value!r}")
    return numbers


@main.command(short_help="Train, sample and draw a 2-D toy model (the main job).")
@click.option("--spec", default="stable_cascade", show_default=True, help="Preset name, spec file or inline spec.")
@click.option("--data", default="two_moons", show_default=True,
              type=click.Choice(["two_moons", "eight_gaussians", "checkerboard", "swiss_roll"]), help="2-D data set.")
@click.option("--samplers", default=None, help="Comma-separated sampler names [default: the best installed ones].")
@click.option("--nfe", default="5,10,25", show_default=True, callback=_int_list,
              help="Comma-separated numbers of model calls per sample.")
@click.option("--steps", default=4000, show_default=True, type=click.IntRange(min=1), help="Training steps.")
@click.option("--seconds", default=None, type=click.FloatRange(min=0), help="Stop training after this many seconds.")
@click.option("--samples", default=2000, show_default=True, type=click.IntRange(min=10), help="Points per sample set.")
@click.option("--seed", default=0, show_default=True, help="Seed of every random draw.")
@click.option("--out", default="out", show_default=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="torch CPU threads.")
def demo(spec: str, data: str, samplers: Optional[str], nfe: list[int], steps: int, seconds: Optional[float],
         samples: int, seed: int, out: str, progress: bool, threads: int) -> None:
    """Train a small denoiser on 2-D data with SPEC, sample it with several samplers × NFE, draw it.

    Writes OUT/demo_<spec>.png (ground truth beside every sampler × NFE) and
    a JSON of the sliced Wasserstein distances it prints as a table.
    """
    from gdf_core.demo.run import run_demo

    names = [s.strip() for s in samplers.split(",") if s.strip()] if samplers else None
    run_demo(load_spec_argument(spec), data=data, samplers=names, nfes=nfe, steps=steps, seconds=seconds,
             n_samples=samples, seed=seed, out=out, progress=progress, console=_console(), threads=threads)


# Commands that other parts of gdf provide: the testing kit and the plugin tools.
main.add_command(check)
main.add_command(bench)
main.add_command(tune)
main.add_command(plugins)
main.add_command(schema)
main.add_command(import_group)  # gdf import diffusers (gdf_core/interop/commands.py)
main.add_command(export_group)  # gdf export diffusers


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
