"""Assessment-validated awarding: applications with evidence, rubric reviews, the award.

An issuer opens an achievement for application (``configure``) with a rubric, a decision rule
and evidence limits; the rubric is published into the achievement as OB 3.0 ResultDescriptions
with RubricCriterionLevels. A learner drafts an application, attaches evidence (files kept by
SHA-256 in the evidence store, URLs, narrative) and submits it. Assessors (the ``assessor``
role, issuer staff, or holders of the achievement when peer review is on) score every
criterion and award, return for revision or reject; when the reviews of a round decide, the
application moves (``merito.domain.assessment.transition``) and an award issues the credential
in the same transaction, with the evidence (URL, narrative, digest) and the Result entries.

Every mutation is one transaction whose first statement bumps the application's ``version``
row: concurrent decisions on one application run one after the other (a row lock on
PostgreSQL, the write lock on SQLite), so an application is decided once and the credential,
issued with the idempotency key ``assessment:<application id>``, exists once.

Claim codes (event codes and their QR) live in ``merito.services.claim_codes``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from merito.domain import assessment as rules
from merito.domain.ports import BlobStore, OutgoingEmail, VirusScanner
from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.formats.multibase import encode_multibase
from merito.services import catalog, credentials, issuers
from merito.services.notifications import AUTOMATED_HEADERS
from merito.services.platform import (
    ROLE_PERMISSIONS,
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    enqueue,
    new_id,
)
from merito.storage.tables import (
    AchievementRow,
    CredentialRow,
    MembershipRow,
    OrganisationRow,
    OutboxRow,
    UserRow,
)
from merito.storage.tables_assessment import (
    ApplicationRow,
    AssessmentConfigRow,
    AssignmentRow,
    EvidenceRow,
    ReviewRow,
)
from merito.storage.tables_wallet import WalletItemRow

__all__ = [
    "ApplicationView",
    "ConfigFields",
    "ConfigView",
    "EvidenceFile",
    "EvidenceLimits",
    "EvidenceView",
    "OpenAchievement",
    "QueueItem",
    "ReviewView",
    "add_evidence",
    "application_for_assessor",
    "assign",
    "configure",
    "create_application",
    "evidence_digest",
    "evidence_file",
    "file_limit",
    "get_config",
    "my_application",
    "my_applications",
    "open_achievements",
    "peer_queue",
    "public_evidence_file",
    "queue",
    "remove_evidence",
    "review",
    "submit",
    "update_application",
    "withdraw",
]

MAX_NARRATIVE: Final = 20_000
MAX_EVIDENCE: Final = 30
MAX_NAME: Final = 300
MAX_URL: Final = 2048
#: the idempotency key of an application's credential: one award, whatever the retries
AWARD_KEY_PREFIX: Final = "assessment:"
#: magic bytes of the types whose content is checked against the declared type
_MAGIC: Final[Mapping[str, tuple[bytes, ...]]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_MEDIA_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
#: types never served from Merito's origin (they run script in a browser)
_ACTIVE_TYPES: Final = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript"}
)
_ACTIVE_STATES: Final = ("draft", "submitted", "in_review", "returned")
_QUEUE_STATES: Final = ("submitted", "in_review")


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvidenceLimits:
    """Evidence file limits: the largest file and the media types accepted."""

    max_file_bytes: int = 10_000_000
    allowed_types: tuple[str, ...] = ("application/pdf", "image/png", "image/jpeg", "text/plain")

    @classmethod
    def parse(cls, *, max_file_bytes: int, allowed_types: str | Iterable[str]) -> EvidenceLimits:
        items = allowed_types.split(",") if isinstance(allowed_types, str) else allowed_types
        types = tuple(dict.fromkeys(t.strip().lower() for t in items if t.strip()))
        for t in types:
            if not _MEDIA_TYPE.fullmatch(t):
                raise InvalidInput(f"{t!r} is not a media type", property="allowed_types")
            if t in _ACTIVE_TYPES:
                raise InvalidInput(
                    f"{t} files could run script in a browser and cannot be accepted",
                    property="allowed_types",
                )
        if not types:
            raise InvalidInput("allow at least one media type", property="allowed_types")
        if not 0 < max_file_bytes <= 1_000_000_000:
            raise InvalidInput(
                "max_file_bytes must be between 1 and 1,000,000,000", property="max_file_bytes"
            )
        return cls(max_file_bytes=max_file_bytes, allowed_types=types)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigFields:
    """How an achievement is assessed. On update, None keeps the current value."""

    open: bool | None = None
    rubric: Mapping[str, Any] | None = None
    decision_rule: Mapping[str, Any] | None = None
    peer_review: bool | None = None
    max_file_bytes: int | None = None
    allowed_types: Sequence[str] | None = None
    sla_hours: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigView:
    achievement_id: str
    org_id: str
    achievement_name: str
    open: bool
    rubric: dict[str, Any] | None
    decision_rule: dict[str, Any]
    peer_review: bool
    max_file_bytes: int
    allowed_types: tuple[str, ...]
    sla_hours: int
    #: the ResultDescription ids the rubric was published under (criterion key -> id)
    result_descriptions: dict[str, str]
    evidence_requirements: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAchievement:
    achievement_id: str
    org_id: str
    org_name: str
    name: str
    description: str
    criteria: str
    rubric: dict[str, Any] | None
    max_file_bytes: int
    allowed_types: tuple[str, ...]
    evidence_requirements: tuple[dict[str, Any], ...]


def _blobs(platform: Platform) -> BlobStore:
    store = platform.extras.get("evidence_store")
    if store is None:
        raise Conflict("no evidence store is configured", property="evidence_store")
    return store  # type: ignore[no-any-return]


def _scanner(platform: Platform) -> VirusScanner | None:
    return platform.extras.get("virus_scanner")


def _default_limits(platform: Platform) -> EvidenceLimits:
    limits = platform.extras.get("evidence_limits")
    return limits if isinstance(limits, EvidenceLimits) else EvidenceLimits()


def _rd_id(base: str, key: str) -> str:
    return f"{base}#rubric-{key}"


def _score_id(base: str) -> str:
    return f"{base}#rubric-score"


def _points(value: float) -> str:
    return f"{value:g}"


def _result_descriptions(base: str, rubric: rules.Rubric) -> list[dict[str, Any]]:
    """The rubric as OB 3.0 ResultDescriptions: one RubricCriterionLevel list per criterion and
    the total as a RubricScore."""
    out: list[dict[str, Any]] = []
    for criterion in rubric.criteria:
        rid = _rd_id(base, criterion.key)
        levels = []
        for level in criterion.levels:
            entry: dict[str, Any] = {
                "id": f"{rid}-{level.key}",
                "name": level.name,
                "points": _points(level.points),
                "level": level.key,
            }
            if level.description:
                entry["description"] = level.description
            levels.append(entry)
        out.append(
            {
                "id": rid,
                "name": criterion.name,
                "resultType": "RubricCriterionLevel",
                "rubricCriterionLevel": levels,
            }
        )
    out.append(
        {
            "id": _score_id(base),
            "name": "Rubric score",
            "resultType": "RubricScore",
            "valueMin": "0",
            "valueMax": _points(rubric.max_points),
        }
    )
    return out


def _config_row(session: Session, *, org_id: str, achievement_id: str) -> AssessmentConfigRow:
    row = session.scalar(
        select(AssessmentConfigRow).where(
            AssessmentConfigRow.org_id == org_id,
            AssessmentConfigRow.achievement_id == achievement_id,
        )
    )
    if row is None:
        raise NotFound(
            f"achievement {achievement_id!r} is not set up for assessment",
            property="achievement_id",
        )
    return row


def _achievement_row(session: Session, *, org_id: str, achievement_id: str) -> AchievementRow:
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    return row


def _config_view(session: Session, platform: Platform, row: AssessmentConfigRow) -> ConfigView:
    achievement = session.get(AchievementRow, row.achievement_id)
    base = catalog.achievement_url(platform, row.achievement_id)
    rubric = row.rubric
    ids = {c["key"]: _rd_id(base, c["key"]) for c in (rubric or {}).get("criteria", [])}
    requirements = tuple(
        dict(r)
        for r in ((achievement.published_metadata or {}) if achievement else {}).get(
            "evidenceRequirements", []
        )
    )
    return ConfigView(
        achievement_id=row.achievement_id,
        org_id=row.org_id,
        achievement_name=achievement.name if achievement else "",
        open=row.open,
        rubric=dict(rubric) if rubric else None,
        decision_rule=rules.DecisionRule.from_json(row.decision_rule or None).to_json(),
        peer_review=row.peer_review,
        max_file_bytes=row.max_file_bytes,
        allowed_types=tuple(t for t in row.allowed_types.split(",") if t),
        sla_hours=row.sla_hours,
        result_descriptions=ids,
        evidence_requirements=requirements,
    )


def configure(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str, fields: ConfigFields
) -> ConfigView:
    """Sets how an achievement is assessed; opening it needs it published.

    A new rubric is published into the achievement (a new version whose resultDescription
    holds the rubric beside the issuer's other ResultDescriptions), so the credentials it
    awards can point their Results at it.
    """
    rubric = rules.parse_rubric(fields.rubric) if fields.rubric is not None else None
    rule = (
        rules.DecisionRule.from_json(fields.decision_rule)
        if fields.decision_rule is not None
        else None
    )
    if fields.sla_hours is not None and not 1 <= fields.sla_hours <= 24 * 365:
        raise InvalidInput("sla_hours must be between 1 and 8760", property="sla_hours")
    defaults = _default_limits(platform)
    limits = EvidenceLimits.parse(
        max_file_bytes=fields.max_file_bytes or defaults.max_file_bytes,
        allowed_types=fields.allowed_types
        if fields.allowed_types is not None
        else defaults.allowed_types,
    )
    if rubric is not None:
        _publish_rubric(
            platform, actor, org_id=org_id, achievement_id=achievement_id, rubric=rubric
        )
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        achievement = _achievement_row(session, org_id=org_id, achievement_id=achievement_id)
        row = session.scalar(
            select(AssessmentConfigRow)
            .where(AssessmentConfigRow.achievement_id == achievement_id)
            .with_for_update()
        )
        created = row is None
        if row is None:
            row = AssessmentConfigRow(
                id=new_id(),
                org_id=org_id,
                achievement_id=achievement_id,
                open=False,
                decision_rule=rules.DecisionRule().to_json(),
                peer_review=False,
                max_file_bytes=limits.max_file_bytes,
                allowed_types=",".join(limits.allowed_types),
                sla_hours=72,
                created_at=now,
            )
            session.add(row)
        if rubric is not None:
            row.rubric = rubric.to_json()
        if rule is not None:
            row.decision_rule = rule.to_json()
        if fields.peer_review is not None:
            row.peer_review = fields.peer_review
        if fields.max_file_bytes is not None or fields.allowed_types is not None or created:
            row.max_file_bytes = limits.max_file_bytes
            row.allowed_types = ",".join(limits.allowed_types)
        if fields.sla_hours is not None:
            row.sla_hours = fields.sla_hours
        if fields.open is not None:
            if fields.open and (
                achievement.status != "published" or achievement.current_version is None
            ):
                raise Conflict(
                    "publish the achievement before opening it for application",
                    property="open",
                )
            row.open = fields.open
        if row.rubric is None and rules.DecisionRule.from_json(row.decision_rule).rule == (
            "average_score"
        ):
            raise InvalidInput(
                "the average_score rule needs a rubric", property="decision_rule.rule"
            )
        row.updated_at = now
        session.flush()
        view = _config_view(session, platform, row)
        audit(
            session,
            actor,
            action="assessment.configured",
            org_id=org_id,
            target=achievement_id,
            at=now,
            details={
                "open": row.open,
                "decision_rule": row.decision_rule,
                "peer_review": row.peer_review,
                "rubric_criteria": len((row.rubric or {}).get("criteria", [])),
                "max_file_bytes": row.max_file_bytes,
                "allowed_types": row.allowed_types,
                "sla_hours": row.sla_hours,
            },
        )
        return view


def _publish_rubric(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str, rubric: rules.Rubric
) -> None:
    current = catalog.get_achievement(platform, actor, org_id=org_id, achievement_id=achievement_id)
    document = current.draft or current.published or {}
    base = str(document.get("id") or catalog.achievement_url(platform, achievement_id))
    own = f"{base}#rubric-"
    kept = [
        _untyped(rd)
        for rd in document.get("resultDescription") or []
        if isinstance(rd, Mapping) and not str(rd.get("id", "")).startswith(own)
    ]
    catalog.update_achievement(
        platform,
        actor,
        org_id=org_id,
        achievement_id=achievement_id,
        fields={"resultDescription": [*kept, *_result_descriptions(base, rubric)]},
    )
    if current.status != "archived":
        catalog.publish_achievement(platform, actor, org_id=org_id, achievement_id=achievement_id)


def _untyped(value: Any) -> Any:
    """A stored ResultDescription as catalogue fields: without the ``type`` members it sets."""
    if isinstance(value, Mapping):
        return {k: _untyped(v) for k, v in value.items() if k != "type"}
    if isinstance(value, list):
        return [_untyped(v) for v in value]
    return value


def get_config(platform: Platform, actor: Actor, *, org_id: str, achievement_id: str) -> ConfigView:
    """How the achievement is assessed; the defaults (closed) when it was never set up."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        _achievement_row(session, org_id=org_id, achievement_id=achievement_id)
        row = session.scalar(
            select(AssessmentConfigRow).where(AssessmentConfigRow.achievement_id == achievement_id)
        )
        if row is None:
            limits = _default_limits(platform)
            row = AssessmentConfigRow(
                id="",
                org_id=org_id,
                achievement_id=achievement_id,
                open=False,
                rubric=None,
                decision_rule=rules.DecisionRule().to_json(),
                peer_review=False,
                max_file_bytes=limits.max_file_bytes,
                allowed_types=",".join(limits.allowed_types),
                sla_hours=72,
            )
        return _config_view(session, platform, row)


def open_achievements(platform: Platform) -> list[OpenAchievement]:
    """Every achievement open for application (what a learner may apply for)."""
    with platform.reading() as session:
        found = session.execute(
            select(AssessmentConfigRow, AchievementRow, OrganisationRow)
            .join(AchievementRow, AchievementRow.id == AssessmentConfigRow.achievement_id)
            .join(OrganisationRow, OrganisationRow.id == AssessmentConfigRow.org_id)
            .where(AssessmentConfigRow.open.is_(True), AchievementRow.status == "published")
            .order_by(OrganisationRow.name, AchievementRow.name)
            .limit(500)
        ).all()
        return [_open(session, config, achievement, org) for config, achievement, org in found]


def _open(
    session: Session, config: AssessmentConfigRow, achievement: AchievementRow, org: OrganisationRow
) -> OpenAchievement:
    version = catalog.published_version(
        session, org_id=achievement.org_id, achievement_id=achievement.id
    )
    document = version.document
    criteria = document.get("criteria") or {}
    return OpenAchievement(
        achievement_id=achievement.id,
        org_id=org.id,
        org_name=org.name,
        name=achievement.name,
        description=str(document.get("description") or ""),
        criteria=str(criteria.get("narrative") or "") if isinstance(criteria, Mapping) else "",
        rubric=dict(config.rubric) if config.rubric else None,
        max_file_bytes=config.max_file_bytes,
        allowed_types=tuple(t for t in config.allowed_types.split(",") if t),
        evidence_requirements=tuple(
            dict(r) for r in (achievement.published_metadata or {}).get("evidenceRequirements", [])
        ),
    )


# --- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceView:
    id: str
    kind: str
    name: str
    narrative: str
    url: str | None
    sha256: str | None
    media_type: str | None
    size: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewView:
    id: str
    round: int
    reviewer_user_id: str
    reviewer_kind: str
    decision: str
    scores: dict[str, str]
    points: float | None
    max_points: float | None
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationView:
    id: str
    org_id: str
    achievement_id: str
    achievement_name: str
    applicant_user_id: str
    applicant_email: str
    state: str
    narrative: str
    round: int
    submitted_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    credential_id: str | None
    created_at: datetime
    updated_at: datetime
    evidence: tuple[EvidenceView, ...] = ()
    #: the reviews: the learner sees them once the application is decided or returned
    reviews: tuple[ReviewView, ...] = ()
    assessors: tuple[str, ...] = ()
    rubric: dict[str, Any] | None = None
    #: what the last review said about the outcome (e.g. "1 of 2 reviews")
    status_note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueItem:
    id: str
    achievement_id: str
    achievement_name: str
    applicant_email: str
    state: str
    round: int
    submitted_at: datetime | None
    due_at: datetime | None
    age_hours: float
    overdue: bool
    reviews: int
    reviews_required: int
    assessors: tuple[str, ...]
    reviewed_by_me: bool


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    name: str
    media_type: str
    data: bytes
    sha256: str


def _evidence_view(row: EvidenceRow) -> EvidenceView:
    return EvidenceView(
        id=row.id,
        kind=row.kind,
        name=row.name,
        narrative=row.narrative,
        url=row.url,
        sha256=row.sha256,
        media_type=row.media_type,
        size=row.size,
        created_at=row.created_at,
    )


def _review_view(row: ReviewRow) -> ReviewView:
    return ReviewView(
        id=row.id,
        round=row.round,
        reviewer_user_id=row.reviewer_user_id,
        reviewer_kind=row.reviewer_kind,
        decision=row.decision,
        scores={str(k): str(v) for k, v in (row.scores or {}).items()},
        points=row.points,
        max_points=row.max_points,
        comment=row.comment,
        created_at=row.created_at,
    )


def _view(
    session: Session,
    platform: Platform,
    row: ApplicationRow,
    *,
    reviews: bool,
    note: str = "",
) -> ApplicationView:
    achievement = session.get(AchievementRow, row.achievement_id)
    config = session.scalar(
        select(AssessmentConfigRow).where(AssessmentConfigRow.achievement_id == row.achievement_id)
    )
    evidence = session.scalars(
        select(EvidenceRow)
        .where(EvidenceRow.application_id == row.id)
        .order_by(EvidenceRow.position, EvidenceRow.created_at)
    ).all()
    review_rows = (
        session.scalars(
            select(ReviewRow)
            .where(ReviewRow.application_id == row.id)
            .order_by(ReviewRow.round, ReviewRow.created_at)
        ).all()
        if reviews
        else []
    )
    assessors = session.scalars(
        select(AssignmentRow.assessor_user_id)
        .where(AssignmentRow.application_id == row.id)
        .order_by(AssignmentRow.assigned_at)
    ).all()
    credential_id = None
    if row.credential_row_id is not None:
        credential_id = session.scalar(
            select(CredentialRow.credential_id).where(CredentialRow.id == row.credential_row_id)
        )
    return ApplicationView(
        id=row.id,
        org_id=row.org_id,
        achievement_id=row.achievement_id,
        achievement_name=achievement.name if achievement else "",
        applicant_user_id=row.applicant_user_id,
        applicant_email=row.applicant_email,
        state=row.state,
        narrative=row.narrative,
        round=row.round,
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        credential_id=credential_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        evidence=tuple(_evidence_view(e) for e in evidence),
        reviews=tuple(_review_view(r) for r in review_rows),
        assessors=tuple(assessors),
        rubric=dict(config.rubric) if config is not None and config.rubric else None,
        status_note=note,
    )


# --- locking and loading --------------------------------------------------------------------------


def _lock(session: Session, application_id: str, *, org_id: str | None = None) -> ApplicationRow:
    """Bumps the application's version as the transaction's FIRST statement, then loads it.

    The write serialises every change of one application: PostgreSQL holds the row lock,
    SQLite the database write lock (taken before any read, so no stale snapshot either).
    """
    stmt = update(ApplicationRow).where(ApplicationRow.id == application_id)
    if org_id is not None:
        stmt = stmt.where(ApplicationRow.org_id == org_id)
    done = session.execute(stmt.values(version=ApplicationRow.version + 1))
    if getattr(done, "rowcount", 0) != 1:
        raise NotFound(f"application {application_id!r} not found", property="application_id")
    row = session.get(ApplicationRow, application_id, populate_existing=True)
    if row is None:  # pragma: no cover - the update just found it
        raise NotFound(f"application {application_id!r} not found", property="application_id")
    return row


def _user(actor: Actor, what: str) -> str:
    if actor.kind != "user" or actor.user_id is None:
        raise PermissionDenied(f"only a signed-in user may {what}", property="actor")
    return actor.user_id


def _own(session: Session, actor: Actor, application_id: str, *, lock: bool) -> ApplicationRow:
    user_id = _user(actor, "apply for an achievement")
    if lock:
        row = _lock(session, application_id)
    else:
        found = session.get(ApplicationRow, application_id)
        if found is None:
            raise NotFound(f"application {application_id!r} not found", property="application_id")
        row = found
    if row.applicant_user_id != user_id:
        raise NotFound(f"application {application_id!r} not found", property="application_id")
    return row


def _move(row: ApplicationRow, action: str) -> bool:
    """Applies ``action``; False when it had already happened (idempotent)."""
    to = rules.transition(row.state, action)
    if to is None:
        return False
    row.state = to
    return True


def _email_of(session: Session, user_id: str) -> str:
    email = session.scalar(select(UserRow.email).where(UserRow.id == user_id))
    if email is None:
        raise NotFound("the account no longer exists", property="user_id")
    return email


# --- learner: applications and evidence ----------------------------------------------------------


def create_application(
    platform: Platform, actor: Actor, *, achievement_id: str, narrative: str = ""
) -> ApplicationView:
    """A draft application for an achievement open for application (one live one per learner)."""
    user_id = _user(actor, "apply for an achievement")
    narrative = _narrative(narrative)
    now = platform.clock.now()
    with platform.transaction() as session:
        # the learner's own row first: two tabs creating at once serialise here
        session.execute(update(UserRow).where(UserRow.id == user_id).values(email=UserRow.email))
        config = session.scalar(
            select(AssessmentConfigRow).where(AssessmentConfigRow.achievement_id == achievement_id)
        )
        achievement = session.get(AchievementRow, achievement_id)
        if config is None or achievement is None or not config.open:
            raise NotFound(
                f"achievement {achievement_id!r} is not open for application",
                property="achievement_id",
            )
        live = session.scalar(
            select(ApplicationRow.id).where(
                ApplicationRow.applicant_user_id == user_id,
                ApplicationRow.achievement_id == achievement_id,
                ApplicationRow.state.in_(_ACTIVE_STATES),
            )
        )
        if live is not None:
            raise Conflict(
                f"you already have an application for this achievement ({live})",
                property="achievement_id",
            )
        row = ApplicationRow(
            id=new_id(),
            org_id=config.org_id,
            achievement_id=achievement_id,
            applicant_user_id=user_id,
            applicant_email=_email_of(session, user_id),
            state="draft",
            narrative=narrative,
            round=1,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="application.created",
            org_id=config.org_id,
            target=row.id,
            at=now,
            details={"achievement_id": achievement_id},
        )
        return _view(session, platform, row, reviews=False)


def _narrative(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > MAX_NARRATIVE:
        raise InvalidInput(
            f"narrative is longer than {MAX_NARRATIVE} characters", property="narrative"
        )
    return text


def _editable(row: ApplicationRow) -> None:
    if row.state not in ("draft", "returned"):
        raise Conflict(
            f"the application is {row.state.replace('_', ' ')}: only a draft or an application "
            "returned for revision can be changed",
            property="state",
        )


def update_application(
    platform: Platform, actor: Actor, *, application_id: str, narrative: str
) -> ApplicationView:
    narrative = _narrative(narrative)
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _own(session, actor, application_id, lock=True)
        _editable(row)
        row.narrative = narrative
        row.updated_at = now
        audit(
            session,
            actor,
            action="application.updated",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={"narrative_length": len(narrative)},
        )
        return _view(session, platform, row, reviews=row.state == "returned")


def evidence_digest(sha256: str) -> str:
    """The OB 3.0 / VC ``digestMultibase`` of a file: base64url (``u``) of its sha2-256
    multihash (0x12, 32 bytes, digest), as W3C VC Data Integrity §2.6 resource integrity."""
    return encode_multibase(b"\x12\x20" + bytes.fromhex(sha256), base="u")


def _sniff(data: bytes, media_type: str) -> None:
    magic = _MAGIC.get(media_type)
    if magic is not None and not data.startswith(magic):
        raise InvalidInput(
            f"the file's content is not {media_type} (it does not start like one)",
            property="file",
        )
    if media_type.startswith("text/"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"the file is not {media_type} in UTF-8", property="file") from None


def _web_url(url: str) -> str:
    from urllib.parse import urlsplit

    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(text) > MAX_URL
        or any(c.isspace() for c in text)
    ):
        raise InvalidInput(f"url must be an http(s) URL: {text[:100]!r}", property="url")
    return text


def add_evidence(
    platform: Platform,
    actor: Actor,
    *,
    application_id: str,
    kind: Literal["file", "url", "text"],
    name: str,
    narrative: str = "",
    url: str | None = None,
    data: bytes | None = None,
    media_type: str | None = None,
) -> EvidenceView:
    """Attaches evidence to a draft (or returned) application: a file (within the achievement's
    size and type limits, virus-scanned when a scanner is configured, kept by SHA-256), a URL
    or a narrative text."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters", property="name")
    narrative = _narrative(narrative)
    now = platform.clock.now()
    sha256 = stored_type = None
    size = None
    clean_url = None
    if kind == "file":
        if data is None:
            raise InvalidInput("a file evidence needs the file", property="file")
        stored_type = (media_type or "").split(";")[0].strip().lower()
        with platform.reading() as session:
            row = _own(session, actor, application_id, lock=False)
            config = _config_row(session, org_id=row.org_id, achievement_id=row.achievement_id)
            allowed = tuple(t for t in config.allowed_types.split(",") if t)
            limit = config.max_file_bytes
        if not data:
            raise InvalidInput("the file is empty", property="file")
        if len(data) > limit:
            raise InvalidInput(
                f"the file is {len(data):,} bytes; at most {limit:,} are accepted",
                property="file",
            )
        if stored_type not in allowed:
            raise InvalidInput(
                f"{stored_type or 'this type'} files are not accepted; "
                f"allowed: {', '.join(allowed)}",
                property="file",
            )
        _sniff(data, stored_type)
        scanner = _scanner(platform)
        if scanner is not None:
            found = scanner.scan(data, filename=name)
            if found is not None:
                with platform.transaction() as session:
                    audit(
                        session,
                        actor,
                        action="application.evidence_refused",
                        org_id=row.org_id,
                        target=application_id,
                        at=now,
                        details={"reason": "virus", "found": found[:200]},
                    )
                raise InvalidInput(
                    f"the file was refused by the virus scanner ({found})", property="file"
                )
        # stored before the row: a crash leaves at most an unreferenced file, never a row
        # pointing at nothing; the same bytes are stored once
        sha256 = _blobs(platform).put(data, media_type=stored_type)
        size = len(data)
    elif kind == "url":
        if not url:
            raise InvalidInput("a URL evidence needs the url", property="url")
        clean_url = _web_url(url)
    elif kind == "text":
        if not narrative:
            raise InvalidInput("a text evidence needs the narrative", property="narrative")
    else:
        raise InvalidInput("kind must be file, url or text", property="kind")
    with platform.transaction() as session:
        row = _own(session, actor, application_id, lock=True)
        _editable(row)
        count = session.scalar(
            select(func.count())
            .select_from(EvidenceRow)
            .where(EvidenceRow.application_id == row.id)
        )
        if (count or 0) >= MAX_EVIDENCE:
            raise Conflict(
                f"an application holds at most {MAX_EVIDENCE} pieces of evidence",
                property="evidence",
            )
        evidence = EvidenceRow(
            id=new_id(),
            org_id=row.org_id,
            application_id=row.id,
            kind=kind,
            name=name,
            narrative=narrative,
            url=clean_url,
            sha256=sha256,
            media_type=stored_type,
            size=size,
            position=count or 0,
            created_at=now,
        )
        session.add(evidence)
        row.updated_at = now
        session.flush()
        audit(
            session,
            actor,
            action="application.evidence_added",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={
                "evidence_id": evidence.id,
                "kind": kind,
                "sha256": sha256,
                "size": size,
                "media_type": stored_type,
                "url": clean_url,
            },
        )
        return _evidence_view(evidence)


def file_limit(platform: Platform, actor: Actor, *, application_id: str) -> int:
    """The largest evidence file the application's achievement accepts (for bounded reads)."""
    with platform.reading() as session:
        row = _own(session, actor, application_id, lock=False)
        return _config_row(
            session, org_id=row.org_id, achievement_id=row.achievement_id
        ).max_file_bytes


def remove_evidence(
    platform: Platform, actor: Actor, *, application_id: str, evidence_id: str
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _own(session, actor, application_id, lock=True)
        _editable(row)
        evidence = session.get(EvidenceRow, evidence_id)
        if evidence is None or evidence.application_id != row.id:
            raise NotFound(f"evidence {evidence_id!r} not found", property="evidence_id")
        session.delete(evidence)
        audit(
            session,
            actor,
            action="application.evidence_removed",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={"evidence_id": evidence_id, "sha256": evidence.sha256},
        )


def _check_requirements(session: Session, row: ApplicationRow) -> None:
    evidence = session.scalars(
        select(EvidenceRow).where(EvidenceRow.application_id == row.id)
    ).all()
    if not evidence and not row.narrative:
        raise InvalidInput(
            "add evidence (a file, a URL or a narrative) before submitting", property="evidence"
        )
    achievement = session.get(AchievementRow, row.achievement_id)
    needed = (
        (achievement.published_metadata or {}).get("evidenceRequirements", [])
        if achievement
        else []
    )
    kinds = {e.kind for e in evidence}
    for n, requirement in enumerate(needed):
        if not requirement.get("required", True):
            continue
        kind = requirement.get("kind", "any")
        has = bool(evidence) if kind == "any" else kind in kinds
        if not has:
            raise InvalidInput(
                f"the achievement asks for {requirement.get('name', 'evidence')!r} "
                f"({kind}): add it before submitting",
                property=f"evidence_requirements[{n}]",
            )


def submit(platform: Platform, actor: Actor, *, application_id: str) -> ApplicationView:
    """Submits a draft (or resubmits a returned application, starting a new review round).
    Submitting a submitted application again changes nothing."""
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _own(session, actor, application_id, lock=True)
        previous = row.state
        if not _move(row, "submit"):
            return _view(session, platform, row, reviews=False)
        _check_requirements(session, row)
        if previous == "returned" or (previous == "draft" and row.submitted_at is not None):
            row.round += 1
        row.submitted_at = now
        row.updated_at = now
        audit(
            session,
            actor,
            action="application.submitted",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={"round": row.round, "from": previous},
        )
        _notify_assessors(session, platform, row, event="submitted")
        return _view(session, platform, row, reviews=False)


def withdraw(platform: Platform, actor: Actor, *, application_id: str) -> ApplicationView:
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _own(session, actor, application_id, lock=True)
        previous = row.state
        if _move(row, "withdraw"):
            row.decided_at = now
            row.updated_at = now
            audit(
                session,
                actor,
                action="application.withdrawn",
                org_id=row.org_id,
                target=row.id,
                at=now,
                details={"from": previous},
            )
        return _view(session, platform, row, reviews=False)


def my_applications(platform: Platform, actor: Actor) -> list[ApplicationView]:
    user_id = _user(actor, "list applications")
    with platform.reading() as session:
        rows = session.scalars(
            select(ApplicationRow)
            .where(ApplicationRow.applicant_user_id == user_id)
            .order_by(ApplicationRow.created_at.desc())
            .limit(200)
        ).all()
        return [_view(session, platform, r, reviews=_learner_sees_reviews(r)) for r in rows]


def _learner_sees_reviews(row: ApplicationRow) -> bool:
    return row.state in ("returned", "awarded", "rejected")


def my_application(platform: Platform, actor: Actor, *, application_id: str) -> ApplicationView:
    with platform.reading() as session:
        row = _own(session, actor, application_id, lock=False)
        return _view(session, platform, row, reviews=_learner_sees_reviews(row))


def evidence_file(
    platform: Platform,
    actor: Actor,
    *,
    application_id: str,
    evidence_id: str,
    org_id: str | None = None,
) -> EvidenceFile:
    """An evidence file for its applicant (``org_id`` None) or an assessor of the organisation."""
    with platform.reading() as session:
        if org_id is None:
            row = _own(session, actor, application_id, lock=False)
        else:
            row = _may_read_as_assessor(
                session, actor, org_id, session.get(ApplicationRow, application_id)
            )
        evidence = session.get(EvidenceRow, evidence_id)
        if evidence is None or evidence.application_id != row.id or evidence.sha256 is None:
            raise NotFound(f"evidence file {evidence_id!r} not found", property="evidence_id")
        return _file(platform, evidence)


def _file(platform: Platform, evidence: EvidenceRow) -> EvidenceFile:
    if evidence.sha256 is None:
        raise NotFound(f"evidence {evidence.id!r} is not a file", property="evidence_id")
    return EvidenceFile(
        name=evidence.name,
        media_type=evidence.media_type or "application/octet-stream",
        data=_blobs(platform).get(evidence.sha256),
        sha256=evidence.sha256,
    )


def public_evidence_file(platform: Platform, evidence_id: str) -> EvidenceFile:
    """The file behind an awarded credential's Evidence ``id`` (anyone holding the URL): only
    the evidence of awarded applications is public."""
    with platform.reading() as session:
        found = session.execute(
            select(EvidenceRow, ApplicationRow.state)
            .join(ApplicationRow, ApplicationRow.id == EvidenceRow.application_id)
            .where(EvidenceRow.id == evidence_id)
        ).first()
        if found is None or found[1] != "awarded" or found[0].sha256 is None:
            raise NotFound(f"evidence {evidence_id!r} not found", property="evidence_id")
        return _file(platform, found[0])


# --- assessors ------------------------------------------------------------------------------------


def _may_read_as_assessor(
    session: Session, actor: Actor, org_id: str, row: ApplicationRow | None
) -> ApplicationRow:
    authorize(session, actor, org_id, Permission.APPLICATIONS_ASSESS)
    if row is None or row.org_id != org_id or row.state == "draft":
        raise NotFound("application not found", property="application_id")
    return row


def _conflicted(session: Session, row: ApplicationRow, user_id: str) -> str | None:
    """Why ``user_id`` may not assess ``row`` (None: they may)."""
    if user_id == row.applicant_user_id:
        return "nobody assesses their own application"
    email = session.scalar(select(UserRow.email).where(UserRow.id == user_id))
    if email is not None and email.lower() == row.applicant_email.lower():
        return "nobody assesses their own application (the same email address)"
    return None


def _decision_rule(config: AssessmentConfigRow) -> rules.DecisionRule:
    return rules.DecisionRule.from_json(config.decision_rule or None)


def queue(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str | None = None,
    state: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    limit: int = 100,
) -> list[QueueItem]:
    """Applications awaiting (or past) review, oldest first, with their SLA age.

    ``state`` defaults to the open ones (submitted, in review); ``assignee`` is a user id,
    ``"me"`` or ``"none"`` (unassigned).
    """
    if state is not None and state not in rules.STATES:
        raise InvalidInput(f"state must be one of {', '.join(rules.STATES)}", property="state")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    now = platform.clock.now()
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.APPLICATIONS_ASSESS)
        query = (
            select(ApplicationRow, AssessmentConfigRow, AchievementRow.name)
            .join(
                AssessmentConfigRow,
                AssessmentConfigRow.achievement_id == ApplicationRow.achievement_id,
            )
            .join(AchievementRow, AchievementRow.id == ApplicationRow.achievement_id)
            .where(ApplicationRow.org_id == org_id)
        )
        if state is None:
            query = query.where(ApplicationRow.state.in_(_QUEUE_STATES))
        else:
            query = query.where(ApplicationRow.state == state)
        if state == "draft":
            return []  # drafts are the learner's own until submitted
        query = query.where(ApplicationRow.state != "draft")
        if achievement_id is not None:
            query = query.where(ApplicationRow.achievement_id == achievement_id)
        me = actor.user_id
        if assignee is not None:
            assigned = select(AssignmentRow.application_id)
            if assignee == "none":
                query = query.where(ApplicationRow.id.not_in(assigned))
            else:
                who = me if assignee == "me" else assignee
                query = query.where(
                    ApplicationRow.id.in_(assigned.where(AssignmentRow.assessor_user_id == who))
                )
        rows = session.execute(
            query.order_by(ApplicationRow.submitted_at, ApplicationRow.id).limit(limit)
        ).all()
        items = [
            _queue_item(session, row, config, name, now=now, me=me) for row, config, name in rows
        ]
    if overdue is not None:
        items = [i for i in items if i.overdue == overdue]
    return items


def _queue_item(
    session: Session,
    row: ApplicationRow,
    config: AssessmentConfigRow,
    name: str,
    *,
    now: datetime,
    me: str | None,
) -> QueueItem:
    reviewers = session.scalars(
        select(ReviewRow.reviewer_user_id).where(
            ReviewRow.application_id == row.id, ReviewRow.round == row.round
        )
    ).all()
    assessors = session.scalars(
        select(AssignmentRow.assessor_user_id).where(AssignmentRow.application_id == row.id)
    ).all()
    due = row.submitted_at + timedelta(hours=config.sla_hours) if row.submitted_at else None
    age = (now - row.submitted_at).total_seconds() / 3600 if row.submitted_at else 0.0
    return QueueItem(
        id=row.id,
        achievement_id=row.achievement_id,
        achievement_name=name,
        applicant_email=row.applicant_email,
        state=row.state,
        round=row.round,
        submitted_at=row.submitted_at,
        due_at=due,
        age_hours=round(age, 2),
        overdue=due is not None and row.state in _QUEUE_STATES and now > due,
        reviews=len(reviewers),
        reviews_required=_decision_rule(config).reviews_required,
        assessors=tuple(assessors),
        reviewed_by_me=me in reviewers,
    )


def application_for_assessor(
    platform: Platform, actor: Actor, *, org_id: str, application_id: str
) -> ApplicationView:
    with platform.reading() as session:
        row = _may_read_as_assessor(
            session, actor, org_id, session.get(ApplicationRow, application_id)
        )
        return _view(session, platform, row, reviews=True)


def assign(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    application_id: str,
    assessor_user_id: str,
) -> ApplicationView:
    """Asks a member who may assess to review the application (idempotent); they are emailed."""
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _lock(session, application_id, org_id=org_id)
        _may_read_as_assessor(session, actor, org_id, row)
        if row.state not in _QUEUE_STATES:
            raise Conflict(
                f"the application is {row.state.replace('_', ' ')}: only a submitted one or one "
                "in review can be assigned",
                property="state",
            )
        role = session.scalar(
            select(MembershipRow.role).where(
                MembershipRow.org_id == org_id, MembershipRow.user_id == assessor_user_id
            )
        )
        if role is None or Permission.APPLICATIONS_ASSESS not in ROLE_PERMISSIONS[role]:
            raise InvalidInput(
                "the assessor must be a member of the organisation who may assess",
                property="assessor_user_id",
            )
        why = _conflicted(session, row, assessor_user_id)
        if why is not None:
            raise PermissionDenied(why, property="assessor_user_id")
        exists = session.scalar(
            select(AssignmentRow.id).where(
                AssignmentRow.application_id == row.id,
                AssignmentRow.assessor_user_id == assessor_user_id,
            )
        )
        if exists is None:
            session.add(
                AssignmentRow(
                    id=new_id(),
                    org_id=org_id,
                    application_id=row.id,
                    assessor_user_id=assessor_user_id,
                    assigned_at=now,
                )
            )
            session.flush()
            audit(
                session,
                actor,
                action="application.assigned",
                org_id=org_id,
                target=row.id,
                at=now,
                details={"assessor_user_id": assessor_user_id},
            )
            _email(
                session,
                org_id=org_id,
                to=_email_of(session, assessor_user_id),
                subject=f"Please assess an application: {_achievement_name(session, row)}",
                lines=[
                    f"You were asked to assess an application for "
                    f"“{_achievement_name(session, row)}”.",
                    "",
                    "Open it in your review queue:",
                    _studio_url(session, platform, org_id, f"/assessment/applications/{row.id}"),
                ],
                key=f"assessment-assigned:{row.id}:{assessor_user_id}",
            )
        return _view(session, platform, row, reviews=True)


def _studio_url(session: Session, platform: Platform, org_id: str, suffix: str) -> str:
    slug = session.scalar(select(OrganisationRow.slug).where(OrganisationRow.id == org_id))
    return platform.url(f"/studio/{slug}{suffix}")


def _achievement_name(session: Session, row: ApplicationRow) -> str:
    achievement = session.get(AchievementRow, row.achievement_id)
    return (achievement.name if achievement else "") or "an achievement"


def _is_holder(session: Session, user_id: str, achievement_id: str) -> bool:
    """A peer: holds a live credential of the achievement (issued to their email or in their
    wallet)."""
    from merito.storage.tables import AchievementVersionRow

    email = session.scalar(select(UserRow.email).where(UserRow.id == user_id))
    wallet = select(WalletItemRow.credential_row_id).where(WalletItemRow.user_id == user_id)
    found = session.scalar(
        select(CredentialRow.id)
        .join(
            AchievementVersionRow,
            AchievementVersionRow.id == CredentialRow.achievement_version_id,
        )
        .where(
            AchievementVersionRow.achievement_id == achievement_id,
            CredentialRow.revoked_at.is_(None),
            or_(CredentialRow.recipient == (email or "-"), CredentialRow.id.in_(wallet)),
        )
        .limit(1)
    )
    return found is not None


def peer_queue(platform: Platform, actor: Actor) -> list[QueueItem]:
    """Applications a holder of the achievement may peer-review (peer review on), oldest first."""
    user_id = _user(actor, "peer-review")
    now = platform.clock.now()
    with platform.reading() as session:
        rows = session.execute(
            select(ApplicationRow, AssessmentConfigRow, AchievementRow.name)
            .join(
                AssessmentConfigRow,
                AssessmentConfigRow.achievement_id == ApplicationRow.achievement_id,
            )
            .join(AchievementRow, AchievementRow.id == ApplicationRow.achievement_id)
            .where(
                AssessmentConfigRow.peer_review.is_(True),
                ApplicationRow.state.in_(_QUEUE_STATES),
                ApplicationRow.applicant_user_id != user_id,
            )
            .order_by(ApplicationRow.submitted_at)
            .limit(200)
        ).all()
        out = []
        for row, config, name in rows:
            if _conflicted(session, row, user_id) is None and _is_holder(
                session, user_id, row.achievement_id
            ):
                out.append(_queue_item(session, row, config, name, now=now, me=user_id))
        return out


def peer_application(platform: Platform, actor: Actor, *, application_id: str) -> ApplicationView:
    """An application as a peer reviewer sees it (evidence and rubric; not the others' reviews)."""
    user_id = _user(actor, "peer-review")
    with platform.reading() as session:
        row = _may_peer_review(session, session.get(ApplicationRow, application_id), user_id)
        return _view(session, platform, row, reviews=False)


def _may_peer_review(session: Session, row: ApplicationRow | None, user_id: str) -> ApplicationRow:
    if row is None or row.state == "draft":
        raise NotFound("application not found", property="application_id")
    config = session.scalar(
        select(AssessmentConfigRow).where(AssessmentConfigRow.achievement_id == row.achievement_id)
    )
    if (
        config is None
        or not config.peer_review
        or not _is_holder(session, user_id, row.achievement_id)
    ):
        raise NotFound("application not found", property="application_id")
    return row


def peer_evidence_file(
    platform: Platform, actor: Actor, *, application_id: str, evidence_id: str
) -> EvidenceFile:
    user_id = _user(actor, "peer-review")
    with platform.reading() as session:
        row = session.get(ApplicationRow, application_id)
        _may_peer_review(session, row, user_id)
        evidence = session.get(EvidenceRow, evidence_id)
        if evidence is None or evidence.application_id != application_id or not evidence.sha256:
            raise NotFound(f"evidence file {evidence_id!r} not found", property="evidence_id")
        return _file(platform, evidence)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewFields:
    decision: Literal["award", "return", "reject"]
    scores: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""
    #: why (required to return or reject: the learner reads it)
    reason: str = ""


def review(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str | None,
    application_id: str,
    fields: ReviewFields,
) -> ApplicationView:
    """Records one assessor's review of the current round; when the round's reviews decide
    (the configured rule), the application is awarded (the credential is issued, once),
    returned for revision or rejected, and the learner is emailed.

    ``org_id`` None: a peer review by a holder of the achievement (peer review on).
    The same assessor reviewing the same round twice is a Conflict; reviewing a decided
    application is a Conflict naming its state.
    """
    if fields.decision not in rules.DECISIONS:
        raise InvalidInput("decision must be award, return or reject", property="decision")
    comment = (fields.comment or "").strip()
    reason = (fields.reason or "").strip()
    if len(comment) > MAX_NARRATIVE or len(reason) > MAX_NARRATIVE:
        raise InvalidInput(
            f"comment and reason are at most {MAX_NARRATIVE} characters", property="comment"
        )
    if fields.decision != "award" and not reason:
        raise InvalidInput(
            f"give the learner a reason to {fields.decision} the application", property="reason"
        )
    now = platform.clock.now()
    with platform.reading() as session:
        # who may review is checked here too, before anything is made for the organisation
        found = session.get(ApplicationRow, application_id)
        if org_id is None:
            user_id = _user(actor, "assess an application")
            _may_peer_review(session, found, user_id)
        else:
            _may_read_as_assessor(session, actor, org_id, found)
            # a review is a person's judgement: API keys and tokens cannot give one
            user_id = _user(actor, "assess an application")
        signing_org = found.org_id if found is not None else None
    if signing_org is not None:
        # the issuer's key is made (its own transaction) before this one holds the write lock
        issuers.signer_for(platform, signing_org)
    with platform.transaction() as session:
        row = _lock(session, application_id, org_id=org_id)
        if org_id is None:
            _may_peer_review(session, row, user_id)
            kind = "peer"
        else:
            _may_read_as_assessor(session, actor, org_id, row)
            kind = "member"
        why = _conflicted(session, row, user_id)
        if why is not None:
            raise PermissionDenied(why, property="reviewer")
        if row.state not in _QUEUE_STATES:
            raise Conflict(
                f"the application is {row.state.replace('_', ' ')}: it is not awaiting review",
                property="state",
            )
        config = _config_row(session, org_id=row.org_id, achievement_id=row.achievement_id)
        rubric = rules.parse_rubric(config.rubric) if config.rubric else None
        scored = rules.score(rubric, fields.scores) if rubric is not None else None
        if rubric is None and fields.scores:
            raise InvalidInput("this achievement has no rubric to score", property="scores")
        earlier = session.scalar(
            select(ReviewRow.id).where(
                ReviewRow.application_id == row.id,
                ReviewRow.round == row.round,
                ReviewRow.reviewer_user_id == user_id,
            )
        )
        if earlier is not None:
            raise Conflict("you already reviewed this submission", property="reviewer")
        _move(row, "start_review")
        text = (
            comment
            if fields.decision == "award"
            else "\n\n".join(t for t in (reason, comment) if t)
        )
        session.add(
            ReviewRow(
                id=new_id(),
                org_id=row.org_id,
                application_id=row.id,
                round=row.round,
                reviewer_user_id=user_id,
                reviewer_kind=kind,
                decision=fields.decision,
                scores=dict(scored.levels) if scored else {},
                points=scored.points if scored else None,
                max_points=scored.max_points if scored else None,
                comment=text,
                created_at=now,
            )
        )
        session.flush()
        audit(
            session,
            actor,
            action="application.reviewed",
            org_id=row.org_id,
            target=row.id,
            at=now,
            details={
                "round": row.round,
                "decision": fields.decision,
                "points": scored.points if scored else None,
                "reviewer_kind": kind,
            },
        )
        outcome = _outcome(session, row, config, rubric)
        if outcome.decision is not None:
            _decide(
                session,
                platform,
                actor,
                row=row,
                config=config,
                rubric=rubric,
                outcome=outcome,
                now=now,
            )
        row.updated_at = now
        session.flush()
        # a peer sees their own review only, never the others'
        view = _view(session, platform, row, reviews=True, note=outcome.explanation)
        if kind == "peer":
            mine = tuple(r for r in view.reviews if r.reviewer_user_id == user_id)
            view = dataclasses.replace(view, reviews=mine)
        return view


def _round_reviews(session: Session, row: ApplicationRow) -> list[ReviewRow]:
    return list(
        session.scalars(
            select(ReviewRow)
            .where(ReviewRow.application_id == row.id, ReviewRow.round == row.round)
            .order_by(ReviewRow.created_at, ReviewRow.id)
        ).all()
    )


def _outcome(
    session: Session,
    row: ApplicationRow,
    config: AssessmentConfigRow,
    rubric: rules.Rubric | None,
) -> rules.Outcome:
    reviews = [
        rules.Review(
            decision=r.decision,  # type: ignore[arg-type]
            score=rules.score(rubric, r.scores) if rubric is not None and r.scores else None,
        )
        for r in _round_reviews(session, row)
    ]
    return rules.decide(_decision_rule(config), reviews)


def _decide(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    row: ApplicationRow,
    config: AssessmentConfigRow,
    rubric: rules.Rubric | None,
    outcome: rules.Outcome,
    now: datetime,
) -> None:
    decision = outcome.decision
    assert decision is not None
    previous = row.state
    if not _move(row, decision):
        return
    reviews = _round_reviews(session, row)
    reasons = [r.comment for r in reviews if r.decision == decision and r.comment]
    row.decided_at = now if decision != "return" else None
    row.decision_reason = "\n\n".join(reasons) or outcome.explanation
    details: dict[str, Any] = {
        "round": row.round,
        "from": previous,
        "decision": decision,
        "explanation": outcome.explanation,
        "reviews": len(reviews),
    }
    if decision == "award":
        record = _award(session, platform, actor, row=row, rubric=rubric, reviews=reviews)
        row.credential_row_id = record.id
        details["credential_id"] = record.credential_id
    audit(
        session,
        actor,
        action=f"application.{'awarded' if decision == 'award' else decision + 'ed'}",
        org_id=row.org_id,
        target=row.id,
        at=now,
        details=details,
    )
    name = _achievement_name(session, row)
    what = {
        "award": f"Your application for “{name}” was awarded: the credential is on its way.",
        "return": f"Your application for “{name}” was returned for revision.",
        "reject": f"Your application for “{name}” was not successful.",
    }[decision]
    lines = [what, ""]
    if decision != "award" and row.decision_reason:
        lines += ["What the assessors said:", row.decision_reason, ""]
    lines += ["See your application:", platform.url(f"/wallet/applications/{row.id}")]
    _email(
        session,
        org_id=row.org_id,
        to=row.applicant_email,
        subject=f"Your application: {name}",
        lines=lines,
        key=f"assessment-decided:{row.id}:{row.round}:{decision}",
    )


def _award(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    row: ApplicationRow,
    rubric: rules.Rubric | None,
    reviews: Sequence[ReviewRow],
) -> credentials.CredentialRecord:
    """Issues the credential with the evidence and the results, once per application."""
    evidence: list[dict[str, Any]] = []
    if row.narrative:
        evidence.append({"type": ["Evidence"], "name": "Application", "narrative": row.narrative})
    for item in session.scalars(
        select(EvidenceRow)
        .where(EvidenceRow.application_id == row.id)
        .order_by(EvidenceRow.position, EvidenceRow.created_at)
    ):
        entry: dict[str, Any] = {"type": ["Evidence"], "name": item.name}
        if item.kind == "file" and item.sha256 is not None:
            entry["id"] = platform.url(f"/evidence/{item.id}")
            entry["digestMultibase"] = evidence_digest(item.sha256)
            entry["description"] = f"{item.media_type}, {item.size} bytes, sha-256 {item.sha256}"
        elif item.kind == "url" and item.url:
            entry["id"] = item.url
        if item.narrative:
            entry["narrative"] = item.narrative
        evidence.append(entry)
    results: list[dict[str, Any]] = []
    version = catalog.published_version(
        session, org_id=row.org_id, achievement_id=row.achievement_id
    )
    base = str(version.document.get("id") or catalog.achievement_url(platform, row.achievement_id))
    published = {
        rd.get("id")
        for rd in version.document.get("resultDescription") or []
        if isinstance(rd, Mapping)
    }
    scores = [rules.score(rubric, r.scores) for r in reviews if rubric is not None and r.scores]
    if rubric is not None and scores and _score_id(base) in published:
        levels = rules.result_levels(rubric, scores)
        for criterion in rubric.criteria:
            rid = _rd_id(base, criterion.key)
            level = levels.get(criterion.key)
            if level is None or rid not in published:
                continue
            results.append(
                {
                    "type": ["Result"],
                    "resultDescription": rid,
                    "achievedLevel": f"{rid}-{level.key}",
                    "value": _points(level.points),
                }
            )
        mean = sum(s.points for s in scores) / len(scores)
        results.append(
            {"type": ["Result"], "resultDescription": _score_id(base), "value": f"{mean:.4g}"}
        )
    return credentials.issue_in(
        session,
        platform,
        actor,
        org_id=row.org_id,
        achievement_id=row.achievement_id,
        recipient=row.applicant_email,
        evidence=evidence,
        results=results,
        idempotency_key=f"{AWARD_KEY_PREFIX}{row.id}",
        details={"application_id": row.id, "round": row.round},
    )


# --- notifications --------------------------------------------------------------------------------


def _email(
    session: Session, *, org_id: str, to: str, subject: str, lines: Sequence[str], key: str
) -> None:
    """An ``email.assessment`` outbox message (sent by the worker after the commit)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    if session.scalar(
        select(OutboxRow.id).where(OutboxRow.idempotency_key == f"email.assessment:{digest}")
    ):
        return  # already queued (a reminder repeated, a retried request)
    email = OutgoingEmail(
        to=to,
        subject=subject.replace("\r", " ").replace("\n", " ")[:200],
        text="\n".join([*lines, ""]),
        idempotency_key=f"assessment:{digest}",
        headers=AUTOMATED_HEADERS,
    )
    enqueue(
        session,
        topic="email.assessment",
        payload={
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "idempotency_key": email.idempotency_key,
            "headers": dict(email.headers),
        },
        idempotency_key=f"email.assessment:{digest}",
        org_id=org_id,
    )


def _notify_assessors(
    session: Session, platform: Platform, row: ApplicationRow, *, event: str
) -> None:
    """Emails the assigned assessors, or when none is, the organisation's assessors."""
    users = list(
        session.scalars(
            select(AssignmentRow.assessor_user_id).where(AssignmentRow.application_id == row.id)
        ).all()
    )
    if not users:
        users = list(
            session.scalars(
                select(MembershipRow.user_id).where(
                    MembershipRow.org_id == row.org_id, MembershipRow.role == "assessor"
                )
            ).all()
        )
    name = _achievement_name(session, row)
    for user_id in users[:50]:
        if _conflicted(session, row, user_id) is not None:
            continue
        _email(
            session,
            org_id=row.org_id,
            to=_email_of(session, user_id),
            subject=f"An application awaits assessment: {name}",
            lines=[
                f"An application for “{name}” was {event} (round {row.round}).",
                "",
                "Review queue:",
                _studio_url(session, platform, row.org_id, "/assessment"),
            ],
            key=f"assessment-{event}:{row.id}:{row.round}:{user_id}",
        )


def remind_overdue(platform: Platform, actor: Actor, *, org_id: str) -> int:
    """Emails the assessors of every application past its SLA (once per application and
    round); the number of applications reminded about."""
    now = platform.clock.now()
    items = queue(platform, actor, org_id=org_id, overdue=True, limit=500)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.APPLICATIONS_ASSESS)
        for item in items:
            row = session.get(ApplicationRow, item.id)
            if row is None:
                continue
            _notify_assessors(session, platform, row, event="overdue for review")
        audit(
            session,
            actor,
            action="application.reminders_sent",
            org_id=org_id,
            at=now,
            details={"applications": [i.id for i in items]},
        )
    return len(items)
