"""The hiring API on SQLite and PostgreSQL: an employer's role ranks a learner who opted in,
the learner sees the same explanation, their skills and a learning path; errors are problems."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts_support import World, accounts_world

from merito.services import catalog, credentials
from merito.services.platform import Actor

PY = "http://data.europa.eu/esco/skill/python-api-test"
SQL = "http://data.europa.eu/esco/skill/sql-api-test"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def publish(world: World, owner: Actor, org_id: str, name: str, skill: str, hours: float) -> str:
    made = catalog.create_achievement(
        world.platform,
        owner,
        org_id=org_id,
        fields={
            "name": name,
            "description": f"{name}.",
            "criteria": {"narrative": "Passed."},
            "alignment": [{"targetName": name, "targetUrl": skill}],
            "hours": hours,
        },
    )
    catalog.publish_achievement(world.platform, owner, org_id=org_id, achievement_id=made.id)
    return made.id


def test_employer_ranks_an_opted_in_learner_who_sees_the_same_explanation(world: World) -> None:
    issuer_id = world.register("issuer@academy.example")
    issuer_session = world.login("issuer@academy.example")
    academy = world.create_org(issuer_session, "academy")
    issuer = Actor(kind="user", id=issuer_id, user_id=issuer_id)
    python = publish(world, issuer, academy, "Python", PY, 10)
    publish(world, issuer, academy, "SQL", SQL, 6)
    world.register("learner@example.org")
    learner = world.login("learner@example.org")
    record = credentials.issue_credential(
        world.platform,
        issuer,
        org_id=academy,
        achievement_id=python,
        recipient="learner@example.org",
        notify=False,
    )

    skills = world.call("GET", "/api/v1/me/skills", auth=learner)
    assert skills.status_code == 200, skills.text
    [skill] = skills.json()
    assert skill["skill"] == PY
    assert skill["proofs"][0]["credential_id"] == record.credential_id

    world.register("hr@employer.example")
    hr = world.login("hr@employer.example")
    employer = world.create_org(hr, "employer")
    role = world.call(
        "POST",
        f"/api/v1/orgs/{employer}/roles",
        auth=hr,
        json={"title": "Analyst", "requirements": [{"skill": PY}, {"skill": SQL}]},
    )
    assert role.status_code == 201, role.text
    role_id = role.json()["id"]
    ranking_url = f"/api/v1/orgs/{employer}/roles/{role_id}/ranking"
    empty = world.call("POST", ranking_url, auth=hr, json={})
    assert empty.json()["results"] == []  # not discoverable yet

    consent = world.call(
        "PUT",
        "/api/v1/me/discoverability",
        auth=learner,
        json={"public": False, "org_ids": [employer]},
    )
    assert consent.json() == {"public": False, "org_ids": [employer]}
    ranked = world.call("POST", ranking_url, auth=hr, json={"limit": 5})
    assert ranked.status_code == 200, ranked.text
    [result] = ranked.json()["results"]
    assert result["email"] == "learner@example.org"
    assert result["score"] == pytest.approx(0.5)
    matches: list[dict[str, Any]] = result["explanation"]["matches"]
    assert [m["status"] for m in matches] == ["met", "missing"]
    assert matches[0]["proofs"][0]["issuer_name"] == "Academy"

    mine = world.call("GET", f"/api/v1/me/rankings/{role_id}", auth=learner)
    assert mine.status_code == 200, mine.text
    assert mine.json() == result["explanation"]
    listed = world.call("GET", "/api/v1/me/rankings", auth=learner).json()
    assert [(r["role_title"], r["rank"]) for r in listed] == [("Analyst", 1)]

    path = world.call(
        "GET", "/api/v1/me/learning-path", auth=learner, params={"role": role_id, "cost": "hours"}
    )
    assert path.status_code == 200, path.text
    body = path.json()
    assert [s["name"] for s in body["steps"]] == ["SQL"]
    assert body["total_cost"] == 6
    assert body["coverage"] == 1.0


def test_hiring_errors_are_problems(world: World) -> None:
    world.register("hr@employer.example")
    hr = world.login("hr@employer.example")
    employer = world.create_org(hr, "employer")
    key = world.api_key(hr, employer, ["org:read", "roles:write"])
    bad = world.call(
        "POST",
        f"/api/v1/orgs/{employer}/roles",
        auth=hr,
        json={"title": "X", "requirements": [{"skill": "python"}]},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "requirements.0.skill" in bad.json()["detail"]
    no_user = world.call("GET", "/api/v1/me/skills", auth=key)
    assert no_user.status_code == 403
    made = world.call("POST", f"/api/v1/orgs/{employer}/roles", auth=key, json={"title": "Dev"})
    assert made.status_code == 201, made.text
    scoped = world.call(
        "POST", f"/api/v1/orgs/{employer}/roles/{made.json()['id']}/ranking", auth=key, json={}
    )
    assert scoped.status_code == 403  # the key lacks candidates:read
    neither = world.call("GET", "/api/v1/me/learning-path", auth=hr)
    assert neither.status_code == 422
