"""Claim codes: an issuer's event code (and its QR) that anyone may redeem for the achievement.

The person claiming types (or scans) the code and gives their email; Merito emails a one-time
link (only its SHA-256 is kept); opening it issues the credential to that address. A code may
have a time window, a usage cap and an allowed email domain. Abuse is limited in the database
(so every API worker sees the same counts): requests per address and per code within a
window, emails per address and code; the cap is enforced by one conditional UPDATE, so two
people claiming the last use at once cannot both get it. One credential per email per code
(its idempotency key), whatever the retries. Guessing is slowed too: each failed lookup or
claim (an unknown code, an invalid link) is counted per address and per email, and past
``FAILED_PER_IP`` / ``FAILED_PER_EMAIL`` in ``FAILED_WINDOW`` every lookup from that address
(or for that email) is refused, known code or not, so a refusal tells a guesser nothing.
Failures are not audited (anonymous noise); their rows are deleted once out of the window.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from merito.domain.ports import OutgoingEmail
from merito.errors import Conflict, InvalidInput, NotFound, RateLimited
from merito.services import credentials, issuers
from merito.services.notifications import AUTOMATED_HEADERS
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
from merito.storage.tables import AchievementRow, OrganisationRow
from merito.storage.tables_assessment import ClaimCodeFailureRow, ClaimCodeRow, ClaimRequestRow

__all__ = [
    "CLAIM_LINK_TTL",
    "ClaimCodeView",
    "PublicClaimCode",
    "TooManyFailures",
    "claim_code_qr",
    "claim_url",
    "confirm_claim",
    "create_claim_code",
    "deactivate_claim_code",
    "list_claim_codes",
    "public_claim_code",
    "request_claim",
]

#: the emailed link works this long
CLAIM_LINK_TTL: Final = timedelta(hours=24)
#: requests from one IP address per hour (all codes), per code per minute, per email per code
#: per hour
PER_IP_PER_HOUR: Final = 20
PER_CODE_PER_MINUTE: Final = 60
PER_EMAIL_PER_HOUR: Final = 3
#: failed lookups and claims (unknown code, invalid link) from one IP address, and for one
#: email address, within the window; past them every lookup is refused until one ages out
FAILED_PER_IP: Final = 20
FAILED_PER_EMAIL: Final = 10
FAILED_WINDOW: Final = timedelta(minutes=15)
#: no O/0, I/1: read aloud and typed from a slide
_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE: Final = re.compile(r"[A-Z2-9]{4,32}")
_DOMAIN: Final = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL: Final = re.compile(r"[^@\s]{1,64}@([^@\s]{1,253})")


class TooManyFailures(RateLimited):
    """Too many unknown codes or links from one address (or for one email) in the window."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimCodeView:
    id: str
    org_id: str
    achievement_id: str
    achievement_name: str
    code: str
    url: str
    label: str
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None
    uses: int
    allowed_domain: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicClaimCode:
    """What the public claim page shows before anyone gives an email."""

    code: str
    label: str
    achievement_name: str
    issuer_name: str
    allowed_domain: str | None
    #: "open", "not_started", "ended", "used_up" or "inactive"
    status: str


def claim_url(platform: Platform, code: str) -> str:
    return platform.url(f"/claim-code/{code}")


def _normalise(code: str) -> str:
    text = (code or "").strip().upper().replace("-", "").replace(" ", "")
    if not _CODE.fullmatch(text):
        raise NotFound("no such claim code", property="code")
    return text


def _view(platform: Platform, row: ClaimCodeRow, name: str) -> ClaimCodeView:
    return ClaimCodeView(
        id=row.id,
        org_id=row.org_id,
        achievement_id=row.achievement_id,
        achievement_name=name,
        code=row.code,
        url=claim_url(platform, row.code),
        label=row.label,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        max_uses=row.max_uses,
        uses=row.uses,
        allowed_domain=row.allowed_domain,
        active=row.active,
        created_at=row.created_at,
    )


