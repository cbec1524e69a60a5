"""``merito credentials ...``: bulk issuance from a CSV or JSON-lines file, with a progress bar
and a per-row report file.

The command line works on the configured database directly (it holds the master key), so it
acts with an operator's full authority; its audit entries name it (``user:cli:<login>``).
"""

from __future__ import annotations

import csv
import getpass
import hashlib
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from merito import bootstrap
from merito.config import load_settings
from merito.errors import InvalidInput
from merito.services import credentials

app = typer.Typer(help="Issue and manage credentials.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

REPORT_COLUMNS: Final = (
    "row",
    "outcome",
    "recipient",
    "achievement_id",
    "credential_id",
    "credential_url",
    "reason",
)
EXIT_REJECTED: Final = 1


def _scan(path: Path) -> tuple[int, str]:
    """The file's number of non-empty lines and its SHA-256, in one streamed pass."""
    digest = hashlib.sha256()
    lines = 0
    try:
        with path.open("rb") as f:
            for line in f:
                digest.update(line)
                if line.strip():
                    lines += 1
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file", property="file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, not a file", property="file") from None
    except PermissionError:
        raise InvalidInput(f"{path}: permission denied", property="file") from None
    return lines, "sha256:" + digest.hexdigest()


def _format_of(path: Path, given: str | None) -> credentials.BulkFormat | None:
    choice = (given or "").lower() or {
        ".csv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
    }.get(path.suffix.lower(), "")
    if choice in ("csv", "jsonl"):
        return choice  # type: ignore[return-value]
    if given:
        raise InvalidInput(f"--format must be csv or jsonl, not {given!r}", property="format")
    return None  # sniffed from the first line


@app.command("issue-bulk")
def issue_bulk(
    file: Annotated[Path, typer.Argument(help="CSV (with a header) or JSON-lines file.")],
    org: Annotated[str, typer.Option("--org", help="The issuing organisation's slug (or id).")],
    achievement: Annotated[
        str | None,
        typer.Option(
            "--achievement", help="Achievement id for rows without an achievement_id column."
        ),
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Per-row report CSV (default: FILE.report.csv)."),
    ] = None,
    job_key: Annotated[
        str | None,
        typer.Option(
            help="Names the job for idempotency (default: the file's SHA-256). Keep it when "
            "you fix and re-run a file, so unchanged rows are not issued twice."
        ),
    ] = None,
    proof_format: Annotated[
        str, typer.Option("--proof-format", help="eddsa-rdfc-2022, eddsa-jcs-2022 or vc-jwt.")
    ] = credentials.DEFAULT_PROOF_FORMAT,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file).")
    ] = None,
    notify: Annotated[bool, typer.Option(help="Email each email recipient a claim link.")] = True,
    workers: Annotated[
        int, typer.Option(help="Signing processes (0: one per core).", min=0, max=64)
    ] = 0,
    batch_size: Annotated[
        int, typer.Option(help="Rows per transaction.", min=1, max=10_000)
    ] = credentials.DEFAULT_BATCH_SIZE,
) -> None:
    """Issue one credential per row; bad rows are reported (with the reason), good rows issue.

    Running the same file again issues nothing twice.
    """
    total, digest = _scan(file)
    fmt = _format_of(file, file_format)
    settings = load_settings()
    platform = bootstrap.platform(settings)
    actor = credentials.operator_actor(f"cli:{getpass.getuser()}")
    org_id = credentials.resolve_org(platform, org)
    report_file = report_path or file.with_name(file.name + ".report.csv")
    is_jsonl = fmt == "jsonl" or (fmt is None and _looks_like_jsonl(file))
    rows = total if is_jsonl else max(total - 1, 0)  # a CSV's header is not a row
    report = credentials.BulkReport(job_key=job_key or digest)
    try:
        with (
            file.open(encoding="utf-8-sig", newline="") as source,
            report_file.open("w", encoding="utf-8", newline="") as sink,
            Progress(
                TextColumn("[bold]Issuing[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[summary]}"),
                console=err,
                transient=False,
            ) as progress,
        ):
            writer = csv.writer(sink)
            writer.writerow(REPORT_COLUMNS)
            task = progress.add_task("issue", total=rows or None, summary="")
            for result in credentials.iter_bulk(
                platform,
                actor,
                org_id=org_id,
                lines=source,
                job_key=report.job_key,
                file_format=fmt,
                default_achievement_id=achievement,
                proof_format=proof_format,
                notify=notify,
                batch_size=batch_size,
                workers=workers or credentials.default_workers(),
                progress=lambda p: progress.update(
                    task,
                    completed=p.rows,
                    summary=f"{p.issued} issued, {p.duplicates} duplicates, {p.rejected} rejected",
                ),
            ):
                report.add(result)
                writer.writerow(
                    (
                        result.row,
                        result.outcome,
                        result.recipient,
                        result.achievement_id,
                        result.credential_row_id or "",
                        result.credential_url or "",
                        result.reason or "",
                    )
                )
    except OSError as e:
        raise InvalidInput(f"{e.filename or file}: {e.strerror}", property="file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file}: is not UTF-8 text", property="file") from None
    out.print(
        f"{report.issued} issued, {report.duplicates} already issued (duplicates), "
        f"{len(report.rejected)} rejected; report: {escape(str(report_file))}"
    )
    for rejected in report.rejected[:10]:
        err.print(f"  row {rejected.row}: {escape(rejected.reason or 'rejected')}")
    if len(report.rejected) > 10:
        err.print(f"  ... and {len(report.rejected) - 10} more in the report")
    if report.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _looks_like_jsonl(path: Path) -> bool:
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                return line.lstrip().startswith(b"{")
    return False
