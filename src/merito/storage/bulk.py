"""Many-row inserts for bulk jobs: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany processes every parameter of every row in Python and, on
PostgreSQL, sends one INSERT per row; for a batch of credentials (six rows each across four
tables) that cost more than signing them. Here each column's bind processor is looked up once,
values repeated across rows (a batch's timestamp) are converted once, JSON columns take text
already serialised (by the worker that built the document) as it is, and the rows go to the
driver in one call. Values are stored exactly as SQLAlchemy stores them (the same bind
processors), and driver errors surface as SQLAlchemy's, so ``integrity_as_conflict`` still
names the violated constraint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["JsonText", "dumps", "insert_rows", "insert_tables"]

#: up to this many rows in all, :func:`insert_tables` sends plain INSERTs in one pipeline on
#: PostgreSQL (one round trip) instead of a COPY per table (two round trips each)
PIPELINE_ROWS = 64

_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


class JsonText(str):
    """A JSON document already serialised: :func:`insert_rows` writes it to a JSON column as is."""

    __slots__ = ()


def dumps(value: Any) -> str:
    """JSON text of ``value``, through orjson (several times the C ``json`` module).

    What orjson refuses or would write differently from ``json.dumps`` (integers beyond 64
    bits, datetimes, dataclasses, lone surrogates) goes through ``json.dumps``: same
    acceptance, only the spacing differs.
    """
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value)


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts ``rows`` (every one with the same keys, the column names) into ``table`` in the
    session's transaction. A JSON column takes a :class:`JsonText` as it is, any other value
    through :func:`dumps`."""
    insert_tables(session, [(table, rows)])


def insert_tables(
    session: Session, batches: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    """:func:`insert_rows` for several tables, in the given order (parents first). A small
    batch on PostgreSQL (a single issuance: four rows in four tables) goes as one pipeline of
    INSERTs, so the whole write is one round trip to the server."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    session.flush()  # as SQLAlchemy's autoflush would: pending rows these may refer to
    connection = session.connection()
    dialect = connection.dialect
    prepare = dialect.identifier_preparer
    statements = []
    for table, rows in batches:
        names = list(rows[0])
        if any(len(row) != len(names) for row in rows):
            raise ValueError("every row must set the same columns")
        # column by column: a column that needs no conversion costs one list, not a call per row
        columns_values = []
        for name in names:
            column = [row[name] for row in rows]
            convert = _converter(table, name, dialect)
            columns_values.append(column if convert is None else list(map(convert, column)))
        values = list(zip(*columns_values, strict=True))
        target = prepare.format_table(table)
        columns = ", ".join(prepare.quote(name) for name in names)
        statements.append((target, columns, len(names), values))
    if dialect.name != "postgresql":
        for target, columns, width, values in statements:
            connection.exec_driver_sql(_insert(target, columns, width, "?"), values)
    elif sum(len(values) for *_, values in statements) <= PIPELINE_ROWS:
        _pipeline(
            connection,
            [
                (_insert(target, columns, width, "%s"), values)
                for target, columns, width, values in statements
            ],
        )
    else:
        for target, columns, _, values in statements:
            _copy(connection, f"COPY {target} ({columns}) FROM STDIN", values)


def _insert(target: str, columns: str, width: int, mark: str) -> str:
    marks = ", ".join([mark] * width)
    # identifiers from the table metadata, quoted by the dialect; values are parameters
    return f"INSERT INTO {target} ({columns}) VALUES ({marks})"  # noqa: S608


def _converter(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """Python value -> the value the driver gets, as SQLAlchemy would bind it (None: as it
    is); the last input and output are remembered (a batch repeats its timestamp)."""
    column = table.c[name]
    if isinstance(column.type, JSON):
        none = None if column.type.none_as_null else "null"

        def json_value(value: Any) -> Any:
            if value is None:
                return none
            return value if isinstance(value, JsonText) else dumps(value)

        return json_value
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    last: list[Any] = [object(), None]

    def bound(value: Any) -> Any:
        if value is None:
            return None
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return bound


def _psycopg(connection: Connection) -> Any:
    import psycopg

    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"bulk inserts need a psycopg connection, not {type(raw).__name__}")
    return raw


def _pipeline(connection: Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    import psycopg

    raw = _psycopg(connection)
    sql = ""
    try:
        with raw.pipeline(), raw.cursor() as cursor:
            for sql, values in statements:
                cursor.executemany(sql, values)
    except psycopg.Error as e:
        # the same exception class SQLAlchemy raises for this error (IntegrityError, ...)
        raise DBAPIError.instance(sql, None, e, psycopg.Error) from e


def _copy(connection: Connection, sql: str, values: Sequence[Sequence[Any]]) -> None:
    import psycopg

    raw = _psycopg(connection)
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in values:
                copy.write_row(row)
    except psycopg.Error as e:
        # the same exception class SQLAlchemy raises for this error (IntegrityError, ...)
        raise DBAPIError.instance(sql, None, e, psycopg.Error) from e
