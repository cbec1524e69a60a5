"""The kernel: authorization by role and scope, tenant isolation, audit and outbox writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from services_support import SeededOrg
from sqlalchemy import select

from merito.errors import Conflict, NotFound, PermissionDenied
from merito.services.platform import Actor, Permission, Platform, audit, authorize, enqueue
from merito.storage.tables import AuditLogRow, OutboxRow


def test_roles_grant_what_they_name(platform: Platform, seed_org: Callable[..., SeededOrg]) -> None:
    viewer = seed_org(role="viewer")
    staff = seed_org(role="issuer_staff")
    with platform.reading() as session:
        assert authorize(session, viewer.actor, viewer.org_id, Permission.ORG_READ) == "viewer"
        with pytest.raises(PermissionDenied, match="credentials:issue"):
            authorize(session, viewer.actor, viewer.org_id, Permission.CREDENTIALS_ISSUE)
        authorize(session, staff.actor, staff.org_id, Permission.CREDENTIALS_ISSUE)
        with pytest.raises(PermissionDenied):
            authorize(session, staff.actor, staff.org_id, Permission.KEYS_MANAGE)


def test_other_tenants_look_like_nothing(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    a, b = seed_org(), seed_org()
    bound = Actor(kind="api_key", id="k1", org_id=a.org_id, scopes=frozenset({"org:read"}))
    with platform.reading() as session:
        with pytest.raises(NotFound):
            authorize(session, a.actor, b.org_id, Permission.ORG_READ)
        with pytest.raises(NotFound):
            authorize(session, bound, b.org_id, Permission.ORG_READ)
        with pytest.raises(NotFound):
            authorize(session, Actor.anonymous(), a.org_id, Permission.ORG_READ)
        authorize(session, bound, a.org_id, Permission.ORG_READ)
        with pytest.raises(PermissionDenied, match="scope"):
            authorize(session, bound, a.org_id, Permission.CREDENTIALS_ISSUE)


def test_audit_and_outbox_commit_with_the_change_or_not_at_all(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    with platform.transaction() as session:
        audit(session, org.actor, action="test.done", org_id=org.org_id, target="x")
        enqueue(session, topic="t", payload={"a": 1}, idempotency_key="k", org_id=org.org_id)

    def fail_midway() -> None:
        with platform.transaction() as session:
            audit(session, org.actor, action="test.lost", org_id=org.org_id)
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    with pytest.raises(Conflict), platform.transaction() as session:
        enqueue(session, topic="t", payload={}, idempotency_key="k", org_id=org.org_id)
    with platform.reading() as session:
        actions = session.scalars(select(AuditLogRow.action)).all()
        assert actions == ["test.done"]
        assert len(session.scalars(select(OutboxRow)).all()) == 1
