"""``merito skills ...``: import the skills taxonomy (ESCO) and search it from the terminal.

The command line holds the database, so it acts as the system (``system:cli:<login>``).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from merito import bootstrap
from merito.config import load_settings
from merito.services import skills
from merito.services.platform import Actor

app = typer.Typer(help="The skills taxonomy (ESCO): import, search.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, emoji=False)


def _operator() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        login = "unknown"
    return Actor.system(f"cli:{login}")


@app.command("import")
def import_(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The ESCO CSV download (a folder holding its zips or CSVs, a zip) or a Merito "
            "bundle (.json.xz); default: the bundled ESCO v1.1.1 (English).",
        ),
    ] = None,
    version: Annotated[
        str, typer.Option(help="The release's name when reading ESCO CSVs.")
    ] = "ESCO v1.1.1",
    language: Annotated[str, typer.Option(help="The label language of the CSVs.")] = "en",
) -> None:
    """Import (or update) the skills taxonomy; running it again changes only what changed."""
    platform = bootstrap.platform(load_settings())
    try:
        with out.status("reading the taxonomy…"):
            taxonomy = skills.read_taxonomy(path, version=version, language=language)
        with Progress(
            TextColumn("[bold]{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=False,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=max(total, 1))
                bar.update(tasks[stage], completed=done if total else 1)

            result = skills.import_taxonomy(platform, _operator(), taxonomy, progress=progress)
    finally:
        platform.sessions.kw["bind"].dispose()  # close the pool (the runner may be a test)
    table = Table(title=f"{escape(result.version)} imported in {result.seconds:.1f} s")
    for column in ("table", "inserted", "updated", "deleted", "unchanged"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, changes in result.tables.items():
        table.add_row(
            name, *(f"{changes[k]:,}" for k in ("inserted", "updated", "deleted", "unchanged"))
        )
    out.print(table)
    for what, count in result.dropped.items():
        out.print(f"  skipped {count:,} {escape(what)}")
    if result.stale_skills:
        out.print(f"  kept {result.stale_skills:,} skills this release no longer lists")
    out.print(f"[dim]{escape(skills.ESCO_ATTRIBUTION)}[/dim]")


@app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Free text, e.g. 'python dev' or 'k8s'.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=50)] = 10,
) -> None:
    """Normalise free text to ranked ESCO skills (scores: fused, lexical, semantic)."""
    platform = bootstrap.platform(load_settings())
    try:
        with out.status("building the search index…"):
            matches = skills.search_skills(platform, text, limit=limit)
    finally:
        platform.sessions.kw["bind"].dispose()
    if not matches:
        out.print("no skill found (is the taxonomy imported? run `merito skills import`)")
        raise typer.Exit(1)
    table = Table(title=f"skills for {escape(text)!r}")
    table.add_column("#", justify="right")
    table.add_column("skill", no_wrap=True)
    table.add_column("type")
    table.add_column("score", justify="right")
    table.add_column("lexical", justify="right")
    table.add_column("semantic", justify="right")
    for n, m in enumerate(matches, start=1):
        label = escape(m.skill.preferred_label) + (" [green](exact)[/green]" if m.exact else "")
        table.add_row(
            str(n),
            label,
            m.skill.skill_type or m.skill.kind,
            f"{m.score:.3f}",
            f"{m.lexical:.3f}",
            f"{m.semantic:.3f}",
        )
    out.print(table)
    out.print(f"[dim]{escape(skills.ESCO_ATTRIBUTION)}[/dim]")
