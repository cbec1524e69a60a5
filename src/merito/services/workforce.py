"""Workforce: employees and their consent, skills inventory, team gaps, demand, sponsorships.

An employer organisation invites employees by email; accepting the link (signed in, as the
invited address) links the employee's account to the organisation with a team and a job role
(one of the organisation's hiring roles). The employee decides what the employer sees:

- nothing (the default), all their credentials that verify now (``share_all``), or listed ones;
- ``show_individual``: the employer may also see the shared credentials by name; otherwise
  they only count in aggregates.

Everything is computed from the current consent and the current verification state on every
read (hiring's verified-skill profiles: revoked, suspended or expired credentials never count);
nothing is cached, so withdrawing consent or leaving takes effect at once.

Every aggregate over people is k-anonymous (``merito.skills.aggregates``, k =
``workforce_min_group_size``, default 5): a count of 1..k-1 people is suppressed, with
complementary suppression against differencing within a table. Demand counts roles (of every
organisation, status ``open``), not people; its supply side (discoverable learners) is
suppressed like the rest.

Sponsorships hand out single-use voucher codes for a published achievement of any issuer; an
employee redeems one (the enrolment is recorded), and it completes when they earn the
achievement (the ``credential.issued`` event, or at redemption if they already hold it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.services.hiring import (
    _discoverable,
    _holdings,
    _labels_for,
    _requirements,
    _role_view,
    _space,
    _weighting,
    offerings_for,
    published_offered,
)
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
from merito.skills.aggregates import protect_column, protect_partition, publishable
from merito.skills.paths import plan
from merito.skills.profiles import SkillProfile, build_profile
from merito.skills.ranking import Requirement, SkillSpace, explain
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    OrganisationRow,
    UserRow,
)
from merito.storage.tables_hiring import HiringRoleRow, RoleRequirementRow
from merito.storage.tables_workforce import (
    EmployeeRow,
    InvitationRow,
    SharedCredentialRow,
    SponsorshipRow,
    VoucherRow,
)

__all__ = [
    "DEFAULT_MIN_GROUP",
    "INVITATION_DAYS",
    "AchievementDemand",
    "Demand",
    "EmployeeDetail",
    "EmployeeView",
    "EmploymentView",
    "GroupView",
    "Inventory",
    "InvitationPreview",
    "InvitationView",
    "RedemptionView",
    "RoleCoverage",
    "ShareableCredential",
    "SkillDemand",
    "Sponsorable",
    "SponsorshipView",
    "TeamGap",
    "accept_invitation",
    "achievements_in_demand",
    "coverage",
    "create_sponsorship",
    "demand",
    "demand_csv",
    "gaps",
    "get_employee",
    "get_employment",
    "get_sponsorship",
    "inventory",
    "inventory_csv",
    "invite_employee",
    "leave",
    "list_employees",
    "list_invitations",
    "list_sponsorships",
    "min_group",
    "my_employments",
    "my_vouchers",
    "on_event",
    "preview_invitation",
    "redeem_voucher",
    "remove_employee",
    "revoke_invitation",
    "set_consent",
    "sponsorable_achievements",
    "update_employee",
]

DEFAULT_MIN_GROUP: Final = 5
INVITATION_DAYS: Final = 14
MAX_VOUCHERS: Final = 500
MAX_SHARED: Final = 1000
MAX_SPONSORABLE: Final = 1000
DEMAND_TOP: Final = 50
_CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
NO_TEAM: Final = ""

By = Literal["team", "role"]
Cost = Literal["hours", "price"]


def min_group(platform: Platform) -> int:
    """k of the k-anonymous aggregates (MERITO_WORKFORCE_MIN_GROUP_SIZE)."""
    value = platform.extras.get("workforce_min_group_size", DEFAULT_MIN_GROUP)
    return max(2, int(value))


# --- views ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationView:
    id: str
    org_id: str
    email: str
    team: str
    job_role_id: str | None
    job_role_title: str | None
    #: pending, accepted, revoked or expired
    status: str
    expires_at: datetime
    created_at: datetime
    accepted_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationPreview:
    org_name: str
    email: str
    team: str
    job_role_title: str | None
    status: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeView:
    """An employee as the employer sees them: the link and the consent, never the data."""

    id: str
    user_id: str
    email: str
    team: str
    job_role_id: str | None
    job_role_title: str | None
    joined_at: datetime
    share_all: bool
    shared_credentials: int
    show_individual: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareableCredential:
    credential_id: str
    name: str
    issuer_name: str | None
    issued_at: datetime
    skills: tuple[str, ...]
    shared: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeSkill:
    skill: str
    label: str
    level: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeDetail:
    employee: EmployeeView
    #: False: the employee shares for aggregates only; credentials and skills stay empty
    visible: bool
    credentials: tuple[ShareableCredential, ...]
    skills: tuple[EmployeeSkill, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EmploymentView:
    """An employer as the employee sees it, with what they share and could share."""

    id: str
    org_id: str
    org_name: str
    team: str
    job_role_title: str | None
    joined_at: datetime
    share_all: bool
    show_individual: bool
    credentials: tuple[ShareableCredential, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupView:
    key: str
    label: str
    #: consenting members; None: suppressed (fewer than k, or hidden against differencing)
    size: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillCount:
    skill: str
    label: str
    total: int | None
    #: holders per group, in the order of ``Inventory.groups`` (None: suppressed)
    counts: tuple[int | None, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    by: By
    k: int
    groups: tuple[GroupView, ...]
    total: int | None
    skills: tuple[SkillCount, ...]
    #: skills held by fewer than k consenting employees in all (not listed at all)
    hidden_skills: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RequirementCoverage:
    skill: str
    label: str
    required: bool
    #: consenting employees meeting it: in the role, elsewhere, in all (None: suppressed)
    in_role: int | None
    elsewhere: int | None
    total: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleCoverage:
    role_id: str
    title: str
    status: str
    k: int
    #: consenting employees with this job role / in all (None: suppressed)
    assigned: int | None
    population: int | None
    #: consenting employees meeting every required skill: in the role, elsewhere, in all
    ready_in_role: int | None
    ready_elsewhere: int | None
    ready_total: int | None
    requirements: tuple[RequirementCoverage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GapSkill:
    skill: str
    label: str
    #: members whose job role asks for it / who meet it (None: suppressed)
    needed: int | None
    met: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GapStep:
    achievement_id: str
    name: str
    org_id: str
    url: str
    cost: float
    covers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamGap:
    team: str
    k: int
    #: consenting members (None: suppressed; then nothing else is shown)
    size: int | None
    suppressed: bool
    gaps: tuple[GapSkill, ...]
    cost: Cost
    currency: str | None
    steps: tuple[GapStep, ...]
    total_cost: float
    uncoverable: tuple[str, ...]
    coverage: float
    optimal: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillDemand:
    skill: str
    label: str
    #: open roles (of every organisation) asking for it, and how many organisations post them
    roles: int
    orgs: int
    #: roles asking for it by the month they were posted, aligned with ``Demand.months``
    by_month: tuple[int, ...]
    #: discoverable learners holding it (verified now); None: suppressed
    supply: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Demand:
    k: int
    months: tuple[str, ...]
    #: requirements of open roles posted in each month (all skills)
    totals_by_month: tuple[int, ...]
    open_roles: int
    #: discoverable learners (None: suppressed)
    pool: int | None
    skills: tuple[SkillDemand, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AchievementDemand:
    achievement_id: str
    name: str
    #: (skill, label, open roles asking for it)
    skills: tuple[tuple[str, str, int], ...]
    demand: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VoucherView:
    code: str
    redeemed: bool
    redeemed_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SponsorshipView:
    id: str
    org_id: str
    achievement_id: str
    achievement_name: str
    issuer_name: str
    note: str
    expires_at: datetime | None
    created_at: datetime
    k: int
    vouchers: int
    redeemed: int
    #: redeemers who earned the achievement since (None: suppressed)
    completed: int | None
    completion_rate: float | None
    codes: tuple[VoucherView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RedemptionView:
    code: str
    org_id: str
    org_name: str
    achievement_id: str
    achievement_name: str
    achievement_url: str
    redeemed_at: datetime
    completed_at: datetime | None


# --- helpers ---------------------------------------------------------------------------------


def _user(actor: Actor) -> str:
    if actor.user_id is None or actor.kind != "user":
        raise PermissionDenied("only a signed-in person can be an employee", property="actor")
    return actor.user_id


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean(value: str | None, prop: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{prop} must be at most {limit} characters", property=prop)
    return text


def _email(value: str) -> str:
    email = (value or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput("email must be an email address", property="email")
    return email


def _job_role(session: Session, org_id: str, role_id: str | None) -> HiringRoleRow | None:
    if role_id is None or not role_id.strip():
        return None
    row = session.get(HiringRoleRow, role_id.strip())
    if row is None or row.org_id != org_id:
        raise NotFound(f"role {role_id!r} not found", property="job_role_id")
    return row


def _role_titles(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(HiringRoleRow.id, HiringRoleRow.title).where(HiringRoleRow.id.in_(wanted))
        ).all()
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _invitation_status(row: InvitationRow, now: datetime) -> str:
    if row.status == "pending" and _aware(row.expires_at) <= now:
        return "expired"
    return row.status


def _invitation_view(
    row: InvitationRow, titles: Mapping[str, str], now: datetime
) -> InvitationView:
    return InvitationView(
        id=row.id,
        org_id=row.org_id,
        email=row.email,
        team=row.team,
        job_role_id=row.job_role_id,
        job_role_title=titles.get(row.job_role_id) if row.job_role_id else None,
        status=_invitation_status(row, now),
        expires_at=row.expires_at,
        created_at=row.created_at,
        accepted_at=row.accepted_at,
    )


def _shared_ids(session: Session, employee_ids: Sequence[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {e: set() for e in employee_ids}
    for i in range(0, len(employee_ids), 500):
        for eid, cid in session.execute(
            select(SharedCredentialRow.employee_id, SharedCredentialRow.credential_id).where(
                SharedCredentialRow.employee_id.in_(employee_ids[i : i + 500])
            )
        ):
            out[eid].add(cid)
    return out


def _employee_view(
    row: EmployeeRow, email: str, titles: Mapping[str, str], shared: int
) -> EmployeeView:
    return EmployeeView(
        id=row.id,
        user_id=row.user_id,
        email=email,
        team=row.team,
        job_role_id=row.job_role_id,
        job_role_title=titles.get(row.job_role_id) if row.job_role_id else None,
        joined_at=row.joined_at,
        share_all=row.share_all,
        shared_credentials=shared,
        show_individual=row.show_individual,
    )


@dataclass(frozen=True, slots=True)
class _Member:
    row: EmployeeRow
    profile: SkillProfile


def _members(session: Session, platform: Platform, rows: Sequence[EmployeeRow]) -> list[_Member]:
    """Those of ``rows`` who share something, with the profile of what they share (only
    credentials that verify now, only those consented to now)."""
    shared = _shared_ids(session, [r.id for r in rows])
    sharing = [r for r in rows if r.share_all or shared[r.id]]
    held = _holdings(session, platform, sorted({r.user_id for r in sharing}))
    now = platform.clock.now()
    members = []
    for row in sharing:
        h = held[row.user_id]
        evidence = [e for e in h.evidence if row.share_all or e.credential_id in shared[row.id]]
        if not evidence:
            continue
        members.append(_Member(row, build_profile(evidence, now=now, weighting=_weighting(h))))
    return members


def _consenting(session: Session, platform: Platform, org_id: str) -> list[_Member]:
    """The organisation's employees who share something, with their shared profiles."""
    rows = session.scalars(
        select(EmployeeRow).where(EmployeeRow.org_id == org_id).order_by(EmployeeRow.id)
    ).all()
    return _members(session, platform, rows)


