"""Hiring: roles, explainable candidate ranking over verified skills, gap analysis, learning paths.

Where a learner's skills come from (recomputed on every read, so a new, revoked or expired
credential counts at once; nothing is cached):

- credentials Merito issued to the learner's email address, and wallet items claimed from
  Merito: the issuer's own stored row decides, *now* (not revoked, not suspended, not past
  ``valid_until``). Merito signed them itself, so the signature is not re-checked per read;
  issuer trust 1.0.
- credentials imported into the wallet from elsewhere: the wallet's stored verification verdict
  must be ``valid`` (signature, status and issuer checked when imported or last re-verified)
  and the credential must not have expired since; issuer trust ``IMPORTED_TRUST``.

A credential's skills are its achievement's OB 3.0 alignments (``targetUrl``: an ESCO skill
URI, or any skill URI). Levels weigh proficiency, recency and issuer trust
(``merito.skills.profiles``); the ranking and its explanations are ``merito.skills.ranking``.

Only learners who opted in are ranked: publicly (every organisation) or for one organisation.
No attribute of the person is used, only skills and the credentials proving them; each
ranking is recorded so the learner can see the same explanation the employer saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, func, or_, select, true
from sqlalchemy.orm import Session

from merito.domain.achievements import parse_datetime
from merito.errors import InvalidInput, NotFound, PermissionDenied
from merito.services import candidate_index
from merito.services import skills as taxonomy
from merito.services.issuers import issuer_did, property_path
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    new_id,
    org_or_404,
)
from merito.skills.job_text import skill_phrases
from merito.skills.paths import LearningPath, Offering, plan
from merito.skills.profiles import Evidence, SkillProfile, Weighting, build_profile
from merito.skills.ranking import (
    CandidateIndex,
    Explanation,
    Requirement,
    SkillSpace,
    explain,
    rank,
    specificity,
)
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    OrganisationRow,
    UserRow,
)
from merito.storage.tables_hiring import (
    CandidateRankingRow,
    DiscoverabilityRow,
    HiringRoleRow,
    RoleRequirementRow,
    SavedSearchRow,
)
from merito.storage.tables_skills import (
    OccupationRow,
    OccupationSkillRow,
    SkillBroaderRow,
    SkillRow,
)
from merito.storage.tables_wallet import WalletItemRow

__all__ = [
    "DEMO_ROLE_TITLE",
    "IMPORTED_TRUST",
    "MAX_RESULTS",
    "CandidateResult",
    "Discoverability",
    "ExplanationView",
    "HiringOrganisation",
    "LearningPathView",
    "MatchView",
    "PathStep",
    "ProofView",
    "Ranking",
    "RankingRecord",
    "RequirementFields",
    "RoleFields",
    "RoleView",
    "SavedSearch",
    "SavedSearchFields",
    "SkillView",
    "create_role",
    "create_saved_search",
    "delete_role",
    "delete_saved_search",
    "explain_candidate",
    "get_discoverability",
    "get_role",
    "hiring_organisations",
    "learning_path",
    "list_roles",
    "list_saved_searches",
    "my_explanation",
    "my_profile",
    "my_rankings",
    "on_event",
    "rank_candidates",
    "run_saved_search",
    "seed_demo_role",
    "set_discoverability",
    "update_role",
]

#: the weight of an issuer verified at import (not hosted here: its status is as last checked)
IMPORTED_TRUST: Final = 0.8
HOSTED_TRUST: Final = 1.0
MAX_REQUIREMENTS: Final = 200
MAX_RESULTS: Final = 200
#: an occupation's optional skills weigh this share of their specificity in a prefilled role
OPTIONAL_WEIGHT: Final = 0.5
_CHUNK: Final = 500
#: the least fused normaliser score for a job-text phrase to become a requirement (an exact
#: label match always does): measured on ESCO, lower scores are mostly wrong skills
TEXT_MATCH_SCORE: Final = 0.6


# --- input -----------------------------------------------------------------------------------


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequirementFields(_Fields):
    """One skill a role asks for."""

    skill: str = Field(max_length=500, description="The skill's URI (an ESCO skill URI).")
    required: bool = True
    weight: float = Field(default=1.0, gt=0, le=100)
    min_level: float = Field(default=0.0, ge=0, le=1, description="Least level in [0, 1].")


class RoleFields(_Fields):
    """A role; on update only the members given change.

    ``occupation`` (an ESCO occupation URI) prefills the requirements with its essential skills
    (required) and optional skills (optional), weighted by specificity, when ``requirements``
    is not given; else ``job_text`` does, with the skills its phrases normalise to.
    """

    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: Literal["open", "closed"] | None = None
    occupation: str | None = Field(default=None, max_length=500)
    job_text: str | None = Field(
        default=None,
        max_length=50_000,
        description="A pasted job description: its skills prefill the requirements when "
        "neither requirements nor occupation is given.",
    )
    requirements: list[RequirementFields] | None = Field(default=None, max_length=MAX_REQUIREMENTS)


class SavedSearchFields(_Fields):
    name: str = Field(max_length=200)
    role_id: str = Field(max_length=36)
    require_all: bool = False
    min_score: float = Field(default=0.0, ge=0, le=1)
    limit: int = Field(default=20, ge=1, le=MAX_RESULTS)


# --- output ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequirementView:
    skill: str
    label: str
    required: bool
    weight: float
    min_level: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleView:
    id: str
    org_id: str
    title: str
    description: str
    status: str
    occupation: str | None
    requirements: tuple[RequirementView, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofView:
    credential_id: str
    issuer_id: str | None
    issuer_name: str | None
    achievement_name: str | None
    issued_at: datetime
    weight: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchView:
    """One requirement: the skill that meets it, how, at what level, and the proof."""

    skill: str
    label: str
    required: bool
    weight: float
    min_level: float
    status: Literal["met", "below_minimum", "missing"]
    matched_skill: str | None
    matched_label: str | None
    match: Literal["exact", "narrower", "broader"] | None
    level: float
    credit: float
    contribution: float
    proofs: tuple[ProofView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExplanationView:
    score: float
    missing_required: int
    matches: tuple[MatchView, ...]

    @property
    def missing(self) -> tuple[MatchView, ...]:
        return tuple(m for m in self.matches if m.status != "met")


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateResult:
    user_id: str
    email: str
    rank: int
    score: float
    explanation: ExplanationView


@dataclass(frozen=True, slots=True, kw_only=True)
class Ranking:
    role: RoleView
    #: how many learners are discoverable by this organisation (the pool ranked)
    pool: int
    results: tuple[CandidateResult, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SkillView:
    skill: str
    label: str
    level: float
    proofs: tuple[ProofView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Discoverability:
    public: bool
    org_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RankingRecord:
    """A role a learner was ranked for (what they may ask the explanation of)."""

    role_id: str
    role_title: str
    org_id: str
    org_name: str
    score: float
    rank: int
    ranked_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedSearch:
    id: str
    org_id: str
    role_id: str
    name: str
    require_all: bool
    min_score: float
    limit: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PathStep:
    achievement_id: str
    name: str
    org_id: str
    url: str
    cost: float
    covers: tuple[str, ...]
    prerequisites: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LearningPathView:
    target: str
    cost: Literal["hours", "price"]
    currency: str | None
    steps: tuple[PathStep, ...]
    total_cost: float
    missing: tuple[str, ...]
    covered: tuple[str, ...]
    uncoverable: tuple[str, ...]
    coverage: float
    method: str
    optimal: bool
    labels: Mapping[str, str]


# --- the learner's verified evidence ---------------------------------------------------------


def _credential_body(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The credential of a stored document (a VC-JWT 1.1 payload keeps it under ``vc``)."""
    inner = document.get("vc")
    return inner if isinstance(inner, Mapping) else document


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _alignments(document: Mapping[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """A credential's achievement name and (skill URI, name) alignments; OB 3.0 or OB 2.0."""
    body = _credential_body(document)
    subject = _first(body.get("credentialSubject"))
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if not isinstance(achievement, Mapping):
        badge = document.get("badge")  # an OB 2.0 assertion stored with its badge class
        achievement = badge if isinstance(badge, Mapping) else None
    if achievement is None:
        return None, []
    return _achievement_alignments(achievement)


def _achievement_alignments(
    achievement: Mapping[str, Any],
) -> tuple[str | None, list[tuple[str, str]]]:
    name = achievement.get("name")
    items = achievement.get("alignment")
    out: list[tuple[str, str]] = []
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, Mapping):
            continue
        url = item.get("targetUrl")
        if isinstance(url, str) and url.startswith(("http://", "https://", "urn:")):
            label = item.get("targetName")
            out.append((url.strip(), label if isinstance(label, str) else ""))
    return (name if isinstance(name, str) else None), out


def _proficiency(document: Mapping[str, Any], skill: str) -> float:
    """A Percent result aligned to the skill (OB 3.0 Result.alignment), else 1.0."""
    subject = _first(_credential_body(document).get("credentialSubject"))
    results = subject.get("result") if isinstance(subject, Mapping) else None
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, Mapping):
            continue
        aligned = result.get("alignment")
        urls = {
            a.get("targetUrl")
            for a in (aligned if isinstance(aligned, list) else [aligned])
            if isinstance(a, Mapping)
        }
        value = result.get("value")
        if skill in urls and isinstance(value, str) and value.strip().endswith("%"):
            try:
                return max(0.0, min(1.0, float(value.strip().rstrip("%")) / 100.0))
            except ValueError:
                continue
    return 1.0