def create_claim_code(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    label: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    max_uses: int | None = None,
    allowed_domain: str | None = None,
) -> ClaimCodeView:
    """A new code for a published achievement (10 characters, ~50 bits)."""
    label = (label or "").strip()
    if len(label) > 200:
        raise InvalidInput("label is longer than 200 characters", property="label")
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a timezone", property=name)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", property="ends_at")
    if max_uses is not None and not 1 <= max_uses <= 1_000_000:
        raise InvalidInput("max_uses must be between 1 and 1,000,000", property="max_uses")
    domain = None
    if allowed_domain:
        domain = allowed_domain.strip().lower().lstrip("@")
        if not _DOMAIN.fullmatch(domain):
            raise InvalidInput(
                f"allowed_domain {allowed_domain!r} is not a domain name",
                property="allowed_domain",
            )
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        achievement = session.get(AchievementRow, achievement_id)
        if achievement is None or achievement.org_id != org_id:
            raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
        if achievement.status != "published":
            raise Conflict(
                "only a published achievement can be claimed by code", property="achievement_id"
            )
        row = ClaimCodeRow(
            id=new_id(),
            org_id=org_id,
            achievement_id=achievement_id,
            code="".join(secrets.choice(_ALPHABET) for _ in range(10)),
            label=label,
            starts_at=starts_at,
            ends_at=ends_at,
            max_uses=max_uses,
            uses=0,
            allowed_domain=domain,
            active=True,
            created_by=actor.audit_name,
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="claim_code.created",
            org_id=org_id,
            target=row.id,
            at=now,
            details={
                "achievement_id": achievement_id,
                "max_uses": max_uses,
                "allowed_domain": domain,
                "starts_at": starts_at.isoformat() if starts_at else None,
                "ends_at": ends_at.isoformat() if ends_at else None,
            },
        )
        return _view(platform, row, achievement.name)


def list_claim_codes(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str | None = None
) -> list[ClaimCodeView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        query = (
            select(ClaimCodeRow, AchievementRow.name)
            .join(AchievementRow, AchievementRow.id == ClaimCodeRow.achievement_id)
            .where(ClaimCodeRow.org_id == org_id)
        )
        if achievement_id is not None:
            query = query.where(ClaimCodeRow.achievement_id == achievement_id)
        rows = session.execute(query.order_by(ClaimCodeRow.created_at.desc()).limit(500)).all()
        return [_view(platform, row, name) for row, name in rows]


def _own_code(session: Session, *, org_id: str, code_id: str) -> tuple[ClaimCodeRow, str]:
    found = session.execute(
        select(ClaimCodeRow, AchievementRow.name)
        .join(AchievementRow, AchievementRow.id == ClaimCodeRow.achievement_id)
        .where(ClaimCodeRow.org_id == org_id, ClaimCodeRow.id == code_id)
    ).first()
    if found is None:
        raise NotFound(f"claim code {code_id!r} not found", property="code_id")
    return found[0], found[1]


def deactivate_claim_code(
    platform: Platform, actor: Actor, *, org_id: str, code_id: str
) -> ClaimCodeView:
    """Stops a code (idempotent): nobody can request or confirm a claim with it any more."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        row, name = _own_code(session, org_id=org_id, code_id=code_id)
        if row.active:
            row.active = False
            audit(
                session,
                actor,
                action="claim_code.deactivated",
                org_id=org_id,
                target=row.id,
                at=now,
            )
        return _view(platform, row, name)


def claim_code_qr(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    code_id: str,
    kind: Literal["svg", "png"] = "svg",
) -> tuple[str, bytes]:
    """The code's claim URL as a QR code: (media type, bytes)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        row, _ = _own_code(session, org_id=org_id, code_id=code_id)
        url = claim_url(platform, row.code)
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=8, border=4, title=f"Claim code {row.code}")
        return "image/svg+xml", out.getvalue()
    if kind == "png":
        qr.save(out, kind="png", scale=8, border=4)
        return "image/png", out.getvalue()
    raise InvalidInput("kind must be svg or png", property="kind")