def _credentials_of(
    session: Session, platform: Platform, user_id: str, shared: set[str] | None
) -> list[ShareableCredential]:
    """The user's credentials that verify now and prove skills (``shared``: None = all)."""
    held = _holdings(session, platform, [user_id])[user_id]
    labels = {**held.labels, **_labels_for(session, {e.skill for e in held.evidence})}
    by_credential: dict[str, list[Any]] = defaultdict(list)
    for e in held.evidence:
        by_credential[e.credential_id].append(e)
    out = []
    for cid, items in by_credential.items():
        first = items[0]
        out.append(
            ShareableCredential(
                credential_id=cid,
                name=first.achievement_name or cid,
                issuer_name=first.issuer_name,
                issued_at=first.issued_at,
                skills=tuple(sorted({labels.get(e.skill) or e.skill for e in items})),
                shared=shared is None or cid in shared,
            )
        )
    return sorted(out, key=lambda c: (c.name.lower(), c.credential_id))


# --- invitations ---------------------------------------------------------------------------


def invite_employee(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    email: str,
    team: str = "",
    job_role_id: str | None = None,
) -> InvitationView:
    """Emails an invitation link (valid ``INVITATION_DAYS`` days) to link an account."""
    address = _email(email)
    team = _clean(team, "team", 200)
    token = secrets.token_urlsafe(32)
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_MANAGE)
        org = org_or_404(session, org_id)
        role = _job_role(session, org_id, job_role_id)
        already = session.scalars(
            select(EmployeeRow.id)
            .join(UserRow, UserRow.id == EmployeeRow.user_id)
            .where(EmployeeRow.org_id == org_id, UserRow.email == address)
        ).first()
        if already is not None:
            raise Conflict(f"{address} is already an employee", property="email")
        for pending in session.scalars(
            select(InvitationRow).where(
                InvitationRow.org_id == org_id,
                InvitationRow.email == address,
                InvitationRow.status == "pending",
            )
        ):
            if _aware(pending.expires_at) > now:
                raise Conflict(f"{address} already has a pending invitation", property="email")
        row = InvitationRow(
            id=new_id(),
            org_id=org_id,
            email=address,
            team=team,
            job_role_id=None if role is None else role.id,
            token_hash=_hash(token),
            status="pending",
            invited_by=actor.audit_name,
            expires_at=now + timedelta(days=INVITATION_DAYS),
            created_at=now,
        )
        session.add(row)
        link = platform.url(f"workforce/invitations/{token}")
        enqueue(
            session,
            topic="email.workforce_invitation",
            payload={
                "to": address,
                "subject": f"{org.name} invites you to link your Merito wallet",
                "text": (
                    f"{org.name} invites you to join its workforce on Merito"
                    + (f" (team {team})" if team else "")
                    + ".\n\nYou decide which of your credentials they may see, and can "
                    f"withdraw at any time.\n\nAccept: {link}\n\nThe link is valid for "
                    f"{INVITATION_DAYS} days."
                ),
                "idempotency_key": f"workforce-invitation:{row.id}",
            },
            idempotency_key=f"workforce-invitation:{row.id}",
            org_id=org_id,
        )
        session.flush()
        audit(
            session,
            actor,
            action="workforce.employee_invited",
            org_id=org_id,
            target=row.id,
            details={"team": team, "job_role_id": row.job_role_id},
        )
        titles = {} if role is None else {role.id: role.title}
        return _invitation_view(row, titles, now)