def _issuer(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    issuer = _credential_body(document).get("issuer")
    if isinstance(issuer, str):
        return issuer, None
    if isinstance(issuer, Mapping):
        iid, name = issuer.get("id"), issuer.get("name")
        return (iid if isinstance(iid, str) else None), (name if isinstance(name, str) else None)
    return None, None


def _date(document: Mapping[str, Any], *members: str) -> datetime | None:
    body = _credential_body(document)
    for member in members:
        value = body.get(member)
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        if isinstance(value, int | float) and member in ("nbf", "iat", "exp"):
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def _active(
    revoked_at: datetime | None, suspended: bool, valid_until: datetime | None, now: datetime
) -> bool:
    return revoked_at is None and not suspended and (valid_until is None or valid_until > now)


@dataclass(frozen=True, slots=True)
class _Held:
    """What a learner verifiably holds: evidence for their profile, achievements earned."""

    evidence: tuple[Evidence, ...]
    achievements: frozenset[str]
    labels: Mapping[str, str]
    #: issuer ids of the credentials read from this platform's own rows
    hosted: frozenset[str] = frozenset()


def _evidence_of(
    document: Mapping[str, Any],
    *,
    credential_id: str,
    issued_at: datetime,
    issuer_name: str | None,
    labels: dict[str, str],
) -> list[Evidence]:
    name, aligned = _alignments(document)
    issuer_id, doc_issuer_name = _issuer(document)
    out = []
    for skill, label in aligned:
        if label:
            labels.setdefault(skill, label)
        out.append(
            Evidence(
                skill=skill,
                credential_id=credential_id,
                issued_at=issued_at,
                issuer_id=issuer_id,
                issuer_name=issuer_name or doc_issuer_name,
                achievement_name=name,
                proficiency=_proficiency(document, skill),
            )
        )
    return out


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _achievement_of_url(platform: Platform, url: Any) -> str | None:
    prefix = platform.url("achievements/")
    if isinstance(url, str) and url.startswith(prefix):
        return url[len(prefix) :] or None
    return None


def _holdings(session: Session, platform: Platform, user_ids: Sequence[str]) -> dict[str, _Held]:
    """Every user's verified evidence, read in a few queries for the whole pool."""
    now = platform.clock.now()
    emails: dict[str, str] = {}
    for chunk in _chunks(list(user_ids)):
        for uid, email in session.execute(
            select(UserRow.id, UserRow.email).where(UserRow.id.in_(chunk))
        ):
            emails[email] = uid
    evidence: dict[str, list[Evidence]] = {u: [] for u in user_ids}
    achievements: dict[str, set[str]] = {u: set() for u in user_ids}
    hosted: dict[str, set[str]] = {u: set() for u in user_ids}
    labels: dict[str, str] = {}
    seen: dict[str, set[str]] = {u: set() for u in user_ids}

    # credentials issued here: to the user's email, or claimed into their wallet. Their
    # skills are those of the achievement version they embed (Merito issues no results), so
    # only the small columns are read, and each version's document once
    issued = select(
        CredentialRow.id,
        CredentialRow.credential_id,
        CredentialRow.org_id,
        CredentialRow.recipient,
        CredentialRow.issued_at,
        CredentialRow.revoked_at,
        CredentialRow.suspended,
        CredentialRow.valid_until,
        CredentialRow.achievement_version_id,
        AchievementVersionRow.achievement_id,
    ).join(AchievementVersionRow, AchievementVersionRow.id == CredentialRow.achievement_version_id)
    pending: list[tuple[str, Any]] = []
    for chunk in _chunks(list(emails)):
        for row in session.execute(issued.where(CredentialRow.recipient.in_(chunk))):
            pending.append((emails[row.recipient], row))
    items: list[WalletItemRow] = []
    for chunk in _chunks(list(user_ids)):
        items += session.scalars(select(WalletItemRow).where(WalletItemRow.user_id.in_(chunk)))
    owner_of = {i.credential_row_id: i.user_id for i in items if i.credential_row_id is not None}
    for chunk in _chunks(list(owner_of)):
        for row in session.execute(issued.where(CredentialRow.id.in_(chunk))):
            pending.append((owner_of[row.id], row))
    live = [
        (uid, row)
        for uid, row in pending
        if _active(row.revoked_at, row.suspended, row.valid_until, now)
    ]
    orgs: dict[str, OrganisationRow] = {}
    for chunk in _chunks(sorted({row.org_id for _, row in live})):
        orgs.update(
            (o.id, o)
            for o in session.scalars(select(OrganisationRow).where(OrganisationRow.id.in_(chunk)))
        )
    versions: dict[str, tuple[str | None, list[tuple[str, str]]]] = {}
    for chunk in _chunks(sorted({row.achievement_version_id for _, row in live})):
        for vid, document in session.execute(
            select(AchievementVersionRow.id, AchievementVersionRow.document).where(
                AchievementVersionRow.id.in_(chunk)
            )
        ):
            versions[vid] = _achievement_alignments(document)
    dids = {oid: issuer_did(platform, org) for oid, org in orgs.items()}
    for uid, row in live:
        if row.credential_id in seen[uid]:
            continue
        seen[uid].add(row.credential_id)
        achievements[uid].add(row.achievement_id)
        org = orgs.get(row.org_id)
        issuer_id = dids.get(row.org_id)
        if issuer_id is not None:
            hosted[uid].add(issuer_id)
        name, aligned = versions.get(row.achievement_version_id, (None, []))
        for skill, label in aligned:
            if label:
                labels.setdefault(skill, label)
            evidence[uid].append(
                Evidence(
                    skill=skill,
                    credential_id=row.credential_id,
                    issued_at=row.issued_at,
                    issuer_id=issuer_id,
                    issuer_name=None if org is None else org.name,
                    achievement_name=name,
                )
            )

    # credentials imported from elsewhere: the wallet's stored verdict
    for item in items:
        uid = item.user_id
        if item.credential_row_id is not None or item.verdict != "valid":
            continue
        expires = _date(item.document, "validUntil", "expirationDate", "exp", "expires")
        if expires is not None and expires <= now:
            continue
        credential_id = item.credential_id or f"urn:merito:wallet:{item.id}"
        if credential_id in seen[uid]:
            continue
        seen[uid].add(credential_id)
        issued_at = (
            _date(item.document, "validFrom", "issuanceDate", "awardedDate", "nbf", "iat")
            or item.created_at
        )
        evidence[uid] += _evidence_of(
            item.document,
            credential_id=credential_id,
            issued_at=issued_at,
            issuer_name=item.issuer_name,
            labels=labels,
        )
        body = _credential_body(item.document)
        subject = _first(body.get("credentialSubject"))
        achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
        held = _achievement_of_url(
            platform, achievement.get("id") if isinstance(achievement, Mapping) else None
        )
        if held is not None:
            achievements[uid].add(held)
    return {
        u: _Held(tuple(evidence[u]), frozenset(achievements[u]), labels, frozenset(hosted[u]))
        for u in user_ids
    }


def _weighting(held: _Held) -> Weighting:
    """Issuers whose credentials were read from this platform's own rows weigh 1.0 (their
    status is live); others their imported trust."""
    trust = {
        e.issuer_id: HOSTED_TRUST if e.issuer_id in held.hosted else IMPORTED_TRUST
        for e in held.evidence
        if e.issuer_id is not None
    }
    return Weighting(trust=trust, default_trust=IMPORTED_TRUST)


def _profiles(
    session: Session, platform: Platform, user_ids: Sequence[str]
) -> tuple[dict[str, SkillProfile], dict[str, _Held]]:
    held = _holdings(session, platform, user_ids)
    now = platform.clock.now()
    profiles = {
        u: build_profile(h.evidence, now=now, weighting=_weighting(h)) for u, h in held.items()
    }
    return profiles, held


# --- the in-memory candidate index (merito.services.candidate_index) ---------------------------

_EXPIRY_MEMBERS: Final = ("validUntil", "expirationDate", "exp", "expires")


def _index_enabled(platform: Platform) -> bool:
    return bool(platform.extras.get("candidate_index", True))


def _cache(platform: Platform) -> candidate_index.CandidateCache:
    return candidate_index.cache_for(str(platform.sessions.kw["bind"].url))


def _state_keys(
    session: Session,
    platform: Platform,
    cache: candidate_index.CandidateCache,
    user_ids: Sequence[str],
) -> dict[str, tuple[Any, ...]]:
    """Per learner, everything their verified evidence depends on, read in the caller's
    transaction from small columns only: equal keys (at the same time) mean equal profiles.

    Mirrors ``_holdings``: the credentials issued to their email and those claimed into their
    wallet (row id, active now), and their wallet items (id, link, verdict, unexpired now).
    """
    now = platform.clock.now()
    email_of: dict[str, str] = {}
    hosted: dict[str, list[tuple[str, bool]]] = {u: [] for u in user_ids}
    light = select(
        CredentialRow.id,
        CredentialRow.revoked_at,
        CredentialRow.suspended,
        CredentialRow.valid_until,
    )
    # one query for the accounts and the credentials issued to their email addresses
    mine = select(UserRow.id.label("user_id"), UserRow.email, *light.selected_columns).outerjoin(
        CredentialRow, CredentialRow.recipient == UserRow.email
    )
    for chunk in _chunks(list(user_ids)):
        for row in session.execute(mine.where(UserRow.id.in_(chunk))):
            email_of[row.user_id] = row.email
            if row.id is not None:
                active = _active(row.revoked_at, row.suspended, row.valid_until, now)
                hosted[row.user_id].append((row.id, active))
    items: list[Any] = []
    for chunk in _chunks(list(user_ids)):
        items += session.execute(
            select(
                WalletItemRow.id,
                WalletItemRow.user_id,
                WalletItemRow.credential_row_id,
                WalletItemRow.verdict,
            ).where(WalletItemRow.user_id.in_(chunk))
        ).all()
    owner_of = {i.credential_row_id: i.user_id for i in items if i.credential_row_id is not None}
    for chunk in _chunks(list(owner_of)):
        for row in session.execute(light.where(CredentialRow.id.in_(chunk))):
            active = _active(row.revoked_at, row.suspended, row.valid_until, now)
            hosted[owner_of[row.id]].append((row.id, active))
    imported = [i.id for i in items if i.credential_row_id is None and i.verdict == "valid"]
    expiry, unread = cache.item_expiries(imported)
    read: dict[str, datetime | None] = {}
    for chunk in _chunks(unread):
        for item_id, document in session.execute(
            select(WalletItemRow.id, WalletItemRow.document).where(WalletItemRow.id.in_(chunk))
        ):
            read[item_id] = _date(document, *_EXPIRY_MEMBERS)
    cache.remember_expiries(read)
    expiry.update(read)
    held: dict[str, list[tuple[str, str, str, bool]]] = {u: [] for u in user_ids}
    for i in items:
        expires = expiry.get(i.id)
        held[i.user_id].append(
            (i.id, i.credential_row_id or "", i.verdict, expires is None or expires > now)
        )
    return {
        u: (email_of.get(u), tuple(sorted(hosted[u])), tuple(sorted(held[u]))) for u in user_ids
    }


def _pool_levels(
    session: Session, platform: Platform, pool: Sequence[str]
) -> list[Mapping[str, float]]:
    """Every pool learner's skill levels: from the index when their state key is unchanged,
    else rebuilt from their credentials (and stored)."""
    cache = _cache(platform)
    now = platform.clock.now()
    keys = _state_keys(session, platform, cache, pool)
    found, stale = cache.lookup(keys, now)
    if stale:
        profiles, _ = _profiles(session, platform, stale)
        built = {
            u: candidate_index.Entry(
                key=keys[u],
                levels={s: c.level for s, c in profiles[u].skills.items()},
                built_at=now,
            )
            for u in stale
        }
        cache.store(built)
        found.update((u, e.levels) for u, e in built.items())
    return [found[u] for u in pool]


def _affected_users(session: Session, payload: Mapping[str, Any]) -> set[str]:
    """The learners a credential event concerns: its recipient's account and its claimers."""
    users: set[str] = set()
    if isinstance(payload.get("user_id"), str):
        users.add(payload["user_id"])
    row_id = payload.get("credential_row_id")
    if isinstance(row_id, str):
        recipient = session.scalar(
            select(CredentialRow.recipient).where(CredentialRow.id == row_id)
        )
        if recipient is not None:
            users.update(session.scalars(select(UserRow.id).where(UserRow.email == recipient)))
        users.update(
            session.scalars(
                select(WalletItemRow.user_id).where(WalletItemRow.credential_row_id == row_id)
            )
        )
    return users


def on_event(platform: Platform, payload: Mapping[str, Any]) -> None:
    """Domain events (``services.events``): a credential issued, revoked, suspended,
    unsuspended or claimed drops the cached levels of the learners it concerns (rebuilt on the
    next ranking). Idempotent: dropping twice is dropping once."""
    event = payload.get("event")
    if not isinstance(event, str) or not event.startswith("credential."):
        return
    with platform.reading() as session:
        users = _affected_users(session, payload)
    _cache(platform).invalidate(users)


# --- the taxonomy around a query ---------------------------------------------------------------


def _space(
    session: Session, requirement_skills: Iterable[str], held_skills: Iterable[str]
) -> tuple[SkillSpace, dict[str, str]]:
    """A skill space holding the requirements, their one-hop neighbours and the held skills."""
    wanted = sorted(set(requirement_skills))
    by_id: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(wanted):
        for sid, uri, label in session.execute(
            select(SkillRow.id, SkillRow.uri, SkillRow.preferred_label).where(
                SkillRow.uri.in_(chunk), SkillRow.org_id.is_(None)
            )
        ):
            by_id[sid] = (uri, label)
    edges: list[tuple[str, str]] = []
    ids = sorted(by_id)
    for chunk in _chunks(ids):
        edges += [
            (c, p)
            for c, p in session.execute(
                select(SkillBroaderRow.skill_id, SkillBroaderRow.broader_id).where(
                    or_(SkillBroaderRow.skill_id.in_(chunk), SkillBroaderRow.broader_id.in_(chunk))
                )
            )
        ]
    missing = sorted({x for e in edges for x in e} - set(by_id))
    for chunk in _chunks(missing):
        for sid, uri, label in session.execute(
            select(SkillRow.id, SkillRow.uri, SkillRow.preferred_label).where(
                SkillRow.id.in_(chunk)
            )
        ):
            by_id[sid] = (uri, label)
    pairs = [(by_id[c][0], by_id[p][0]) for c, p in edges if c in by_id and p in by_id]
    labels = dict(by_id.values())
    space = SkillSpace([*wanted, *sorted(labels), *sorted(set(held_skills))], pairs)
    return space, labels


def _labels_for(session: Session, uris: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(uris))):
        for uri, label in session.execute(
            select(SkillRow.uri, SkillRow.preferred_label).where(
                SkillRow.uri.in_(chunk), SkillRow.org_id.is_(None)
            )
        ):
            out[uri] = label
    return out


