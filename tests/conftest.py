"""Fixtures shared by every suite: a database per back end (SQLite file, real PostgreSQL).

``database_url`` is migrated to head (a copy of a per-session template); ``empty_database_url``
has no tables at all.

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, trust auth; `make services` starts
it). The session creates its own database and drops it at the end; each test starts from an
empty schema. Without a server the PostgreSQL cases are skipped, or fail when CI is set:
CI must test both databases.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from merito.storage import create_engine_for, migrate

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its SQLAlchemy URL."""
    name = f"merito_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as e:
        reason = f"PostgreSQL is not reachable on 127.0.0.1:5432 ({e}); run `make services`"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the database tests on PostgreSQL too: {reason}")
        pytest.skip(reason)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}_template" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres_schema(url: str) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables), once per back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'merito.db'}"
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres_schema(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "merito.db"
    engine = create_engine_for(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_database: str) -> str:
    """A PostgreSQL database migrated to head once per session, cloned for each test."""
    template = f"{postgres_database.rsplit('/', 1)[1]}_template"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{template}"')
    engine = create_engine_for(postgres_database.rsplit("/", 1)[0] + f"/{template}")
    migrate(engine)
    engine.dispose()
    return template


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database migrated to head (a fresh copy per test), once per back end.

    Migrating once and copying keeps hundreds of database tests fast; tests of the
    migrations themselves use ``empty_database_url``.
    """
    if request.param == "sqlite":
        path = tmp_path / "merito.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template: str = request.getfixturevalue("postgres_template")
    base: str = request.getfixturevalue("postgres_database")
    name = f"{base.rsplit('/', 1)[1]}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