def list_invitations(platform: Platform, actor: Actor, *, org_id: str) -> list[InvitationView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        rows = list(
            session.scalars(
                select(InvitationRow)
                .where(InvitationRow.org_id == org_id)
                .order_by(InvitationRow.created_at.desc(), InvitationRow.id)
            )
        )
        titles = _role_titles(session, (r.job_role_id for r in rows))
        now = platform.clock.now()
        return [_invitation_view(r, titles, now) for r in rows]


def revoke_invitation(
    platform: Platform, actor: Actor, *, org_id: str, invitation_id: str
) -> InvitationView:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_MANAGE)
        row = session.get(InvitationRow, invitation_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"invitation {invitation_id!r} not found", property="invitation_id")
        if row.status != "pending":
            raise Conflict(f"the invitation is already {row.status}", property="invitation_id")
        row.status = "revoked"
        audit(
            session,
            actor,
            action="workforce.invitation_revoked",
            org_id=org_id,
            target=row.id,
        )
        session.flush()
        return _invitation_view(row, _role_titles(session, [row.job_role_id]), platform.clock.now())


def _invitation_by_token(session: Session, token: str) -> InvitationRow:
    token = (token or "").strip()
    row = None
    if token and len(token) <= 200:
        row = session.scalars(
            select(InvitationRow).where(InvitationRow.token_hash == _hash(token))
        ).first()
    if row is None:
        raise NotFound("this invitation link is not valid", property="token")
    return row


def preview_invitation(platform: Platform, token: str) -> InvitationPreview:
    """What an invitation link is for (shown before the person accepts)."""
    with platform.reading() as session:
        row = _invitation_by_token(session, token)
        org = org_or_404(session, row.org_id)
        titles = _role_titles(session, [row.job_role_id])
        return InvitationPreview(
            org_name=org.name,
            email=row.email,
            team=row.team,
            job_role_title=titles.get(row.job_role_id) if row.job_role_id else None,
            status=_invitation_status(row, platform.clock.now()),
            expires_at=row.expires_at,
        )


def accept_invitation(platform: Platform, actor: Actor, *, token: str) -> EmploymentView:
    """Links the signed-in account (it must be the invited address) to the organisation.

    Nothing is shared yet: the employee chooses afterwards (``set_consent``).
    """
    user_id = _user(actor)
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _invitation_by_token(session, token)
        status = _invitation_status(row, now)
        if status != "pending":
            raise Conflict(f"this invitation is {status}", property="token")
        user = session.get(UserRow, user_id)
        if user is None or user.email != row.email:
            raise PermissionDenied(
                "this invitation was sent to another email address", property="token"
            )
        existing = session.scalars(
            select(EmployeeRow).where(
                EmployeeRow.org_id == row.org_id, EmployeeRow.user_id == user_id
            )
        ).first()
        if existing is not None:
            raise Conflict("you are already linked to this organisation", property="token")
        employee = EmployeeRow(
            id=new_id(),
            org_id=row.org_id,
            user_id=user_id,
            team=row.team,
            job_role_id=row.job_role_id,
            share_all=False,
            show_individual=False,
            joined_at=now,
            consent_updated_at=now,
        )
        session.add(employee)
        row.status = "accepted"
        row.accepted_at = now
        session.flush()
        audit(
            session,
            actor,
            action="workforce.invitation_accepted",
            org_id=row.org_id,
            target=employee.id,
            details={"invitation_id": row.id},
        )
        return _employment_view(session, platform, employee)