# --- roles -------------------------------------------------------------------------------------


def _validation(e: ValidationError) -> InvalidInput:
    first = e.errors()[0]
    where = property_path(first["loc"]) or "role"
    return InvalidInput(f"{where}: {first['msg']}", property=where)


def _role_fields(fields: RoleFields | Mapping[str, Any]) -> RoleFields:
    if isinstance(fields, RoleFields):
        return fields
    try:
        return RoleFields.model_validate(fields)
    except ValidationError as e:
        raise _validation(e) from e


def _skill_uri(value: str, prop: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://", "urn:")) or " " in value:
        raise InvalidInput(
            f"{prop} must be a skill URI (e.g. http://data.europa.eu/esco/skill/...), "
            f"got {value!r}",
            property=prop,
        )
    return value


def _occupation_requirements(session: Session, uri: str) -> list[RequirementFields]:
    """An occupation's essential skills (required) and optional ones (optional), weighted by
    specificity: a skill few occupations need weighs more than one every occupation needs."""
    occupation = session.scalars(select(OccupationRow).where(OccupationRow.uri == uri)).first()
    if occupation is None:
        raise NotFound(
            f"occupation {uri!r} is not in the taxonomy (import it with 'merito skills import')",
            property="occupation",
        )
    links = session.execute(
        select(SkillRow.id, SkillRow.uri, OccupationSkillRow.relation)
        .join(SkillRow, SkillRow.id == OccupationSkillRow.skill_id)
        .where(OccupationSkillRow.occupation_id == occupation.id)
        .order_by(OccupationSkillRow.relation, SkillRow.preferred_label)
    ).all()
    ids = [skill_id for skill_id, _, _ in links]
    essential_in: dict[str, int] = {}
    for chunk in _chunks(ids):
        counts = session.execute(
            select(OccupationSkillRow.skill_id, func.count())
            .where(
                OccupationSkillRow.skill_id.in_(chunk),
                OccupationSkillRow.relation == "essential",
            )
            .group_by(OccupationSkillRow.skill_id)
        )
        essential_in.update((skill_id, int(n)) for skill_id, n in counts)
    total = session.scalar(select(func.count()).select_from(OccupationRow)) or 0
    out = []
    for skill_id, skill, relation in links[:MAX_REQUIREMENTS]:
        weight = specificity(essential_in.get(skill_id, 0), total)
        if relation != "essential":
            weight *= OPTIONAL_WEIGHT
        out.append(
            RequirementFields(
                skill=skill, required=relation == "essential", weight=round(max(weight, 1e-3), 4)
            )
        )
    return out


def _text_requirements(platform: Platform, text: str) -> list[RequirementFields]:
    """The taxonomy skills a job description's phrases normalise to (confident matches only)."""
    phrases = skill_phrases(text)
    if not phrases:
        return []
    found = taxonomy.normalize_skills(platform, [p.text for p in phrases], limit=1)
    chosen: dict[str, bool] = {}
    for phrase, matches in zip(phrases, found, strict=True):
        if not matches or not (matches[0].exact or matches[0].score >= TEXT_MATCH_SCORE):
            continue
        uri = matches[0].skill.uri
        chosen[uri] = chosen.get(uri, False) or phrase.required
    return [
        RequirementFields(skill=uri, required=required, weight=1.0 if required else OPTIONAL_WEIGHT)
        for uri, required in list(chosen.items())[:MAX_REQUIREMENTS]
    ]


def _replace_requirements(
    session: Session, role: HiringRoleRow, requirements: Sequence[RequirementFields]
) -> None:
    session.execute(delete(RoleRequirementRow).where(RoleRequirementRow.role_id == role.id))
    seen: set[str] = set()
    uris = [_skill_uri(r.skill, f"requirements.{i}.skill") for i, r in enumerate(requirements)]
    labels = _labels_for(session, uris)
    for i, (uri, r) in enumerate(zip(uris, requirements, strict=True)):
        if uri in seen:
            raise InvalidInput(
                f"requirements.{i}.skill {uri!r} is listed twice",
                property=f"requirements.{i}.skill",
            )
        seen.add(uri)
        session.add(
            RoleRequirementRow(
                id=new_id(),
                role_id=role.id,
                org_id=role.org_id,
                skill_uri=uri,
                skill_label=labels.get(uri, ""),
                required=r.required,
                weight=r.weight,
                min_level=r.min_level,
                position=i,
            )
        )


def _role_view(session: Session, role: HiringRoleRow) -> RoleView:
    rows = session.scalars(
        select(RoleRequirementRow)
        .where(RoleRequirementRow.role_id == role.id)
        .order_by(RoleRequirementRow.position)
    ).all()
    return RoleView(
        id=role.id,
        org_id=role.org_id,
        title=role.title,
        description=role.description,
        status=role.status,
        occupation=role.occupation_uri,
        requirements=tuple(
            RequirementView(
                skill=r.skill_uri,
                label=r.skill_label,
                required=r.required,
                weight=r.weight,
                min_level=r.min_level,
            )
            for r in rows
        ),
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


def _role(session: Session, *, org_id: str, role_id: str) -> HiringRoleRow:
    row = session.get(HiringRoleRow, role_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"role {role_id!r} not found", property="role_id")
    return row


def _text(value: str, prop: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{prop} must not be empty", property=prop)
    return value


def create_role(
    platform: Platform, actor: Actor, *, org_id: str, fields: RoleFields | Mapping[str, Any]
) -> RoleView:
    """A new role; ``title`` is required; requirements given, or prefilled from an occupation."""
    spec = _role_fields(fields)
    if spec.title is None:
        raise InvalidInput("title is required", property="title")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ROLES_WRITE)
    from_text = None
    if spec.requirements is None and spec.occupation is None and spec.job_text:
        # normalising runs its own read (and may build the search index): before the write
        from_text = _text_requirements(platform, spec.job_text)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ROLES_WRITE)
        occupation = None if spec.occupation is None else spec.occupation.strip()
        requirements = spec.requirements if from_text is None else from_text
        if requirements is None and occupation is not None:
            requirements = _occupation_requirements(session, occupation)
        role = HiringRoleRow(
            id=new_id(),
            org_id=org_id,
            title=_text(spec.title, "title"),
            description=(spec.description or "").strip(),
            status=spec.status or "open",
            occupation_uri=occupation,
        )
        session.add(role)
        session.flush()
        _replace_requirements(session, role, requirements or [])
        session.flush()
        audit(
            session,
            actor,
            action="hiring.role_created",
            org_id=org_id,
            target=role.id,
            details={
                "title": role.title,
                "requirements": len(requirements or []),
                "prefill": "requirements"
                if spec.requirements is not None
                else "occupation"
                if occupation is not None
                else "job_text"
                if from_text is not None
                else None,
            },
        )
        return _role_view(session, role)


def update_role(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    role_id: str,
    fields: RoleFields | Mapping[str, Any],
) -> RoleView:
    """Changes the members given; ``requirements`` (or a new ``occupation`` or ``job_text``
    prefill) replaces the whole list."""
    spec = _role_fields(fields)
    from_text = None
    if spec.requirements is None and spec.occupation is None and spec.job_text:
        with platform.reading() as session:
            authorize(session, actor, org_id, Permission.ROLES_WRITE)
            _role(session, org_id=org_id, role_id=role_id)
        from_text = _text_requirements(platform, spec.job_text)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ROLES_WRITE)
        role = _role(session, org_id=org_id, role_id=role_id)
        changed = sorted(spec.model_fields_set)
        if spec.title is not None:
            role.title = _text(spec.title, "title")
        if spec.description is not None:
            role.description = spec.description.strip()
        if spec.status is not None:
            role.status = spec.status
        requirements = spec.requirements if from_text is None else from_text
        if spec.occupation is not None:
            role.occupation_uri = spec.occupation.strip()
            if requirements is None:
                requirements = _occupation_requirements(session, role.occupation_uri)
        if requirements is not None:
            _replace_requirements(session, role, requirements)
        role.updated_at = platform.clock.now()
        session.flush()
        audit(
            session,
            actor,
            action="hiring.role_updated",
            org_id=org_id,
            target=role.id,
            details={"changed": changed},
        )
        return _role_view(session, role)


