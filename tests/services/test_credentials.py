"""Issuing, bulk issuance, revocation, suspension, re-issue and the public view, on SQLite and
PostgreSQL. Every credential issued here is verified by ``merito.verification.verify`` against
the platform's own published status lists, and validated against the OB 3.0 JSON Schema."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from services_support import SeededOrg
from sqlalchemy import func, select

from merito import bootstrap
from merito.config import Settings
from merito.domain.ports import FetchResponse
from merito.errors import Conflict, FetchError, InvalidInput, NotFound, PermissionDenied
from merito.formats.schema import validate_achievement_credential
from merito.services import credentials, issuers, notifications, status_lists
from merito.services.credentials import CredentialRecord
from merito.services.platform import Platform
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    AuditLogRow,
    CredentialRow,
    OutboxRow,
    StatusListRow,
)
from merito.storage.tables_issuance import CredentialClaimRow
from merito.verification import VerifyOptions, verify

ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/sql",
    "type": ["Achievement"],
    "achievementType": "Badge",
    "name": "SQL Fundamentals",
    "description": "Writes correct SELECT, JOIN and aggregate queries.",
    "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
}


def seed_achievement(
    platform: Platform, org_id: str, *, status: str = "published", name: str = "SQL Fundamentals"
) -> str:
    """An achievement with one version, stored directly (no catalogue service involved)."""
    achievement_id, version_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            AchievementRow(
                id=achievement_id,
                org_id=org_id,
                status=status,
                current_version=1 if status == "published" else None,
                name=name,
            )
        )
        session.flush()
        if status == "published":
            session.add(
                AchievementVersionRow(
                    id=version_id,
                    org_id=org_id,
                    achievement_id=achievement_id,
                    version=1,
                    document={**ACHIEVEMENT, "name": name},
                )
            )
    return achievement_id


class AppFetcher:
    """Serves what Merito publishes: status lists (through the service the route calls) and
    the issuers' DID documents; refuses every other URL."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.fetched: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.fetched.append(url)
        prefix = self.platform.url("/status/")
        if not url.startswith(prefix):
            raise FetchError(f"nothing is served at {url}")
        published = status_lists.published(self.platform, url.removeprefix(prefix))
        body = json.dumps(published.document).encode()
        return FetchResponse(status=200, body=body, content_type="application/vc+ld+json", url=url)


def verifier(platform: Platform, org_id: str) -> VerifyOptions:
    """The verifier's options: this platform's status lists, and the DID documents it serves."""
    return bootstrap.verify_options(
        Settings(),
        documents=issuers.did_documents(platform),
        fetcher=AppFetcher(platform),
        clock=platform.clock,
    )


def status_check(platform: Platform, record: CredentialRecord) -> tuple[bool, str, str]:
    report = verify(record.serialized, options=verifier(platform, record.org_id))
    status = next(c for c in report.checks if c.id == "status")
    return report.verified, status.outcome.value, status.message


def count(platform: Platform, table: Any, **where: Any) -> int:
    with platform.reading() as session:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(getattr(table, name) == value)
        return int(session.scalar(query) or 0)


# --- issuing one ---------------------------------------------------------------------------------


@pytest.mark.parametrize("proof_format", ["eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt"])
def test_issued_credentials_verify_and_follow_the_schema(
    platform: Platform, seed_org: Callable[..., SeededOrg], proof_format: str
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="Ada@Example.org",
        proof_format=proof_format,
        evidence=[{"id": "https://academy.example.org/evidence/1", "narrative": "Exam"}],
    )
    assert record.created
    assert record.recipient == "ada@example.org"
    assert record.state == "active"
    assert record.proof_format == proof_format
    assert record.credential_id == platform.url(f"/credentials/{record.id}")
    assert record.document["id"] == record.credential_id
    assert (
        validate_achievement_credential({k: v for k, v in record.document.items() if k != "proof"})
        == []
    )
    assert (record.jwt is not None) == (proof_format == "vc-jwt")
    # the email is not in the credential: only its salted hash
    assert "ada@example.org" not in json.dumps(record.document)
    verified, outcome, message = status_check(platform, record)
    assert verified, message
    assert outcome == "pass"


