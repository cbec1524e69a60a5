"""The deliveries API: list an organisation's outbox by state, retry a dead letter; problem
JSON for another tenant, a missing permission, a delivered message and bad parameters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgi_client import ApiClient
from sqlalchemy import select

from merito import bootstrap
from merito.api.app import create_app
from merito.api.auth import current_actor
from merito.config import Settings
from merito.errors import DeliveryError
from merito.net.mailer import MemoryMailer
from merito.services import outbox
from merito.services.platform import Actor, Platform, enqueue
from merito.storage.tables import (
    AuditLogRow,
    MembershipRow,
    OrganisationRow,
    OutboxRow,
    UserRow,
)


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def platform(database_url: str, tmp_path: Path, mailer: MemoryMailer) -> Iterator[Platform]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, master_key="11" * 32)
    built = bootstrap.platform(settings, mailer_=mailer)
    yield built
    built.sessions.kw["bind"].dispose()


def seed(platform: Platform, role: str) -> tuple[str, Actor]:
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=org_id[:8], name="Org", kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role=role))
    return org_id, Actor(kind="user", id=user_id, user_id=user_id, ip="127.0.0.1")


def put(platform: Platform, org_id: str, key: str) -> int:
    with platform.transaction() as session:
        enqueue(
            session,
            topic="email.credential_issued",
            payload={"to": "ada@example.org", "subject": "s", "text": "t", "idempotency_key": key},
            idempotency_key=key,
            org_id=org_id,
            available_at=platform.clock.now(),
        )
    with platform.reading() as session:
        found = session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))
    assert found is not None
    return found


def client_as(platform: Platform, actor: Actor) -> ApiClient:
    app = create_app(settings=Settings(), platform=platform)
    app.dependency_overrides[current_actor] = lambda: actor
    return ApiClient(app)


def test_list_then_retry_a_dead_letter(platform: Platform, mailer: MemoryMailer) -> None:
    org_id, admin = seed(platform, "admin")
    dead = put(platform, org_id, "k-dead")
    mailer.fail_next(DeliveryError("550 no such user", transient=False, smtp_code=550))
    outbox.deliver_due(platform, worker_id="test")
    client = client_as(platform, admin)

    response = client.get(f"/api/v1/orgs/{org_id}/deliveries", params={"state": "dead"})
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["id"], item["state"], item["attempts"]) == (dead, "dead", 1)
    assert item["last_error"] == "attempt 1: 550 no such user"
    assert "payload" not in item
    assert response.json()["next_before"] is None

    response = client.post(f"/api/v1/orgs/{org_id}/deliveries/{dead}/retry")
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["attempts"]) == ("pending", 0)
    assert outbox.deliver_due(platform, worker_id="test").delivered == 1
    delivered = client.get(f"/api/v1/orgs/{org_id}/deliveries", params={"state": "delivered"})
    assert [i["id"] for i in delivered.json()["items"]] == [dead]
    with platform.reading() as session:
        entry = session.scalars(select(AuditLogRow)).one()
    assert (entry.action, entry.ip) == ("delivery.retry", "127.0.0.1")

    again = client.post(f"/api/v1/orgs/{org_id}/deliveries/{dead}/retry")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


def test_pages_follow_next_before(platform: Platform) -> None:
    org_id, admin = seed(platform, "owner")
    ids = [put(platform, org_id, f"k{n}") for n in range(5)]
    client = client_as(platform, admin)
    seen: list[int] = []
    params: dict[str, str | int] = {"state": "pending", "limit": 2}
    while True:
        page = client.get(f"/api/v1/orgs/{org_id}/deliveries", params=params).json()
        seen += [i["id"] for i in page["items"]]
        if page["next_before"] is None:
            break
        params["before"] = page["next_before"]
    assert seen == sorted(ids, reverse=True)


def test_another_tenant_and_a_missing_permission_are_refused(platform: Platform) -> None:
    their_org, _ = seed(platform, "owner")
    theirs = put(platform, their_org, "theirs")
    my_org, me = seed(platform, "owner")
    client = client_as(platform, me)
    assert client.get(f"/api/v1/orgs/{their_org}/deliveries").status_code == 404
    assert client.post(f"/api/v1/orgs/{my_org}/deliveries/{theirs}/retry").status_code == 404
    assert client.post(f"/api/v1/orgs/{their_org}/deliveries/{theirs}/retry").status_code == 404
    staff_org, staff = seed(platform, "issuer_staff")
    refused = client_as(platform, staff).get(f"/api/v1/orgs/{staff_org}/deliveries")
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:merito:problem:permission-denied"


@pytest.mark.parametrize("query", ["state=lost", "limit=0", "limit=501", "before=0", "before=abc"])
def test_bad_parameters_are_422(platform: Platform, query: str) -> None:
    org_id, admin = seed(platform, "owner")
    response = client_as(platform, admin).get(f"/api/v1/orgs/{org_id}/deliveries?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_without_credentials_it_is_401(platform: Platform) -> None:
    client = ApiClient(create_app(settings=Settings(), platform=platform))
    response = client.get(f"/api/v1/orgs/{uuid.uuid4()}/deliveries")
    assert response.status_code == 401
