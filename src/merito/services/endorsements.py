"""Endorsements: one organisation vouches for another's achievement or profile (OB 3.0).

An endorsement is an OB 3.0 EndorsementCredential (``credentialSubject`` an EndorsementSubject
whose ``id`` is the endorsed Achievement's URL or Profile's DID, with the endorser's
``endorsementComment``), signed with the endorser's issuer key like any credential it issues,
given a position on the endorser's revocation status list, checked against the official OB 3.0
schema before it is stored, and served at ``/endorsements/{id}``. Active endorsements are
embedded (``endorsement``) in the endorsed achievement or profile wherever it is published.

The request flow: organisation A asks B to endorse one of A's achievements (or A's profile);
B's admins get an email; B accepts with a comment (the endorsement is issued in the same
transaction) or declines with a reason (A's admins get an email either way); A may withdraw a
pending request. Every step is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.errors import Conflict, InvalidInput, NotFound
from merito.formats.ob3 import OB3_CONTEXT, VC2_CONTEXT, format_datetime
from merito.formats.schema import validate_endorsement_credential
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.services import catalog, issuers, status_lists
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    enqueue,
    new_id,
    org_or_404,
)
from merito.storage.tables import (
    AchievementRow,
    MembershipRow,
    OrganisationRow,
    UserRow,
)
from merito.storage.tables_trust import EndorsementRequestRow, EndorsementRow

__all__ = [
    "MAX_COMMENT",
    "EndorsementView",
    "RequestView",
    "accept_request",
    "decline_request",
    "endorsement_url",
    "find_organisation",
    "issue_endorsement",
    "list_endorsements",
    "list_requests",
    "public_endorsement",
    "request_endorsement",
    "revoke_endorsement",
    "withdraw_request",
]

MAX_COMMENT: Final = 5000
MAX_LIST: Final = 500
SubjectKind = Literal["achievement", "profile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EndorsementView:
    id: str
    url: str
    endorser_org_id: str
    endorser_name: str
    subject_kind: str
    subject_id: str
    subject_org_id: str | None
    achievement_id: str | None
    comment: str
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    request_id: str | None
    document: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestView:
    id: str
    requester_org_id: str
    requester_name: str
    endorser_org_id: str
    endorser_name: str
    subject_kind: str
    subject_id: str
    subject_name: str
    achievement_id: str | None
    message: str
    status: str
    decline_reason: str | None
    endorsement_id: str | None
    created_at: datetime
    decided_at: datetime | None


def endorsement_url(platform: Platform, endorsement_id: str) -> str:
    return platform.url(f"endorsements/{endorsement_id}")


def _text(value: str | None, prop: str, *, required: bool, limit: int = MAX_COMMENT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{prop} must not be empty", property=prop)
    if len(text) > limit:
        raise InvalidInput(f"{prop} is longer than {limit} characters", property=prop)
    return text


def _org_names(session: Session, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(OrganisationRow.id, OrganisationRow.name).where(OrganisationRow.id.in_(set(ids)))
    )
    return {str(org_id): str(name) for org_id, name in rows}


def _endorsement_view(row: EndorsementRow, names: dict[str, str], url: str) -> EndorsementView:
    return EndorsementView(
        id=row.id,
        url=url,
        endorser_org_id=row.org_id,
        endorser_name=names.get(row.org_id, ""),
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        subject_org_id=row.subject_org_id,
        achievement_id=row.achievement_id,
        comment=row.comment,
        issued_at=row.issued_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        request_id=row.request_id,
        document=dict(row.document),
    )


def _subject_name(session: Session, row: EndorsementRequestRow, names: dict[str, str]) -> str:
    if row.achievement_id is not None:
        achievement = session.get(AchievementRow, row.achievement_id)
        if achievement is not None:
            return achievement.name
    return names.get(row.requester_org_id, "")


def _request_view(session: Session, row: EndorsementRequestRow) -> RequestView:
    names = _org_names(session, [row.requester_org_id, row.endorser_org_id])
    return RequestView(
        id=row.id,
        requester_org_id=row.requester_org_id,
        requester_name=names.get(row.requester_org_id, ""),
        endorser_org_id=row.endorser_org_id,
        endorser_name=names.get(row.endorser_org_id, ""),
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        subject_name=_subject_name(session, row, names),
        achievement_id=row.achievement_id,
        message=row.message,
        status=row.status,
        decline_reason=row.decline_reason,
        endorsement_id=row.endorsement_id,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: SubjectKind
    id: str
    org_id: str
    achievement_id: str | None
    name: str


def _subject(
    session: Session, platform: Platform, *, org_id: str, achievement_id: str | None
) -> _Subject:
    """What organisation ``org_id`` has endorsed: one of its published achievements, or (no
    ``achievement_id``) its issuer profile."""
    org = org_or_404(session, org_id)
    if achievement_id is None:
        return _Subject("profile", issuers.issuer_did(platform, org), org.id, None, org.name)
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    if row.current_version is None:
        raise Conflict(
            f"achievement {achievement_id!r} is not published: publish it before asking for "
            "endorsements",
            property="achievement_id",
        )
    return _Subject(
        "achievement", catalog.achievement_url(platform, row.id), org.id, row.id, row.name
    )


def _admin_emails(session: Session, org_id: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(UserRow.id, UserRow.email)
        .join(MembershipRow, MembershipRow.user_id == UserRow.id)
        .where(MembershipRow.org_id == org_id, MembershipRow.role.in_(("admin", "owner")))
        .order_by(UserRow.id)
    )
    return [(user_id, email) for user_id, email in rows]


def _notify(
    session: Session, *, org_id: str, key: str, subject: str, text: str, topic: str
) -> None:
    """One email per admin/owner of ``org_id``, through the outbox (same transaction)."""
    for user_id, email in _admin_emails(session, org_id):
        idempotency_key = f"{key}:{user_id}"
        enqueue(
            session,
            topic=topic,
            payload={
                "to": email,
                "subject": subject,
                "text": text,
                "idempotency_key": idempotency_key,
            },
            idempotency_key=idempotency_key,
            org_id=org_id,
        )


# --- issuing -----------------------------------------------------------------------------------


def _build(
    session: Session,
    platform: Platform,
    *,
    endorsement_id: str,
    endorser: OrganisationRow,
    subject: _Subject,
    comment: str,
    status_entry: dict[str, Any],
    signer: Signer,
    now: datetime,
) -> dict[str, Any]:
    # the endorser's own endorsements are not nested inside the ones it issues
    profile = {
        k: v
        for k, v in issuers.profile_document(session, platform, endorser).items()
        if k != "endorsement"
    }
    unsigned: dict[str, Any] = {
        "@context": [VC2_CONTEXT, OB3_CONTEXT],
        "id": endorsement_url(platform, endorsement_id),
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "issuer": profile,
        "validFrom": format_datetime(now),
        "name": f"{endorser.name} endorses {subject.name}"[:500],
        "credentialSubject": {
            "id": subject.id,
            "type": ["EndorsementSubject"],
            "endorsementComment": comment,
        },
        "credentialStatus": status_entry,
    }
    issues = validate_endorsement_credential(unsigned | {"proof": [_PLACEHOLDER_PROOF]})
    if issues:
        raise InvalidInput(f"the endorsement would not be valid: {issues[0]}", property="comment")
    return data_integrity.sign(unsigned, signer=signer, cryptosuite="eddsa-rdfc-2022", created=now)


#: stands in for the proof while checking the schema before signing (the schema requires one)
_PLACEHOLDER_PROOF: Final = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "proofPurpose": "assertionMethod",
    "verificationMethod": "did:example:placeholder#key",
    "proofValue": "z",
}


def _issue_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    endorser_org_id: str,
    subject: _Subject,
    comment: str,
    signer: Signer,
    request_id: str | None,
) -> EndorsementRow:
    if subject.org_id == endorser_org_id:
        raise InvalidInput("an organisation cannot endorse itself", property="org_id")
    endorser = org_or_404(session, endorser_org_id)
    now = platform.clock.now().replace(microsecond=0)
    endorsement_id = new_id()
    slot = status_lists.allocate(session, platform, org_id=endorser_org_id)[0]
    document = _build(
        session,
        platform,
        endorsement_id=endorsement_id,
        endorser=endorser,
        subject=subject,
        comment=comment,
        status_entry=slot.entry(),
        signer=signer,
        now=now,
    )
    row = EndorsementRow(
        id=endorsement_id,
        org_id=endorser_org_id,
        subject_kind=subject.kind,
        subject_id=subject.id,
        subject_org_id=subject.org_id,
        achievement_id=subject.achievement_id,
        request_id=request_id,
        comment=comment,
        document=document,
        status_list_id=slot.list_id,
        status_index=slot.index,
        issued_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        action="endorsement.issued",
        org_id=endorser_org_id,
        target=endorsement_id,
        at=now,
        details={"subject": subject.id, "subject_org_id": subject.org_id, "request": request_id},
    )
    _notify(
        session,
        org_id=subject.org_id,
        key=f"endorsement-issued:{endorsement_id}",
        topic="email.endorsement_issued",
        subject=f"{endorser.name} endorsed {subject.name}",
        text=(
            f"{endorser.name} endorsed {subject.name} on Merito:\n\n{comment}\n\n"
            f"The endorsement: {endorsement_url(platform, endorsement_id)}"
        ),
    )
    return row


def issue_endorsement(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    subject_org_id: str,
    achievement_id: str | None,
    comment: str,
) -> EndorsementView:
    """``org_id`` endorses ``subject_org_id``'s achievement (or, without ``achievement_id``,
    its profile) with ``comment``, unasked."""
    comment = _text(comment, "comment", required=True)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
    signer = issuers.signer_for(platform, org_id)  # may create the key: before the write
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        subject = _subject(session, platform, org_id=subject_org_id, achievement_id=achievement_id)
        row = _issue_in(
            session,
            platform,
            actor,
            endorser_org_id=org_id,
            subject=subject,
            comment=comment,
            signer=signer,
            request_id=None,
        )
        names = _org_names(session, [org_id])
        return _endorsement_view(row, names, endorsement_url(platform, row.id))


def revoke_endorsement(
    platform: Platform, actor: Actor, *, org_id: str, endorsement_id: str, reason: str | None
) -> EndorsementView:
    """Sets the endorsement's revocation bit; it is no longer embedded anywhere."""
    reason_text = _text(reason, "reason", required=False, limit=1000) or None
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        row = session.get(EndorsementRow, endorsement_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"endorsement {endorsement_id!r} not found", property="endorsement_id")
        if row.revoked_at is not None:
            raise Conflict("the endorsement is already revoked", property="endorsement_id")
        status_lists.set_status(
            session, list_id=row.status_list_id, index=row.status_index, value=1
        )
        now = platform.clock.now()
        row.revoked_at = now
        row.revocation_reason = reason_text
        session.flush()
        audit(
            session,
            actor,
            action="endorsement.revoked",
            org_id=org_id,
            target=endorsement_id,
            at=now,
            details={"reason": reason_text, "subject": row.subject_id},
        )
        names = _org_names(session, [org_id])
        return _endorsement_view(row, names, endorsement_url(platform, row.id))


