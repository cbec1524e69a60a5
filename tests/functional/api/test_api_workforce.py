"""The workforce API on SQLite and PostgreSQL: invite, accept, consent, a k-anonymous
inventory (JSON and CSV), demand, sponsorship vouchers; errors are RFC 9457 problems."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import Session, World, accounts_world
from sqlalchemy import select

from merito.services import catalog, credentials
from merito.services.platform import Actor
from merito.storage.tables import OutboxRow

PY = "http://data.europa.eu/esco/skill/python-workforce-api"
PROBLEM = "application/problem+json"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def _token(world: World, address: str) -> str:
    with world.platform.reading() as session:
        texts = [
            p["text"]
            for p in session.scalars(
                select(OutboxRow.payload).where(OutboxRow.topic == "email.workforce_invitation")
            )
            if p["to"] == address
        ]
    found = re.search(r"/workforce/invitations/(\S+)", texts[-1])
    assert found
    return found.group(1)


def test_invite_accept_consent_inventory_demand_and_vouchers(world: World) -> None:
    hr_id = world.register("hr@employer.example")
    hr = world.login("hr@employer.example")
    org = world.create_org(hr, "employer")
    owner = Actor(kind="user", id=hr_id, user_id=hr_id)
    academy = catalog.create_achievement(
        world.platform,
        owner,
        org_id=org,
        fields={
            "name": "Academy Python",
            "description": "Internal.",
            "criteria": {"narrative": "Passed."},
            "alignment": [{"targetName": "Python", "targetUrl": PY}],
        },
    )
    catalog.publish_achievement(world.platform, owner, org_id=org, achievement_id=academy.id)
    base = f"/api/v1/orgs/{org}/workforce"

    sessions: list[Session] = []
    for i in range(2):
        address = f"employee{i}@example.org"
        world.register(address)
        me = world.login(address)
        sessions.append(me)
        invited = world.call(
            "POST", f"{base}/invitations", auth=hr, json={"email": address, "team": "data"}
        )
        assert invited.status_code == 201, invited.text
        accepted = world.call(
            "POST",
            "/api/v1/me/workforce/invitations",
            auth=me,
            json={"token": _token(world, address)},
        )
        assert accepted.status_code == 201, accepted.text
        credentials.issue_credential(
            world.platform,
            owner,
            org_id=org,
            achievement_id=academy.id,
            recipient=address,
            notify=False,
        )
        (job,) = world.call("GET", "/api/v1/me/employers", auth=me).json()
        assert [c["name"] for c in job["credentials"]] == ["Academy Python"]
        consent = world.call(
            "PUT",
            f"/api/v1/me/employers/{job['id']}/consent",
            auth=me,
            json={"share_all": True},
        )
        assert consent.status_code == 200, consent.text

    # two consenting employees, k = 5: every count of people is suppressed
    table = world.call("GET", f"{base}/inventory", auth=hr).json()
    assert table["k"] == 5
    assert table["total"] is None
    assert table["skills"] == []
    assert table["hidden_skills"] == 1
    exported = world.call("GET", f"{base}/inventory.csv?by=role", auth=hr)
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[1] == ",consenting employees,<5,<5"

    # with k = 2 (configurable) the same two show
    world.platform = dataclasses.replace(
        world.platform, extras={**world.platform.extras, "workforce_min_group_size": 2}
    )
    world.client.app.state.platform = world.platform
    shown = world.call("GET", f"{base}/inventory", auth=hr).json()
    assert shown["total"] == 2
    assert [(s["skill"], s["counts"]) for s in shown["skills"]] == [(PY, [2])]

    demand = world.call("GET", f"{base}/demand?months=2", auth=hr)
    assert demand.status_code == 200, demand.text
    assert len(demand.json()["months"]) == 2
    assert world.call("GET", f"{base}/demand.csv", auth=hr).text.startswith("skill,label,")

    made = world.call(
        "POST",
        f"{base}/sponsorships",
        auth=hr,
        json={"achievement_id": academy.id, "vouchers": 2, "note": "upskilling"},
    )
    assert made.status_code == 201, made.text
    code = made.json()["codes"][0]["code"]
    redeemed = world.call("POST", "/api/v1/me/vouchers", auth=sessions[0], json={"code": code})
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["completed_at"] is not None  # already held: completed at once
    again = world.call("POST", "/api/v1/me/vouchers", auth=sessions[1], json={"code": code})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)

    bad = world.call("POST", f"{base}/invitations", auth=hr, json={"email": "not-an-address"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith(PROBLEM)
    assert "email" in bad.json()["detail"]
    nobody = world.call("GET", f"{base}/inventory", auth=sessions[0])
    assert nobody.status_code == 404  # an employee is not a member of the organisation

    (job,) = world.call("GET", "/api/v1/me/employers", auth=sessions[0]).json()
    left = world.call("DELETE", f"/api/v1/me/employers/{job['id']}", auth=sessions[0])
    assert left.status_code == 204
    assert len(world.call("GET", f"{base}/employees", auth=hr).json()) == 1
