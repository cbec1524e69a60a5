"""POST /api/v1/verify and GET /status/... with the process's caches in play, on SQLite and
PostgreSQL: repeated verifications of a credential answer the same report until it is revoked,
and then at once; the status list's bytes and ETag follow its version; a large credential, or
one whose issuer lives on another site, takes the thread-pool path and is still verified."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts_support import World, accounts_world

from merito.api.routers.verify import INLINE_BYTES
from merito.services import catalog, credentials, platform_verification
from merito.services.credentials import CredentialRecord
from merito.services.platform import Actor


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def issued(world: World) -> tuple[Actor, str, CredentialRecord]:
    owner_id = world.register("owner@academy.example")
    org = world.create_org(world.login("owner@academy.example"), "academy")
    actor = Actor(kind="user", id=owner_id, user_id=owner_id)
    made = catalog.create_achievement(
        world.platform,
        actor,
        org_id=org,
        fields={"name": "SQL", "description": "Queries.", "criteria": {"narrative": "Passed."}},
    )
    catalog.publish_achievement(world.platform, actor, org_id=org, achievement_id=made.id)
    record = credentials.issue_credential(
        world.platform,
        actor,
        org_id=org,
        achievement_id=made.id,
        recipient="learner@example.org",
        notify=False,
    )
    return actor, org, record


def report(world: World, document: dict[str, Any] | str) -> dict[str, Any]:
    text = document if isinstance(document, str) else json.dumps(document)
    response = world.call(
        "POST", "/api/v1/verify", content=text, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcomes(body: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in body["checks"]}


def test_repeated_verifications_agree_until_a_revocation_shows_on_the_next(world: World) -> None:
    actor, org, record = issued(world)
    first = report(world, record.document)
    assert first["verified"], first["summary"]
    for _ in range(3):
        assert report(world, record.document) == first
    credentials.revoke(world.platform, actor, org_id=org, credential_id=record.id, reason="x")
    revoked = report(world, record.document)
    assert not revoked["verified"]
    assert outcomes(revoked)["proof"] == "pass"
    assert outcomes(revoked)["status"] == "fail"
    tampered = copy.deepcopy(record.document)
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced SQL"
    assert outcomes(report(world, tampered))["proof"] == "fail"


def test_the_status_list_is_served_as_stored_and_follows_its_version(world: World) -> None:
    actor, org, record = issued(world)
    path = record.document["credentialStatus"]["statusListCredential"].removeprefix(
        "https://merito.test"
    )
    first = world.call("GET", path)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/vc+ld+json")
    assert "must-revalidate" in first.headers["cache-control"]
    assert world.call("GET", path).content == first.content
    etag = first.headers["etag"]
    assert world.call("GET", path, headers={"If-None-Match": etag}).status_code == 304
    credentials.revoke(world.platform, actor, org_id=org, credential_id=record.id, reason="x")
    changed = world.call("GET", path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.content != first.content
    assert json.loads(changed.content)["id"] == json.loads(first.content)["id"]
    assert world.call("GET", "/status/" + "0" * 36).status_code == 404


def test_a_large_credential_takes_the_thread_pool_and_still_verifies(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor, org, record = issued(world)
    # whitespace makes the text large without changing the credential (JSON ignores it)
    text = json.dumps(record.document) + " " * INLINE_BYTES
    inline: list[object] = []
    original = platform_verification.verify_from_own_records

    def recorded(*args: Any) -> Any:
        inline.append(args)
        return original(*args)

    monkeypatch.setattr(platform_verification, "verify_from_own_records", recorded)
    assert report(world, record.document)["verified"]
    assert len(inline) == 1  # a small one is verified inline
    big = report(world, text)
    assert len(inline) == 1  # the large one was not
    assert big["verified"], big["summary"]
    credentials.revoke(world.platform, actor, org_id=org, credential_id=record.id, reason="x")
    assert outcomes(report(world, text))["status"] == "fail"


def test_an_issuer_on_another_site_is_not_resolved_from_the_event_loop(world: World) -> None:
    _, _, record = issued(world)
    elsewhere = copy.deepcopy(record.document)
    elsewhere["issuer"]["id"] = "did:web:elsewhere.example"
    elsewhere["proof"]["verificationMethod"] = "did:web:elsewhere.example#key-1"
    body = report(world, elsewhere)
    assert not body["verified"]
    proof = next(c for c in body["checks"] if c["id"] == "proof")
    assert proof["outcome"] == "fail"
    # the test app has no fetcher: the fetching path says so instead of the inline guard's
    assert "elsewhere.example" in json.dumps(proof)
    assert "is not fetched here" not in json.dumps(proof)
