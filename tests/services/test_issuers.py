"""Issuers: did:web identity, signers, DID documents, profiles and key rotation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import select

from merito import bootstrap
from merito.config import Settings
from merito.domain.achievements import Profile
from merito.domain.identifiers import WIRE_CONTEXT
from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.formats.did_web import did_web_to_url
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import issuers, issuing
from merito.services.platform import Actor, Platform
from merito.storage.tables import AuditLogRow, OrganisationRow
from merito.verification import verify

Seed = Callable[..., SeededOrg]

ACHIEVEMENT: dict[str, Any] = {
    "id": "https://merito.test/achievements/a1",
    "type": ["Achievement"],
    "name": "Rotation survivor",
    "description": "Kept verifying after a key rotation.",
    "criteria": {"narrative": "Was signed before the rotation."},
}


def _org(platform: Platform, org_id: str) -> OrganisationRow:
    with platform.reading() as session:
        org = session.get(OrganisationRow, org_id)
        assert org is not None
        return org


def _audit(platform: Platform, org_id: str) -> list[tuple[str, str | None]]:
    with platform.reading() as session:
        rows = session.scalars(
            select(AuditLogRow).where(AuditLogRow.org_id == org_id).order_by(AuditLogRow.id)
        )
        return [(r.action, r.target) for r in rows]


def _verify(platform: Platform, document: dict[str, Any], clock: MovableClock) -> dict[str, str]:
    options = bootstrap.verify_options(
        Settings(), documents=issuers.did_documents(platform), clock=clock
    )
    report = verify(document, options=options)
    return {c.id: c.outcome for c in report.checks}


# --- identity ------------------------------------------------------------------------------


def test_issuer_did_is_the_did_web_of_the_org_path(platform: Platform, seed_org: Seed) -> None:
    org = _org(platform, seed_org(slug="acme").org_id)
    did = issuers.issuer_did(platform, org)
    assert did == "did:web:merito.test:orgs:acme"
    assert did_web_to_url(did) == "https://merito.test/orgs/acme/did.json"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://merito.test:8443", "did:web:merito.test%3A8443:orgs:acme"),
        ("http://127.0.0.1:8000", "did:web:127.0.0.1%3A8000:orgs:acme"),
        ("https://example.org/merito/", "did:web:example.org:merito:orgs:acme"),
    ],
)
def test_issuer_did_encodes_port_and_base_path(
    platform: Platform, seed_org: Seed, base_url: str, expected: str
) -> None:
    org = _org(platform, seed_org(slug="acme").org_id)
    assert issuers.issuer_did(dataclasses.replace(platform, base_url=base_url), org) == expected


def test_signer_for_creates_the_key_once_under_the_issuer_did(
    platform: Platform, seed_org: Seed
) -> None:
    seeded = seed_org(slug="acme")
    first = issuers.signer_for(platform, seeded.org_id)
    again = issuers.signer_for(platform, seeded.org_id)
    assert first.controller == "did:web:merito.test:orgs:acme"
    assert first.algorithm == "EdDSA"
    assert again.verification_method == first.verification_method
    assert len(platform.keystore.public_keys(seeded.org_id)) == 1
    # made on first use, by the system: audited once
    assert _audit(platform, seeded.org_id) == [("key.created", first.verification_method)]


def test_signer_for_keeps_one_key_per_algorithm(platform: Platform, seed_org: Seed) -> None:
    seeded = seed_org()
    ed = issuers.signer_for(platform, seeded.org_id)
    p256 = issuers.signer_for(platform, seeded.org_id, algorithm="P-256")
    assert (ed.algorithm, p256.algorithm) == ("EdDSA", "ES256")
    assert issuers.signer_for(platform, seeded.org_id, algorithm="ES256").verification_method == (
        p256.verification_method
    )
    with pytest.raises(InvalidInput) as caught:
        issuers.signer_for(platform, seeded.org_id, algorithm="secp256k1")
    assert caught.value.property == "algorithm"


def test_signer_for_an_unknown_org_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound):
        issuers.signer_for(platform, "no-such-org")


# --- DID document and verification ----------------------------------------------------------


def test_a_credential_signed_with_signer_for_verifies_via_the_did_document(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    seeded = seed_org(slug="acme")
    org = _org(platform, seeded.org_id)
    signer = issuers.signer_for(platform, seeded.org_id)
    with platform.reading() as session:
        profile = issuers.profile_document(session, platform, org)
    issued = issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=signer,
        issued_at=clock.now(),
        issuer=profile,
    )
    checks = _verify(platform, issued.document, clock)
    assert checks["proof"] == "pass", checks
    assert "fail" not in checks.values(), checks


def test_did_document_lists_every_key_as_assertion_method(
    platform: Platform, seed_org: Seed
) -> None:
    seeded = seed_org(slug="acme")
    ed = issuers.signer_for(platform, seeded.org_id)
    rsa = issuers.signer_for(platform, seeded.org_id, algorithm="RSA")
    document = issuers.public_did_document(platform, "acme")
    assert document["id"] == "did:web:merito.test:orgs:acme"
    methods = {m["id"]: m for m in document["verificationMethod"]}
    assert set(methods) == {ed.verification_method, rsa.verification_method}
    assert methods[ed.verification_method]["type"] == "Multikey"
    assert methods[rsa.verification_method]["type"] == "JsonWebKey"
    assert "d" not in methods[rsa.verification_method]["publicKeyJwk"]
    assert document["assertionMethod"] == list(methods)
    assert "authentication" not in document
    resolver = VerificationMethodResolver(documents={document["id"]: document})
    assert "assertionMethod" in resolver.resolve(ed.verification_method).relationships


def test_unknown_slug_has_no_did_document(platform: Platform) -> None:
    with pytest.raises(NotFound):
        issuers.public_did_document(platform, "nobody")


def test_an_old_credential_still_verifies_after_rotation(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    seeded = seed_org(role="admin", slug="acme")
    org = _org(platform, seeded.org_id)
    old_signer = issuers.signer_for(platform, seeded.org_id)
    with platform.reading() as session:
        profile = issuers.profile_document(session, platform, org)
    old = issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=old_signer,
        issued_at=clock.now(),
        issuer=profile,
    )
    clock.advance(days=30)
    rotated = issuers.rotate_key(platform, seeded.actor, org_id=seeded.org_id)
    assert rotated.verification_method != old_signer.verification_method
    new_signer = issuers.signer_for(platform, seeded.org_id)
    assert new_signer.verification_method == rotated.verification_method
    new = issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=new_signer,
        issued_at=clock.now(),
        issuer=profile,
    )
    assert _verify(platform, old.document, clock)["proof"] == "pass"
    assert _verify(platform, new.document, clock)["proof"] == "pass"
    keys = {k.verification_method: k for k in issuers.list_keys(platform, seeded.actor, org.id)}
    assert keys[old_signer.verification_method].status == "retired"
    assert keys[old_signer.verification_method].retired_at == clock.now()
    assert keys[rotated.verification_method].status == "active"
    assert ("key.rotated", rotated.verification_method) in _audit(platform, seeded.org_id)


# --- keys ------------------------------------------------------------------------------------


def test_create_key_for_jwt_and_refuse_a_second(platform: Platform, seed_org: Seed) -> None:
    seeded = seed_org(role="admin")
    made = issuers.create_key(platform, seeded.actor, org_id=seeded.org_id, algorithm="P-256")
    assert (made.algorithm, made.key_type, made.status) == ("ES256", "P-256", "active")
    assert made.public_key_multibase is not None
    assert "d" not in made.public_key_jwk
    with pytest.raises(Conflict) as caught:
        issuers.create_key(platform, seeded.actor, org_id=seeded.org_id, algorithm="ES256")
    assert caught.value.property == "algorithm"
    assert _audit(platform, seeded.org_id) == [("key.created", made.verification_method)]


def test_rotating_without_a_key_is_not_found(platform: Platform, seed_org: Seed) -> None:
    seeded = seed_org()
    with pytest.raises(NotFound) as caught:
        issuers.rotate_key(platform, seeded.actor, org_id=seeded.org_id, algorithm="RSA")
    assert caught.value.property == "algorithm"


def test_keys_need_keys_manage(platform: Platform, seed_org: Seed) -> None:
    staff = seed_org(role="issuer_staff")
    with pytest.raises(PermissionDenied):
        issuers.create_key(platform, staff.actor, org_id=staff.org_id, algorithm="P-256")
    with pytest.raises(PermissionDenied):
        issuers.rotate_key(platform, staff.actor, org_id=staff.org_id)
    assert issuers.list_keys(platform, staff.actor, staff.org_id) == []
    assert platform.keystore.public_keys(staff.org_id) == []


def test_another_orgs_keys_and_profile_are_not_found(platform: Platform, seed_org: Seed) -> None:
    a, b = seed_org(), seed_org()
    issuers.signer_for(platform, b.org_id)
    for call in (
        lambda: issuers.list_keys(platform, a.actor, b.org_id),
        lambda: issuers.create_key(platform, a.actor, org_id=b.org_id, algorithm="P-256"),
        lambda: issuers.rotate_key(platform, a.actor, org_id=b.org_id),
        lambda: issuers.get_profile(platform, a.actor, b.org_id),
        lambda: issuers.update_profile(
            platform, a.actor, org_id=b.org_id, fields=issuers.ProfileFields(name="Mine")
        ),
    ):
        with pytest.raises(NotFound):
            call()
    assert len(platform.keystore.public_keys(b.org_id)) == 1
    assert _org(platform, b.org_id).name != "Mine"


# --- profile -------------------------------------------------------------------------------


def test_profile_round_trip_and_embedding(platform: Platform, seed_org: Seed) -> None:
    seeded = seed_org(role="admin", slug="acme")
    fields = issuers.ProfileFields(
        name="Acme Academy",
        url="https://acme.example.org",
        email="badges@acme.example.org",
        phone="+44 20 7946 0000",
        description="  Courses for builders.  ",
        image="https://acme.example.org/logo.png",
        address={"addressCountry": "United Kingdom", "addressLocality": "London"},
    )
    written = issuers.update_profile(platform, seeded.actor, org_id=seeded.org_id, fields=fields)
    assert written == issuers.get_profile(platform, seeded.actor, seeded.org_id)
    assert written == issuers.public_profile(platform, "acme")
    assert written["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert written["id"] == "did:web:merito.test:orgs:acme"
    assert written["name"] == "Acme Academy"
    assert written["description"] == "Courses for builders."
    assert written["image"] == {"id": "https://acme.example.org/logo.png", "type": "Image"}
    assert written["address"]["addressLocality"] == "London"
    with platform.reading() as session:
        org = session.get(OrganisationRow, seeded.org_id)
        assert org is not None
        embedded = issuers.profile_document(session, platform, org)
    assert "@context" not in embedded
    Profile.model_validate(embedded, context=WIRE_CONTEXT)
    assert _audit(platform, seeded.org_id) == [("profile.updated", written["id"])]
    # PUT replaces: what is left out is cleared
    cleared = issuers.update_profile(
        platform, seeded.actor, org_id=seeded.org_id, fields=issuers.ProfileFields()
    )
    assert set(cleared) == {"@context", "id", "type", "name"}
    assert cleared["name"] == "Acme Academy"


@pytest.mark.parametrize(
    ("fields", "prop"),
    [
        ({"url": "ftp://acme.example.org"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"email": "nobody"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"image": "javascript:alert(1)"}, "image"),
        ({"image": "https://user:pw@acme.example.org/logo.png"}, "image"),
        ({"phone": "call me"}, "phone"),
        ({"name": "   "}, "name"),
        ({"description": "x" * 5001}, "description"),
        ({"address": {"geo": {"latitude": "north"}}}, "address.geo.latitude"),
    ],
)
def test_profile_validation_names_the_property(
    platform: Platform, seed_org: Seed, fields: dict[str, Any], prop: str
) -> None:
    seeded = seed_org(role="admin")
    with pytest.raises(InvalidInput) as caught:
        issuers.update_profile(
            platform, seeded.actor, org_id=seeded.org_id, fields=issuers.ProfileFields(**fields)
        )
    assert caught.value.property == prop
    assert _audit(platform, seeded.org_id) == []


def test_profile_write_needs_the_permission(platform: Platform, seed_org: Seed) -> None:
    staff = seed_org(role="issuer_staff")
    with pytest.raises(PermissionDenied):
        issuers.update_profile(
            platform, staff.actor, org_id=staff.org_id, fields=issuers.ProfileFields(name="X")
        )
    viewer = Actor(kind="anonymous", id="-")
    with pytest.raises(NotFound):
        issuers.get_profile(platform, viewer, staff.org_id)


def test_did_documents_cover_every_org(platform: Platform, seed_org: Seed) -> None:
    a = seed_org(slug="alpha")
    seed_org(slug="beta")
    issuers.signer_for(platform, a.org_id)
    documents = issuers.did_documents(platform)
    assert set(documents) == {"did:web:merito.test:orgs:alpha", "did:web:merito.test:orgs:beta"}
    assert len(documents["did:web:merito.test:orgs:alpha"]["verificationMethod"]) == 1
    assert documents["did:web:merito.test:orgs:beta"]["verificationMethod"] == []


@pytest.mark.parametrize("algorithm", ["P-256", "RSA"])
def test_vc_jwt_keys_verify_through_the_did_document(
    platform: Platform, seed_org: Seed, clock: MovableClock, algorithm: str
) -> None:
    seeded = seed_org(slug="acme")
    org = _org(platform, seeded.org_id)
    signer = issuers.signer_for(platform, seeded.org_id, algorithm=algorithm)
    with platform.reading() as session:
        profile = issuers.profile_document(session, platform, org)
    issued = issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=signer,
        issued_at=clock.now(),
        issuer=profile,
        proof_format="vc-jwt",
    )
    assert issued.jwt is not None
    options = bootstrap.verify_options(
        Settings(), documents=issuers.did_documents(platform), clock=clock
    )
    report = verify(issued.jwt, options=options)
    assert report.verified, report.summary
