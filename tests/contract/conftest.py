"""Storage contract fixtures: every test runs on SQLite (a file) and on PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, trust auth; `make services` starts
it). The session creates its own database and drops it at the end; each test starts from an
empty schema. Without a server the PostgreSQL cases are skipped, or fail when CI is set:
CI must test both databases.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from merito.storage.db import create_engine_for, migrate, session_factory
from merito.storage.tables import OrganisationRow

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
            pytest.fail(f"CI must run the storage contract on PostgreSQL too: {reason}")
        pytest.skip(reason)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres_schema(url: str) -> None:
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
    _empty_postgres_schema(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    migrate(engine)
    return engine


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    return session_factory(migrated_engine)


@pytest.fixture
def new_org(sessions: sessionmaker[Session]) -> Callable[[], str]:
    """Stores a new issuer organisation and returns its id."""

    def add() -> str:
        org_id = str(uuid.uuid4())
        with sessions.begin() as session:
            session.add(OrganisationRow(id=org_id, slug=f"org-{org_id}", name="Org", kind="issuer"))
        return org_id

    return add