def _status(row: ClaimCodeRow, now: datetime) -> str:
    if not row.active:
        return "inactive"
    if row.starts_at is not None and now < row.starts_at:
        return "not_started"
    if row.ends_at is not None and now >= row.ends_at:
        return "ended"
    if row.max_uses is not None and row.uses >= row.max_uses:
        return "used_up"
    return "open"


_STATUS_MESSAGES: Final = {
    "inactive": "this claim code is no longer active",
    "not_started": "this claim code cannot be used yet",
    "ended": "this claim code has expired",
    "used_up": "every claim of this code has been used",
}


def _guesses(session: Session, *, ip: str, email: str | None, now: datetime) -> None:
    """RateLimited when this address (or email) failed too often in the window; Retry-After
    is when its oldest counted failure leaves the window."""
    since = now - FAILED_WINDOW
    checks: list[tuple[object, int, str, str]] = [
        (ClaimCodeFailureRow.ip == ip, FAILED_PER_IP, "from this address", "code")
    ]
    if email:
        checks.append(
            (ClaimCodeFailureRow.email == email, FAILED_PER_EMAIL, "for this email", "email")
        )
    for where, limit, what, prop in checks:
        count, oldest = session.execute(
            select(func.count(), func.min(ClaimCodeFailureRow.created_at)).where(
                where,  # type: ignore[arg-type]
                ClaimCodeFailureRow.created_at > since,
            )
        ).one()
        if (count or 0) >= limit and oldest is not None:
            wait = max(1.0, (oldest + FAILED_WINDOW - now).total_seconds())
            raise TooManyFailures(
                f"too many unknown claim codes or links {what}; try again later",
                retry_after=wait,
                property=prop,
            )


def _failed(platform: Platform, *, ip: str, email: str | None = None) -> None:
    """Counts one failed lookup (its own transaction: the caller's rolls back) and deletes
    the failures that left the window."""
    now = platform.clock.now()
    with platform.transaction() as session:
        session.add(ClaimCodeFailureRow(id=new_id(), ip=ip, email=email, created_at=now))
        session.execute(
            delete(ClaimCodeFailureRow).where(ClaimCodeFailureRow.created_at <= now - FAILED_WINDOW)
        )


def public_claim_code(platform: Platform, code: str, *, ip: str | None = None) -> PublicClaimCode:
    """RateLimited after too many failed lookups from ``ip``; an unknown code counts as one."""
    text = _normalise(code)
    where = (ip or "-")[:45]
    now = platform.clock.now()
    with platform.reading() as session:
        _guesses(session, ip=where, email=None, now=now)
        found = session.execute(
            select(ClaimCodeRow, AchievementRow.name, OrganisationRow.name)
            .join(AchievementRow, AchievementRow.id == ClaimCodeRow.achievement_id)
            .join(OrganisationRow, OrganisationRow.id == ClaimCodeRow.org_id)
            .where(ClaimCodeRow.code == text)
        ).first()
    if found is None:
        _failed(platform, ip=where)
        raise NotFound("no such claim code", property="code")
    row, achievement, issuer = found
    return PublicClaimCode(
        code=row.code,
        label=row.label,
        achievement_name=achievement,
        issuer_name=issuer,
        allowed_domain=row.allowed_domain,
        status=_status(row, now),
    )


def _limit(session: Session, query: object, limit: int, window: timedelta, what: str) -> None:
    count = session.scalar(query)  # type: ignore[call-overload]
    if (count or 0) >= limit:
        raise RateLimited(
            f"too many claim requests {what}; try again later",
            retry_after=window.total_seconds(),
            property="code",
        )


