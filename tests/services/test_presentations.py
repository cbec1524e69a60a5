"""Holder keys, Verifiable Presentations and the CLR export, on SQLite and PostgreSQL, with
credentials issued by the real issuing service and checked by the real verifier."""

from __future__ import annotations

import copy
import json

import pytest
from sharing_support import Seeder, issue, new_learner, put_in_wallet, verifier

from merito.domain.verification import Outcome
from merito.errors import InvalidInput, InvalidKey, NotFound
from merito.services import presentations
from merito.services.platform import Platform
from merito.storage.tables_sharing import HolderKeyRow
from merito.verification import verify
from merito.verification.presentations import presentation_summary, verify_presentation


def outcomes(report: object) -> dict[str, str]:
    return {c.id: c.outcome.value for c in report.checks}  # type: ignore[attr-defined]


def test_holder_key_is_made_once_sealed_and_bound_to_its_learner(platform: Platform) -> None:
    ada, bob = new_learner(platform), new_learner(platform)
    first = presentations.holder_key(platform, ada)
    assert first == presentations.holder_key(platform, ada)
    assert first.did.startswith("did:key:z6Mk")
    assert first.verification_method == f"{first.did}#{first.public_key_multibase}"
    assert presentations.holder_key(platform, bob).did != first.did
    signer = presentations.holder_signer(platform, ada)
    assert signer.controller == first.did
    with platform.reading() as session:
        row = session.query(HolderKeyRow).filter_by(user_id=ada.user_id).one()
        d = signer.key.to_jwk()["d"] if hasattr(signer.key, "to_jwk") else None
        stored = bytes(row.encrypted_private_key)
    # the private key is not in the row in any readable form
    from merito.proofs.keys import private_key_to_jwk

    assert private_key_to_jwk(signer.key)["d"].encode() not in stored
    del d
    # the sealed key does not open under another learner's context
    from merito.domain.ports_storage import SealedSecret

    sealed = SealedSecret(
        ciphertext=stored, nonce=bytes(row.nonce), master_key_id=row.master_key_id
    )
    with pytest.raises(InvalidKey):
        platform.keystore.unseal(sealed, context=["holder-key", bob.user_id or "", first.did])


@pytest.mark.parametrize("cryptosuite", ["eddsa-jcs-2022", "eddsa-rdfc-2022"])
def test_a_presentation_verifies_with_its_challenge_and_domain(
    platform: Platform, seed_org: Seeder, cryptosuite: str
) -> None:
    org, ada = seed_org(), new_learner(platform)
    did = presentations.holder_key(platform, ada).did
    item = put_in_wallet(platform, ada, issue(platform, org, recipient=did))
    vp = presentations.create_presentation(
        platform,
        ada,
        item_ids=[item],
        challenge="n-0S6_WzA2Mj",
        domain="jobs.example.com",
        cryptosuite=cryptosuite,  # type: ignore[arg-type]
    )
    assert vp["holder"] == did
    assert vp["proof"]["proofPurpose"] == "authentication"
    report = verify_presentation(
        json.dumps(vp),
        options=verifier(platform),
        challenge="n-0S6_WzA2Mj",
        domain="jobs.example.com",
    )
    assert report.verified, report.to_dict()
    assert outcomes(report) == {
        "parse": "pass",
        "format": "pass",
        "context": "pass",
        "proof": "pass",
        "holder": "pass",
        "challenge": "pass",
        "domain": "pass",
        "credentials": "pass",
        "subject": "pass",
    }
    assert report.format == "vp"
    assert presentation_summary(report) == "The presentation is valid."


def _signed_vp(platform: Platform, seed_org: Seeder, *, recipient: str | None = None) -> dict:
    org, ada = seed_org(), new_learner(platform)
    did = presentations.holder_key(platform, ada).did
    item = put_in_wallet(platform, ada, issue(platform, org, recipient=recipient or did))
    return presentations.create_presentation(
        platform, ada, item_ids=[item], challenge="c-1", domain="jobs.example.com"
    )


