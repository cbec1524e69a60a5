"""Migrations build the schema tables.py describes, on SQLite and PostgreSQL, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from importlib.resources import as_file, files
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from merito.errors import InvalidInput
from merito.storage.db import create_engine_for, integrity_as_conflict, migrate
from merito.storage.tables import AuditLogRow, Base, OrganisationRow


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """These tests migrate themselves: they start from a database without tables."""
    return empty_database_url


def _head() -> str | None:
    with as_file(files("merito.storage").joinpath("migrations")) as path:
        config = Config()
        config.set_main_option("script_location", str(path))
        return ScriptDirectory.from_config(config).get_current_head()


def test_upgrade_creates_every_table_and_is_idempotent(engine: Engine) -> None:
    assert _current_revision(engine) is None
    migrate(engine)
    migrate(engine)
    assert _current_revision(engine) == _head()
    tables = set(inspect(engine).get_table_names())
    assert tables == {*Base.metadata.tables, "alembic_version"}


def test_migrated_schema_matches_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_audit_log_is_append_only(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id = new_org()
    with sessions.begin() as session:
        session.add(AuditLogRow(actor="system", org_id=org_id, action="org.created", details={}))
    for statement in (update(AuditLogRow).values(action="nothing.happened"), delete(AuditLogRow)):
        # a refused change is not a uniqueness conflict: it must not be reported as one
        with (
            pytest.raises(DBAPIError, match="append-only"),
            sessions.begin() as session,
            integrity_as_conflict(),
        ):
            session.execute(statement)
    with sessions() as session:
        assert session.scalars(select(AuditLogRow.action)).all() == ["org.created"]


def test_timestamps_come_back_in_utc(sessions: sessionmaker[Session]) -> None:
    created = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    with sessions.begin() as session:
        session.add(
            OrganisationRow(id="o1", slug="o1", name="O", kind="issuer", created_at=created)
        )
    with sessions() as session:
        stored = session.scalars(select(OrganisationRow.created_at)).one()
    assert stored == created
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as session:
        session.add(
            OrganisationRow(
                id="o1", slug="o1", name="O", kind="issuer", created_at=datetime(2026, 1, 1)
            )
        )


def test_sqlite_connections_get_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    # synchronous: 1 is NORMAL
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,
    }


@pytest.mark.parametrize(
    "url", ["postgresql://u@db.example/merito", "postgres://u@db.example/merito"]
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    engine = create_engine_for(url)
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@db.example/merito", "not a url"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_engine_for(url)
    assert caught.value.property == "database_url"


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds(engine: Engine) -> None:
    migrate(engine)
    location = files("merito.storage").joinpath("migrations")
    with as_file(location) as path, engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(path))
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert _current_revision(engine) == _head()