def request_claim(platform: Platform, *, code: str, email: str, ip: str | None) -> None:
    """Emails a one-time claim link to ``email`` if the code can be claimed by it.

    RateLimited past the per-address, per-code and per-email limits, or after too many
    failed lookups from the address or for the email (an unknown code counts as one);
    Conflict when the code is outside its window, used up or inactive; InvalidInput for an
    address outside the allowed domain.
    """
    text = _normalise(code)
    address = (email or "").strip().lower()
    match = _EMAIL.fullmatch(address)
    if match is None or "." not in match.group(1):
        raise InvalidInput("give a valid email address", property="email")
    where = (ip or "-")[:45]
    now = platform.clock.now()
    actor = Actor.anonymous(ip)
    with platform.reading() as session:
        _guesses(session, ip=where, email=address, now=now)
        known = session.scalar(select(ClaimCodeRow.id).where(ClaimCodeRow.code == text))
    if known is None:
        _failed(platform, ip=where, email=address)
        raise NotFound("no such claim code", property="code")
    with platform.transaction() as session:
        # the code's row first: requests for one code serialise (the limits count exactly)
        session.execute(
            update(ClaimCodeRow).where(ClaimCodeRow.code == text).values(uses=ClaimCodeRow.uses)
        )
        found = session.execute(
            select(ClaimCodeRow, AchievementRow.name, OrganisationRow.name)
            .join(AchievementRow, AchievementRow.id == ClaimCodeRow.achievement_id)
            .join(OrganisationRow, OrganisationRow.id == ClaimCodeRow.org_id)
            .where(ClaimCodeRow.code == text)
        ).first()
        if found is None:
            raise NotFound("no such claim code", property="code")
        row, achievement, issuer = found
        count = select(func.count()).select_from(ClaimRequestRow)
        _limit(
            session,
            count.where(
                ClaimRequestRow.ip == where, ClaimRequestRow.created_at > now - timedelta(hours=1)
            ),
            PER_IP_PER_HOUR,
            timedelta(hours=1),
            "from this address",
        )
        _limit(
            session,
            count.where(
                ClaimRequestRow.claim_code_id == row.id,
                ClaimRequestRow.created_at > now - timedelta(minutes=1),
            ),
            PER_CODE_PER_MINUTE,
            timedelta(minutes=1),
            "for this code",
        )
        _limit(
            session,
            count.where(
                ClaimRequestRow.claim_code_id == row.id,
                ClaimRequestRow.email == address,
                ClaimRequestRow.created_at > now - timedelta(hours=1),
            ),
            PER_EMAIL_PER_HOUR,
            timedelta(hours=1),
            "for this email address",
        )
        status = _status(row, now)
        if status != "open":
            raise Conflict(_STATUS_MESSAGES[status], property="code")
        if row.allowed_domain is not None and match.group(1) != row.allowed_domain:
            raise InvalidInput(
                f"this code is for addresses at {row.allowed_domain}", property="email"
            )
        token = secrets.token_urlsafe(32)
        request = ClaimRequestRow(
            id=new_id(),
            org_id=row.org_id,
            claim_code_id=row.id,
            email=address,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            ip=where,
            created_at=now,
            expires_at=now + CLAIM_LINK_TTL,
        )
        session.add(request)
        session.flush()
        audit(
            session,
            actor,
            action="claim_code.requested",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={"request_id": request.id, "email_domain": match.group(1)},
        )
        link = platform.url(f"/claim-code/{row.code}/confirm?token={token}")
        mail = OutgoingEmail(
            to=address,
            subject=f"Confirm your email to claim “{achievement}”"[:200],
            text="\n".join(
                [
                    f"You asked to claim “{achievement}” from {issuer} with the code {row.code}.",
                    "",
                    "Open this link to confirm your email address and receive the credential "
                    f"(it works once, for {int(CLAIM_LINK_TTL.total_seconds() // 3600)} hours):",
                    link,
                    "",
                    "If you did not ask for it, ignore this message.",
                    "",
                ]
            ),
            idempotency_key=f"claim-code:{request.id}",
            headers=AUTOMATED_HEADERS,
        )
        enqueue(
            session,
            topic="email.claim_code",
            payload={
                "to": mail.to,
                "subject": mail.subject,
                "text": mail.text,
                "idempotency_key": mail.idempotency_key,
                "headers": dict(mail.headers),
            },
            idempotency_key=f"email.claim_code:{request.id}",
            org_id=row.org_id,
        )