def get_role(platform: Platform, actor: Actor, *, org_id: str, role_id: str) -> RoleView:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        return _role_view(session, _role(session, org_id=org_id, role_id=role_id))


def list_roles(
    platform: Platform, actor: Actor, *, org_id: str, status: str | None = None
) -> list[RoleView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        query = select(HiringRoleRow).where(HiringRoleRow.org_id == org_id)
        if status is not None:
            query = query.where(HiringRoleRow.status == status)
        rows = session.scalars(query.order_by(HiringRoleRow.created_at.desc(), HiringRoleRow.id))
        return [_role_view(session, r) for r in rows]


def delete_role(platform: Platform, actor: Actor, *, org_id: str, role_id: str) -> None:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ROLES_WRITE)
        role = _role(session, org_id=org_id, role_id=role_id)
        title = role.title
        session.delete(role)
        audit(
            session,
            actor,
            action="hiring.role_deleted",
            org_id=org_id,
            target=role_id,
            details={"title": title},
        )


# --- ranking -----------------------------------------------------------------------------------


def _requirements(role: RoleView) -> list[Requirement]:
    return [
        Requirement(
            skill=r.skill,
            required=r.required,
            weight=r.weight,
            min_level=r.min_level,
            label=r.label or None,
        )
        for r in role.requirements
    ]


