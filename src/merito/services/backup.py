"""Backups: an encrypted, integrity-checked snapshot of every table; restore; SQLite -> PostgreSQL.

A snapshot is consistent: on SQLite the file is first copied with SQLite's online backup API
(one step, under one read lock, while writers go on), on PostgreSQL every table is read in one
REPEATABLE READ, READ ONLY, DEFERRABLE transaction. Rows are written in the tables' dependency
order as JSON lines (one header naming the schema revision and columns, then each table's rows),
so the same stream restores into either database: ``migrate_database`` is a backup piped
straight into a restore, without the archive.

The archive (docs/reliability.md): ``MERITOBK`` + version + scrypt salt + nonce prefix, then the
zlib-compressed stream in AES-256-GCM chunks of at most 1 MiB. Each chunk's nonce carries its
number and a last-chunk flag, and the header is the associated data of every chunk, so a
reordered, truncated, extended or altered archive fails to decrypt (InvalidInput), and a wrong
passphrase is told apart from damage only in that the very first chunk fails. Issuer keys are
included as they are stored (sealed by the master key), and the master key itself is in the
encrypted stream: the archive alone, with its passphrase, restores a working instance.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sqlite3
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Engine, Table, func, inspect, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from merito.errors import Conflict, InvalidInput, MeritoError
from merito.storage import create_engine_for, migrate
from merito.storage.bulk import insert_rows
from merito.storage.tables import Base

__all__ = [
    "BackupResult",
    "backup",
    "migrate_database",
    "read_manifest",
    "restore",
]

MAGIC: Final = b"MERITOBK"
VERSION: Final = 1
FORMAT: Final = "merito-backup"
#: plaintext bytes per encrypted chunk
CHUNK: Final = 1 << 20
#: rows per INSERT batch on restore
BATCH: Final = 1000
#: scrypt cost: ~0.1 s and 32 MiB on a laptop, per archive (not per chunk)
SCRYPT_N: Final = 1 << 15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT: Final = 16
_PREFIX: Final = 7  # nonce = prefix (7) + chunk number (4) + last flag (1)
_HEADER: Final = struct.Struct(f">8sB{_SALT}s{_PREFIX}s")
_LENGTH: Final = struct.Struct(">I")
_MIN_PASSPHRASE: Final = 8

Kind = Literal["plain", "datetime", "date", "bytes", "json"]


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup, restore or migration carried: rows per table, and the schema revision."""

    revision: str
    rows: Mapping[str, int]
    source: str
    master_key: bytes = field(repr=False)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# --- column values <-> JSON ----------------------------------------------------------------------


def _kind(column: Column[Any]) -> Kind:
    kind_of: TypeEngine[Any] = column.type
    if isinstance(kind_of, TypeDecorator):
        kind_of = kind_of.impl_instance
    try:
        python_type = kind_of.python_type
    except NotImplementedError:
        return "plain"
    if python_type is datetime:
        return "datetime"
    if python_type is date:
        return "date"
    if python_type is bytes:
        return "bytes"
    if python_type in (dict, list):
        return "json"
    return "plain"


def _encode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if kind == "date":
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


# --- the snapshot stream -------------------------------------------------------------------------


def _tables(connection: Connection) -> list[Table]:
    """Merito's tables in dependency order (parents first), those the database has."""
    present = set(inspect(connection).get_table_names())
    return [t for t in Base.metadata.sorted_tables if t.name in present]


def _revision(connection: Connection) -> str:
    try:
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except DBAPIError as e:
        raise InvalidInput(
            "the source database has no Merito schema (no alembic_version table)",
            property="database_url",
        ) from e
    if row is None:
        raise InvalidInput("the source database has no schema revision", property="database_url")
    return str(row[0])


def _stream_tables(connection: Connection, *, source: str, master_key: bytes) -> Iterator[bytes]:
    """The JSON lines of a snapshot read through ``connection`` (already in its snapshot)."""
    tables = _tables(connection)
    revision = _revision(connection)
    yield orjson.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "source": source,
            "revision": revision,
            "master_key": master_key.hex(),
            "tables": {str(t.name): [str(c.name) for c in t.columns] for t in tables},
        }
    )
    total = 0
    for table in tables:
        kinds = [_kind(c) for c in table.columns]
        yield orjson.dumps({"table": str(table.name)})
        count = 0
        order = list(table.primary_key.columns) or list(table.columns)
        result = connection.execution_options(yield_per=BATCH).execute(
            select(*table.columns).order_by(*order)
        )
        for row in result:
            yield orjson.dumps([_encode(k, v) for k, v in zip(kinds, row, strict=True)])
            count += 1
        total += count
        yield orjson.dumps({"end": str(table.name), "rows": count})
    yield orjson.dumps({"done": total})


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput(
            "an in-memory SQLite database cannot be backed up", property="database_url"
        )
    return Path(parsed.database)