def list_endorsements(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    direction: Literal["issued", "received"] = "issued",
) -> list[EndorsementView]:
    """The endorsements ``org_id`` issued, or those it received (newest first)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        column = EndorsementRow.org_id if direction == "issued" else EndorsementRow.subject_org_id
        rows = list(
            session.scalars(
                select(EndorsementRow)
                .where(column == org_id)
                .order_by(EndorsementRow.issued_at.desc(), EndorsementRow.id)
                .limit(MAX_LIST)
            )
        )
        names = _org_names(session, [r.org_id for r in rows])
        return [_endorsement_view(r, names, endorsement_url(platform, r.id)) for r in rows]


def public_endorsement(platform: Platform, endorsement_id: str) -> dict[str, Any]:
    """``GET /endorsements/{id}``: the signed EndorsementCredential (revoked ones too: their
    status entry says so)."""
    with platform.reading() as session:
        row = session.get(EndorsementRow, endorsement_id)
        if row is None:
            raise NotFound(f"there is no endorsement {endorsement_id!r}", property="endorsement_id")
        return dict(row.document)


def find_organisation(platform: Platform, slug: str) -> tuple[str, str]:
    """``(id, name)`` of the organisation with ``slug`` (slugs are public: its profile is)."""
    slug = slug.strip().lower()
    with platform.reading() as session:
        row = session.scalar(select(OrganisationRow).where(OrganisationRow.slug == slug))
        if row is None:
            raise NotFound(f"there is no organisation {slug!r} on this platform", property="slug")
        return row.id, row.name


# --- the request flow --------------------------------------------------------------------------


def request_endorsement(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    endorser_org_id: str,
    achievement_id: str | None,
    message: str = "",
) -> RequestView:
    """``org_id`` asks ``endorser_org_id`` to endorse its achievement (or its profile)."""
    message = _text(message, "message", required=False)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        if endorser_org_id == org_id:
            raise InvalidInput("an organisation cannot endorse itself", property="endorser_org_id")
        endorser = session.get(OrganisationRow, endorser_org_id)
        if endorser is None:
            raise NotFound(
                f"organisation {endorser_org_id!r} not found", property="endorser_org_id"
            )
        subject = _subject(session, platform, org_id=org_id, achievement_id=achievement_id)
        pending = session.scalar(
            select(EndorsementRequestRow.id).where(
                EndorsementRequestRow.requester_org_id == org_id,
                EndorsementRequestRow.endorser_org_id == endorser_org_id,
                EndorsementRequestRow.subject_id == subject.id,
                EndorsementRequestRow.status == "pending",
            )
        )
        if pending is not None:
            raise Conflict(
                f"a request to {endorser.name} for this is already pending ({pending})",
                property="endorser_org_id",
            )
        now = platform.clock.now()
        row = EndorsementRequestRow(
            id=new_id(),
            requester_org_id=org_id,
            endorser_org_id=endorser_org_id,
            subject_kind=subject.kind,
            achievement_id=subject.achievement_id,
            subject_id=subject.id,
            message=message,
            status="pending",
            requested_by=actor.audit_name,
            created_at=now,
        )
        session.add(row)
        session.flush()
        requester = org_or_404(session, org_id)
        audit(
            session,
            actor,
            action="endorsement.requested",
            org_id=org_id,
            target=row.id,
            at=now,
            details={"endorser_org_id": endorser_org_id, "subject": subject.id},
        )
        _notify(
            session,
            org_id=endorser_org_id,
            key=f"endorsement-request:{row.id}",
            topic="email.endorsement_requested",
            subject=f"{requester.name} asks you to endorse {subject.name}",
            text=(
                f"{requester.name} asks {endorser.name} to endorse {subject.name} on Merito."
                + (f"\n\nTheir message:\n{message}" if message else "")
                + f"\n\nAnswer it: {platform.url('studio/' + endorser.slug + '/endorsements')}"
            ),
        )
        return _request_view(session, row)


def _pending(
    session: Session, *, request_id: str, org_id: str, side: Literal["endorser", "requester"]
) -> EndorsementRequestRow:
    row = session.scalars(
        select(EndorsementRequestRow)
        .where(EndorsementRequestRow.id == request_id)
        .with_for_update()
    ).one_or_none()
    owner = (
        None
        if row is None
        else (row.endorser_org_id if side == "endorser" else row.requester_org_id)
    )
    if row is None or owner != org_id:
        raise NotFound(f"endorsement request {request_id!r} not found", property="request_id")
    if row.status != "pending":
        raise Conflict(f"the request is already {row.status}", property="request_id")
    return row


def accept_request(
    platform: Platform, actor: Actor, *, org_id: str, request_id: str, comment: str
) -> EndorsementView:
    """The endorser ``org_id`` accepts: the endorsement is issued with ``comment``."""
    comment = _text(comment, "comment", required=True)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
    signer = issuers.signer_for(platform, org_id)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        request = _pending(session, request_id=request_id, org_id=org_id, side="endorser")
        subject = _subject(
            session,
            platform,
            org_id=request.requester_org_id,
            achievement_id=request.achievement_id,
        )
        row = _issue_in(
            session,
            platform,
            actor,
            endorser_org_id=org_id,
            subject=subject,
            comment=comment,
            signer=signer,
            request_id=request.id,
        )
        request.status = "accepted"
        request.endorsement_id = row.id
        request.decided_at = row.issued_at
        request.decided_by = actor.audit_name
        audit(
            session,
            actor,
            action="endorsement_request.accepted",
            org_id=org_id,
            target=request.id,
            at=row.issued_at,
            details={"endorsement_id": row.id},
        )
        names = _org_names(session, [org_id])
        return _endorsement_view(row, names, endorsement_url(platform, row.id))


def decline_request(
    platform: Platform, actor: Actor, *, org_id: str, request_id: str, reason: str
) -> RequestView:
    """The endorser ``org_id`` declines with ``reason`` (the requester is told)."""
    reason = _text(reason, "reason", required=True, limit=1000)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        request = _pending(session, request_id=request_id, org_id=org_id, side="endorser")
        now = platform.clock.now()
        request.status = "declined"
        request.decline_reason = reason
        request.decided_at = now
        request.decided_by = actor.audit_name
        session.flush()
        audit(
            session,
            actor,
            action="endorsement_request.declined",
            org_id=org_id,
            target=request.id,
            at=now,
            details={"reason": reason},
        )
        view = _request_view(session, request)
        _notify(
            session,
            org_id=request.requester_org_id,
            key=f"endorsement-declined:{request.id}",
            topic="email.endorsement_declined",
            subject=f"{view.endorser_name} declined to endorse {view.subject_name}",
            text=f"{view.endorser_name} declined to endorse {view.subject_name}:\n\n{reason}",
        )
        return view


def withdraw_request(
    platform: Platform, actor: Actor, *, org_id: str, request_id: str
) -> RequestView:
    """The requester ``org_id`` withdraws a pending request."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        request = _pending(session, request_id=request_id, org_id=org_id, side="requester")
        now = platform.clock.now()
        request.status = "withdrawn"
        request.decided_at = now
        request.decided_by = actor.audit_name
        session.flush()
        audit(
            session,
            actor,
            action="endorsement_request.withdrawn",
            org_id=org_id,
            target=request.id,
            at=now,
        )
        return _request_view(session, request)


def list_requests(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    direction: Literal["incoming", "outgoing"] = "incoming",
    status: str | None = None,
) -> list[RequestView]:
    """Requests ``org_id`` received (incoming) or sent (outgoing), newest first."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        column = (
            EndorsementRequestRow.endorser_org_id
            if direction == "incoming"
            else EndorsementRequestRow.requester_org_id
        )
        query = select(EndorsementRequestRow).where(column == org_id)
        if status is not None:
            query = query.where(EndorsementRequestRow.status == status)
        rows = session.scalars(
            query.order_by(EndorsementRequestRow.created_at.desc(), EndorsementRequestRow.id).limit(
                MAX_LIST
            )
        )
        return [_request_view(session, r) for r in rows]