def _discoverable(session: Session, org_id: str) -> list[str]:
    return sorted(
        set(
            session.scalars(
                select(DiscoverabilityRow.user_id).where(
                    or_(
                        DiscoverabilityRow.scope == "public",
                        DiscoverabilityRow.org_id == org_id,
                    )
                )
            )
        )
    )


def _explanation_view(
    why: Explanation, labels: Mapping[str, str], extra: Mapping[str, str]
) -> ExplanationView:
    def label(uri: str | None) -> str:
        if uri is None:
            return ""
        return labels.get(uri) or extra.get(uri) or ""

    return ExplanationView(
        score=why.score,
        missing_required=why.missing_required,
        matches=tuple(
            MatchView(
                skill=m.requirement.skill,
                label=m.requirement.label or label(m.requirement.skill),
                required=m.requirement.required,
                weight=m.requirement.weight,
                min_level=m.requirement.min_level,
                status=m.status,
                matched_skill=m.matched_skill,
                matched_label=None if m.matched_skill is None else label(m.matched_skill),
                match=m.match,
                level=m.level,
                credit=m.credit,
                contribution=m.contribution,
                proofs=tuple(
                    ProofView(
                        credential_id=p.credential_id,
                        issuer_id=p.issuer_id,
                        issuer_name=p.issuer_name,
                        achievement_name=p.achievement_name,
                        issued_at=p.issued_at,
                        weight=p.weight,
                    )
                    for p in m.proofs
                ),
            )
            for m in why.matches
        ),
    )