# --- employees (the employer's side) ---------------------------------------------------------


def _employee(session: Session, org_id: str, employee_id: str) -> EmployeeRow:
    row = session.get(EmployeeRow, employee_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"employee {employee_id!r} not found", property="employee_id")
    return row


def _views(session: Session, rows: Sequence[EmployeeRow]) -> list[EmployeeView]:
    emails = dict(
        session.execute(
            select(UserRow.id, UserRow.email).where(UserRow.id.in_([r.user_id for r in rows]))
        ).all()
        if rows
        else []
    )
    titles = _role_titles(session, (r.job_role_id for r in rows))
    shared = _shared_ids(session, [r.id for r in rows])
    return [_employee_view(r, emails.get(r.user_id, ""), titles, len(shared[r.id])) for r in rows]


def list_employees(platform: Platform, actor: Actor, *, org_id: str) -> list[EmployeeView]:
    """The linked employees and what they consented to (not their credentials)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        rows = list(
            session.scalars(
                select(EmployeeRow)
                .where(EmployeeRow.org_id == org_id)
                .order_by(EmployeeRow.team, EmployeeRow.joined_at, EmployeeRow.id)
            )
        )
        return _views(session, rows)


def get_employee(
    platform: Platform, actor: Actor, *, org_id: str, employee_id: str
) -> EmployeeDetail:
    """One employee; their shared credentials and skills only if they allow individual view."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        row = _employee(session, org_id, employee_id)
        view = _views(session, [row])[0]
        if not row.show_individual or not (row.share_all or view.shared_credentials):
            return EmployeeDetail(employee=view, visible=False, credentials=(), skills=())
        shared = None if row.share_all else _shared_ids(session, [row.id])[row.id]
        credentials = [
            c for c in _credentials_of(session, platform, row.user_id, shared) if c.shared
        ]
        skills: list[EmployeeSkill] = []
        for member in _members(session, platform, [row]):
            labels = _labels_for(session, member.profile.skills)
            skills = [
                EmployeeSkill(skill=c.skill, label=labels.get(c.skill, c.skill), level=c.level)
                for c in sorted(member.profile.skills.values(), key=lambda c: (-c.level, c.skill))
            ]
        return EmployeeDetail(
            employee=view, visible=True, credentials=tuple(credentials), skills=tuple(skills)
        )


def update_employee(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    employee_id: str,
    team: str | None = None,
    job_role_id: str | None = None,
    clear_job_role: bool = False,
) -> EmployeeView:
    """Moves an employee to another team and/or job role."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_MANAGE)
        row = _employee(session, org_id, employee_id)
        changed = []
        if team is not None:
            row.team = _clean(team, "team", 200)
            changed.append("team")
        if clear_job_role:
            row.job_role_id = None
            changed.append("job_role_id")
        elif job_role_id is not None:
            role = _job_role(session, org_id, job_role_id)
            row.job_role_id = None if role is None else role.id
            changed.append("job_role_id")
        session.flush()
        audit(
            session,
            actor,
            action="workforce.employee_updated",
            org_id=org_id,
            target=row.id,
            details={"changed": changed},
        )
        return _views(session, [row])[0]


def remove_employee(platform: Platform, actor: Actor, *, org_id: str, employee_id: str) -> None:
    """Unlinks an employee (their consents go with the link)."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_MANAGE)
        row = _employee(session, org_id, employee_id)
        session.delete(row)
        audit(
            session, actor, action="workforce.employee_removed", org_id=org_id, target=employee_id
        )


# --- the employee's side -----------------------------------------------------------------------


def _employment_view(session: Session, platform: Platform, row: EmployeeRow) -> EmploymentView:
    org = org_or_404(session, row.org_id)
    titles = _role_titles(session, [row.job_role_id])
    shared = None if row.share_all else _shared_ids(session, [row.id])[row.id]
    return EmploymentView(
        id=row.id,
        org_id=row.org_id,
        org_name=org.name,
        team=row.team,
        job_role_title=titles.get(row.job_role_id) if row.job_role_id else None,
        joined_at=row.joined_at,
        share_all=row.share_all,
        show_individual=row.show_individual,
        credentials=tuple(_credentials_of(session, platform, row.user_id, shared)),
    )


def _own(session: Session, user_id: str, employment_id: str) -> EmployeeRow:
    row = session.get(EmployeeRow, employment_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"employment {employment_id!r} not found", property="employment_id")
    return row


def my_employments(platform: Platform, actor: Actor) -> list[EmploymentView]:
    user_id = _user(actor)
    with platform.reading() as session:
        rows = session.scalars(
            select(EmployeeRow)
            .where(EmployeeRow.user_id == user_id)
            .order_by(EmployeeRow.joined_at)
        ).all()
        return [_employment_view(session, platform, r) for r in rows]


def get_employment(platform: Platform, actor: Actor, *, employment_id: str) -> EmploymentView:
    user_id = _user(actor)
    with platform.reading() as session:
        return _employment_view(session, platform, _own(session, user_id, employment_id))


def set_consent(
    platform: Platform,
    actor: Actor,
    *,
    employment_id: str,
    share_all: bool,
    credential_ids: Sequence[str] = (),
    show_individual: bool = False,
) -> EmploymentView:
    """Replaces what the employer may see; takes effect on the employer's next read."""
    user_id = _user(actor)
    wanted = sorted({c.strip() for c in credential_ids if c and c.strip()})
    if len(wanted) > MAX_SHARED:
        raise InvalidInput(f"at most {MAX_SHARED} credentials", property="credential_ids")
    if any(len(c) > 500 for c in wanted):
        raise InvalidInput("a credential id is at most 500 characters", property="credential_ids")
    with platform.transaction() as session:
        row = _own(session, user_id, employment_id)
        if wanted and not share_all:
            held = {c.credential_id for c in _credentials_of(session, platform, user_id, None)}
            unknown = [c for c in wanted if c not in held]
            if unknown:
                raise InvalidInput(
                    f"credential_ids: {unknown[0]!r} is not one of your verified credentials",
                    property="credential_ids",
                )
        session.execute(
            delete(SharedCredentialRow).where(SharedCredentialRow.employee_id == row.id)
        )
        if not share_all:
            for cid in wanted:
                session.add(SharedCredentialRow(id=new_id(), employee_id=row.id, credential_id=cid))
        row.share_all = share_all
        row.show_individual = show_individual
        row.consent_updated_at = platform.clock.now()
        session.flush()
        audit(
            session,
            actor,
            action="workforce.consent_set",
            org_id=row.org_id,
            target=row.id,
            details={
                "share_all": share_all,
                "credentials": 0 if share_all else len(wanted),
                "show_individual": show_individual,
            },
        )
        return _employment_view(session, platform, row)


