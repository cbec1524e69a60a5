"""Storage contract fixtures: every test runs on SQLite (a file) and on PostgreSQL.

``database_url`` (one empty database per back end) comes from tests/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from merito.storage.db import create_engine_for, migrate, session_factory
from merito.storage.tables import OrganisationRow


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