def _rank_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    role_id: str,
    limit: int,
    require_all: bool,
    min_score: float,
) -> Ranking:
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"limit must be between 1 and {MAX_RESULTS}", property="limit")
    # one ranking of a role at a time (PostgreSQL): their ranking records never collide
    role_row = session.scalars(
        select(HiringRoleRow)
        .where(HiringRoleRow.id == role_id, HiringRoleRow.org_id == org_id)
        .with_for_update()
    ).one_or_none()
    if role_row is None:
        raise NotFound(f"role {role_id!r} not found", property="role_id")
    role = _role_view(session, role_row)
    requirements = _requirements(role)
    pool = _discoverable(session, org_id)
    if _index_enabled(platform):
        levels = _pool_levels(session, platform, pool)
        wanted, _ = _space(session, [r.skill for r in requirements], ())
        selection = wanted.extended(sorted({s for skills in levels for s in skills}))
        index = CandidateIndex.from_levels(selection, levels, pool)
        ranked = rank(index, requirements, k=limit, require_all=require_all, min_score=min_score)
        # the results' explanations are always built fresh from their credentials
        profiles, held = _profiles(session, platform, [r.id for r in ranked])
        space, labels = _space(
            session,
            [r.skill for r in requirements],
            {s for p in profiles.values() for s in p.skills},
        )
    else:
        profiles, held = _profiles(session, platform, pool)
        space, labels = _space(
            session,
            [r.skill for r in requirements],
            {s for p in profiles.values() for s in p.skills},
        )
        index = CandidateIndex.from_profiles(space, [profiles[u] for u in pool], pool)
        ranked = rank(index, requirements, k=limit, require_all=require_all, min_score=min_score)
    emails = dict(
        session.execute(
            select(UserRow.id, UserRow.email).where(UserRow.id.in_([r.id for r in ranked]))
        ).all()
    )
    extra: dict[str, str] = {}
    for h in held.values():
        extra.update(h.labels)
    results = []
    now = platform.clock.now()
    records = {
        record.user_id: record
        for record in session.scalars(
            select(CandidateRankingRow).where(
                CandidateRankingRow.role_id == role_id,
                CandidateRankingRow.user_id.in_([r.id for r in ranked]),
            )
        )
    }
    for position, r in enumerate(ranked, start=1):
        why = explain(profiles[r.id], requirements, space)
        results.append(
            CandidateResult(
                user_id=r.id,
                email=emails.get(r.id, ""),
                rank=position,
                score=why.score,
                explanation=_explanation_view(why, labels, extra),
            )
        )
        record = records.get(r.id)
        if record is None:
            record = CandidateRankingRow(id=new_id(), org_id=org_id, role_id=role_id, user_id=r.id)
            session.add(record)
        record.score = why.score
        record.position = position
        record.ranked_at = now
    audit(
        session,
        actor,
        action="hiring.candidates_ranked",
        org_id=org_id,
        target=role_id,
        details={"pool": len(pool), "results": len(results), "require_all": require_all},
    )
    return Ranking(role=role, pool=len(pool), results=tuple(results))


def rank_candidates(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    role_id: str,
    limit: int = 20,
    require_all: bool = False,
    min_score: float = 0.0,
) -> Ranking:
    """The best discoverable learners for the role, each with the explanation of their score.

    Ranking is recorded (candidate, role, score, when) so each candidate can see it.
    """
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        return _rank_in(
            session,
            platform,
            actor,
            org_id=org_id,
            role_id=role_id,
            limit=limit,
            require_all=require_all,
            min_score=min_score,
        )


def explain_candidate(
    platform: Platform, actor: Actor, *, org_id: str, role_id: str, user_id: str
) -> ExplanationView:
    """One discoverable candidate's match and gap for the role (what is missing and why)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        role = _role_view(session, _role(session, org_id=org_id, role_id=role_id))
        if user_id not in _discoverable(session, org_id):
            raise NotFound(f"candidate {user_id!r} not found", property="user_id")
        return _explain_for(session, platform, role, user_id)


def _explain_for(
    session: Session, platform: Platform, role: RoleView, user_id: str
) -> ExplanationView:
    requirements = _requirements(role)
    profiles, held = _profiles(session, platform, [user_id])
    profile = profiles[user_id]
    space, labels = _space(session, [r.skill for r in requirements], profile.skills)
    return _explanation_view(explain(profile, requirements, space), labels, held[user_id].labels)


# --- saved searches --------------------------------------------------------------------------


def _saved(row: SavedSearchRow) -> SavedSearch:
    filters = row.filters or {}
    return SavedSearch(
        id=row.id,
        org_id=row.org_id,
        role_id=row.role_id,
        name=row.name,
        require_all=bool(filters.get("require_all", False)),
        min_score=float(filters.get("min_score", 0.0)),
        limit=int(filters.get("limit", 20)),
        created_at=row.created_at,
    )


def create_saved_search(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    fields: SavedSearchFields | Mapping[str, Any],
) -> SavedSearch:
    if not isinstance(fields, SavedSearchFields):
        try:
            fields = SavedSearchFields.model_validate(fields)
        except ValidationError as e:
            raise _validation(e) from e
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        _role(session, org_id=org_id, role_id=fields.role_id)
        row = SavedSearchRow(
            id=new_id(),
            org_id=org_id,
            role_id=fields.role_id,
            name=_text(fields.name, "name"),
            filters={
                "require_all": fields.require_all,
                "min_score": fields.min_score,
                "limit": fields.limit,
            },
            created_by=actor.audit_name,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="hiring.search_saved",
            org_id=org_id,
            target=row.id,
            details={"role_id": fields.role_id, "name": row.name},
        )
        return _saved(row)


def list_saved_searches(platform: Platform, actor: Actor, *, org_id: str) -> list[SavedSearch]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        rows = session.scalars(
            select(SavedSearchRow)
            .where(SavedSearchRow.org_id == org_id)
            .order_by(SavedSearchRow.created_at.desc(), SavedSearchRow.id)
        )
        return [_saved(r) for r in rows]


def _saved_row(session: Session, *, org_id: str, search_id: str) -> SavedSearchRow:
    row = session.get(SavedSearchRow, search_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"saved search {search_id!r} not found", property="search_id")
    return row


def delete_saved_search(platform: Platform, actor: Actor, *, org_id: str, search_id: str) -> None:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        session.delete(_saved_row(session, org_id=org_id, search_id=search_id))
        audit(session, actor, action="hiring.search_deleted", org_id=org_id, target=search_id)


def run_saved_search(platform: Platform, actor: Actor, *, org_id: str, search_id: str) -> Ranking:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CANDIDATES_READ)
        saved = _saved(_saved_row(session, org_id=org_id, search_id=search_id))
        return _rank_in(
            session,
            platform,
            actor,
            org_id=org_id,
            role_id=saved.role_id,
            limit=saved.limit,
            require_all=saved.require_all,
            min_score=saved.min_score,
        )


# --- the learner's side ----------------------------------------------------------------------


def _user(actor: Actor) -> str:
    if actor.user_id is None or actor.kind != "user":
        raise PermissionDenied("only a signed-in learner has a skill profile", property="actor")
    return actor.user_id


def my_profile(platform: Platform, actor: Actor) -> list[SkillView]:
    """The learner's verified skills, strongest first, each with the credentials proving it."""
    user_id = _user(actor)
    with platform.reading() as session:
        profiles, held = _profiles(session, platform, [user_id])
        profile = profiles[user_id]
        labels = {**held[user_id].labels, **_labels_for(session, profile.skills)}
    return [
        SkillView(
            skill=c.skill,
            label=labels.get(c.skill, ""),
            level=c.level,
            proofs=tuple(
                ProofView(
                    credential_id=p.credential_id,
                    issuer_id=p.issuer_id,
                    issuer_name=p.issuer_name,
                    achievement_name=p.achievement_name,
                    issued_at=p.issued_at,
                    weight=p.weight,
                )
                for p in c.proofs
            ),
        )
        for c in sorted(profile.skills.values(), key=lambda c: (-c.level, c.skill))
    ]


