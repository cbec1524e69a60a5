"""Trust end to end through the real services, on SQLite and PostgreSQL.

Endorsements: request -> accept (issued, signed, embedded in the achievement a credential then
carries, verified by the ``endorsements`` check) -> revoke (the check warns); decline with a
reason; audit and outbox. Registries: Merito's own signed registry, import/refresh with the
publisher pinned, the ``trust`` check's three answers. Domain linkage of Merito's own did:web
issuers. Quality facts and counts-only signals.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import select

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ProofError
from merito.formats.quality import assessment_alignment, eqf_alignment
from merito.services import catalog, credentials, endorsements, trust
from merito.services.platform import Actor, Platform
from merito.storage.tables import AuditLogRow, OrganisationRow, OutboxRow
from merito.verification import VerifyOptions

Seed = Callable[..., SeededOrg]


def _achievement(platform: Platform, org: SeededOrg) -> str:
    made = catalog.create_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={
            "name": "Data analysis",
            "description": "Analyses data.",
            "criteria": {"narrative": "Pass a proctored exam."},
            "achievementType": "Certificate",
            "creditsAvailable": 5,
            "fieldOfStudy": "Statistics",
            "hours": 40,
            "alignment": [
                {k: v for k, v in eqf_alignment(5).items() if k != "type"},
                {
                    k: v
                    for k, v in assessment_alignment(
                        "proctored", base_url="https://merito.test"
                    ).items()
                    if k != "type"
                },
                {
                    "targetName": "data analysis",
                    "targetUrl": "http://data.europa.eu/esco/skill/x",
                    "targetFramework": "ESCO",
                },
            ],
        },
    )
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    return made.id


def _issue(platform: Platform, org: SeededOrg, achievement_id: str, who: str) -> dict[str, Any]:
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient=f"{who}@example.org",
    )
    return dict(record.document)


def _verify(platform: Platform, document: dict[str, Any], **kw: Any) -> trust.TrustedReport:
    return trust.verify_with_trust(
        platform, json.dumps(document), VerifyOptions(clock=platform.clock), **kw
    )


def _checks(result: trust.TrustedReport) -> dict[str, str]:
    return {c.id: c.outcome.value for c in result.report.checks}


def test_request_accept_embed_verify_revoke(platform: Platform, seed_org: Seed) -> None:
    issuer, endorser = seed_org(slug="academy"), seed_org(slug="industry")
    achievement_id = _achievement(platform, issuer)
    request = endorsements.request_endorsement(
        platform,
        issuer.actor,
        org_id=issuer.org_id,
        endorser_org_id=endorser.org_id,
        achievement_id=achievement_id,
        message="Please review our curriculum.",
    )
    with pytest.raises(Conflict):  # one pending request per subject and endorser
        endorsements.request_endorsement(
            platform,
            issuer.actor,
            org_id=issuer.org_id,
            endorser_org_id=endorser.org_id,
            achievement_id=achievement_id,
        )
    incoming = endorsements.list_requests(platform, endorser.actor, org_id=endorser.org_id)
    assert [r.id for r in incoming] == [request.id]
    assert incoming[0].subject_name == "Data analysis"
    with pytest.raises(NotFound):  # the requester cannot accept its own request
        endorsements.accept_request(
            platform, issuer.actor, org_id=issuer.org_id, request_id=request.id, comment="x"
        )
    with pytest.raises(InvalidInput):
        endorsements.accept_request(
            platform, endorser.actor, org_id=endorser.org_id, request_id=request.id, comment=" "
        )
    made = endorsements.accept_request(
        platform,
        endorser.actor,
        org_id=endorser.org_id,
        request_id=request.id,
        comment="Meets industry needs.",
    )
    doc = made.document
    assert doc["type"] == ["VerifiableCredential", "EndorsementCredential"]
    assert doc["credentialSubject"] == {
        "id": f"https://merito.test/achievements/{achievement_id}",
        "type": ["EndorsementSubject"],
        "endorsementComment": "Meets industry needs.",
    }
    assert doc["credentialStatus"]["type"] == "BitstringStatusListEntry"
    assert endorsements.public_endorsement(platform, made.id) == doc
    with pytest.raises(Conflict):
        endorsements.decline_request(
            platform, endorser.actor, org_id=endorser.org_id, request_id=request.id, reason="no"
        )
    # the public achievement and a credential issued now embed the endorsement
    public = catalog.public_achievement(platform, achievement_id)
    assert [e["id"] for e in public["endorsement"]] == [made.url]
    credential = _issue(platform, issuer, achievement_id, "ann")
    assert credential["credentialSubject"]["achievement"]["endorsement"][0]["id"] == made.url
    result = _verify(platform, credential)
    checks = _checks(result)
    assert result.report.verified, result.report.to_dict()
    assert checks["endorsements"] == "pass"
    assert "Org industry" in result.report.check("endorsements").message  # type: ignore[union-attr]
    assert checks["trust"] == "skipped"
    assert checks["domain_linkage"] == "pass"
    # the quality facts, in plain words
    assert result.quality.eqf_level == 5
    assert result.quality.assessment_words == "a supervised (proctored) exam"
    assert result.quality.credits == 5
    assert result.quality.hours == 40
    assert result.quality.frameworks == ("ESCO",)
    assert result.signals is not None
    assert result.signals.endorsements == 1
    assert result.signals.holders_text == "fewer than 5"
    # revoked: no longer embedded in new documents; the embedded copy warns
    endorsements.revoke_endorsement(
        platform, endorser.actor, org_id=endorser.org_id, endorsement_id=made.id, reason="closed"
    )
    assert "endorsement" not in catalog.public_achievement(platform, achievement_id)
    again = _verify(platform, credential)
    assert again.report.verified
    endorsement_check = again.report.check("endorsements")
    assert endorsement_check is not None
    assert endorsement_check.outcome.value == "warning"
    assert "revoked" in endorsement_check.message
    with platform.reading() as session:
        actions = set(session.scalars(select(AuditLogRow.action)))
        topics = list(session.scalars(select(OutboxRow.topic)))
    assert {
        "endorsement.requested",
        "endorsement.issued",
        "endorsement_request.accepted",
        "endorsement.revoked",
    } <= actions
    assert "email.endorsement_requested" in topics
    assert "email.endorsement_issued" in topics


def test_decline_withdraw_and_permissions(platform: Platform, seed_org: Seed) -> None:
    issuer, endorser = seed_org(), seed_org()
    viewer = seed_org(role="viewer")
    first = endorsements.request_endorsement(
        platform,
        issuer.actor,
        org_id=issuer.org_id,
        endorser_org_id=endorser.org_id,
        achievement_id=None,
    )
    assert first.subject_kind == "profile"
    assert first.subject_id.endswith(f":orgs:{issuer.slug}")
    declined = endorsements.decline_request(
        platform, endorser.actor, org_id=endorser.org_id, request_id=first.id, reason="Too new."
    )
    assert declined.status == "declined"
    assert declined.decline_reason == "Too new."
    second = endorsements.request_endorsement(
        platform,
        issuer.actor,
        org_id=issuer.org_id,
        endorser_org_id=endorser.org_id,
        achievement_id=None,
    )
    assert (
        endorsements.withdraw_request(
            platform, issuer.actor, org_id=issuer.org_id, request_id=second.id
        ).status
        == "withdrawn"
    )
    with pytest.raises(InvalidInput):
        endorsements.request_endorsement(
            platform,
            issuer.actor,
            org_id=issuer.org_id,
            endorser_org_id=issuer.org_id,
            achievement_id=None,
        )
    with pytest.raises(PermissionDenied):
        endorsements.issue_endorsement(
            platform,
            viewer.actor,
            org_id=viewer.org_id,
            subject_org_id=issuer.org_id,
            achievement_id=None,
            comment="Good.",
        )
    # a profile endorsement, unasked, is embedded in the issuer of later credentials
    made = endorsements.issue_endorsement(
        platform,
        endorser.actor,
        org_id=endorser.org_id,
        subject_org_id=issuer.org_id,
        achievement_id=None,
        comment="In good standing.",
    )
    received = endorsements.list_endorsements(
        platform, issuer.actor, org_id=issuer.org_id, direction="received"
    )
    assert [e.id for e in received] == [made.id]
    achievement_id = _achievement(platform, issuer)
    credential = _issue(platform, issuer, achievement_id, "bob")
    assert credential["issuer"]["endorsement"][0]["id"] == made.url
    assert _checks(_verify(platform, credential))["endorsements"] == "pass"
    with platform.reading() as session:
        topics = list(session.scalars(select(OutboxRow.topic)))
    assert "email.endorsement_declined" in topics


def test_registries_and_the_trust_check(
    platform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    issuer, verifier = seed_org(slug="listed"), seed_org(kind="employer", slug="hirer")
    achievement_id = _achievement(platform, issuer)
    old = _issue(platform, issuer, achievement_id, "cat")
    published = trust.platform_registry(platform)
    assert trust.platform_registry(platform).version == published.version  # not re-signed
    registry = trust.registries_for(platform, None, org_id=None, ids=["merito"])
    assert registry[0].lookup(old["issuer"]["id"]) is not None
    result = _verify(platform, old, registries=registry)
    check = result.report.check("trust")
    assert check is not None
    assert check.outcome.value == "pass"
    assert "known to the registry Merito issuers" in check.message
    # an organisation imports the registry (upload), then chooses it
    view = trust.import_registry(
        platform, verifier.actor, org_id=verifier.org_id, document=published.document
    )
    assert view.entries >= 1
    assert view.publisher.startswith("did:key:")
    with pytest.raises(Conflict):
        trust.import_registry(
            platform, verifier.actor, org_id=verifier.org_id, document=published.document
        )
    chosen = trust.registries_for(platform, verifier.actor, org_id=verifier.org_id, ids=[view.id])
    assert chosen[0].id == published.document["id"]
    with pytest.raises(NotFound):  # another organisation's registries are not visible
        trust.registries_for(platform, issuer.actor, org_id=issuer.org_id, ids=[view.id])
    # a tampered registry is refused at import
    tampered = copy.deepcopy(published.document)
    tampered["credentialSubject"]["issuers"][0]["name"] = "Someone else"
    with pytest.raises(ProofError):
        trust.import_registry(platform, issuer.actor, org_id=issuer.org_id, document=tampered)
    # removed by a platform administrator: a newer credential fails, an older one is explained
    with pytest.raises(PermissionDenied):
        trust.set_listing(platform, issuer.actor, org_id=issuer.org_id, status="removed")
    clock.advance(days=1)
    trust.set_listing(
        platform, Actor.system(), org_id=issuer.org_id, status="removed", reason="fraud"
    )
    clock.advance(days=1)
    new = _issue(platform, issuer, achievement_id, "dan")
    registry = trust.registries_for(platform, None, org_id=None, ids=["merito"])
    failed = _verify(platform, new, registries=registry)
    check = failed.report.check("trust")
    assert check is not None
    assert check.outcome.value == "fail"
    assert not failed.report.verified
    assert "removed from the registry" in check.message
    assert "fraud" in check.message
    older = _verify(platform, old, registries=registry).report.check("trust")
    assert older is not None
    assert older.outcome.value == "warning"
    assert "issued earlier" in older.message
    # an issuer no registry knows: a warning, not a failure
    with platform.transaction() as session:
        session.add(OrganisationRow(id="0" * 36, slug="unlisted", name="Unlisted", kind="employer"))
    unknown = _verify(platform, old, registries=chosen)  # the imported copy predates nothing
    assert unknown.report.check("trust").outcome.value == "pass"  # type: ignore[union-attr]
    stranger = copy.deepcopy(chosen[0])
    stranger = type(stranger)(
        id=stranger.id,
        name=stranger.name,
        publisher=stranger.publisher,
        publisher_name=None,
        version=1,
        issued=None,
        entries=(),
    )
    warned = _verify(platform, old, registries=(stranger,))
    assert warned.report.verified
    assert warned.report.check("trust").outcome.value == "warning"  # type: ignore[union-attr]
    assert "Unknown issuer" in warned.report.check("trust").message  # type: ignore[union-attr]


def test_did_configuration_and_signals(platform: Platform, seed_org: Seed) -> None:
    issuer = seed_org(slug="linked")
    verifiers = [seed_org(kind="employer") for _ in range(5)]
    achievement_id = _achievement(platform, issuer)
    credential = _issue(platform, issuer, achievement_id, "eve")
    configuration = trust.did_configuration(platform)
    assert len(configuration.document["linked_dids"]) == 1
    assert trust.did_configuration(platform).version == configuration.version
    for org in verifiers:
        _verify(platform, credential, actor=org.actor, org_id=org.org_id)
    _verify(platform, credential, actor=verifiers[0].actor, org_id=verifiers[0].org_id)
    _verify(platform, credential, actor=issuer.actor, org_id=issuer.org_id)  # its own: no count
    signals = trust.signals_for(platform, achievement_id)
    assert signals.verifier_orgs == 5
    assert signals.verifier_orgs_text == "5"
    assert signals.holders is None
    assert signals.endorsements == 0
    # a DID the configuration does not list
    other = trust.domain_linkage(platform, "did:web:merito.test:orgs:nobody")
    assert other is not None
    assert other.outcome.value == "warning"
    assert trust.domain_linkage(platform, "did:key:z6Mkabc") is None


def test_endorsements_of_several_subjects_are_read_in_one_statement(
    platform: Platform, seed_org: Seed
) -> None:
    # issuance reads the achievement's and the issuer's endorsements together: each subject
    # keeps its newest MAX_EMBEDDED active ones, newest first, as one subject's read does
    from datetime import UTC, datetime, timedelta

    from merito.services import endorsed, status_lists
    from merito.services.platform import new_id
    from merito.storage.tables_trust import EndorsementRow

    org = seed_org(slug="endorser")
    with platform.transaction() as session:
        slots = status_lists.allocate(
            session, platform, org_id=org.org_id, purpose="revocation", count=16
        )
        start = datetime(2026, 1, 1, tzinfo=UTC)
        plan = [("urn:a", n, None) for n in range(12)] + [
            ("urn:a", 12, start),  # revoked: never embedded
            ("urn:b", 0, None),
        ]
        for (subject, n, revoked), slot in zip(plan, slots, strict=False):
            session.add(
                EndorsementRow(
                    id=new_id(),
                    org_id=org.org_id,
                    subject_kind="achievement",
                    subject_id=subject,
                    comment="ok",
                    document={"id": f"{subject}:{n}"},
                    status_list_id=slot.list_id,
                    status_index=slot.index,
                    issued_at=start + timedelta(days=n),
                    revoked_at=revoked,
                )
            )
    with platform.reading() as session:
        both = endorsed.active_documents_of(session, ["urn:a", "urn:b", "urn:none", "urn:a"])
        one_by_one = {s: endorsed.active_documents(session, s) for s in ("urn:a", "urn:b")}
        embedded = endorsed.with_endorsements(session, {"id": "urn:b"}, both)
    assert list(both) == ["urn:a", "urn:b", "urn:none"]
    assert [d["id"] for d in both["urn:a"]] == [f"urn:a:{n}" for n in range(11, 1, -1)]
    assert both["urn:a"] == one_by_one["urn:a"]
    assert both["urn:b"] == one_by_one["urn:b"]
    assert both["urn:none"] == []
    assert embedded == {"id": "urn:b", "endorsement": [{"id": "urn:b:0"}]}
