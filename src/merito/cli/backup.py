"""``merito backup``, ``merito restore`` and ``merito migrate-db``: the database's safety net.

The passphrase comes from MERITO_BACKUP_PASSPHRASE, a file (--passphrase-file), or a hidden
prompt (asked twice when making a backup). docs/reliability.md describes the archive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

from merito import bootstrap
from merito.config import load_settings
from merito.errors import InvalidInput
from merito.services import backup as backups

PASSPHRASE_ENV: Final = "MERITO_BACKUP_PASSPHRASE"  # noqa: S105 (a variable name)

_PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"A file whose first line is the passphrase (else ${PASSPHRASE_ENV}, else a prompt).",
    ),
]
_Passphrase = Annotated[str | None, typer.Option(hidden=True, envvar=PASSPHRASE_ENV)]


def _passphrase(value: str | None, path: Path | None, *, confirm: bool) -> str:
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise InvalidInput(
                f"{path}: cannot read ({e.strerror})", property="passphrase-file"
            ) from e
        if not lines or not lines[0]:
            raise InvalidInput(f"{path}: the first line is empty", property="passphrase-file")
        return lines[0]
    if value:
        return value
    return str(typer.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm))


def _progress(table: str, rows: int) -> None:
    if rows:
        typer.echo(f"  {table}: {rows} rows", err=True)


def backup(
    out: Annotated[Path, typer.Argument(help="The archive to write (encrypted, mode 0600).")],
    passphrase_file: _PassphraseFile = None,
    passphrase: _Passphrase = None,
) -> None:
    """Write an encrypted, consistent snapshot of the database (keys included) to OUT."""
    settings = load_settings()
    secret = _passphrase(passphrase, passphrase_file, confirm=True)
    result = backups.backup(
        database_url=settings.effective_database_url,
        master_key=bootstrap.master_key(settings),
        passphrase=secret,
        out=out,
    )
    typer.echo(
        f"Wrote {out}: {result.total} rows in {len(result.rows)} tables "
        f"(schema {result.revision}, from {result.source}). Keep the passphrase: without it "
        "the archive cannot be read."
    )


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive from `merito backup`.")],
    passphrase_file: _PassphraseFile = None,
    passphrase: _Passphrase = None,
) -> None:
    """Restore ARCHIVE into this instance's database (it must be new and empty)."""
    settings = load_settings()
    secret = _passphrase(passphrase, passphrase_file, confirm=False)
    wrote_key = False

    def accept(key: bytes) -> None:
        nonlocal wrote_key
        wrote_key = bootstrap.adopt_master_key(settings, key)

    result = backups.restore(
        archive=archive,
        passphrase=secret,
        database_url=settings.effective_database_url,
        accept_master_key=accept,
        progress=_progress,
    )
    typer.echo(
        f"Restored {result.total} rows in {len(result.rows)} tables (schema {result.revision})."
    )
    if wrote_key:
        typer.echo(
            f"The backup's master key was written to {settings.data_dir / 'master.key'}: "
            "move it to MERITO_MASTER_KEY in production.",
            err=True,
        )


def migrate_db(
    to: Annotated[
        str, typer.Option("--to", help="The new, empty database, e.g. postgresql://host/merito.")
    ],
) -> None:
    """Copy this instance's database (e.g. the SQLite file) into another (e.g. PostgreSQL)."""
    settings = load_settings()
    result = backups.migrate_database(
        source_url=settings.effective_database_url,
        target_url=to,
        master_key=bootstrap.master_key(settings),
        progress=_progress,
    )
    typer.echo(
        f"Copied {result.total} rows in {len(result.rows)} tables (schema {result.revision}). "
        "Now set MERITO_DATABASE_URL to the new database and restart Merito."
    )