def snapshot_lines(database_url: str, *, master_key: bytes) -> Iterator[bytes]:
    """The snapshot of ``database_url`` as JSON lines (a generator: it holds the snapshot open)."""
    path = _sqlite_path(database_url)
    if path is not None:
        if not path.is_file():
            raise InvalidInput(f"{path}: no such database file", property="database_url")
        with tempfile.TemporaryDirectory(prefix="merito-backup-") as scratch:
            copy = Path(scratch) / "snapshot.db"
            _sqlite_copy(path, copy)
            engine = create_engine_for(f"sqlite:///{copy}")
            try:
                with engine.connect() as connection:
                    yield from _stream_tables(connection, source="sqlite", master_key=master_key)
            finally:
                engine.dispose()
        return
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as connection:
            snapshot = connection.execution_options(
                isolation_level="REPEATABLE READ",
                postgresql_readonly=True,
                postgresql_deferrable=True,
            )
            with snapshot.begin():
                yield from _stream_tables(snapshot, source="postgresql", master_key=master_key)
    except DBAPIError as e:
        raise MeritoError(f"the database could not be read: {e.orig}") from e
    finally:
        engine.dispose()


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup, in one step: a consistent copy while writers carry on."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise MeritoError(f"{source}: could not be copied ({e})") from e


# --- restore -------------------------------------------------------------------------------------


def _parse(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"the backup stream is damaged ({e})", property="archive") from e


def _manifest(lines: Iterator[bytes]) -> dict[str, Any]:
    first = next(lines, None)
    manifest = _parse(first) if first is not None else None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput("not a Merito backup", property="archive")
    if manifest.get("version") != VERSION:
        raise InvalidInput(
            f"backup format version {manifest.get('version')!r} is not supported "
            f"(this Merito reads version {VERSION})",
            property="archive",
        )
    return manifest


def _empty_target(connection: Connection, tables: Iterable[Table]) -> None:
    for table in tables:
        count = connection.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            raise Conflict(
                f"the target database is not empty (table {table.name!r} has {count} rows); "
                "restore into a new, empty database"
            )


def _load(
    engine: Engine,
    lines: Iterator[bytes],
    *,
    accept_master_key: Callable[[bytes], None] | None,
    progress: Callable[[str, int], None] | None,
) -> BackupResult:
    manifest = _manifest(lines)
    master_key = bytes.fromhex(manifest["master_key"])
    if accept_master_key is not None:
        accept_master_key(master_key)  # before anything is written
    migrate(engine)
    counts: dict[str, int] = {}
    with engine.begin() as connection, Session(bind=connection) as session:
        tables = {t.name: t for t in _tables(connection)}
        target_revision = _revision(connection)
        if target_revision != manifest["revision"]:
            raise InvalidInput(
                f"the backup is of schema revision {manifest['revision']!r}, this Merito's is "
                f"{target_revision!r}; restore it with the Merito version that made it, then "
                "upgrade",
                property="archive",
            )
        _empty_target(connection, tables.values())
        table: Table | None = None
        columns: list[str] = []
        kinds: list[Kind] = []
        deferred: list[str] = []  # self-referencing columns, set once every row is in
        batch: list[dict[str, Any]] = []
        fixups: list[tuple[Any, dict[str, Any]]] = []
        done = False
        for line in lines:
            item = _parse(line)
            if isinstance(item, list):
                if table is None:
                    raise InvalidInput(
                        "the backup stream has a row outside a table", property="archive"
                    )
                row = {c: _decode(k, v) for c, k, v in zip(columns, kinds, item, strict=True)}
                if deferred:
                    later = {c: row[c] for c in deferred if row[c] is not None}
                    if later:
                        key = {c.name: row[c.name] for c in table.primary_key.columns}
                        fixups.append((key, later))
                        row.update(dict.fromkeys(later))
                batch.append(row)
                if len(batch) >= BATCH:
                    insert_rows(session, table, batch)
                    batch = []
                continue
            if not isinstance(item, dict):
                raise InvalidInput("the backup stream is damaged", property="archive")
            if "table" in item:
                name = item["table"]
                if name not in tables:
                    raise InvalidInput(
                        f"the backup has an unknown table {name!r}", property="archive"
                    )
                table = tables[name]
                columns = list(manifest["tables"][name])
                if set(columns) != {c.name for c in table.columns}:
                    raise InvalidInput(
                        f"table {name!r}: the backup's columns differ from this schema's",
                        property="archive",
                    )
                kinds = [_kind(table.columns[c]) for c in columns]
                deferred = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
                counts[name] = 0
            elif "end" in item:
                if table is None or item["end"] != table.name:
                    raise InvalidInput("the backup stream is damaged", property="archive")
                if batch:
                    insert_rows(session, table, batch)
                    batch = []
                for key, values in fixups:
                    where = [table.columns[c] == v for c, v in key.items()]
                    connection.execute(update(table).where(*where).values(**values))
                fixups = []
                counts[table.name] = int(item["rows"])
                if progress is not None:
                    progress(table.name, counts[table.name])
                table = None
            elif "done" in item:
                done = True
                break
        for _extra in lines:  # reading on checks the archive's end (nothing after the last chunk)
            raise InvalidInput("the backup stream goes on after its end", property="archive")
        if not done:
            raise InvalidInput("the backup stream ends early (truncated?)", property="archive")
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection, tables.values())
    return BackupResult(
        revision=manifest["revision"],
        rows=counts,
        source=str(manifest.get("source", "")),
        master_key=master_key,
    )