def test_a_stored_credential_reads_back_exactly_as_signed(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    """Key order included: PostgreSQL's JSONB would hand back ``id`` before ``@context``."""
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    issued = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="ada@example.org",
        evidence=[{"id": "https://academy.example.org/evidence/1", "narrative": "Exam"}],
    )
    stored = credentials.get_credential(
        platform, org.actor, org_id=org.org_id, credential_id=issued.id
    )
    assert next(iter(stored.document)) == "@context"
    assert json.dumps(stored.document) == json.dumps(issued.document)
    with platform.reading() as session:
        message = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.topic == "ledger.leaf")
        ).one()
    assert list(message) == ["credential_row_id", "credential_id", "sha256", "canonicalization"]


def test_one_issuance_writes_credential_status_audit_and_outbox_together(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="ada@example.org",
    )
    with platform.reading() as session:
        row = session.get(CredentialRow, record.id)
        assert row is not None
        assert row.document == record.document  # stored exactly as signed
        assert row.status_list_id is not None
        status = record.document["credentialStatus"]
        assert status["statusListCredential"] == platform.url(f"/status/{row.status_list_id}")
        assert status["statusListIndex"] == str(row.status_list_index)
        assert status["statusPurpose"] == "revocation"
        audit = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "credential.issued")
        ).one()
        assert audit.target == record.credential_id
        assert audit.actor == org.actor.audit_name
        topics = {
            m.topic: m
            for m in session.scalars(select(OutboxRow).where(OutboxRow.org_id == org.org_id))
        }
        assert set(topics) == {
            "email.credential_issued",
            "webhook.credential.issued",
            "ledger.leaf",
        }
        email = topics["email.credential_issued"].payload
        assert email["to"] == "ada@example.org"
        claim_url = next(w for w in email["text"].split() if "/claim/" in w)
        token = claim_url.rsplit("/", 1)[1]
        # the email is exactly what the notification builder writes for these links
        direct = notifications.credential_issued_email(
            recipient_email="ada@example.org",
            learner_name=None,
            achievement_name="SQL Fundamentals",
            issuer_name=f"Org {org.slug}",
            claim_url=claim_url,
            credential_url=record.credential_id,
            idempotency_key=email["idempotency_key"],
        )
        assert (email["subject"], email["text"], email["html"]) == (
            direct.subject,
            direct.text,
            direct.html,
        )
        assert email["headers"] == dict(direct.headers)
        claim = session.scalars(select(CredentialClaimRow)).one()
        assert claim.credential_row_id == record.id
        assert claim.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in claim.token_hash
        leaf = topics["ledger.leaf"].payload
        from merito.formats import jcs

        unsigned = {k: v for k, v in record.document.items() if k != "proof"}
        assert leaf["sha256"] == hashlib.sha256(jcs.canonicalize(unsigned)).hexdigest()
        assert topics["webhook.credential.issued"].payload["credential_id"] == record.credential_id


def test_a_did_recipient_gets_no_email(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="did:example:learner-7",
    )
    assert record.document["credentialSubject"]["id"] == "did:example:learner-7"
    assert count(platform, OutboxRow, topic="email.credential_issued") == 0
    assert count(platform, CredentialClaimRow) == 0


def test_the_same_idempotency_key_returns_the_first_credential(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)

    def issue(recipient: str = "ada@example.org") -> CredentialRecord:
        return credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=achievement_id,
            recipient=recipient,
            idempotency_key="order-42",
        )

    first = issue()
    messages = count(platform, OutboxRow)
    again = issue()
    assert again.id == first.id
    assert not again.created
    assert again.document == first.document
    assert count(platform, CredentialRow) == 1
    assert count(platform, OutboxRow) == messages
    with pytest.raises(Conflict) as e:
        issue("bob@example.org")
    assert e.value.property == "idempotency_key"


