"""POST /api/v1/verify on this platform's own credentials, on SQLite and PostgreSQL: its did:web
issuer and status list are known from its records (offline), so a credential it issued
verifies, and fails once revoked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts_support import World, accounts_world

from merito.services import catalog, credentials
from merito.services.platform import Actor


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def checks(world: World, document: dict[str, Any]) -> tuple[bool, dict[str, str]]:
    response = world.call(
        "POST",
        "/api/v1/verify",
        content=json.dumps(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    return report["verified"], {c["id"]: c["outcome"] for c in report["checks"]}


def test_a_credential_of_this_platform_verifies_then_fails_once_revoked(world: World) -> None:
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
    assert record.document["issuer"]["id"].startswith("did:web:")

    verified, outcomes = checks(world, record.document)
    assert verified, outcomes
    assert outcomes["proof"] == "pass"
    assert outcomes["status"] == "pass"

    credentials.revoke(
        world.platform, actor, org_id=org, credential_id=record.id, reason="issued in error"
    )
    verified, outcomes = checks(world, record.document)
    assert not verified
    assert outcomes["proof"] == "pass"
    assert outcomes["status"] == "fail"
