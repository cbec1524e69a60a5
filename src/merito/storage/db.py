"""Engines, sessions, migrations and the IntegrityError -> Conflict mapping, for both databases.

SQLite (the default: one file) runs in WAL mode so readers never block the writer; PostgreSQL
(production) is reached through psycopg 3. Migrations are Alembic scripts shipped inside the
package and run programmatically, so an installed Merito can upgrade its own database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import as_file, files
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, UniqueConstraint, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from merito.errors import Conflict, InvalidInput
from merito.storage.bulk import dumps
from merito.storage.tables import Base

__all__ = [
    "conflict_from",
    "create_engine_for",
    "integrity_as_conflict",
    "migrate",
    "session_factory",
]

#: how long a SQLite writer waits for the lock before failing (milliseconds)
SQLITE_BUSY_TIMEOUT_MS: Final = 5000
_PG_UNIQUE_VIOLATION: Final = "23505"
_PG_FOREIGN_KEY_VIOLATION: Final = "23503"
_REFERENCE_MESSAGE: Final = (
    "the change refers to a row that does not exist, or one that is still referred to"
)


def create_engine_for(url: str, **engine_options: Any) -> Engine:
    """An engine for a ``sqlite:///path`` or ``postgresql://`` URL (driven by psycopg 3).

    ``postgres://`` and ``postgresql://`` are rewritten to ``postgresql+psycopg://``.
    """
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy.exc.ArgumentError and friends
        raise InvalidInput(f"not a database URL: {e}", property="database_url") from e
    backend = parsed.get_backend_name()
    # JSON columns (credentials, audit details, outbox payloads) through orjson
    engine_options.setdefault("json_serializer", dumps)
    if backend in ("postgres", "postgresql"):
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine_options.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **engine_options)
    if backend == "sqlite":
        engine = create_engine(parsed, **engine_options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    raise InvalidInput(
        f"unsupported database {backend!r}; use sqlite:///path or postgresql://...",
        property="database_url",
    )


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    """Per-connection settings: SQLite forgets all but journal_mode when a connection closes."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # safe with WAL: a power loss may drop the last commits, never corrupt the file
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (services return them to adapters)."""
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrades the database to ``revision`` (default: the newest); a no-op when already there."""
    migrations = files("merito.storage").joinpath("migrations")
    with as_file(migrations) as location, engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(location))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


# --- constraint violations -> Conflict -------------------------------------------------------

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$")


@cache
def _unique_columns() -> dict[str, tuple[str, ...]]:
    """Unique constraint and index name -> the columns it covers, from the table metadata."""
    columns: dict[str, tuple[str, ...]] = {}
    for table in Base.metadata.tables.values():
        if isinstance(table.primary_key.name, str):
            columns[table.primary_key.name] = tuple(c.name for c in table.primary_key.columns)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and isinstance(constraint.name, str):
                columns[constraint.name] = tuple(c.name for c in constraint.columns)
        for index in table.indexes:
            if index.unique and isinstance(index.name, str):
                columns[index.name] = tuple(c.name for c in index.columns)
    return columns


def _property(columns: tuple[str, ...]) -> str:
    """The property a caller got wrong: the tenant column is context, not the culprit."""
    named = [c for c in columns if c != "org_id"] or list(columns)
    return ",".join(named)


def conflict_from(error: IntegrityError) -> Conflict | None:
    """The Conflict an IntegrityError means, or None if it is not a uniqueness/reference one."""
    orig = error.orig
    if isinstance(orig, sqlite3.IntegrityError):
        name = getattr(orig, "sqlite_errorname", "")
        match = _SQLITE_UNIQUE.search(str(orig))
        if match is not None:
            qualified = [c.strip() for c in match.group("columns").split(",")]
            table = qualified[0].split(".", 1)[0]
            columns = tuple(c.split(".", 1)[-1] for c in qualified)
            return _unique_conflict(table, columns)
        if name == "SQLITE_CONSTRAINT_FOREIGNKEY" or "FOREIGN KEY" in str(orig):
            return Conflict(_REFERENCE_MESSAGE)
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    if sqlstate == _PG_UNIQUE_VIOLATION:
        constraint = getattr(diag, "constraint_name", None) or ""
        table = getattr(diag, "table_name", None) or constraint
        return _unique_conflict(table, _unique_columns().get(constraint, (constraint,)))
    if sqlstate == _PG_FOREIGN_KEY_VIOLATION:
        return Conflict(_REFERENCE_MESSAGE)
    return None


def _unique_conflict(table: str, columns: tuple[str, ...]) -> Conflict:
    prop = _property(columns)
    return Conflict(f"{table}: another row already has this {prop!r}", property=prop)


@contextmanager
def integrity_as_conflict() -> Iterator[None]:
    """Wraps a flush/commit: uniqueness and reference violations become ``Conflict``.

    Other integrity errors (CHECK, NOT NULL) are bugs in the caller and propagate unchanged.
    """
    try:
        yield
    except IntegrityError as e:
        conflict = conflict_from(e)
        if conflict is None:
            raise
        raise conflict from e
