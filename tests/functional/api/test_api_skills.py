"""The skills API on SQLite and PostgreSQL: the public ESCO taxonomy (search, skill,
occupation) with its attribution, and an organisation's own skills mapped onto ESCO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import World, accounts_world

from merito.services import skills
from merito.services.platform import Actor

FIXTURES = Path(__file__).parents[2] / "fixtures" / "esco"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        skills.import_taxonomy(w.platform, Actor.system("test"), skills.read_taxonomy(FIXTURES))
        yield w


def test_public_taxonomy_search_skill_and_occupation(world: World) -> None:
    found = world.call("GET", "/api/v1/skills", params={"q": "python dev", "limit": 3})
    assert found.status_code == 200, found.text
    body = found.json()
    assert "European Commission" in body["attribution"]
    assert body["licence"] == "https://creativecommons.org/licenses/by/4.0/"
    assert body["tier"] == "default"  # MERITO_SKILLS_TIER (docs/skills.md)
    best = body["results"][0]
    assert best["skill"]["uri"] == PYTHON
    assert 0 < best["score"] <= 1

    skill = world.call("GET", f"/api/v1/skills/{best['skill']['id']}").json()
    assert skill["preferred_label"] == "Python (computer programming)"
    assert skill["alignment"]["targetUrl"] == PYTHON
    assert [o["uri"] for o in skill["optional_for"]] == [DEVELOPER]
    assert "attribution" in skill

    occupations = world.call("GET", "/api/v1/occupations", params={"q": "software engineer"})
    developer = occupations.json()["results"][0]["occupation"]
    assert developer["uri"] == DEVELOPER
    detail = world.call("GET", f"/api/v1/occupations/{developer['id']}").json()
    assert PYTHON in {s["uri"] for s in detail["optional_skills"]}
    assert len(detail["essential_skills"]) == 1


def test_errors_are_problems(world: World) -> None:
    missing = world.call("GET", "/api/v1/skills/no-such-skill")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert world.call("GET", "/api/v1/occupations/nope").status_code == 404
    assert world.call("GET", "/api/v1/skills").status_code == 422  # q is required
    blank = world.call("GET", "/api/v1/skills", params={"q": "  "})
    assert blank.status_code == 422
    assert "empty" in blank.json()["detail"]
    assert world.call("GET", "/api/v1/skills", params={"q": "x" * 201}).status_code == 422


def test_an_organisation_adds_and_maps_its_own_skills(world: World) -> None:
    world.register("owner@acme.example")
    session = world.login("owner@acme.example")
    org_id = world.create_org(session, "acme")
    made = world.call(
        "POST",
        f"/api/v1/orgs/{org_id}/skills",
        auth=session,
        json={"preferred_label": "Acme pipeline scripting", "alt_labels": ["acme ci"]},
    )
    assert made.status_code == 201, made.text
    skill_id = made.json()["id"]
    mapped = world.call(
        "PUT",
        f"/api/v1/orgs/{org_id}/skills/{skill_id}/mappings",
        auth=session,
        json={"mappings": [{"esco_skill": PYTHON, "match": "close"}]},
    )
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["mappings"][0]["esco"]["uri"] == PYTHON
    search = world.call(
        "GET", f"/api/v1/orgs/{org_id}/skills", auth=session, params={"q": "acme ci"}
    ).json()
    assert search["results"][0]["skill"]["id"] == skill_id
    listed = world.call("GET", f"/api/v1/orgs/{org_id}/skills", auth=session).json()
    assert [s["id"] for s in listed] == [skill_id]
    # the public door does not open an organisation's skill to the anonymous
    assert world.call("GET", f"/api/v1/skills/{skill_id}").status_code == 404
    assert world.call("GET", f"/api/v1/skills/{skill_id}", auth=session).status_code == 200
    bad = world.call(
        "PUT",
        f"/api/v1/orgs/{org_id}/skills/{skill_id}/mappings",
        auth=session,
        json={"mappings": [{"esco_skill": skill_id}]},
    )
    assert bad.status_code == 422
    assert "not an ESCO skill" in bad.json()["detail"]
    patched = world.call(
        "PATCH",
        f"/api/v1/orgs/{org_id}/skills/{skill_id}",
        auth=session,
        json={"description": "Our build pipelines."},
    )
    assert patched.json()["description"] == "Our build pipelines."
    gone = world.call("DELETE", f"/api/v1/orgs/{org_id}/skills/{skill_id}", auth=session)
    assert gone.status_code == 204
    assert world.call("GET", f"/api/v1/orgs/{org_id}/skills", auth=session).json() == []
