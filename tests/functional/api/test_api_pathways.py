"""The pathways API on SQLite and PostgreSQL: an issuer designs and publishes a pathway, a
learner follows their progress and is awarded once; the funnel and awards; bad trees are
RFC 9457 problems naming the property."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import World, accounts_world

from merito.services import catalog, credentials
from merito.services.platform import Actor


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def publish(world: World, owner: Actor, org_id: str, name: str, hours: float) -> str:
    made = catalog.create_achievement(
        world.platform,
        owner,
        org_id=org_id,
        fields={
            "name": name,
            "description": f"{name}.",
            "criteria": {"narrative": "Passed."},
            "hours": hours,
        },
    )
    catalog.publish_achievement(world.platform, owner, org_id=org_id, achievement_id=made.id)
    return made.id


def leaf(achievement_id: str) -> dict[str, str]:
    return {"kind": "achievement", "achievement_id": achievement_id}


def test_design_progress_award_funnel(world: World) -> None:
    issuer_id = world.register("issuer@academy.example")
    staff = world.login("issuer@academy.example")
    academy = world.create_org(staff, "academy")
    issuer = Actor(kind="user", id=issuer_id, user_id=issuer_id)
    sql, python, viz = (
        publish(world, issuer, academy, n, h) for n, h in [("SQL", 10), ("Python", 20), ("Viz", 5)]
    )
    certificate = publish(world, issuer, academy, "Data Analyst", 0)
    base = f"/api/v1/orgs/{academy}/pathways"

    made = world.call(
        "POST",
        base,
        auth=staff,
        json={
            "achievement_id": certificate,
            "requirement": {
                "kind": "n_of",
                "n": 2,
                "min_hours": 25,
                "children": [leaf(sql), leaf(python), leaf(viz)],
            },
        },
    )
    assert made.status_code == 201, made.text
    pathway = made.json()
    assert pathway["status"] == "draft"
    assert [c["name"] for c in pathway["constituents"]] == ["SQL", "Python", "Viz"]
    pid = pathway["id"]
    published = world.call("POST", f"{base}/{pid}/publish", auth=staff)
    assert published.json()["status"] == "published"
    assert [p["id"] for p in world.call("GET", base, auth=staff).json()] == [pid]

    learner_id = world.register("learner@example.org")
    learner = world.login("learner@example.org")
    for achievement_id in (sql, viz):
        credentials.issue_credential(
            world.platform,
            issuer,
            org_id=academy,
            achievement_id=achievement_id,
            recipient="learner@example.org",
            notify=False,
        )
    mine = world.call("GET", f"/api/v1/me/pathways/{pid}", auth=learner)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    # two of three held, but 15 hours of 25
    assert body["satisfied"] is False
    assert body["tree"]["done"] == 2
    assert body["tree"]["hours_short"] == 10
    assert [a["name"] for a in body["left"]] == ["Python"]
    assert [
        p["pathway"]["id"] for p in world.call("GET", "/api/v1/me/pathways", auth=learner).json()
    ] == [pid]

    staff_view = world.call("GET", f"{base}/{pid}/learners/{learner_id}", auth=staff)
    assert staff_view.status_code == 200, staff_view.text
    assert staff_view.json()["tree"] == body["tree"]

    credentials.issue_credential(
        world.platform,
        issuer,
        org_id=academy,
        achievement_id=python,
        recipient="learner@example.org",
        notify=False,
    )
    awarded = world.call("POST", f"{base}/{pid}/award", auth=staff)
    assert awarded.status_code == 200, awarded.text
    [award] = awarded.json()
    assert award["user_id"] == learner_id
    again = world.call("POST", f"{base}/{pid}/award", auth=staff)
    assert again.json() == []
    checked = world.call("POST", f"/api/v1/me/pathways/{pid}/check", auth=learner).json()
    assert checked["satisfied"] is True
    assert checked["award"]["id"] == award["id"]

    listed = world.call("GET", f"/api/v1/orgs/{academy}/pathway-awards", auth=staff).json()
    assert [a["id"] for a in listed] == [award["id"]]
    stacked = world.call("GET", award["credential_id"].replace("https://merito.test", ""))
    assert stacked.status_code == 200
    funnel = world.call("GET", f"{base}/{pid}/funnel", auth=staff).json()
    assert funnel["started"] == 1
    assert funnel["satisfied"] == 1
    assert funnel["awarded"] == 1
    assert [s["learners"] for s in funnel["by_leaves"]] == [0, 0, 1]


def test_pathway_errors_are_problems(world: World) -> None:
    issuer_id = world.register("issuer@academy.example")
    staff = world.login("issuer@academy.example")
    academy = world.create_org(staff, "academy")
    issuer = Actor(kind="user", id=issuer_id, user_id=issuer_id)
    sql = publish(world, issuer, academy, "SQL", 10)
    certificate = publish(world, issuer, academy, "Certificate", 0)
    base = f"/api/v1/orgs/{academy}/pathways"
    cases = [
        ({"kind": "n_of", "n": 2, "children": [leaf(sql)]}, "requirement.n"),
        ({"kind": "all", "children": []}, "requirement.children"),
        ({"kind": "all", "children": [leaf("nope")]}, "requirement.children[0].achievement_id"),
    ]
    for requirement, prop in cases:
        bad = world.call(
            "POST",
            base,
            auth=staff,
            json={"achievement_id": certificate, "requirement": requirement},
        )
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["property"] == prop
    policy = world.call(
        "POST",
        base,
        auth=staff,
        json={
            "achievement_id": certificate,
            "requirement": {"kind": "all", "children": [leaf(sql)]},
            "revocation_policy": "ignore",
        },
    )
    assert policy.status_code == 422
    missing = world.call("GET", f"{base}/00000000-0000-0000-0000-000000000000", auth=staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    world.register("learner@example.org")
    learner = world.login("learner@example.org")
    assert world.call("GET", f"/api/v1/orgs/{academy}/pathways", auth=learner).status_code == 404