def get_discoverability(platform: Platform, actor: Actor) -> Discoverability:
    user_id = _user(actor)
    with platform.reading() as session:
        return _discoverability(session, user_id)


def _discoverability(session: Session, user_id: str) -> Discoverability:
    rows = session.scalars(
        select(DiscoverabilityRow).where(DiscoverabilityRow.user_id == user_id)
    ).all()
    return Discoverability(
        public=any(r.scope == "public" for r in rows),
        org_ids=tuple(sorted(r.org_id for r in rows if r.org_id is not None)),
    )


def set_discoverability(
    platform: Platform, actor: Actor, *, public: bool, org_ids: Sequence[str] = ()
) -> Discoverability:
    """Replaces the learner's consents: public (every organisation) and/or named organisations."""
    user_id = _user(actor)
    wanted = sorted({o.strip() for o in org_ids if o.strip()})
    if len(wanted) > 500:
        raise InvalidInput("at most 500 organisations", property="org_ids")
    with platform.transaction() as session:
        for org_id in wanted:
            org_or_404(session, org_id)
        session.execute(delete(DiscoverabilityRow).where(DiscoverabilityRow.user_id == user_id))
        session.flush()
        if public:
            session.add(DiscoverabilityRow(id=new_id(), user_id=user_id, scope="public"))
        for org_id in wanted:
            session.add(
                DiscoverabilityRow(id=new_id(), user_id=user_id, scope="org", org_id=org_id)
            )
        if not public:
            # withdrawn consent: employers keep no trace of having ranked this learner
            session.execute(
                delete(CandidateRankingRow).where(
                    CandidateRankingRow.user_id == user_id,
                    CandidateRankingRow.org_id.not_in(wanted) if wanted else true(),
                )
            )
        session.flush()
        audit(
            session,
            actor,
            action="hiring.discoverability_set",
            org_id=None,
            target=user_id,
            details={"public": public, "orgs": len(wanted)},
        )
        chosen = _discoverability(session, user_id)
    # this process keeps nothing of a learner who changed their consent (rebuilt when ranked)
    _cache(platform).invalidate([user_id])
    return chosen


@dataclass(frozen=True, slots=True, kw_only=True)
class HiringOrganisation:
    """An organisation a learner may let find them (one that posts roles, or already chosen)."""

    id: str
    name: str
    chosen: bool


def hiring_organisations(platform: Platform, actor: Actor) -> list[HiringOrganisation]:
    """The organisations with roles, and those the learner already lets find them, by name."""
    user_id = _user(actor)
    with platform.reading() as session:
        chosen = set(_discoverability(session, user_id).org_ids)
        hiring_ids = set(session.scalars(select(HiringRoleRow.org_id).distinct()))
        rows = session.execute(
            select(OrganisationRow.id, OrganisationRow.name)
            .where(OrganisationRow.id.in_(sorted(hiring_ids | chosen)))
            .order_by(OrganisationRow.name, OrganisationRow.id)
        ).all()
        return [HiringOrganisation(id=i, name=n, chosen=i in chosen) for i, n in rows]


def my_rankings(platform: Platform, actor: Actor) -> list[RankingRecord]:
    user_id = _user(actor)
    with platform.reading() as session:
        rows = session.execute(
            select(CandidateRankingRow, HiringRoleRow.title, OrganisationRow.name)
            .join(HiringRoleRow, HiringRoleRow.id == CandidateRankingRow.role_id)
            .join(OrganisationRow, OrganisationRow.id == CandidateRankingRow.org_id)
            .where(CandidateRankingRow.user_id == user_id)
            .order_by(CandidateRankingRow.ranked_at.desc(), CandidateRankingRow.id)
        ).all()
        return [
            RankingRecord(
                role_id=r.role_id,
                role_title=title,
                org_id=r.org_id,
                org_name=name,
                score=r.score,
                rank=r.position,
                ranked_at=r.ranked_at,
            )
            for r, title, name in rows
        ]


def _ranked_role(session: Session, user_id: str, role_id: str) -> RoleView:
    record = session.scalars(
        select(CandidateRankingRow).where(
            CandidateRankingRow.role_id == role_id, CandidateRankingRow.user_id == user_id
        )
    ).first()
    if record is None:
        raise NotFound(f"no ranking of yours for role {role_id!r}", property="role_id")
    return _role_view(session, _role(session, org_id=record.org_id, role_id=role_id))


def my_explanation(platform: Platform, actor: Actor, *, role_id: str) -> ExplanationView:
    """The explanation an employer sees for this learner, for a role they were ranked for."""
    user_id = _user(actor)
    with platform.reading() as session:
        role = _ranked_role(session, user_id, role_id)
        return _explain_for(session, platform, role, user_id)


# --- learning paths ----------------------------------------------------------------------------


def _occupation_targets(session: Session, uri: str) -> tuple[str, list[Requirement]]:
    occupation = session.scalars(select(OccupationRow).where(OccupationRow.uri == uri)).first()
    if occupation is None:
        raise NotFound(f"occupation {uri!r} is not in the taxonomy", property="occupation")
    skills = session.scalars(
        select(SkillRow.uri)
        .join(OccupationSkillRow, OccupationSkillRow.skill_id == SkillRow.id)
        .where(
            OccupationSkillRow.occupation_id == occupation.id,
            OccupationSkillRow.relation == "essential",
        )
        .order_by(SkillRow.uri)
    ).all()
    return occupation.preferred_label, [Requirement(skill=s) for s in skills]


