"""``gdf check [NAME ...]``: the invariant suite on installed components, as a table; exit 1 on a failure.

It shows its progress (a bar on a terminal, one line per component on stderr
otherwise) and its tables fit 100 columns (invariant headers wrap).
"""

from __future__ import annotations

from typing import Optional

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gdf_core.kinds import KINDS

MARKS = {"pass": "[green]✓[/]", "FAIL": "[bold red]✗[/]", "skip": "[dim]–[/]"}
#: The widest the tables are drawn.
WIDTH = 100


@click.command("check")
@click.argument("names", nargs=-1)
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True, help="Only components of this kind (repeatable).")
@click.option("--max-examples", type=click.IntRange(min=1), default=None, help="Hypothesis examples per invariant (default: the active profile's, at most 50).")
def check(names: tuple[str, ...], kinds: tuple[str, ...], max_examples: Optional[int]) -> None:
    """Check installed components against the invariants of their kind.

    NAME is a component name (every kind that has it) or KIND:NAME; all
    installed components by default. Prints component × invariant → ✓ (pass),
    ✗ (fail) or – (does not apply), then each failure with its falsifying
    example. Exits with status 1 when an invariant fails.
    """
    from gdf_core.testing.checks import INVARIANTS
    from gdf_core.testing.suite import installed, run_subject

    subjects = installed(names=names or None, kinds=kinds or None)
    if names:
        found = {s.label for s in subjects} | {f"{s.kind}:{s.label}" for s in subjects}
        missing = [n for n in names if n not in found and n.split(":")[-1] not in found]
        if missing:
            raise click.ClickException(f"no installed component named {', '.join(missing)} (`gdf list` shows them)")
    probe = Console()
    console = Console(width=min(probe.width, WIDTH)) if probe.is_terminal else Console(width=WIDTH)
    progress_console = Console(stderr=True)
    failures = []
    reports = {}
    with Progress(
        TextColumn("checking {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=progress_console, transient=True, disable=not progress_console.is_terminal,
    ) as bar:
        task = bar.add_task("", total=len(subjects))
        for i, s in enumerate(subjects, 1):
            bar.update(task, description=f"{s.kind} {s.label}")
            if not progress_console.is_terminal:
                click.echo(f"[{i}/{len(subjects)}] checking {s.kind} {s.label}", err=True)
            reports[id(s)] = run_subject(s, max_examples=max_examples)
            bar.advance(task)
    for kind in KINDS:
        of_kind = [s for s in subjects if s.kind == kind]
        if not of_kind:
            continue
        # Invariants are numbered columns with a legend, so that a table of any kind fits WIDTH columns.
        table = Table(title=f"{kind} invariants", title_justify="left")
        table.add_column(kind, no_wrap=True, overflow="ellipsis", max_width=40)
        columns = [inv.name for inv in INVARIANTS[kind]]
        for number in range(1, len(columns) + 1):
            table.add_column(str(number), justify="center", no_wrap=True)
        for s in of_kind:
            report = reports[id(s)]
            by_name = {r.invariant: r for r in report.results}
            table.add_row(s.label, *(MARKS[by_name[c].status] for c in columns))
            failures += [r for r in report.results if r.status == "FAIL"]
        console.print(table)
        console.print("  ".join(f"{n}={c}" for n, c in enumerate(columns, 1)), highlight=False)
        console.print()
    if failures:
        console.print(f"\n[bold red]{len(failures)} invariant(s) failed:[/]")
        for r in failures:
            console.print(r.message, markup=False, highlight=False)
        raise SystemExit(1)
    plural = "" if len(subjects) == 1 else "s"
    console.print(f"[green]all invariants hold[/] ({len(subjects)} component{plural})")


__all__ = ["check"]