def test_concurrent_requests_with_one_idempotency_key_issue_once(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    issuers.signer_for(platform, org.org_id)  # the key exists before the race
    results: list[CredentialRecord] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(
                credentials.issue_credential(
                    platform,
                    org.actor,
                    org_id=org.org_id,
                    achievement_id=achievement_id,
                    recipient="ada@example.org",
                    idempotency_key="race",
                )
            )
        except Exception as e:  # collected: asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.id for r in results}) == 1
    assert count(platform, CredentialRow) == 1


def test_bad_input_is_refused_naming_the_property(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    draft_id = seed_achievement(platform, org.org_id, status="draft")

    def issue(**kw: Any) -> CredentialRecord:
        args: dict[str, Any] = {"achievement_id": achievement_id, "recipient": "ada@example.org"}
        args.update(kw)
        return credentials.issue_credential(platform, org.actor, org_id=org.org_id, **args)

    for recipient in ("not-an-email", "ada@", "", "a b@example.org"):
        with pytest.raises(InvalidInput) as e:
            issue(recipient=recipient)
        assert e.value.property == "recipient"
    with pytest.raises(InvalidInput) as e:
        issue(proof_format="rsa-2048")
    assert e.value.property == "proof_format"
    with pytest.raises(InvalidInput) as e:
        issue(valid_until=platform.clock.now() - timedelta(days=1))
    assert e.value.property == "valid_until"
    with pytest.raises(NotFound):
        issue(achievement_id=str(uuid.uuid4()))
    with pytest.raises((NotFound, InvalidInput, Conflict)):
        issue(achievement_id=draft_id)
    assert count(platform, CredentialRow) == 0
    assert count(platform, OutboxRow) == 0


def test_another_organisation_sees_nothing_and_viewers_cannot_issue(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org, other = seed_org(), seed_org()
    viewer = seed_org(role="viewer")
    achievement_id = seed_achievement(platform, org.org_id)
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="ada@example.org",
    )
    with pytest.raises(NotFound):
        credentials.get_credential(
            platform, other.actor, org_id=org.org_id, credential_id=record.id
        )
    with pytest.raises(NotFound):
        credentials.revoke(
            platform, other.actor, org_id=org.org_id, credential_id=record.id, reason="x"
        )
    with pytest.raises(NotFound):
        # the credential exists, but not in the caller's own organisation
        credentials.get_credential(
            platform, other.actor, org_id=other.org_id, credential_id=record.id
        )
    with pytest.raises(NotFound):
        credentials.issue_credential(
            platform,
            other.actor,
            org_id=other.org_id,
            achievement_id=achievement_id,
            recipient="ada@example.org",
        )
    viewer_achievement = seed_achievement(platform, viewer.org_id)
    with pytest.raises(PermissionDenied):
        credentials.issue_credential(
            platform,
            viewer.actor,
            org_id=viewer.org_id,
            achievement_id=viewer_achievement,
            recipient="ada@example.org",
        )
    assert credentials.list_credentials(platform, other.actor, org_id=other.org_id).total == 0


# --- revocation, suspension, re-issue -----------------------------------------------------------


def test_revocation_shows_in_the_published_list_and_the_verifier(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)

    def issue() -> CredentialRecord:
        return credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=achievement_id,
            recipient="ada@example.org",
        )

    record, neighbour = issue(), issue()
    list_id = record.status_list_id
    assert list_id is not None
    before = status_lists.published(platform, list_id).version
    revoked = credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="cheated"
    )
    assert revoked.state == "revoked"
    assert revoked.revocation_reason == "cheated"
    assert status_lists.published(platform, list_id).version == before + 1
    verified, outcome, message = status_check(platform, revoked)
    assert not verified
    assert outcome == "fail"
    assert "revoked" in message
    assert status_check(platform, neighbour)[0]
    assert count(platform, OutboxRow, topic="webhook.credential.revoked") == 1
    assert count(platform, AuditLogRow, action="credential.revoked") == 1
    with pytest.raises(Conflict):
        credentials.revoke(
            platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="again"
        )
    with pytest.raises(InvalidInput):
        credentials.revoke(
            platform, org.actor, org_id=org.org_id, credential_id=neighbour.id, reason=" "
        )
    with pytest.raises(Conflict):
        credentials.suspend(platform, org.actor, org_id=org.org_id, credential_id=neighbour.id)