def confirm_claim(
    platform: Platform, *, code: str, token: str, ip: str | None
) -> credentials.CredentialRecord:
    """Redeems an emailed link: issues the credential to the proven address (once per email
    and code; the same link or another link for the same email answers the same credential).
    """
    text = _normalise(code)
    if not token or len(token) > 200:
        raise NotFound("this claim link is not valid", property="token")
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = platform.clock.now()
    actor = Actor(kind="system", id="claim-code", ip=ip)
    where = (ip or "-")[:45]
    with platform.reading() as session:
        _guesses(session, ip=where, email=None, now=now)
        org_id = session.scalar(
            select(ClaimCodeRow.org_id)
            .join(ClaimRequestRow, ClaimRequestRow.claim_code_id == ClaimCodeRow.id)
            .where(
                ClaimCodeRow.code == text,
                ClaimRequestRow.token_hash == digest,
                ClaimRequestRow.redeemed_at.is_(None),
            )
        )
    if org_id is None:
        _failed(platform, ip=where)
        raise NotFound(
            "this claim link is not valid, has expired or was already used", property="token"
        )
    issuers.signer_for(platform, org_id)  # the key exists before the write lock is held
    with platform.transaction() as session:
        # first statement: takes the request (the link works once)
        taken = session.execute(
            update(ClaimRequestRow)
            .where(
                ClaimRequestRow.token_hash == digest,
                ClaimRequestRow.redeemed_at.is_(None),
                ClaimRequestRow.expires_at > now,
            )
            .values(redeemed_at=now)
        )
        if getattr(taken, "rowcount", 0) != 1:
            raise NotFound(
                "this claim link is not valid, has expired or was already used",
                property="token",
            )
        request = session.scalar(
            select(ClaimRequestRow).where(ClaimRequestRow.token_hash == digest)
        )
        row = session.get(ClaimCodeRow, request.claim_code_id) if request else None
        if request is None or row is None or row.code != text:
            raise NotFound("this claim link is not valid", property="token")
        key = f"claim-code:{row.id}:{hashlib.sha256(request.email.encode()).hexdigest()[:32]}"
        org_or_404(session, row.org_id)
        earlier = credentials.find_by_key(session, platform, org_id=row.org_id, key=key)
        if earlier is not None:
            request.credential_row_id = earlier.id
            return earlier
        # the cap, the window and the switch, in one conditional update (never over the cap)
        took = session.execute(
            update(ClaimCodeRow)
            .where(
                ClaimCodeRow.id == row.id,
                ClaimCodeRow.active.is_(True),
                (ClaimCodeRow.max_uses.is_(None)) | (ClaimCodeRow.uses < ClaimCodeRow.max_uses),
                (ClaimCodeRow.starts_at.is_(None)) | (ClaimCodeRow.starts_at <= now),
                (ClaimCodeRow.ends_at.is_(None)) | (ClaimCodeRow.ends_at > now),
            )
            .values(uses=ClaimCodeRow.uses + 1)
        )
        if getattr(took, "rowcount", 0) != 1:
            session.refresh(row)
            raise Conflict(
                _STATUS_MESSAGES.get(_status(row, now), "the code is closed"), property="code"
            )
        record = credentials.issue_in(
            session,
            platform,
            actor,
            org_id=row.org_id,
            achievement_id=row.achievement_id,
            recipient=request.email,
            idempotency_key=key,
            details={"claim_code_id": row.id, "claim_request_id": request.id},
        )
        request.credential_row_id = record.id
        audit(
            session,
            actor,
            action="claim_code.redeemed",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={"request_id": request.id, "credential_id": record.credential_id},
        )
        return record