def _reset_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """Explicit ids were inserted: move each serial sequence past the largest one."""
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                largest = select(func.max(column)).scalar_subquery()
                sequence = func.pg_get_serial_sequence(table.name, column.name)
                connection.execute(
                    select(func.setval(sequence, func.coalesce(largest, 0) + 1, False))
                )


# --- the encrypted archive -----------------------------------------------------------------------


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < _MIN_PASSPHRASE:
        raise InvalidInput(
            f"the backup passphrase must be at least {_MIN_PASSPHRASE} characters",
            property="passphrase",
        )


def _key(passphrase: str, salt: bytes) -> bytes:
    _check_passphrase(passphrase)
    return hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=32,
        maxmem=64 * 1024 * 1024,
    )


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    return prefix + struct.pack(">I?", number, last)


def _encrypt(lines: Iterator[bytes], out: IO[bytes], passphrase: str) -> None:
    salt, prefix = secrets.token_bytes(_SALT), secrets.token_bytes(_PREFIX)
    header = _HEADER.pack(MAGIC, VERSION, salt, prefix)
    aead = AESGCM(_key(passphrase, salt))
    out.write(header)
    compressor = zlib.compressobj(6)
    pending = bytearray()
    number = 0

    def emit(data: bytes, last: bool) -> None:
        nonlocal number
        sealed = aead.encrypt(_nonce(prefix, number, last), data, header)
        out.write(_LENGTH.pack(len(sealed)))
        out.write(sealed)
        number += 1

    for line in lines:
        pending += compressor.compress(line + b"\n")
        while len(pending) >= CHUNK:
            emit(bytes(pending[:CHUNK]), False)
            del pending[:CHUNK]
    pending += compressor.flush()
    while len(pending) > CHUNK:
        emit(bytes(pending[:CHUNK]), False)
        del pending[:CHUNK]
    emit(bytes(pending), True)


