"""The seeded demo (`merito demo`): what it stores, that every credential verifies (the revoked
one fails its status check), and that seeding again changes nothing, on both databases."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from merito.domain.ports import FetchResponse
from merito.errors import FetchError, Unauthenticated
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import demo, issuers, status_lists
from merito.services.platform import Platform
from merito.storage.tables import (
    AchievementRow,
    AuditLogRow,
    CredentialRow,
    OrganisationRow,
    OutboxRow,
    UserRow,
)
from merito.verification import VerifyOptions, verify

PASSWORD = "correct horse battery staple"


class StatusFetcher:
    """Serves the platform's status lists as its /status/{id} route does; nothing else."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        prefix = self.platform.url("/status/")
        if not url.startswith(prefix):
            raise FetchError(f"nothing is served at {url}")
        document = status_lists.published(self.platform, url.removeprefix(prefix)).document
        body = json.dumps(document).encode()
        return FetchResponse(status=200, body=body, content_type="application/vc+ld+json", url=url)


def count(platform: Platform, table: Any) -> int:
    with platform.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_the_demo_seeds_a_whole_programme_that_verifies(platform: Platform) -> None:
    seed = demo.seed_demo(platform, password=PASSWORD)
    assert seed.created
    assert (seed.org_slug, seed.owner_email) == ("example-academy", "demo@merito.test")
    assert seed.api_key is not None
    assert seed.api_key.startswith("mk_")
    assert seed.issuer_did.startswith("did:web:")
    with platform.reading() as session:
        org = session.scalars(select(OrganisationRow)).one()
        achievements = session.scalars(select(AchievementRow)).all()
    assert org.name == "Example Academy"
    assert len(achievements) == 4  # three, and the pathway stacking them
    assert {a.status for a in achievements} == {"published"}
    assert count(platform, UserRow) == 6  # the owner and five learners
    assert count(platform, CredentialRow) == 11  # ten, and the first learner's pathway award
    formats = Counter(c.proof_format for c in seed.credentials)
    assert formats == {"eddsa-rdfc-2022": 4, "eddsa-jcs-2022": 3, "vc-jwt": 3}
    assert len({c.recipient for c in seed.credentials}) == 5
    states = Counter(c.state for c in seed.credentials)
    assert states == {"active": 9, "revoked": 1}
    assert seed.revoked.revocation_reason == demo.DEMO_REVOCATION_REASON

    options = VerifyOptions(
        clock=platform.clock,
        fetcher=StatusFetcher(platform),
        resolver=VerificationMethodResolver(documents=issuers.did_documents(platform)),
    )
    for record in seed.credentials:
        report = verify(record.serialized, options=options)
        status = next(c for c in report.checks if c.id == "status")
        if record.id == seed.revoked.id:
            assert not report.verified
            assert status.outcome.value == "fail"
        else:
            assert report.verified, (record.proof_format, report.summary)
            achievement = record.document["credentialSubject"]["achievement"]
            assert achievement["alignment"], "every demo achievement is aligned"

    # one learner is notified (through the outbox), the others are issued quietly; the same
    # learner is notified of the pathway credential stacking her three
    with platform.reading() as session:
        emails = session.scalars(
            select(OutboxRow).where(OutboxRow.topic == "email.credential_issued")
        ).all()
    assert [e.payload["to"] for e in emails] == ["ada@merito.test", "ada@merito.test"]


def test_seeding_again_changes_nothing(platform: Platform) -> None:
    first = demo.seed_demo(platform, password=PASSWORD)
    tables = (UserRow, OrganisationRow, AchievementRow, CredentialRow, OutboxRow)
    before = {t.__tablename__: count(platform, t) for t in tables}
    audit_before = count(platform, AuditLogRow)
    again = demo.seed_demo(platform, password=PASSWORD)
    assert not again.created
    assert again.api_key is None  # shown once, on the first run
    assert {t.__tablename__: count(platform, t) for t in tables} == before
    assert [c.id for c in again.credentials] == [c.id for c in first.credentials]
    assert again.revoked.id == first.revoked.id
    assert again.org_id == first.org_id
    # nothing was changed, so nothing but the owner's sign-in was audited
    assert count(platform, AuditLogRow) - audit_before <= 1


def test_another_password_for_the_existing_demo_is_refused(platform: Platform) -> None:
    demo.seed_demo(platform, password=PASSWORD)
    with pytest.raises(Unauthenticated):
        demo.seed_demo(platform, password="not the demo password")