def _cost_of(
    metadata: Mapping[str, Any], cost: Literal["hours", "price"], currency: str | None
) -> float | None:
    if cost == "hours":
        hours = metadata.get("hours")
        return float(hours) if isinstance(hours, int | float) and hours >= 0 else None
    price = metadata.get("price")
    if not isinstance(price, Mapping):
        return None
    if currency is not None and price.get("currency") != currency:
        return None
    try:
        return float(Decimal(str(price.get("amount"))))
    except (InvalidOperation, ValueError):
        return None


def published_offered(session: Session) -> list[tuple[AchievementRow, set[str]]]:
    """Every published achievement (of every issuer) with the skills it aligns to."""
    rows = session.execute(
        select(AchievementRow, AchievementVersionRow.document)
        .join(
            AchievementVersionRow,
            (AchievementVersionRow.achievement_id == AchievementRow.id)
            & (AchievementVersionRow.version == AchievementRow.current_version),
        )
        .where(AchievementRow.status == "published")
        .order_by(AchievementRow.id)
    ).all()
    out: list[tuple[AchievementRow, set[str]]] = []
    for achievement, document in rows:
        items = document.get("alignment")
        offered = {
            a["targetUrl"].strip()
            for a in (items if isinstance(items, list) else [])
            if isinstance(a, Mapping) and isinstance(a.get("targetUrl"), str)
        }
        out.append((achievement, offered))
    return out


def offerings_for(
    published: Sequence[tuple[AchievementRow, set[str]]],
    space: SkillSpace,
    missing: Sequence[str],
    cost: Literal["hours", "price"],
    currency: str | None,
) -> tuple[list[Offering], dict[str, AchievementRow], str | None]:
    """``published`` as learning-path offerings covering ``missing``: an achievement covers a
    skill it aligns to or a narrower one; those without the chosen cost are left out. With
    ``cost='price'`` and no currency, the most common currency among them is used."""
    if cost == "price" and currency is None:
        currencies = [
            (a.published_metadata or {}).get("price", {}).get("currency") for a, _ in published
        ]
        counted = [c for c in currencies if isinstance(c, str)]
        currency = max(sorted(set(counted)), key=counted.count) if counted else None
    # what each requirement skill accepts: itself and its narrower skills
    accepts: dict[str, set[str]] = {}
    for skill in missing:
        cols, _, kinds = space.matches(skill)
        accepts[skill] = {
            space.skills[c] for c, k in zip(cols.tolist(), kinds.tolist(), strict=True) if k < 2
        }
    offerings: list[Offering] = []
    by_id: dict[str, AchievementRow] = {}
    for achievement, offered in published:
        metadata = achievement.published_metadata or {}
        price = _cost_of(metadata, cost, currency)
        if price is None:
            continue
        covers = frozenset(s for s in missing if accepts[s] & offered)
        pre = metadata.get("prerequisites")
        offerings.append(
            Offering(
                id=achievement.id,
                cost=price,
                skills=covers,
                prerequisites=frozenset(p for p in pre if isinstance(p, str))
                if isinstance(pre, list)
                else frozenset(),
                name=achievement.name,
            )
        )
        by_id[achievement.id] = achievement
    return offerings, by_id, currency


def learning_path(
    platform: Platform,
    actor: Actor,
    *,
    role_id: str | None = None,
    occupation: str | None = None,
    cost: Literal["hours", "price"] = "hours",
    currency: str | None = None,
) -> LearningPathView:
    """The cheapest set of published achievements covering what the learner lacks for a target.

    The target is a role the learner was ranked for or an ESCO occupation (its essential
    skills). An achievement covers a skill it aligns to or a narrower one. Achievements
    without the chosen cost (``hours``, or a ``price`` in ``currency``) are left out; with
    ``cost='price'`` and no currency, the most common currency among the offerings is used.
    Prerequisites are the ``prerequisites`` achievement ids of an achievement's metadata.
    """
    user_id = _user(actor)
    if (role_id is None) == (occupation is None):
        raise InvalidInput("give exactly one of role or occupation", property="role")
    if cost not in ("hours", "price"):
        raise InvalidInput("cost must be 'hours' or 'price'", property="cost")
    with platform.reading() as session:
        if role_id is not None:
            role = _ranked_role(session, user_id, role_id)
            target, requirements = role.title, _requirements(role)
        else:
            target, requirements = _occupation_targets(session, (occupation or "").strip())
        profiles, held = _profiles(session, platform, [user_id])
        profile = profiles[user_id]
        published = published_offered(session)
        all_offered = {s for _, offered in published for s in offered}
        space, labels = _space(
            session, [r.skill for r in requirements], set(profile.skills) | all_offered
        )
        why = explain(profile, requirements, space)
        missing = [m.requirement.skill for m in why.matches if m.status != "met"]
        offerings, by_id, currency = offerings_for(published, space, missing, cost, currency)
        path: LearningPath = plan(missing, offerings, held=held[user_id].achievements)
    labels = {**held[user_id].labels, **labels}
    return LearningPathView(
        target=target,
        cost=cost,
        currency=currency if cost == "price" else None,
        steps=tuple(
            PathStep(
                achievement_id=s.offering.id,
                name=s.offering.name or "",
                org_id=by_id[s.offering.id].org_id,
                url=platform.url(f"achievements/{s.offering.id}"),
                cost=s.offering.cost,
                covers=tuple(sorted(s.covers)),
                prerequisites=tuple(sorted(s.offering.prerequisites)),
            )
            for s in path.steps
        ),
        total_cost=path.total_cost,
        missing=tuple(missing),
        covered=tuple(sorted(path.covered)),
        uncoverable=tuple(sorted(path.uncoverable)),
        coverage=path.coverage,
        method=path.method,
        optimal=path.optimal,
        labels={s: labels.get(s, "") for s in missing},
    )


# --- the demo ----------------------------------------------------------------------------------

DEMO_ROLE_TITLE: Final = "Junior data analyst"


def seed_demo_role(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    required: Sequence[str],
    optional: Sequence[str],
    learners: Sequence[str],
) -> bool:
    """The demo's role and its publicly discoverable learners (by email), ranked once so they
    can see their explanation. True when anything was written; running it again writes nothing.
    """
    created = False
    role = next(
        (r for r in list_roles(platform, actor, org_id=org_id) if r.title == DEMO_ROLE_TITLE),
        None,
    )
    with platform.reading() as session:
        users = dict(
            session.execute(
                select(UserRow.email, UserRow.id).where(UserRow.email.in_(list(learners)))
            ).all()
        )
    for email in learners:
        user_id = users.get(email)
        if user_id is None:
            continue
        learner = Actor(kind="user", id=user_id, user_id=user_id)
        if not get_discoverability(platform, learner).public:
            set_discoverability(platform, learner, public=True)
            created = True
    if role is None:
        role = create_role(
            platform,
            actor,
            org_id=org_id,
            fields=RoleFields(
                title=DEMO_ROLE_TITLE,
                description="Cleans and analyses data; writes SQL; reports findings.",
                requirements=[RequirementFields(skill=s) for s in required]
                + [
                    RequirementFields(skill=s, required=False, weight=OPTIONAL_WEIGHT)
                    for s in optional
                ],
            ),
        )
        rank_candidates(platform, actor, org_id=org_id, role_id=role.id)
        created = True
    return created