def leave(platform: Platform, actor: Actor, *, employment_id: str) -> None:
    """The employee unlinks their account: nothing of theirs counts any more, at once."""
    user_id = _user(actor)
    with platform.transaction() as session:
        row = _own(session, user_id, employment_id)
        org_id = row.org_id
        session.delete(row)
        audit(session, actor, action="workforce.employee_left", org_id=org_id, target=employment_id)


# --- skills inventory, coverage, gaps ------------------------------------------------------------


def _group_key(member: _Member, by: By) -> str:
    return member.row.team if by == "team" else (member.row.job_role_id or "")


def inventory(platform: Platform, actor: Actor, *, org_id: str, by: By = "team") -> Inventory:
    """Verified skills of the consenting employees, per team or per job role, k-anonymous."""
    if by not in ("team", "role"):
        raise InvalidInput("by must be 'team' or 'role'", property="by")
    k = min_group(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        members = _consenting(session, platform, org_id)
        sizes: dict[str, int] = defaultdict(int)
        holders: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for m in members:
            key = _group_key(m, by)
            sizes[key] += 1
            for skill in m.profile.skills:
                holders[skill][key] += 1
        partition = protect_partition(dict(sizes), k)
        order = sorted(sizes, key=lambda g: (g == "", g))
        titles = _role_titles(session, order) if by == "role" else {}
        labels = _labels_for(session, holders)
        rows: list[SkillCount] = []
        hidden_skills = 0
        for skill, per_group in holders.items():
            total = sum(per_group.values())
            if not publishable(total, k):
                hidden_skills += 1
                continue
            column = protect_column(
                {g: per_group.get(g, 0) for g in order}, k, hidden=partition.hidden
            )
            rows.append(
                SkillCount(
                    skill=skill,
                    label=labels.get(skill, skill),
                    total=total,
                    counts=tuple(column[g] for g in order),
                )
            )
        rows.sort(key=lambda r: (-(r.total or 0), r.label.lower()))
        groups = tuple(
            GroupView(
                key=g,
                label=(titles.get(g, g) if by == "role" else g),
                size=partition.sizes[g],
            )
            for g in order
        )
        return Inventory(
            by=by,
            k=k,
            groups=groups,
            total=partition.total,
            skills=tuple(rows),
            hidden_skills=hidden_skills,
        )


def _space_for(
    session: Session, requirements: Iterable[Requirement], members: Sequence[_Member]
) -> tuple[SkillSpace, dict[str, str]]:
    return _space(
        session,
        [r.skill for r in requirements],
        {s for m in members for s in m.profile.skills},
    )


def _org_roles(session: Session, org_id: str) -> list[HiringRoleRow]:
    return list(
        session.scalars(
            select(HiringRoleRow)
            .where(HiringRoleRow.org_id == org_id)
            .order_by(HiringRoleRow.title, HiringRoleRow.id)
        )
    )


def coverage(platform: Platform, actor: Actor, *, org_id: str) -> list[RoleCoverage]:
    """For each of the organisation's roles: how many consenting employees meet each
    requirement and all required ones, among those holding the role and elsewhere."""
    k = min_group(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        members = _consenting(session, platform, org_id)
        out = []
        for role_row in _org_roles(session, org_id):
            role = _role_view(session, role_row)
            requirements = _requirements(role)
            space, labels = _space_for(session, requirements, members)
            split = {"in": 0, "out": 0}
            ready = {"in": 0, "out": 0}
            met: dict[str, dict[str, int]] = {r.skill: {"in": 0, "out": 0} for r in requirements}
            for m in members:
                side = "in" if m.row.job_role_id == role.id else "out"
                split[side] += 1
                why = explain(m.profile, requirements, space)
                if requirements and why.missing_required == 0:
                    ready[side] += 1
                for match in why.matches:
                    if match.status == "met":
                        met[match.requirement.skill][side] += 1
            partition = protect_partition(split, k)
            ready_column = protect_column(ready, k, hidden=partition.hidden)
            rows = []
            for r in requirements:
                column = protect_column(met[r.skill], k, hidden=partition.hidden)
                total = sum(met[r.skill].values())
                rows.append(
                    RequirementCoverage(
                        skill=r.skill,
                        label=r.label or labels.get(r.skill, r.skill),
                        required=r.required,
                        in_role=column["in"],
                        elsewhere=column["out"],
                        total=total if publishable(total, k) else None,
                    )
                )
            ready_total = sum(ready.values())
            out.append(
                RoleCoverage(
                    role_id=role.id,
                    title=role.title,
                    status=role.status,
                    k=k,
                    assigned=partition.sizes["in"],
                    population=partition.total,
                    ready_in_role=ready_column["in"],
                    ready_elsewhere=ready_column["out"],
                    ready_total=ready_total if publishable(ready_total, k) else None,
                    requirements=tuple(rows),
                )
            )
        return out


def _offered_skills(session: Session) -> set[str]:
    out: set[str] = set()
    for (document,) in session.execute(
        select(AchievementVersionRow.document)
        .join(
            AchievementRow,
            (AchievementVersionRow.achievement_id == AchievementRow.id)
            & (AchievementVersionRow.version == AchievementRow.current_version),
        )
        .where(AchievementRow.status == "published")
    ):
        items = document.get("alignment")
        out |= {
            a["targetUrl"].strip()
            for a in (items if isinstance(items, list) else [])
            if isinstance(a, Mapping) and isinstance(a.get("targetUrl"), str)
        }
    return out


def gaps(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    cost: Cost = "hours",
    currency: str | None = None,
) -> list[TeamGap]:
    """Per team: the skills its members' job roles ask for that not every member meets, and
    the cheapest set of published achievements (hiring's learning-path solver) covering them."""
    if cost not in ("hours", "price"):
        raise InvalidInput("cost must be 'hours' or 'price'", property="cost")
    k = min_group(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        members = _consenting(session, platform, org_id)
        roles = {r.id: _role_view(session, r) for r in _org_roles(session, org_id)}
        requirements = {rid: _requirements(role) for rid, role in roles.items()}
        teams: dict[str, list[_Member]] = defaultdict(list)
        for m in members:
            teams[m.row.team].append(m)
        partition = protect_partition({t: len(v) for t, v in teams.items()}, k)
        all_requirements = [r for reqs in requirements.values() for r in reqs]
        offered = _offered_skills(session)
        space, labels = _space(
            session,
            [r.skill for r in all_requirements],
            {s for m in members for s in m.profile.skills} | offered,
        )
        out = []
        for team in sorted(teams, key=lambda t: (t == "", t)):
            size = partition.sizes[team]
            needed: dict[str, int] = defaultdict(int)
            met: dict[str, int] = defaultdict(int)
            if size is not None:
                for m in teams[team]:
                    reqs = requirements.get(m.row.job_role_id or "", [])
                    if not reqs:
                        continue
                    for match in explain(m.profile, reqs, space).matches:
                        needed[match.requirement.skill] += 1
                        met[match.requirement.skill] += match.status == "met"
            missing = sorted(s for s in needed if met[s] < needed[s])
            offerings, by_id, used_currency = offerings_for(
                published_offered(session), space, missing, cost, currency
            )
            path = plan(missing, offerings)
            out.append(
                TeamGap(
                    team=team,
                    k=k,
                    size=size,
                    suppressed=size is None,
                    gaps=tuple(
                        GapSkill(
                            skill=s,
                            label=labels.get(s, s),
                            needed=needed[s] if publishable(needed[s], k) else None,
                            met=met[s] if publishable(met[s], k) else None,
                        )
                        for s in missing
                    ),
                    cost=cost,
                    currency=used_currency if cost == "price" else None,
                    steps=tuple(
                        GapStep(
                            achievement_id=s.offering.id,
                            name=s.offering.name or "",
                            org_id=by_id[s.offering.id].org_id,
                            url=platform.url(f"achievements/{s.offering.id}"),
                            cost=s.offering.cost,
                            covers=tuple(labels.get(c, c) for c in sorted(s.covers)),
                        )
                        for s in path.steps
                    ),
                    total_cost=path.total_cost,
                    uncoverable=tuple(labels.get(s, s) for s in sorted(path.uncoverable)),
                    coverage=path.coverage,
                    optimal=path.optimal,
                )
            )
        return out


# --- demand analytics ------------------------------------------------------------------------


def _months(now: datetime, count: int) -> list[str]:
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def _open_requirements(session: Session) -> list[tuple[str, str, str, str, datetime]]:
    """(role id, org id, skill, label, role posted at) of every open role's requirements."""
    return [
        (rid, oid, skill, label, _aware(posted))
        for rid, oid, skill, label, posted in session.execute(
            select(
                HiringRoleRow.id,
                HiringRoleRow.org_id,
                RoleRequirementRow.skill_uri,
                RoleRequirementRow.skill_label,
                HiringRoleRow.created_at,
            )
            .join(RoleRequirementRow, RoleRequirementRow.role_id == HiringRoleRow.id)
            .where(HiringRoleRow.status == "open")
        )
    ]


def demand(platform: Platform, actor: Actor, *, org_id: str, months: int = 12) -> Demand:
    """The skills open roles on Merito ask for (every organisation), by the month each role was
    posted, beside the verified supply among learners discoverable by this organisation."""
    if not 1 <= months <= 60:
        raise InvalidInput("months must be between 1 and 60", property="months")
    k = min_group(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        now = platform.clock.now()
        axis = _months(now, months)
        index = {m: i for i, m in enumerate(axis)}
        rows = _open_requirements(session)
        roles_of: dict[str, set[str]] = defaultdict(set)
        orgs_of: dict[str, set[str]] = defaultdict(set)
        monthly: dict[str, list[int]] = defaultdict(lambda: [0] * len(axis))
        totals = [0] * len(axis)
        given_labels: dict[str, str] = {}
        for rid, oid, skill, label, posted in rows:
            roles_of[skill].add(rid)
            orgs_of[skill].add(oid)
            if label:
                given_labels.setdefault(skill, label)
            slot = index.get(f"{posted.year:04d}-{posted.month:02d}")
            if slot is not None:
                monthly[skill][slot] += 1
                totals[slot] += 1
        top = sorted(roles_of, key=lambda s: (-len(roles_of[s]), s))[:DEMAND_TOP]
        pool = _discoverable(session, org_id)
        held = _holdings(session, platform, pool)
        supply: dict[str, int] = defaultdict(int)
        wanted = set(top)
        for h in held.values():
            for skill in {e.skill for e in h.evidence} & wanted:
                supply[skill] += 1
        labels = {**given_labels, **_labels_for(session, top)}
        return Demand(
            k=k,
            months=tuple(axis),
            totals_by_month=tuple(totals),
            open_roles=len({r[0] for r in rows}),
            pool=len(pool) if publishable(len(pool), k) else None,
            skills=tuple(
                SkillDemand(
                    skill=s,
                    label=labels.get(s, s),
                    roles=len(roles_of[s]),
                    orgs=len(orgs_of[s]),
                    by_month=tuple(monthly[s]) if s in monthly else (0,) * len(axis),
                    supply=supply[s] if publishable(supply[s], k) else None,
                )
                for s in top
            ),
        )


def achievements_in_demand(
    platform: Platform, actor: Actor, *, org_id: str
) -> list[AchievementDemand]:
    """The issuer's published achievements, with the open-role demand for each aligned skill."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        roles_of: dict[str, set[str]] = defaultdict(set)
        for rid, _oid, skill, _label, _posted in _open_requirements(session):
            roles_of[skill].add(rid)
        rows = session.execute(
            select(AchievementRow, AchievementVersionRow.document)
            .join(
                AchievementVersionRow,
                (AchievementVersionRow.achievement_id == AchievementRow.id)
                & (AchievementVersionRow.version == AchievementRow.current_version),
            )
            .where(AchievementRow.org_id == org_id, AchievementRow.status == "published")
        ).all()
        out = []
        for achievement, document in rows:
            items = document.get("alignment")
            aligned = [
                (a["targetUrl"].strip(), str(a.get("targetName") or ""))
                for a in (items if isinstance(items, list) else [])
                if isinstance(a, Mapping) and isinstance(a.get("targetUrl"), str)
            ]
            skills = tuple(
                sorted(
                    ((s, label or s, len(roles_of.get(s, ()))) for s, label in aligned),
                    key=lambda t: (-t[2], t[1]),
                )
            )
            out.append(
                AchievementDemand(
                    achievement_id=achievement.id,
                    name=achievement.name,
                    skills=skills,
                    demand=sum(t[2] for t in skills),
                )
            )
        return sorted(out, key=lambda a: (-a.demand, a.name.lower()))


def _cell(value: int | None, k: int) -> str:
    return f"<{k}" if value is None else str(value)


def demand_csv(platform: Platform, actor: Actor, *, org_id: str, months: int = 12) -> str:
    """The demand table as CSV (suppressed supply is written ``<k``)."""
    table = demand(platform, actor, org_id=org_id, months=months)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["skill", "label", "open_roles", "organisations", "supply", *table.months])
    for s in table.skills:
        writer.writerow([s.skill, s.label, s.roles, s.orgs, _cell(s.supply, table.k), *s.by_month])
    return out.getvalue()


def inventory_csv(platform: Platform, actor: Actor, *, org_id: str, by: By = "team") -> str:
    """The inventory as CSV: one row per skill, one column per group (suppressed: ``<k``)."""
    table = inventory(platform, actor, org_id=org_id, by=by)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["skill", "label", "total", *(g.label or "-" for g in table.groups)])
    writer.writerow(
        ["", "consenting employees", _cell(table.total, table.k)]
        + [_cell(g.size, table.k) for g in table.groups]
    )
    for s in table.skills:
        writer.writerow(
            [s.skill, s.label, _cell(s.total, table.k), *(_cell(c, table.k) for c in s.counts)]
        )
    return out.getvalue()


# --- sponsorships ----------------------------------------------------------------------------


def _code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"MRT-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _normal_code(code: str) -> str:
    text = "".join(c for c in (code or "").upper() if c.isalnum())
    if text.startswith("MRT"):
        text = text[3:]
    if len(text) != 12:
        raise NotFound("no such voucher code", property="code")
    return f"MRT-{text[:4]}-{text[4:8]}-{text[8:]}"


def _sponsorship_view(
    session: Session, platform: Platform, row: SponsorshipRow, *, with_codes: bool
) -> SponsorshipView:
    k = min_group(platform)
    achievement = session.get(AchievementRow, row.achievement_id)
    issuer = None if achievement is None else session.get(OrganisationRow, achievement.org_id)
    vouchers = list(
        session.scalars(
            select(VoucherRow).where(VoucherRow.sponsorship_id == row.id).order_by(VoucherRow.code)
        )
    )
    redeemed = [v for v in vouchers if v.redeemed_at is not None]
    completed = sum(1 for v in redeemed if v.completed_at is not None)
    shown = completed if publishable(completed, k) and publishable(len(redeemed), k) else None
    return SponsorshipView(
        id=row.id,
        org_id=row.org_id,
        achievement_id=row.achievement_id,
        achievement_name="" if achievement is None else achievement.name,
        issuer_name="" if issuer is None else issuer.name,
        note=row.note,
        expires_at=row.expires_at,
        created_at=row.created_at,
        k=k,
        vouchers=len(vouchers),
        redeemed=len(redeemed),
        completed=shown,
        completion_rate=None if shown is None or not redeemed else shown / len(redeemed),
        codes=tuple(
            VoucherView(code=v.code, redeemed=v.redeemed_at is not None, redeemed_at=v.redeemed_at)
            for v in vouchers
        )
        if with_codes
        else (),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Sponsorable:
    achievement_id: str
    name: str
    issuer_name: str


def sponsorable_achievements(platform: Platform, actor: Actor, *, org_id: str) -> list[Sponsorable]:
    """The published achievements of every issuer on the platform (what can be sponsored)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        rows = session.execute(
            select(AchievementRow.id, AchievementRow.name, OrganisationRow.name)
            .join(OrganisationRow, OrganisationRow.id == AchievementRow.org_id)
            .where(AchievementRow.status == "published")
            .order_by(AchievementRow.name, AchievementRow.id)
            .limit(MAX_SPONSORABLE)
        ).all()
        return [Sponsorable(achievement_id=a, name=n, issuer_name=o) for a, n, o in rows]


def create_sponsorship(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    vouchers: int,
    expires_at: datetime | None = None,
    note: str = "",
) -> SponsorshipView:
    """Sponsors a published achievement (of any issuer): ``vouchers`` single-use codes."""
    if not 1 <= vouchers <= MAX_VOUCHERS:
        raise InvalidInput(f"vouchers must be between 1 and {MAX_VOUCHERS}", property="vouchers")
    now = platform.clock.now()
    if expires_at is not None:
        expires_at = _aware(expires_at)
        if expires_at <= now:
            raise InvalidInput("expires_at must be in the future", property="expires_at")
    note = _clean(note, "note", 2000)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_MANAGE)
        achievement = session.get(AchievementRow, (achievement_id or "").strip())
        if achievement is None or achievement.status != "published":
            raise NotFound(
                f"no published achievement {achievement_id!r}", property="achievement_id"
            )
        row = SponsorshipRow(
            id=new_id(),
            org_id=org_id,
            achievement_id=achievement.id,
            note=note,
            expires_at=expires_at,
            created_by=actor.audit_name,
            created_at=now,
        )
        session.add(row)
        session.flush()
        codes: set[str] = set()
        while len(codes) < vouchers:
            codes.add(_code())
        for code in sorted(codes):
            session.add(VoucherRow(id=new_id(), sponsorship_id=row.id, org_id=org_id, code=code))
        session.flush()
        audit(
            session,
            actor,
            action="workforce.sponsorship_created",
            org_id=org_id,
            target=row.id,
            details={"achievement_id": achievement.id, "vouchers": vouchers},
        )
        return _sponsorship_view(session, platform, row, with_codes=True)


def list_sponsorships(platform: Platform, actor: Actor, *, org_id: str) -> list[SponsorshipView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        rows = session.scalars(
            select(SponsorshipRow)
            .where(SponsorshipRow.org_id == org_id)
            .order_by(SponsorshipRow.created_at.desc(), SponsorshipRow.id)
        ).all()
        return [_sponsorship_view(session, platform, r, with_codes=False) for r in rows]


def get_sponsorship(
    platform: Platform, actor: Actor, *, org_id: str, sponsorship_id: str
) -> SponsorshipView:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.WORKFORCE_READ)
        row = session.get(SponsorshipRow, sponsorship_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"sponsorship {sponsorship_id!r} not found", property="sponsorship_id")
        return _sponsorship_view(session, platform, row, with_codes=True)


def _holds(session: Session, platform: Platform, user_id: str, achievement_id: str) -> bool:
    return achievement_id in _holdings(session, platform, [user_id])[user_id].achievements


def _redemption(session: Session, platform: Platform, voucher: VoucherRow) -> RedemptionView:
    sponsorship = session.get(SponsorshipRow, voucher.sponsorship_id)
    if sponsorship is None:  # a voucher's sponsorship is its CASCADE parent
        raise NotFound("no such voucher code", property="code")
    org = org_or_404(session, voucher.org_id)
    achievement = session.get(AchievementRow, sponsorship.achievement_id)
    return RedemptionView(
        code=voucher.code,
        org_id=org.id,
        org_name=org.name,
        achievement_id=sponsorship.achievement_id,
        achievement_name="" if achievement is None else achievement.name,
        achievement_url=platform.url(f"achievements/{sponsorship.achievement_id}"),
        redeemed_at=voucher.redeemed_at or platform.clock.now(),
        completed_at=voucher.completed_at,
    )


def redeem_voucher(platform: Platform, actor: Actor, *, code: str) -> RedemptionView:
    """An employee of the sponsoring organisation redeems a code: their enrolment is recorded
    (completed at once if they already hold the achievement)."""
    user_id = _user(actor)
    normal = _normal_code(code)
    now = platform.clock.now()
    with platform.transaction() as session:
        voucher = session.scalars(
            select(VoucherRow).where(VoucherRow.code == normal).with_for_update()
        ).first()
        if voucher is None:
            raise NotFound("no such voucher code", property="code")
        employed = session.scalars(
            select(EmployeeRow.id).where(
                EmployeeRow.org_id == voucher.org_id, EmployeeRow.user_id == user_id
            )
        ).first()
        if employed is None:
            # a code of an organisation one does not work for is as good as unknown
            raise NotFound("no such voucher code", property="code")
        if voucher.redeemed_at is not None:
            raise Conflict("this voucher code was already used", property="code")
        sponsorship = session.get(SponsorshipRow, voucher.sponsorship_id)
        if sponsorship is None:
            raise NotFound("no such voucher code", property="code")
        if sponsorship.expires_at is not None and _aware(sponsorship.expires_at) <= now:
            raise Conflict("this voucher code has expired", property="code")
        twice = session.scalars(
            select(VoucherRow.id).where(
                VoucherRow.sponsorship_id == sponsorship.id, VoucherRow.redeemed_by == user_id
            )
        ).first()
        if twice is not None:
            raise Conflict("you already redeemed a voucher of this sponsorship", property="code")
        voucher.redeemed_by = user_id
        voucher.redeemed_at = now
        if _holds(session, platform, user_id, sponsorship.achievement_id):
            voucher.completed_at = now
        session.flush()
        audit(
            session,
            actor,
            action="workforce.voucher_redeemed",
            org_id=voucher.org_id,
            target=voucher.id,
            details={"sponsorship_id": sponsorship.id},
        )
        return _redemption(session, platform, voucher)


def my_vouchers(platform: Platform, actor: Actor) -> list[RedemptionView]:
    user_id = _user(actor)
    with platform.reading() as session:
        rows = session.scalars(
            select(VoucherRow)
            .where(VoucherRow.redeemed_by == user_id)
            .order_by(VoucherRow.redeemed_at.desc(), VoucherRow.id)
        ).all()
        return [_redemption(session, platform, v) for v in rows]


def on_event(platform: Platform, payload: Mapping[str, Any]) -> None:
    """``credential.issued``: completes the recipient's redeemed vouchers for the achievement.

    Idempotent: only vouchers not completed yet change, so a redelivery does nothing.
    """
    if payload.get("event") != "credential.issued":
        return
    row_id, achievement_id = payload.get("credential_row_id"), payload.get("achievement_id")
    if not isinstance(row_id, str) or not isinstance(achievement_id, str):
        return
    with platform.transaction() as session:
        credential = session.get(CredentialRow, row_id)
        if credential is None or credential.revoked_at is not None:
            return
        user_id = session.scalar(
            select(UserRow.id).where(UserRow.email == (credential.recipient or "").lower())
        )
        if user_id is None:
            return
        pending = session.scalars(
            select(VoucherRow)
            .join(SponsorshipRow, SponsorshipRow.id == VoucherRow.sponsorship_id)
            .where(
                VoucherRow.redeemed_by == user_id,
                VoucherRow.completed_at.is_(None),
                SponsorshipRow.achievement_id == achievement_id,
            )
        ).all()
        now = platform.clock.now()
        for voucher in pending:
            voucher.completed_at = now
            voucher.credential_row_id = row_id
            audit(
                session,
                Actor.system("workforce"),
                action="workforce.voucher_completed",
                org_id=voucher.org_id,
                target=voucher.id,
                details={"credential_row_id": row_id},
            )