def test_suspend_and_unsuspend_a_suspendable_credential(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="did:example:licensee",
        status_purpose="suspension",
    )
    assert record.status_purpose == "suspension"
    assert status_check(platform, record)[0]
    suspended = credentials.suspend(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="audit"
    )
    assert suspended.state == "suspended"
    verified, outcome, message = status_check(platform, suspended)
    assert not verified
    assert outcome == "fail"
    assert "suspended" in message
    with pytest.raises(Conflict):
        credentials.suspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)
    back = credentials.unsuspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)
    assert back.state == "active"
    assert status_check(platform, back)[0]
    with pytest.raises(Conflict):
        credentials.unsuspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)
    assert count(platform, OutboxRow, topic="webhook.credential.suspended") == 1
    assert count(platform, OutboxRow, topic="webhook.credential.unsuspended") == 1
    # revoking a suspendable credential sets its bit for good
    gone = credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="withdrawn"
    )
    assert gone.state == "revoked"
    assert not status_check(platform, gone)[0]
    with pytest.raises(Conflict):
        credentials.unsuspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)


def test_reissue_replaces_and_revokes_the_old_credential(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)
    old = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient="ada@example.org",
        proof_format="eddsa-jcs-2022",
        valid_until=platform.clock.now() + timedelta(days=30),
        evidence=[{"id": "https://academy.example.org/evidence/9"}],
    )
    until = platform.clock.now() + timedelta(days=400)
    new = credentials.reissue(
        platform, org.actor, org_id=org.org_id, credential_id=old.id, valid_until=until
    )
    assert new.id != old.id
    assert new.recipient == old.recipient
    assert new.proof_format == "eddsa-jcs-2022"
    assert new.valid_until == until.replace(microsecond=0)
    assert new.document["evidence"] == old.document["evidence"]
    again = credentials.get_credential(platform, org.actor, org_id=org.org_id, credential_id=old.id)
    assert again.state == "revoked"
    assert again.revocation_reason == "superseded"
    assert again.replaced_by_id == new.id
    assert status_check(platform, new)[0]
    assert not status_check(platform, again)[0]
    with pytest.raises(Conflict):
        credentials.reissue(platform, org.actor, org_id=org.org_id, credential_id=old.id)
    public = credentials.public_credential(platform, old.id)
    assert public.replaced_by_url == new.credential_id
    assert public.state == "revoked"


def test_expired_credentials_and_the_list_filters(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)
    python = seed_achievement(platform, org.org_id, name="Python")
    made = [
        credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=a,
            recipient=r,
            valid_until=platform.clock.now() + timedelta(days=d) if d else None,
        )
        for a, r, d in [
            (sql, "ada@example.org", 1),
            (sql, "bob@example.org", 0),
            (python, "ada@example.org", 0),
        ]
    ]
    credentials.revoke(platform, org.actor, org_id=org.org_id, credential_id=made[1].id, reason="x")
    platform.clock.advance(days=2)  # type: ignore[attr-defined]

    def ids(**kw: Any) -> set[str]:
        page = credentials.list_credentials(platform, org.actor, org_id=org.org_id, **kw)
        return {r.id for r in page.items}

    assert ids() == {m.id for m in made}
    assert ids(state="expired") == {made[0].id}
    assert ids(state="revoked") == {made[1].id}
    assert ids(state="active") == {made[2].id}
    assert ids(recipient="ADA@example.org") == {made[0].id, made[2].id}
    assert ids(achievement_id=python) == {made[2].id}
    page = credentials.list_credentials(platform, org.actor, org_id=org.org_id, limit=2)
    assert page.total == 3
    assert len(page.items) == 2
    rest = credentials.list_credentials(platform, org.actor, org_id=org.org_id, limit=2, offset=2)
    assert {r.id for r in page.items + rest.items} == {m.id for m in made}
    with pytest.raises(InvalidInput):
        credentials.list_credentials(platform, org.actor, org_id=org.org_id, state="lost")
    verified, _, _ = status_check(platform, made[0])
    assert not verified  # expired
    assert credentials.public_credential(platform, made[0].id).state == "expired"
    with pytest.raises(NotFound):
        credentials.public_credential(platform, str(uuid.uuid4()))


