"""The wallet API on SQLite and PostgreSQL: claim by emailed link, import (multipart, JSON with
a credential, raw image body), re-verification after revocation, visibility, problem types,
and one user never reaching another's items."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts_support import World, accounts_world
from sqlalchemy import select

from merito.formats import baking
from merito.services import catalog, credentials
from merito.services.platform import Actor
from merito.storage.tables import OutboxRow

FIXTURES = Path(__file__).parents[2] / "fixtures"
BLOCKCERTS_V2 = FIXTURES / "blockcerts/cert-verifier-js/fixtures/v2/mocknet-valid-2.0.json"
ACHIEVEMENT: dict[str, Any] = {
    "name": "Wallet testing",
    "description": "Claims and imports badges.",
    "criteria": {"narrative": "Claimed one."},
}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def issue(world: World, recipient: str) -> tuple[Actor, str, credentials.CredentialRecord]:
    """An organisation issues one credential to ``recipient``; returns its owner, org, record."""
    tag = hashlib.sha256(recipient.encode()).hexdigest()[:8]
    owner_id = world.register(f"owner-{tag}@example.org")
    session = world.login(f"owner-{tag}@example.org")
    org_id = world.create_org(session, f"org-{tag}")
    owner = Actor(kind="user", id=owner_id, user_id=owner_id)
    achievement = catalog.create_achievement(
        world.platform, owner, org_id=org_id, fields=ACHIEVEMENT
    )
    catalog.publish_achievement(world.platform, owner, org_id=org_id, achievement_id=achievement.id)
    record = credentials.issue_credential(
        world.platform, owner, org_id=org_id, achievement_id=achievement.id, recipient=recipient
    )
    return owner, org_id, record


def claim_token(world: World, recipient: str) -> str:
    with world.platform.reading() as session:
        payloads = [
            row.payload
            for row in session.scalars(
                select(OutboxRow).where(OutboxRow.topic == "email.credential_issued")
            )
        ]
    [payload] = [p for p in payloads if p["to"] == recipient]
    url = next(word for word in payload["text"].split() if "/claim/" in word)
    return url.rsplit("/", 1)[1]


def test_claim_view_revoke_and_re_verify(world: World) -> None:
    owner, org_id, record = issue(world, "ada@example.org")
    token = claim_token(world, "ada@example.org")
    world.register("ada@example.org")
    ada = world.login("ada@example.org")
    claimed = world.call("POST", "/api/v1/me/wallet/claims", auth=ada, json={"token": token})
    assert claimed.status_code == 201, claimed.text
    item = claimed.json()
    assert (item["source"], item["verdict"], item["name"]) == ("claimed", "valid", "Wallet testing")
    again = world.call("POST", "/api/v1/me/wallet/claims", auth=ada, json={"token": token})
    assert (again.status_code, again.json()["id"]) == (200, item["id"])
    world.register("eve@example.org")
    eve = world.login("eve@example.org")
    refused = world.call("POST", "/api/v1/me/wallet/claims", auth=eve, json={"token": token})
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:merito:problem:conflict"
    credentials.revoke(
        world.platform, owner, org_id=org_id, credential_id=record.id, reason="mistake"
    )
    viewed = world.call("GET", f"/api/v1/me/wallet/items/{item['id']}", auth=ada)
    assert viewed.status_code == 200
    assert viewed.json()["verdict"] == "invalid"
    assert "revoked" in viewed.json()["summary"].lower()
    listed = world.call("GET", "/api/v1/me/wallet/items", auth=ada).json()["items"]
    assert [(i["id"], i["verdict"]) for i in listed] == [(item["id"], "invalid")]


def test_import_by_multipart_json_and_raw_image(world: World) -> None:
    _, _, record = issue(world, "did:example:bo")
    world.register("bo@example.org")
    bo = world.login("bo@example.org")
    document = json.dumps(record.document).encode()
    uploaded = world.call(
        "POST",
        "/api/v1/me/wallet/items",
        auth=bo,
        files={"file": ("badge.json", document, "application/json")},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["format"], uploaded.json()["verdict"]) == ("ob3", "valid")
    same = world.call(
        "POST", "/api/v1/me/wallet/items", auth=bo, json={"credential": record.document}
    )
    assert (same.status_code, same.json()["id"]) == (200, uploaded.json()["id"])
    png = baking.bake_png(
        (FIXTURES / "ob2-examples/validator-ob20/assets/robotics-badge.png").read_bytes(),
        (FIXTURES / "blockcerts/cert-verifier-js/fixtures/v2/testnet-valid-2.0.json").read_text(),
    )
    baked = world.call(
        "POST",
        "/api/v1/me/wallet/items",
        auth=bo,
        content=png,
        headers={"Content-Type": "image/png"},
    )
    assert baked.status_code == 201, baked.text
    assert (baked.json()["format"], baked.json()["verdict"]) == ("blockcerts-v2", "indeterminate")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"credential": {"name": "just JSON"}}, "not-a-badge"),
        ({"credential": "not.a.jwt"}, "not-a-badge"),
        ({"url": "http://127.0.0.1:9/badge.json"}, "source-unreachable"),
        ({"url": "ftp://example.org/badge.json"}, "invalid-input"),
        ({"nothing": True}, "invalid-input"),
    ],
)
def test_import_refusals_are_typed_problems(world: World, body: Any, problem: str) -> None:
    world.register("cy@example.org")
    cy = world.login("cy@example.org")
    response = world.call("POST", "/api/v1/me/wallet/items", auth=cy, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"urn:merito:problem:{problem}"


def test_tampered_blockcerts_is_signature_invalid(world: World) -> None:
    world.register("di@example.org")
    di = world.login("di@example.org")
    document = json.loads(BLOCKCERTS_V2.read_text())
    document["badge"]["name"] = "Forged"
    response = world.call("POST", "/api/v1/me/wallet/items", auth=di, json={"credential": document})
    assert response.status_code == 422
    assert response.json()["type"] == "urn:merito:problem:signature-invalid"
    assert "changed" in response.json()["detail"]
    proof = next(c for c in response.json()["report"]["checks"] if c["id"] == "proof")
    assert proof["outcome"] == "fail"


def test_one_user_never_reaches_another_users_items(world: World) -> None:
    world.register("fa@example.org")
    world.register("gu@example.org")
    fa, gu = world.login("fa@example.org"), world.login("gu@example.org")
    made = world.call(
        "POST",
        "/api/v1/me/wallet/items",
        auth=fa,
        content=BLOCKCERTS_V2.read_bytes(),
        headers={"Content-Type": "application/ld+json"},
    )
    assert made.status_code == 201, made.text
    item_id = made.json()["id"]
    for method, kwargs in [
        ("GET", {}),
        ("PATCH", {"json": {"visibility": "public"}}),
        ("DELETE", {}),
    ]:
        response = world.call(method, f"/api/v1/me/wallet/items/{item_id}", auth=gu, **kwargs)
        assert response.status_code == 404, (method, response.text)
    assert world.call("GET", "/api/v1/me/wallet/items", auth=gu).json()["items"] == []
    public = world.call(
        "PATCH", f"/api/v1/me/wallet/items/{item_id}", auth=fa, json={"visibility": "public"}
    )
    assert public.json()["visibility"] == "public"
    assert world.call("DELETE", f"/api/v1/me/wallet/items/{item_id}", auth=fa).status_code == 204
    assert world.call("GET", f"/api/v1/me/wallet/items/{item_id}", auth=fa).status_code == 404
    assert world.call("GET", "/api/v1/me/wallet/items").status_code == 401
