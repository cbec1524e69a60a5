"""The assessment API on SQLite and PostgreSQL: an issuer opens an achievement with a rubric,
adds an assessor; a learner applies with a file and a URL; the assessor reviews from the
queue; the awarded credential's evidence file is served publicly with a digest that matches;
claim codes with their QR; bad input and conflicts are RFC 9457 problems."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import World, accounts_world
from sqlalchemy import select

from merito.formats.multibase import decode_multibase
from merito.services import catalog, claim_codes
from merito.services.platform import Actor
from merito.storage.tables import OutboxRow

PDF = b"%PDF-1.7\n% evidence\n"
RUBRIC = {
    "criteria": [
        {
            "key": "quality",
            "name": "Quality",
            "levels": [
                {"key": "low", "name": "Low", "points": 0},
                {"key": "high", "name": "High", "points": 3},
            ],
        }
    ]
}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined,no-any-return]


def test_apply_review_award_and_claim_codes(world: World) -> None:
    owner_id = world.register("owner@academy.example")
    owner = world.login("owner@academy.example")
    org = world.create_org(owner, "academy")
    made = catalog.create_achievement(
        world.platform,
        Actor(kind="user", id=owner_id, user_id=owner_id),
        org_id=org,
        fields={
            "name": "Portfolio",
            "description": "A portfolio.",
            "criteria": {"narrative": "Do it."},
        },
    )
    catalog.publish_achievement(
        world.platform,
        Actor(kind="user", id=owner_id, user_id=owner_id),
        org_id=org,
        achievement_id=made.id,
    )
    bad = world.call(
        "PUT",
        f"/api/v1/orgs/{org}/achievements/{made.id}/assessment",
        auth=owner,
        json={"rubric": {"criteria": [{"name": "x", "levels": [{"name": "a", "points": 1}]}]}},
    )
    _problem(bad, 422)
    config = world.call(
        "PUT",
        f"/api/v1/orgs/{org}/achievements/{made.id}/assessment",
        auth=owner,
        json={"open": True, "rubric": RUBRIC, "allowed_types": ["application/pdf"]},
    )
    assert config.status_code == 200, config.text
    assert config.json()["open"] is True
    world.register("assessor@academy.example")
    added = world.call(
        "POST",
        f"/api/v1/orgs/{org}/members",
        auth=owner,
        json={"email": "assessor@academy.example", "role": "assessor"},
    )
    assert added.status_code == 201, added.text
    assessor = world.login("assessor@academy.example")

    world.register("learner@example.org")
    learner = world.login("learner@example.org")
    listed = world.call("GET", "/api/v1/me/open-achievements", auth=learner)
    assert [a["achievement_id"] for a in listed.json()] == [made.id]
    created = world.call(
        "POST",
        "/api/v1/me/applications",
        auth=learner,
        json={"achievement_id": made.id, "narrative": "Here is my work."},
    )
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    base = f"/api/v1/me/applications/{app_id}"
    wrong = world.call(
        "POST",
        f"{base}/evidence/file",
        auth=learner,
        params={"name": "x.png"},
        content=b"\x89PNG\r\n\x1a\n",
        headers={"Content-Type": "image/png"},
    )
    assert "not accepted" in str(_problem(wrong, 422)["detail"])
    uploaded = world.call(
        "POST",
        f"{base}/evidence/file",
        auth=learner,
        params={"name": "work.pdf"},
        content=PDF,
        headers={"Content-Type": "application/pdf"},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    link = world.call(
        "POST",
        f"{base}/evidence",
        auth=learner,
        json={"kind": "url", "name": "Repo", "url": "https://git.example.org/me/work"},
    )
    assert link.status_code == 201, link.text
    mine = world.call("GET", f"{base}/evidence/{uploaded.json()['id']}", auth=learner)
    assert mine.content == PDF
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert world.call("POST", f"{base}/submit", auth=learner).json()["state"] == "submitted"
    _problem(world.call("PATCH", base, auth=learner, json={"narrative": "late"}), 409)

    queue = world.call("GET", f"/api/v1/orgs/{org}/applications", auth=assessor)
    assert [i["id"] for i in queue.json()] == [app_id]
    _problem(world.call("GET", f"/api/v1/orgs/{org}/applications", auth=learner), 404)
    _problem(
        world.call(
            "POST",
            f"/api/v1/orgs/{org}/applications/{app_id}/reviews",
            auth=assessor,
            json={"decision": "award", "scores": {"quality": "medium"}},
        ),
        422,
    )
    reviewed = world.call(
        "POST",
        f"/api/v1/orgs/{org}/applications/{app_id}/reviews",
        auth=assessor,
        json={"decision": "award", "scores": {"quality": "high"}, "comment": "Solid."},
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["state"] == "awarded"
    again = world.call(
        "POST",
        f"/api/v1/orgs/{org}/applications/{app_id}/reviews",
        auth=assessor,
        json={"decision": "award", "scores": {"quality": "high"}},
    )
    assert "awarded" in str(_problem(again, 409)["detail"])

    credential_url = reviewed.json()["credential_id"]
    public = world.call("GET", credential_url.removeprefix("https://merito.test"))
    document = public.json()
    file_entry = next(e for e in document["evidence"] if "digestMultibase" in e)
    served = world.call("GET", file_entry["id"].removeprefix("https://merito.test"))
    assert served.status_code == 200
    assert served.content == PDF
    assert (
        decode_multibase(file_entry["digestMultibase"])[2:]
        == hashlib.sha256(served.content).digest()
    )
    assert document["credentialSubject"]["result"][0]["achievedLevel"].endswith("-high")

    # claim codes: create, QR, request, confirm
    code = world.call(
        "POST",
        f"/api/v1/orgs/{org}/claim-codes",
        auth=owner,
        json={"achievement_id": made.id, "label": "Open day", "max_uses": 5},
    )
    assert code.status_code == 201, code.text
    code_id, text = code.json()["id"], code.json()["code"]
    png = world.call(
        "GET", f"/api/v1/orgs/{org}/claim-codes/{code_id}/qr", auth=owner, params={"format": "png"}
    )
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    _problem(world.call("GET", f"/api/v1/orgs/{org}/claim-codes", auth=assessor), 403)
    info = world.call("GET", f"/api/v1/claim-codes/{text}")
    assert info.json()["status"] == "open"
    assert info.json()["achievement_name"] == "Portfolio"
    _problem(
        world.call("POST", f"/api/v1/claim-codes/{text}/requests", json={"email": "nope"}), 422
    )
    asked = world.call(
        "POST", f"/api/v1/claim-codes/{text}/requests", json={"email": "guest@example.org"}
    )
    assert asked.status_code == 202, asked.text
    with world.platform.reading() as session:
        email = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.topic == "email.claim_code")
        ).one()
    token = email["text"].split("token=")[1].split()[0]
    claimed = world.call("POST", f"/api/v1/claim-codes/{text}/claims", json={"token": token})
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["recipient"] == "guest@example.org"
    _problem(world.call("POST", f"/api/v1/claim-codes/{text}/claims", json={"token": token}), 404)
    _problem(world.call("GET", "/api/v1/claim-codes/ZZZZZZZZ"), 404)

    # guessing codes: past the failed-lookup limit every claim-code route answers 429
    statuses = [
        world.call("GET", f"/api/v1/claim-codes/GUESS{chr(65 + n)}").status_code
        for n in range(claim_codes.FAILED_PER_IP)
    ]
    assert 404 in statuses
    assert statuses[-1] == 429  # the earlier 404s above counted too
    limited = _problem(world.call("GET", f"/api/v1/claim-codes/{text}"), 429)
    assert str(limited["type"]).endswith("rate-limited")
    assert "unknown claim codes" in str(limited["detail"])
    again = world.call(
        "POST", f"/api/v1/claim-codes/{text}/requests", json={"email": "late@example.org"}
    )
    _problem(again, 429)
    assert 1 <= int(again.headers["retry-after"]) <= claim_codes.FAILED_WINDOW.total_seconds()
    world.clock.advance(seconds=claim_codes.FAILED_WINDOW.total_seconds() + 1)
    assert world.call("GET", f"/api/v1/claim-codes/{text}").status_code == 200
