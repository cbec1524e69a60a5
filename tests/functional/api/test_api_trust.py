"""The trust API on SQLite and PostgreSQL: request -> accept an endorsement, Merito's signed
registry with its cache headers, the DID Configuration, verifying as an organisation (trust,
quality, signals) and the public trusted verifier; errors are RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import World, accounts_world

from merito.formats.quality import eqf_alignment
from merito.services import catalog, credentials
from merito.services.platform import Actor


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def test_endorsement_registry_and_trusted_verification(world: World) -> None:
    issuer_id = world.register("issuer@academy.example")
    issuer = world.login("issuer@academy.example")
    academy = world.create_org(issuer, "academy")
    owner = Actor(kind="user", id=issuer_id, user_id=issuer_id)
    made = catalog.create_achievement(
        world.platform,
        owner,
        org_id=academy,
        fields={
            "name": "Welding",
            "description": "Welds.",
            "criteria": {"narrative": "Passed a practical test."},
            "alignment": [{k: v for k, v in eqf_alignment(4).items() if k != "type"}],
            "hours": 120,
        },
    )
    catalog.publish_achievement(world.platform, owner, org_id=academy, achievement_id=made.id)
    world.register("hr@industry.example")
    hr = world.login("hr@industry.example")
    industry = world.create_org(hr, "industry")

    asked = world.call(
        "POST",
        f"/api/v1/orgs/{academy}/endorsement-requests",
        auth=issuer,
        json={"endorser_org_id": industry, "achievement_id": made.id, "message": "Please."},
    )
    assert asked.status_code == 201, asked.text
    incoming = world.call("GET", f"/api/v1/orgs/{industry}/endorsement-requests", auth=hr)
    assert [r["id"] for r in incoming.json()] == [asked.json()["id"]]
    empty = world.call(
        "POST",
        f"/api/v1/orgs/{industry}/endorsement-requests/incoming/{asked.json()['id']}/accept",
        auth=hr,
        json={"comment": "   "},
    )
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
    accepted = world.call(
        "POST",
        f"/api/v1/orgs/{industry}/endorsement-requests/incoming/{asked.json()['id']}/accept",
        auth=hr,
        json={"comment": "Industry standard."},
    )
    assert accepted.status_code == 201, accepted.text
    endorsement = accepted.json()
    public = world.call("GET", f"/endorsements/{endorsement['id']}")
    assert public.status_code == 200
    assert public.json()["credentialSubject"]["endorsementComment"] == "Industry standard."
    assert world.call("GET", "/endorsements/nope").status_code == 404

    registry = world.call("GET", "/trust/registry.json")
    assert registry.status_code == 200
    assert "max-age" in registry.headers["cache-control"]
    assert registry.json()["type"] == ["VerifiableCredential", "TrustRegistryCredential"]
    again = world.call(
        "GET", "/trust/registry.json", headers={"If-None-Match": registry.headers["etag"]}
    )
    assert again.status_code == 304
    configuration = world.call("GET", "/.well-known/did-configuration.json")
    assert configuration.status_code == 200
    assert configuration.json()["linked_dids"]

    imported = world.call(
        "POST",
        f"/api/v1/orgs/{industry}/trust-registries",
        auth=hr,
        json={"document": registry.json()},
    )
    assert imported.status_code == 201, imported.text
    bad = world.call(
        "POST",
        f"/api/v1/orgs/{industry}/trust-registries",
        auth=hr,
        json={"document": {**registry.json(), "proof": {}}},
    )
    assert bad.status_code in (400, 409, 422)
    assert "problem+json" in bad.headers["content-type"]

    record = credentials.issue_credential(
        world.platform,
        owner,
        org_id=academy,
        achievement_id=made.id,
        recipient="learner@example.org",
        notify=False,
    )
    verified = world.call(
        "POST",
        f"/api/v1/orgs/{industry}/verify",
        auth=hr,
        json={"credential": record.document, "registries": [imported.json()["id"]]},
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    checks = {c["id"]: c["outcome"] for c in body["checks"]}
    assert body["verified"] is True
    assert checks["trust"] == "pass"
    assert checks["endorsements"] == "pass"
    assert checks["domain_linkage"] == "pass"
    assert body["quality"]["eqf_level"] == 4
    assert body["quality"]["hours"] == 120
    assert body["signals"]["holders_text"] == "fewer than 5"
    assert body["signals"]["endorsements"] == 1

    public_verify = world.call(
        "POST", "/verify/trusted", json={"credential": record.document, "registries": ["merito"]}
    )
    assert public_verify.status_code == 200
    assert {c["id"]: c["outcome"] for c in public_verify.json()["checks"]}["trust"] == "pass"
    refused = world.call(
        "POST",
        "/verify/trusted",
        json={"credential": record.document, "registries": [imported.json()["id"]]},
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("invalid-input")

    signals = world.call("GET", f"/trust/achievements/{made.id}")
    assert signals.status_code == 200
    assert signals.json()["signals"]["verifier_orgs_text"] == "fewer than 5"
    assert signals.json()["quality"]["eqf_level"] == 4
    other = world.call("GET", f"/api/v1/orgs/{academy}/trust-registries", auth=hr)
    assert other.status_code == 404