def test_wrong_challenge_or_domain_fail_their_own_checks(
    platform: Platform, seed_org: Seeder
) -> None:
    vp = _signed_vp(platform, seed_org)
    options = verifier(platform)
    replay = verify_presentation(vp, options=options, challenge="c-2", domain="jobs.example.com")
    assert not replay.verified
    assert outcomes(replay)["challenge"] == "fail"
    assert outcomes(replay)["domain"] == "pass"
    elsewhere = verify_presentation(vp, options=options, challenge="c-1", domain="evil.example")
    assert not elsewhere.verified
    assert outcomes(elsewhere)["domain"] == "fail"
    assert outcomes(elsewhere)["challenge"] == "pass"
    # changing the challenge in the proof to the expected one breaks the holder's signature
    forged = copy.deepcopy(vp)
    forged["proof"]["challenge"] = "c-2"
    report = verify_presentation(
        forged, options=options, challenge="c-2", domain="jobs.example.com"
    )
    assert outcomes(report)["proof"] == "fail"
    assert outcomes(report)["challenge"] == "skipped"
    # no expectations given: still valid, but the verifier is warned it may be a replay
    lax = verify_presentation(vp, options=options)
    assert lax.verified
    assert outcomes(lax)["challenge"] == "warning"


def test_a_tampered_credential_inside_fails(platform: Platform, seed_org: Seeder) -> None:
    vp = _signed_vp(platform, seed_org)
    options = verifier(platform)
    tampered = copy.deepcopy(vp)
    tampered["verifiableCredential"][0]["credentialSubject"]["achievement"]["name"] = "PhD"
    report = verify_presentation(
        tampered, options=options, challenge="c-1", domain="jobs.example.com"
    )
    assert not report.verified
    # the holder's JCS proof covers the credentials too: both fail
    assert outcomes(report)["proof"] == "fail"
    assert outcomes(report)["credentials"] == "fail"


def test_a_credential_tampered_before_the_holder_signed_fails_the_credentials_check(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform)
    did = presentations.holder_key(platform, ada).did
    record = issue(platform, org, recipient=did)
    item = put_in_wallet(platform, ada, record)
    from merito.storage.tables_wallet import WalletItemRow

    with platform.transaction() as session:
        row = session.get(WalletItemRow, item)
        assert row is not None
        document = copy.deepcopy(row.document)
        document["credentialSubject"]["achievement"]["name"] = "PhD"
        row.document = document
    vp = presentations.create_presentation(
        platform, ada, item_ids=[item], challenge="c", domain="d.example"
    )
    report = verify_presentation(vp, options=verifier(platform), challenge="c", domain="d.example")
    assert outcomes(report)["proof"] == "pass"
    assert outcomes(report)["credentials"] == "fail"
    assert "Credential 0 is not valid" in report.check("credentials").message  # type: ignore[union-attr]


def test_holder_who_is_not_the_subject_fails(platform: Platform, seed_org: Seeder) -> None:
    someone = new_learner(platform)
    other_did = presentations.holder_key(platform, someone).did
    vp = _signed_vp(platform, seed_org, recipient=other_did)
    report = verify_presentation(
        vp, options=verifier(platform), challenge="c-1", domain="jobs.example.com"
    )
    assert not report.verified
    assert outcomes(report)["subject"] == "fail"
    assert outcomes(report)["credentials"] == "pass"


def test_email_recipients_cannot_be_bound_and_say_so(platform: Platform, seed_org: Seeder) -> None:
    vp = _signed_vp(platform, seed_org, recipient="ada@example.org")
    report = verify_presentation(
        vp, options=verifier(platform), challenge="c-1", domain="jobs.example.com"
    )
    assert report.verified
    assert outcomes(report)["subject"] == "warning"


def test_a_holder_claim_for_someone_else_fails(platform: Platform, seed_org: Seeder) -> None:
    vp = _signed_vp(platform, seed_org)
    vp["holder"] = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    report = verify_presentation(
        vp, options=verifier(platform), challenge="c-1", domain="jobs.example.com"
    )
    assert not report.verified
    assert outcomes(report)["proof"] == "fail"  # holder is signed over


def test_vc_jwt_credentials_travel_enveloped(platform: Platform, seed_org: Seeder) -> None:
    org, ada = seed_org(), new_learner(platform)
    did = presentations.holder_key(platform, ada).did
    item = put_in_wallet(platform, ada, issue(platform, org, recipient=did, proof_format="vc-jwt"))
    vp = presentations.create_presentation(
        platform, ada, item_ids=[item], challenge="c", domain="d"
    )
    assert vp["verifiableCredential"][0]["type"] == "EnvelopedVerifiableCredential"
    report = verify_presentation(vp, options=verifier(platform), challenge="c", domain="d")
    assert report.verified, report.to_dict()


