"""Assessment end to end through the real services, on SQLite and PostgreSQL: an issuer opens
an achievement with a rubric, a learner applies with evidence, assessors review under the
decision rule, the award issues one credential carrying the evidence (URL, narrative, digest)
and the rubric Results, valid against the OB 3.0 schema and verifiable; conflicts of interest,
limits, the virus-scan hook, concurrency and claim codes."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import func, select
from test_credentials import verifier

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from merito.formats.multibase import decode_multibase
from merito.formats.schema import validate_achievement_credential
from merito.services import assessment, catalog, claim_codes
from merito.services.assessment import ConfigFields, ReviewFields
from merito.services.platform import Actor, Platform
from merito.storage.blobs import LocalBlobStore
from merito.storage.tables import AuditLogRow, CredentialRow, MembershipRow, OutboxRow, UserRow
from merito.storage.tables_assessment import ClaimCodeFailureRow
from merito.verification import verify

Seed = Callable[..., SeededOrg]
PDF = b"%PDF-1.4\n% a portfolio\n"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
RUBRIC = {
    "criteria": [
        {
            "key": "analysis",
            "name": "Analysis",
            "levels": [
                {"key": "novice", "name": "Novice", "description": "Restates", "points": 0},
                {"key": "competent", "name": "Competent", "points": 2},
                {"key": "expert", "name": "Expert", "points": 4},
            ],
        },
        {
            "key": "communication",
            "name": "Communication",
            "levels": [
                {"key": "unclear", "name": "Unclear", "points": 0},
                {"key": "clear", "name": "Clear", "points": 2},
            ],
        },
    ]
}
GOOD = {"analysis": "expert", "communication": "clear"}


class EicarScanner:
    """A fake scanner: finds the EICAR test string, like a real one would."""

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def scan(self, data: bytes, *, filename: str) -> str | None:
        self.scanned.append(filename)
        return (
            "Eicar-Test-Signature FOUND" if b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data else None
        )


@dataclasses.dataclass
class World:
    platform: Platform
    org: SeededOrg
    achievement_id: str
    scanner: EicarScanner

    def user(self, *, role: str | None = None, email: str | None = None) -> Actor:
        user_id = str(uuid.uuid4())
        with self.platform.transaction() as session:
            session.add(
                UserRow(
                    id=user_id, email=email or f"{user_id[:8]}@learners.example", password_hash="!"
                )
            )
            if role is not None:
                session.flush()
                session.add(MembershipRow(org_id=self.org.org_id, user_id=user_id, role=role))
        return Actor(kind="user", id=user_id, user_id=user_id)


@pytest.fixture
def world(platform: Platform, seed_org: Seed, tmp_path: Path) -> World:
    scanner = EicarScanner()
    platform = dataclasses.replace(
        platform,
        extras={"evidence_store": LocalBlobStore(tmp_path / "evidence"), "virus_scanner": scanner},
    )
    org = seed_org()
    made = catalog.create_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={
            "name": "Data Storytelling",
            "description": "Tells a true story with data.",
            "criteria": {"narrative": "A portfolio piece assessed against the rubric."},
            "evidenceRequirements": [{"name": "Portfolio", "kind": "file", "required": True}],
        },
    )
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    return World(platform, org, made.id, scanner)


def open_for(world: World, **rule: Any) -> assessment.ConfigView:
    return assessment.configure(
        world.platform,
        world.org.actor,
        org_id=world.org.org_id,
        achievement_id=world.achievement_id,
        fields=ConfigFields(
            open=True,
            rubric=RUBRIC,
            decision_rule=rule or {"rule": "all_agree", "reviews_required": 1},
            allowed_types=["application/pdf", "text/plain"],
            max_file_bytes=1000,
            sla_hours=48,
        ),
    )


def applied(world: World, learner: Actor) -> assessment.ApplicationView:
    p = world.platform
    app = assessment.create_application(
        p, learner, achievement_id=world.achievement_id, narrative="I built a dashboard."
    )
    assessment.add_evidence(
        p,
        learner,
        application_id=app.id,
        kind="file",
        name="portfolio.pdf",
        data=PDF,
        media_type="application/pdf",
    )
    assessment.add_evidence(
        p,
        learner,
        application_id=app.id,
        kind="url",
        name="Live dashboard",
        url="https://dash.example.org/story",
    )
    return assessment.submit(p, learner, application_id=app.id)


def review(world: World, who: Actor, app_id: str, decision: str = "award", **kw: Any) -> Any:
    return assessment.review(
        world.platform,
        who,
        org_id=world.org.org_id,
        application_id=app_id,
        fields=ReviewFields(
            decision=decision,  # type: ignore[arg-type]
            scores=kw.pop("scores", GOOD),
            reason=kw.pop("reason", "" if decision == "award" else "Needs more analysis."),
            comment=kw.pop("comment", "Good work."),
        ),
    )


def test_two_reviews_award_one_credential_with_evidence_and_results(world: World) -> None:
    config = open_for(world, rule="all_agree", reviews_required=2)
    assert set(config.result_descriptions) == {"analysis", "communication"}
    learner = world.user()
    first, second = world.user(role="assessor"), world.user(role="issuer_staff")
    app = applied(world, learner)
    assert app.state == "submitted"
    assert world.scanner.scanned == ["portfolio.pdf"]

    queue = assessment.queue(world.platform, first, org_id=world.org.org_id)
    assert [(i.id, i.reviews, i.reviews_required, i.overdue) for i in queue] == [
        (app.id, 0, 2, False)
    ]
    after_one = review(world, first, app.id)
    assert (after_one.state, after_one.status_note) == ("in_review", "1 of 2 reviews")
    with pytest.raises(Conflict, match="already reviewed"):
        review(world, first, app.id)
    assert assessment.queue(world.platform, first, org_id=world.org.org_id)[0].reviewed_by_me
    done = review(world, second, app.id, scores={"analysis": "competent", "communication": "clear"})
    assert done.state == "awarded"
    assert done.credential_id is not None
    with pytest.raises(Conflict, match="awarded: it is not awaiting review"):
        review(world, world.user(role="assessor"), app.id)

    with world.platform.reading() as session:
        rows = session.scalars(select(CredentialRow)).all()
    assert len(rows) == 1
    document = rows[0].document
    assert validate_achievement_credential(document) == []
    report = verify(document, options=verifier(world.platform, world.org.org_id))
    assert report.verified, [c.message for c in report.checks]
    evidence = document["evidence"]
    assert evidence[0] == {
        "type": ["Evidence"],
        "name": "Application",
        "narrative": "I built a dashboard.",
    }
    file_entry = evidence[1]
    assert file_entry["id"].startswith("https://merito.test/evidence/")
    digest = decode_multibase(file_entry["digestMultibase"])
    assert digest == b"\x12\x20" + hashlib.sha256(PDF).digest()
    assert evidence[2]["id"] == "https://dash.example.org/story"
    # the results point at the rubric published in the achievement the credential embeds
    subject = document["credentialSubject"]
    described = {rd["id"] for rd in subject["achievement"]["resultDescription"]}
    results = {r["resultDescription"]: r for r in subject["result"]}
    assert set(results) <= described
    analysis = next(k for k in results if k.endswith("#rubric-analysis"))
    assert results[analysis]["achievedLevel"] == analysis + "-competent"  # the lower median
    assert results[analysis]["value"] == "2"
    total = next(k for k in results if k.endswith("#rubric-score"))
    assert results[total]["value"] == "5"  # (6 + 4) / 2

    # the public file behind the evidence URL is the one that was assessed
    evidence_id = file_entry["id"].rsplit("/", 1)[1]
    served = assessment.public_evidence_file(world.platform, evidence_id)
    assert served.data == PDF
    assert served.media_type == "application/pdf"
    # the learner was told; the audit log has every step
    with world.platform.reading() as session:
        topics = session.scalars(select(OutboxRow.topic)).all()
        actions = set(session.scalars(select(AuditLogRow.action)).all())
    assert "email.assessment" in topics
    assert "email.credential_issued" in topics
    assert {
        "assessment.configured",
        "application.created",
        "application.evidence_added",
        "application.submitted",
        "application.reviewed",
        "application.awarded",
        "credential.issued",
    } <= actions


def test_return_for_revision_then_resubmit_starts_a_new_round(world: World) -> None:
    open_for(world)
    learner, assessor = world.user(), world.user(role="assessor")
    app = applied(world, learner)
    with pytest.raises(InvalidInput, match="reason"):
        review(world, assessor, app.id, "return", reason="")
    returned = review(world, assessor, app.id, "return")
    assert returned.state == "returned"
    mine = assessment.my_application(world.platform, learner, application_id=app.id)
    assert mine.decision_reason
    assert "Needs more analysis." in mine.decision_reason
    assert [r.decision for r in mine.reviews] == ["return"]
    assessment.update_application(
        world.platform, learner, application_id=app.id, narrative="Now with analysis."
    )
    again = assessment.submit(world.platform, learner, application_id=app.id)
    assert (again.state, again.round) == ("submitted", 2)
    assert review(world, assessor, app.id).state == "awarded"  # a new round: reviews again


def test_reject_is_final_and_withdraw_is_idempotent(world: World) -> None:
    open_for(world)
    learner, assessor = world.user(), world.user(role="assessor")
    app = applied(world, learner)
    rejected = review(world, assessor, app.id, "reject", reason="Not original work.")
    assert rejected.state == "rejected"
    with pytest.raises(Conflict, match="rejected: it cannot withdraw"):
        assessment.withdraw(world.platform, learner, application_id=app.id)
    other = assessment.create_application(
        world.platform, learner, achievement_id=world.achievement_id
    )
    assert (
        assessment.withdraw(world.platform, learner, application_id=other.id).state == "withdrawn"
    )
    assert (
        assessment.withdraw(world.platform, learner, application_id=other.id).state == "withdrawn"
    )
    with pytest.raises(Conflict, match="withdrawn: it cannot submit"):
        assessment.submit(world.platform, learner, application_id=other.id)


def test_nobody_assesses_themselves_and_roles_are_enforced(world: World) -> None:
    open_for(world)
    insider = world.user(role="assessor")
    app = applied(world, insider)  # an assessor applies like anyone
    with pytest.raises(PermissionDenied, match="own application"):
        review(world, insider, app.id)
    with pytest.raises(PermissionDenied, match="own application"):
        assessment.assign(
            world.platform,
            world.org.actor,
            org_id=world.org.org_id,
            application_id=app.id,
            assessor_user_id=insider.user_id or "",
        )
    # the same address is the same person, even from another account
    learner = world.user(email="dual@learners.example")
    second = applied(world, learner)
    with world.platform.transaction() as session:
        moved = session.get(UserRow, learner.user_id)
        assert moved is not None
        moved.email = "moved@learners.example"
    same_address = world.user(role="assessor", email="dual@learners.example")
    with pytest.raises(PermissionDenied, match="same email address"):
        review(world, same_address, second.id)
    viewer = world.user(role="viewer")
    with pytest.raises(PermissionDenied):
        review(world, viewer, app.id)
    outsider = world.user()
    with pytest.raises(NotFound):
        review(world, outsider, app.id)
    with pytest.raises(NotFound):
        assessment.my_application(world.platform, outsider, application_id=app.id)
    # an assessor may not configure, and the queue filters by assignee
    assessor = world.user(role="assessor")
    with pytest.raises(PermissionDenied):
        assessment.configure(
            world.platform,
            assessor,
            org_id=world.org.org_id,
            achievement_id=world.achievement_id,
            fields=ConfigFields(open=False),
        )
    assessment.assign(
        world.platform,
        world.org.actor,
        org_id=world.org.org_id,
        application_id=app.id,
        assessor_user_id=assessor.user_id or "",
    )
    mine = assessment.queue(world.platform, assessor, org_id=world.org.org_id, assignee="me")
    assert [i.id for i in mine] == [app.id]
    unassigned = assessment.queue(
        world.platform, assessor, org_id=world.org.org_id, assignee="none"
    )
    assert [i.id for i in unassigned] == [second.id]


def test_submission_needs_the_required_evidence_and_limits_hold(world: World) -> None:
    open_for(world)
    learner = world.user()
    p = world.platform
    app = assessment.create_application(p, learner, achievement_id=world.achievement_id)
    with pytest.raises(Conflict, match="already have an application"):
        assessment.create_application(p, learner, achievement_id=world.achievement_id)
    assessment.add_evidence(
        p, learner, application_id=app.id, kind="text", name="Reflection", narrative="I learnt."
    )
    with pytest.raises(InvalidInput, match="'Portfolio' \\(file\\)"):
        assessment.submit(p, learner, application_id=app.id)
    cases = [
        (b"%PDF-" + b"x" * 2000, "application/pdf", "at most 1,000 are accepted"),
        (b"<html>", "text/html", "not accepted"),
        (b"not a pdf", "application/pdf", "does not start like one"),
        (EICAR, "text/plain", "refused by the virus scanner"),
    ]
    for data, media_type, message in cases:
        with pytest.raises(InvalidInput, match=message):
            assessment.add_evidence(
                p,
                learner,
                application_id=app.id,
                kind="file",
                name="f",
                data=data,
                media_type=media_type,
            )
    with pytest.raises(InvalidInput, match="http"):
        assessment.add_evidence(
            p, learner, application_id=app.id, kind="url", name="u", url="javascript:alert(1)"
        )
    with p.reading() as session:
        refused = session.scalar(
            select(func.count()).where(AuditLogRow.action == "application.evidence_refused")
        )
    assert refused == 1


def test_two_assessors_deciding_at_once_award_once(world: World) -> None:
    open_for(world)
    app = applied(world, world.user())
    assessors = [world.user(role="assessor") for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(who: Actor) -> None:
        barrier.wait()
        try:
            outcomes.append(review(world, who, app.id).state)
        except Conflict as e:
            outcomes.append(f"conflict: {e.message}")

    threads = [threading.Thread(target=decide, args=(a,)) for a in assessors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [
        "awarded",
        "conflict: the application is awarded: it is not awaiting review",
    ]
    with world.platform.reading() as session:
        assert session.scalar(select(func.count()).select_from(CredentialRow)) == 1


def test_peer_review_by_holders(world: World) -> None:
    open_for(world)
    assessment.configure(
        world.platform,
        world.org.actor,
        org_id=world.org.org_id,
        achievement_id=world.achievement_id,
        fields=ConfigFields(peer_review=True),
    )
    holder = world.user()
    first = applied(world, holder)
    review(world, world.user(role="assessor"), first.id)  # the holder now holds it
    assessment.configure(
        world.platform,
        world.org.actor,
        org_id=world.org.org_id,
        achievement_id=world.achievement_id,
        fields=ConfigFields(decision_rule={"rule": "all_agree", "reviews_required": 2}),
    )
    newcomer = world.user()
    app = applied(world, newcomer)
    review(world, world.user(role="assessor"), app.id)
    assert [i.id for i in assessment.peer_queue(world.platform, holder)] == [app.id]
    seen = assessment.peer_application(world.platform, holder, application_id=app.id)
    assert seen.reviews == ()  # a peer never sees the other reviews
    assert assessment.peer_queue(world.platform, world.user()) == []
    done = assessment.review(
        world.platform,
        holder,
        org_id=None,
        application_id=app.id,
        fields=ReviewFields(decision="award", scores=GOOD),
    )
    assert done.state == "awarded"
    assert [r.reviewer_kind for r in done.reviews] == ["peer"]


def test_sla_ageing_marks_overdue(world: World, clock: MovableClock) -> None:
    open_for(world)
    app = applied(world, world.user())
    assessor = world.user(role="assessor")
    clock.advance(hours=49)
    (item,) = assessment.queue(world.platform, assessor, org_id=world.org.org_id, overdue=True)
    assert item.id == app.id
    assert item.age_hours == pytest.approx(49)
    assert assessment.remind_overdue(world.platform, assessor, org_id=world.org.org_id) == 1
    assert assessment.remind_overdue(world.platform, assessor, org_id=world.org.org_id) == 1


# --- claim codes ---------------------------------------------------------------------------


def _token(platform: Platform) -> str:
    with platform.reading() as session:
        text = session.scalars(
            select(OutboxRow.payload)
            .where(OutboxRow.topic == "email.claim_code")
            .order_by(OutboxRow.id.desc())
        ).first()
    assert text is not None
    return text["text"].split("token=")[1].split()[0]


def test_claim_code_flow_cap_domain_and_limits(world: World) -> None:
    p = world.platform
    code = claim_codes.create_claim_code(
        p,
        world.org.actor,
        org_id=world.org.org_id,
        achievement_id=world.achievement_id,
        label="Meetup",
        max_uses=1,
        allowed_domain="learners.example",
    )
    assert claim_codes.public_claim_code(p, code.code.lower()).status == "open"
    media, svg = claim_codes.claim_code_qr(
        p, world.org.actor, org_id=world.org.org_id, code_id=code.id
    )
    assert media == "image/svg+xml"
    assert b"<svg" in svg
    with pytest.raises(InvalidInput, match=r"learners\.example"):
        claim_codes.request_claim(p, code=code.code, email="x@elsewhere.example", ip="1.2.3.4")
    claim_codes.request_claim(p, code=code.code, email="Ann@Learners.example", ip="1.2.3.4")
    token = _token(p)
    record = claim_codes.confirm_claim(p, code=code.code, token=token, ip="1.2.3.4")
    assert record.recipient == "ann@learners.example"
    with pytest.raises(NotFound, match="already used"):
        claim_codes.confirm_claim(p, code=code.code, token=token, ip="1.2.3.4")
    with pytest.raises(Conflict, match="every claim of this code has been used"):
        claim_codes.request_claim(p, code=code.code, email="bob@learners.example", ip="1.2.3.5")
    other = claim_codes.create_claim_code(
        p, world.org.actor, org_id=world.org.org_id, achievement_id=world.achievement_id
    )
    for _ in range(claim_codes.PER_EMAIL_PER_HOUR):
        claim_codes.request_claim(p, code=other.code, email="cy@x.example", ip="5.6.7.8")
    with pytest.raises(RateLimited, match="for this email address"):
        claim_codes.request_claim(p, code=other.code, email="cy@x.example", ip="5.6.7.8")
    # two links for one email claim one credential
    first = claim_codes.confirm_claim(p, code=other.code, token=_token(p), ip="5.6.7.8")
    assert first.recipient == "cy@x.example"
    claim_codes.deactivate_claim_code(p, world.org.actor, org_id=world.org.org_id, code_id=other.id)
    assert claim_codes.public_claim_code(p, other.code).status == "inactive"
    with pytest.raises(NotFound):
        claim_codes.public_claim_code(p, "NOPE2345")


def test_guessing_claim_codes_is_slowed_per_address_and_per_email(
    world: World, clock: MovableClock
) -> None:
    p = world.platform
    code = claim_codes.create_claim_code(
        p, world.org.actor, org_id=world.org.org_id, achievement_id=world.achievement_id
    )
    guesses = [f"GUESS{n:02d}".replace("0", "A").replace("1", "B") for n in range(40)]
    for guess in guesses[: claim_codes.FAILED_PER_IP]:
        with pytest.raises(NotFound):
            claim_codes.public_claim_code(p, guess, ip="6.6.6.6")
    # past the limit even the real code is refused from that address: a refusal says nothing
    with pytest.raises(claim_codes.TooManyFailures) as refused:
        claim_codes.public_claim_code(p, code.code, ip="6.6.6.6")
    assert 0 < refused.value.retry_after <= claim_codes.FAILED_WINDOW.total_seconds()
    with pytest.raises(RateLimited):
        claim_codes.request_claim(p, code=code.code, email="ann@x.example", ip="6.6.6.6")
    with pytest.raises(RateLimited):
        claim_codes.confirm_claim(p, code=code.code, token="whatever", ip="6.6.6.6")
    # another address (one mistyped code first) still claims with the valid code
    with pytest.raises(NotFound):
        claim_codes.public_claim_code(p, "MISTYPED", ip="7.7.7.7")
    assert claim_codes.public_claim_code(p, code.code, ip="7.7.7.7").status == "open"
    claim_codes.request_claim(p, code=code.code, email="bo@x.example", ip="7.7.7.7")
    assert claim_codes.confirm_claim(p, code=code.code, token=_token(p), ip="7.7.7.7").recipient
    # one email cycling codes from many addresses is slowed too
    for n, guess in enumerate(guesses[: claim_codes.FAILED_PER_EMAIL]):
        with pytest.raises(NotFound):
            claim_codes.request_claim(p, code=guess, email="cy@x.example", ip=f"10.0.0.{n}")
    with pytest.raises(RateLimited, match="for this email"):
        claim_codes.request_claim(p, code=code.code, email="cy@x.example", ip="10.0.1.1")
    # failures age out of the window (their rows are deleted) and nothing was audited
    clock.advance(seconds=claim_codes.FAILED_WINDOW.total_seconds() + 1)
    assert claim_codes.public_claim_code(p, code.code, ip="6.6.6.6").status == "open"
    with pytest.raises(NotFound):
        claim_codes.public_claim_code(p, "LATERONE", ip="8.8.8.8")
    with p.reading() as session:
        assert session.scalar(select(func.count()).select_from(ClaimCodeFailureRow)) == 1
        audited = session.scalars(select(AuditLogRow.action)).all()
    assert "claim_code.requested" in audited
    assert not [a for a in audited if "fail" in a or "guess" in a]