def _decrypt(source: IO[bytes], passphrase: str) -> Iterator[bytes]:
    """The archive's JSON lines, each chunk authenticated before any of it is used."""
    header = source.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise InvalidInput("not a Merito backup (too short)", property="archive")
    magic, version, salt, prefix = _HEADER.unpack(header)
    if magic != MAGIC:
        raise InvalidInput("not a Merito backup", property="archive")
    if version != VERSION:
        raise InvalidInput(f"backup archive version {version} is not supported", property="archive")
    aead = AESGCM(_key(passphrase, salt))
    decompressor = zlib.decompressobj()
    tail = b""
    number = 0
    while True:
        length_bytes = source.read(_LENGTH.size)
        if len(length_bytes) < _LENGTH.size:
            raise InvalidInput("the backup archive is truncated", property="archive")
        (length,) = _LENGTH.unpack(length_bytes)
        if length > CHUNK + 16:
            raise InvalidInput("the backup archive is damaged (chunk too long)", property="archive")
        sealed = source.read(length)
        if len(sealed) < length:
            raise InvalidInput("the backup archive is truncated", property="archive")
        plain: bytes | None = None
        last = False
        for flag in (False, True):
            try:
                plain = aead.decrypt(_nonce(prefix, number, flag), sealed, header)
            except InvalidTag:
                continue
            last = flag
            break
        if plain is None:
            if number == 0:
                raise InvalidInput(
                    "the backup cannot be decrypted: wrong passphrase, or a damaged archive",
                    property="passphrase",
                )
            raise InvalidInput(
                f"the backup archive is damaged (chunk {number} fails its integrity check)",
                property="archive",
            )
        number += 1
        data = tail + decompressor.decompress(plain)
        *complete, tail = data.split(b"\n")
        yield from complete
        if last:
            break
    if source.read(1):
        raise InvalidInput("the backup archive has data after its last chunk", property="archive")
    tail += decompressor.flush()
    if tail:
        yield tail


# --- use cases -----------------------------------------------------------------------------------


def backup(*, database_url: str, master_key: bytes, passphrase: str, out: Path) -> BackupResult:
    """Write an encrypted snapshot of ``database_url`` to ``out`` (atomically: a temp file, then
    a rename; mode 0600)."""
    _check_passphrase(passphrase)
    counts: dict[str, int] = {}
    revision = ""
    source = ""

    def counted(lines: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal revision, source
        for line in lines:
            if line.startswith(b'{"format"'):
                head = orjson.loads(line)
                revision, source = head["revision"], head["source"]
            elif line.startswith(b'{"end"'):
                end = orjson.loads(line)
                counts[end["end"]] = end["rows"]
            yield line

    out = out.resolve()
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise InvalidInput(f"{out}: cannot write ({e.strerror})", property="out") from e
    try:
        with os.fdopen(fd, "wb") as f:
            _encrypt(counted(snapshot_lines(database_url, master_key=master_key)), f, passphrase)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, out)
    except OSError as e:
        raise MeritoError(f"{out}: the backup could not be written ({e.strerror})") from e
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(revision=revision, rows=counts, source=source, master_key=master_key)


def read_manifest(archive: Path, *, passphrase: str) -> dict[str, Any]:
    """The archive's header line (revision, tables, creation time), without the master key."""
    with _open(archive) as f:
        manifest = _manifest(_decrypt(f, passphrase))
    manifest.pop("master_key", None)
    return manifest


def _open(archive: Path) -> IO[bytes]:
    try:
        return archive.open("rb")
    except FileNotFoundError:
        raise InvalidInput(f"{archive}: no such file", property="archive") from None
    except OSError as e:
        raise InvalidInput(f"{archive}: cannot read ({e.strerror})", property="archive") from e


def restore(
    *,
    archive: Path,
    passphrase: str,
    database_url: str,
    accept_master_key: Callable[[bytes], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> BackupResult:
    """Restore ``archive`` into the (new, empty) database at ``database_url``, in one
    transaction: a damaged archive or a wrong passphrase leaves the target as it was.

    ``accept_master_key`` sees the archive's master key before anything is written; it raises
    if the target instance runs with another one (its issuer keys would not unseal).
    """
    engine = create_engine_for(database_url)
    try:
        with _open(archive) as f:
            return _load(
                engine,
                _decrypt(f, passphrase),
                accept_master_key=accept_master_key,
                progress=progress,
            )
    except DBAPIError as e:
        raise MeritoError(f"the target database refused the restore: {e.orig}") from e
    finally:
        engine.dispose()


def migrate_database(
    *,
    source_url: str,
    target_url: str,
    master_key: bytes,
    progress: Callable[[str, int], None] | None = None,
) -> BackupResult:
    """Copy every row of ``source_url`` (e.g. the SQLite file) into the new, empty database at
    ``target_url`` (e.g. PostgreSQL) from one consistent snapshot, in one transaction."""
    if source_url == target_url:
        raise InvalidInput("the source and target databases are the same", property="target")
    engine = create_engine_for(target_url)
    try:
        return _load(
            engine,
            snapshot_lines(source_url, master_key=master_key),
            accept_master_key=None,
            progress=progress,
        )
    except DBAPIError as e:
        raise MeritoError(f"the target database refused the copy: {e.orig}") from e
    finally:
        engine.dispose()