# --- bulk ----------------------------------------------------------------------------------------


def _csv(*rows: str) -> io.StringIO:
    return io.StringIO("\n".join(rows) + "\n", newline="")


def test_bulk_csv_issues_good_rows_rejects_bad_ones_and_reruns_issue_nothing(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)
    draft = seed_achievement(platform, org.org_id, status="draft")
    rows = (
        "recipient,achievement_id,valid_until,evidence_url,evidence_narrative",
        f"ada@example.org,{sql},2030-06-30,https://academy.example.org/e/1,Exam",
        f"not-an-email,{sql},,,",
        f"bob@example.org,{uuid.uuid4()},,,",
        f"carol@example.org,{draft},,,",
        f"dan@example.org,{sql},yesterday,,",
        f"did:example:erin,{sql},,,",
        f"ada@example.org,{sql},2030-06-30,https://academy.example.org/e/1,Exam",
        f"fay@example.org,{sql},2001-01-01,,",
    )
    seen: list[credentials.BulkProgress] = []
    report = credentials.issue_bulk(
        platform,
        org.actor,
        org_id=org.org_id,
        lines=_csv(*rows),
        job_key="cohort-1",
        batch_size=3,
        progress=seen.append,
    )
    assert report.issued == 2
    assert report.duplicates == 1  # the same row twice in one file
    rejected = {r.row: (r.property, r.reason) for r in report.rejected}
    assert set(rejected) == {3, 4, 5, 6, 9}
    assert rejected[3][0] == "recipient"
    assert rejected[4][0] == "achievement_id"
    assert rejected[5][0] == "achievement_id"
    assert rejected[6][0] == "valid_until"
    assert rejected[9][0] == "valid_until"
    assert seen[-1].rows == 8
    assert seen[-1].issued == 2
    assert count(platform, CredentialRow) == 2
    assert count(platform, AuditLogRow, action="credential.issued") == 2
    assert count(platform, OutboxRow, topic="email.credential_issued") == 1
    assert count(platform, OutboxRow, topic="ledger.leaf") == 2
    for record in credentials.list_credentials(platform, org.actor, org_id=org.org_id).items:
        assert status_check(platform, record)[0]
        assert (
            validate_achievement_credential(
                {k: v for k, v in record.document.items() if k != "proof"}
            )
            == []
        )
    ada = credentials.list_credentials(
        platform, org.actor, org_id=org.org_id, recipient="ada@example.org"
    ).items[0]
    assert ada.document["evidence"][0]["id"] == "https://academy.example.org/e/1"
    assert ada.document["validUntil"] == "2030-06-30T23:59:59Z"

    again = credentials.issue_bulk(
        platform,
        org.actor,
        org_id=org.org_id,
        lines=_csv(*rows),
        job_key="cohort-1",
        batch_size=3,
    )
    assert again.issued == 0
    assert again.duplicates == 3
    assert count(platform, CredentialRow) == 2


def test_bulk_json_lines_with_a_default_achievement_and_row_keys(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)
    lines = [
        json.dumps({"recipient": "ada@example.org", "idempotency_key": "r-1"}),
        "",
        "[1, 2]",
        json.dumps({"recipient": "bob@example.org", "colour": "blue"}),
        "{not json",
        json.dumps({"recipient": "carol@example.org", "valid_until": 5}),
        json.dumps({"recipient": "dan@example.org"}),
    ]
    results = list(
        credentials.iter_bulk(
            platform,
            org.actor,
            org_id=org.org_id,
            lines=iter(lines),
            job_key="j",
            default_achievement_id=sql,
            proof_format="vc-jwt",
        )
    )
    assert [(r.row, r.outcome) for r in results] == [
        (1, "issued"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "rejected"),
        (6, "rejected"),
        (7, "issued"),
    ]
    first = credentials.get_credential(
        platform, org.actor, org_id=org.org_id, credential_id=results[0].credential_row_id or ""
    )
    assert first.idempotency_key == "r-1"
    assert first.jwt is not None
    assert status_check(platform, first)[0]
    # a single issue with the row's key finds the bulk credential
    same = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=sql,
        recipient="ada@example.org",
        idempotency_key="r-1",
    )
    assert same.id == first.id


