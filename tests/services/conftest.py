"""Service-layer fixtures: a real ``Platform`` over SQLite and PostgreSQL (``database_url``).

Each test gets an empty, migrated database, an in-memory mailer and a clock it can move.
``seed_org`` stores an organisation with one member directly (no service involved), so every
service's tests can start from a tenant without depending on the accounts service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from services_support import MASTER_KEY, MovableClock, SeededOrg

from merito.net.mailer import MemoryMailer
from merito.services.platform import Actor, Platform
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def mailer(clock: MovableClock) -> MemoryMailer:
    return MemoryMailer(clock=clock)


@pytest.fixture
def platform(database_url: str, clock: MovableClock, mailer: MemoryMailer) -> Iterator[Platform]:
    engine = create_engine_for(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    try:
        yield Platform(
            sessions=sessions,
            keystore=KeyStore(sessions, MASTER_KEY, clock=clock),
            clock=clock,
            mailer=mailer,
            base_url="https://merito.test",
            status_list_size=1024,
        )
    finally:
        engine.dispose()


@pytest.fixture
def seed_org(platform: Platform) -> Callable[..., SeededOrg]:
    """Stores an organisation and a member with ``role``; returns ids and the member's Actor."""

    def seed(*, role: str = "owner", kind: str = "issuer", slug: str | None = None) -> SeededOrg:
        org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
        slug = slug or f"org-{org_id[:8]}"
        with platform.transaction() as session:
            session.add(OrganisationRow(id=org_id, slug=slug, name=f"Org {slug}", kind=kind))
            session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
            session.flush()
            session.add(MembershipRow(org_id=org_id, user_id=user_id, role=role))
        actor = Actor(kind="user", id=user_id, user_id=user_id)
        return SeededOrg(org_id=org_id, slug=slug, user_id=user_id, actor=actor)

    return seed
