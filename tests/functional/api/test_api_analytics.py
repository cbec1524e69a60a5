"""The analytics API on SQLite and PostgreSQL: a verification by POST /api/v1/verify shows in the
organisation's daily series; JSON and CSV agree; bad ranges and missing scopes are problems."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import World, accounts_world

from merito.services import catalog, credentials
from merito.services.platform import Actor

SQL = "http://data.europa.eu/esco/skill/sql-analytics-test"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def test_series_skills_and_csv_of_an_organisation(world: World) -> None:
    owner_id = world.register("owner@academy.example")
    owner = world.login("owner@academy.example")
    org = world.create_org(owner, "academy")
    actor = Actor(kind="user", id=owner_id, user_id=owner_id)
    made = catalog.create_achievement(
        world.platform,
        actor,
        org_id=org,
        fields={
            "name": "=SQL basics",  # a name a spreadsheet would run as a formula
            "description": "Queries.",
            "criteria": {"narrative": "Passed."},
            "alignment": [{"targetName": "SQL", "targetUrl": SQL}],
        },
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
    verified = world.call(
        "POST",
        "/api/v1/verify",
        content=json.dumps(record.document),
        headers={"Content-Type": "application/json"},
    )
    assert verified.status_code == 200, verified.text

    base = f"/api/v1/orgs/{org}/analytics"
    today = world.clock.now().date().isoformat()
    series = world.call("GET", f"{base}/activity", auth=owner, params={"range": 7})
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["totals"] == {"issued": 1, "claimed": 0, "shared": 0, "verified": 1, "revoked": 0}
    assert len(body["days"]) == 7
    assert body["days"][-1] == {
        "date": today,
        "issued": 1,
        "claimed": 0,
        "shared": 0,
        "verified": 1,
        "revoked": 0,
    }
    filtered = world.call(
        "GET", f"{base}/activity", auth=owner, params={"start": today, "achievement_id": made.id}
    )
    assert filtered.json()["totals"]["issued"] == 1

    exported = world.call("GET", f"{base}/activity.csv", auth=owner, params={"range": 7})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"].startswith('attachment; filename="merito-')
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["date", "issued", "claimed", "shared", "verified", "revoked"]
    assert rows[-1] == [today, "1", "0", "0", "1", "0"]
    assert len(rows) == 8

    skills = world.call("GET", f"{base}/skills", auth=owner).json()
    assert [(s["uri"], s["credentials"]) for s in skills["skills"]] == [(SQL, 1)]
    skills_csv = world.call("GET", f"{base}/skills.csv", auth=owner)
    assert list(csv.reader(io.StringIO(skills_csv.text)))[1] == [SQL, "SQL", "1"]

    key = world.api_key(owner, org, ["analytics:read"])
    assert world.call("GET", f"{base}/activity", auth=key).status_code == 200
    narrow = world.api_key(owner, org, ["org:read"])
    refused = world.call("GET", f"{base}/activity", auth=narrow)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_ranges_are_problems_naming_the_parameter(world: World) -> None:
    world.register("owner@academy.example")
    owner = world.login("owner@academy.example")
    org = world.create_org(owner, "academy")
    base = f"/api/v1/orgs/{org}/analytics/activity"
    for params, prop in [
        ({"range": 8}, "range"),
        ({"start": "2026-13-01"}, "start"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "start"),
        ({"start": "2020-01-01"}, "start"),
    ]:
        response = world.call("GET", base, auth=owner, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["property"] == prop
    unknown = world.call("GET", base, auth=owner, params={"achievement_id": "nope"})
    assert unknown.status_code == 404