@pytest.mark.parametrize(
    "document",
    [
        "",
        "[]",
        "{",
        '{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiablePresentation"}',
        {"@context": "https://www.w3.org/ns/credentials/v2", "type": ["VerifiableCredential"]},
        "a" * 2_000_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
    ],
)
def test_hostile_presentations_are_reports_not_exceptions(document: object) -> None:
    report = verify_presentation(document)  # type: ignore[arg-type]
    assert not report.verified
    assert any(c.outcome is Outcome.FAIL for c in report.checks)


def test_someone_elses_items_cannot_be_presented(platform: Platform, seed_org: Seeder) -> None:
    org, ada, bob = seed_org(), new_learner(platform), new_learner(platform)
    item = put_in_wallet(platform, ada, issue(platform, org))
    with pytest.raises(NotFound):
        presentations.create_presentation(platform, bob, item_ids=[item], challenge="c", domain="d")
    with pytest.raises(InvalidInput):
        presentations.create_presentation(platform, ada, item_ids=[], challenge="c", domain="d")


def test_clr_export_is_signed_by_the_holder_and_verifies(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform)
    first = put_in_wallet(platform, ada, issue(platform, org))
    put_in_wallet(platform, ada, issue(platform, org, recipient="ada+2@example.org"))
    clr = presentations.export_clr(platform, ada)
    did = presentations.holder_key(platform, ada).did
    assert clr["type"] == ["VerifiableCredential", "ClrCredential"]
    assert clr["issuer"]["id"] == did
    assert len(clr["credentialSubject"]["verifiableCredential"]) == 2
    report = verify(clr, options=verifier(platform))
    assert report.verified, report.to_dict()
    assert report.format == "clr-2.0"
    # each embedded credential keeps its issuer's proof
    for inner in clr["credentialSubject"]["verifiableCredential"]:
        assert verify(inner, options=verifier(platform)).verified
    tampered = copy.deepcopy(clr)
    tampered["credentialSubject"]["verifiableCredential"][0]["credentialSubject"]["achievement"][
        "name"
    ] = "PhD"
    assert not verify(tampered, options=verifier(platform)).verified
    only = presentations.export_clr(platform, ada, item_ids=[first])
    assert len(only["credentialSubject"]["verifiableCredential"]) == 1


def test_clr_has_the_members_clr_2_0_requires(platform: Platform, seed_org: Seeder) -> None:
    """CLR 2.0 §B.1.3 ClrCredential and §B.1.4 ClrSubject required members, checked by hand:
    the official JSON Schema is not among the fixtures (see docs/sharing.md)."""
    org, ada = seed_org(), new_learner(platform)
    put_in_wallet(platform, ada, issue(platform, org))
    clr = presentations.export_clr(platform, ada)
    for member in ("@context", "id", "type", "issuer", "validFrom", "name", "credentialSubject"):
        assert member in clr, member
    assert clr["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
    ]
    subject = clr["credentialSubject"]
    assert subject["type"] == ["ClrSubject"]
    assert all(
        "AchievementCredential" in c["type"] or "OpenBadgeCredential" in c["type"]
        for c in subject["verifiableCredential"]
    )
    assert [a["name"] for a in subject["achievement"]] == ["SQL Fundamentals"]
    assert clr["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_badges_that_are_not_verifiable_credentials_are_refused(platform: Platform) -> None:
    from merito.storage.tables_wallet import WalletItemRow

    ada = new_learner(platform)
    with platform.transaction() as session:
        session.add(
            WalletItemRow(
                id="00000000-0000-4000-8000-000000000001",
                user_id=ada.user_id,
                source="imported",
                format="ob2-hosted",
                document={"type": "Assertion"},
                content_hash="0" * 64,
                name="Old badge",
                visibility="private",
            )
        )
    with pytest.raises(InvalidInput, match="not a W3C verifiable credential"):
        presentations.create_presentation(
            platform,
            ada,
            item_ids=["00000000-0000-4000-8000-000000000001"],
            challenge="c",
            domain="d",
        )
    with pytest.raises(InvalidInput, match=r"no Open Badges 3\.0 credential"):
        presentations.export_clr(platform, ada)