def test_bulk_signing_in_worker_processes(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)
    rows = ["recipient,achievement_id", *(f"l{n}@example.org,{sql}" for n in range(60))]
    report = credentials.issue_bulk(
        platform,
        org.actor,
        org_id=org.org_id,
        lines=_csv(*rows),
        job_key="w",
        batch_size=25,
        workers=2,
    )
    assert report.issued == 60
    assert report.rejected == []
    with platform.reading() as session:
        indexes = session.execute(
            select(CredentialRow.status_list_id, CredentialRow.status_list_index)
        ).all()
        lists = session.scalars(select(StatusListRow)).all()
    assert len(set(indexes)) == 60
    assert sum(row.next_index for row in lists) == 60
    sample = credentials.list_credentials(platform, org.actor, org_id=org.org_id, limit=5)
    for record in sample.items:
        assert status_check(platform, record)[0]


def test_bulk_row_issued_elsewhere_before_its_batch_commits_is_a_duplicate(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)
    elsewhere: list[CredentialRecord] = []

    def lines() -> Iterator[str]:
        yield "recipient,achievement_id,idempotency_key\n"
        yield f"ada@example.org,{sql},k-1\n"
        yield f"bob@example.org,{sql},k-2\n"
        # both one-row batches are prepared (signing) by now: another request issues k-1 first
        elsewhere.append(
            credentials.issue_credential(
                platform,
                org.actor,
                org_id=org.org_id,
                achievement_id=sql,
                recipient="ada@example.org",
                idempotency_key="k-1",
            )
        )

    results = list(
        credentials.iter_bulk(
            platform, org.actor, org_id=org.org_id, lines=lines(), job_key="j", batch_size=1
        )
    )
    assert [(r.row, r.outcome) for r in results] == [(2, "duplicate"), (3, "issued")]
    assert results[0].credential_row_id == elsewhere[0].id
    assert count(platform, CredentialRow) == 2
    assert count(platform, AuditLogRow, action="credential.issued") == 2
    assert count(platform, OutboxRow, topic="ledger.leaf") == 2


def test_bulk_refuses_a_bad_header_and_an_outsider(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org, other = seed_org(), seed_org()
    with pytest.raises(InvalidInput) as e:
        credentials.issue_bulk(
            platform,
            org.actor,
            org_id=org.org_id,
            lines=_csv("email,badge", "a@b.org,x"),
            job_key="j",
        )
    assert e.value.property == "file"
    with pytest.raises(NotFound):
        credentials.issue_bulk(
            platform,
            other.actor,
            org_id=org.org_id,
            lines=_csv("recipient", "a@b.org"),
            job_key="j",
        )


def test_single_issuances_take_positions_from_a_reserved_block(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id)

    def issue(n: int, **kwargs: Any) -> CredentialRecord:
        return credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=sql,
            recipient=f"l{n}@example.org",
            **kwargs,
        )

    records = [issue(n) for n in range(3)]
    with platform.reading() as session:
        (row,) = session.scalars(select(StatusListRow)).all()
    # one short transaction claimed a block; the issuances did not hold the list's lock
    assert row.next_index == status_lists.RESERVE_BLOCK
    expected = [status_lists.position(row.id, row.size, n) for n in range(4)]
    assert [r.status_list_index for r in records] == expected[:3]
    # a refused issuance gives its position back: the next one gets it
    with pytest.raises(InvalidInput):
        issue(3, valid_until=platform.clock.now() - timedelta(days=1))
    assert issue(4).status_list_index == expected[3]
    for record in records:
        assert status_check(platform, record)[0]
