"""Fixtures shared by every suite: a database per back end (SQLite file, real PostgreSQL).

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, trust auth; `make services` starts
it). The session creates its own database and drops it at the end; each test starts from an
empty schema. Without a server the PostgreSQL cases are skipped, or fail when CI is set:
CI must test both databases.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

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
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres_schema(url: str) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, once per back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'merito.db'}"
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres_schema(url)
    return url
