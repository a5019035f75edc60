"""``gdf check [NAME ...]``: the invariant suite on installed components, as a table; exit 1 on a failure."""

from __future__ import annotations

from typing import Optional

import click
from rich.console import Console
from rich.table import Table

from gdf_core.kinds import KINDS

MARKS = {"pass": "[green]✓[/]", "FAIL": "[bold red]✗[/]", "skip": "[dim]–[/]"}


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
    console = Console() if Console().is_terminal else Console(width=200)
    failures = []
    for kind in KINDS:
        of_kind = [s for s in subjects if s.kind == kind]
        if not of_kind:
            continue
        table = Table(title=f"{kind} invariants", title_justify="left")
        table.add_column(kind)
        columns = [inv.name for inv in INVARIANTS[kind]]
        for column in columns:
            table.add_column(column.replace("_", " "), justify="center")
        for s in of_kind:
            report = run_subject(s, max_examples=max_examples)
            by_name = {r.invariant: r for r in report.results}
            table.add_row(s.label, *(MARKS[by_name[c].status] for c in columns))
            failures += [r for r in report.results if r.status == "FAIL"]
        console.print(table)
    if failures:
        console.print(f"\n[bold red]{len(failures)} invariant(s) failed:[/]")
        for r in failures:
            console.print(r.message, markup=False, highlight=False)
        raise SystemExit(1)
    console.print(f"\n[green]all invariants hold[/] ({len(subjects)} components)")


__all__ = ["check"]
