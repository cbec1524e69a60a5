"""Pathways: stacked credentials awarded automatically, exactly once, when a learner's verified
credentials satisfy a requirement tree; progress, funnel and the revocation policy.

A pathway is one of its organisation's achievements (the stacked credential) with a
requirement tree (``merito.domain.pathways``) over achievements of that organisation or of the
issuers it trusts (``trusted_issuers``: their *published* achievements only).

What counts for a learner (an account) is what hiring counts (recomputed on every read):
credentials Merito issued to the account's email address or that were claimed into its wallet,
read from the issuer's own row *now* (not revoked, not suspended, not expired; Merito signed
them, so the signature is not re-checked per read); and credentials imported into the wallet
whose stored verdict is ``valid`` (signature, status and issuer checked at import or last
re-check), not expired since, naming one of this platform's achievements and issued by that
achievement's own issuer DID (so nobody can self-sign their way into a pathway).

Auto-award (``on_event``, a domain-event listener): ``credential.issued`` and
``credential.claimed`` re-evaluate the published pathways naming the credential's achievement
for its learner; a satisfied one is issued in one transaction with its award row. The award
row is unique per (pathway, learner) and the issuance's idempotency key is derived from it, so
concurrent events and redeliveries award once: the loser's transaction fails on one of the two
unique keys and it answers with the winner's award. ``credential.revoked`` of a constituent
applies the pathway's policy when the pathway is no longer satisfied without it: ``flag``
(the award needs attention) or ``revoke`` (the stacked credential is revoked, with a reason).
An award writes ``webhook.pathway.awarded`` in its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from merito.domain import pathways as model
from merito.domain.achievements import parse_datetime
from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.services import catalog, credentials
from merito.services.issuers import issuer_did
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
    AchievementVersionRow,
    CredentialRow,
    OrganisationRow,
    UserRow,
)
from merito.storage.tables_pathways import (
    AWARD_STATUSES,
    PathwayAwardRow,
    PathwayConstituentRow,
    PathwayRow,
)
from merito.storage.tables_wallet import WalletItemRow

__all__ = [
    "AWARDED_TOPIC",
    "AchievementRef",
    "AwardView",
    "Funnel",
    "FunnelStep",
    "NodeView",
    "PathwayView",
    "ProgressView",
    "archive_pathway",
    "award_eligible",
    "check_mine",
    "create_pathway",
    "funnel",
    "get_pathway",
    "list_awards",
    "list_pathways",
    "my_pathways",
    "my_progress",
    "on_event",
    "progress",
    "publish_pathway",
    "resolve_award",
    "update_pathway",
]

log = logging.getLogger(__name__)

AWARDED_TOPIC: Final = "webhook.pathway.awarded"
SYSTEM: Final = Actor.system("pathways")
RevocationPolicy = Literal["flag", "revoke"]
_POLICIES: Final = ("flag", "revoke")
MAX_TRUSTED: Final = 50
_CHUNK: Final = 500


# --- views ---------------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class AchievementRef(_View):
    id: str
    name: str
    org_id: str
    org_name: str
    hours: float | None = None
    url: str


class PathwayView(_View):
    id: str
    org_id: str
    achievement_id: str
    name: str
    status: str
    requirement: dict[str, Any]
    revocation_policy: str
    trusted_issuers: list[dict[str, str]]
    constituents: list[AchievementRef]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None


class HeldView(_View):
    credential_id: str
    issued_at: datetime


class NodeView(_View):
    """One node of a learner's progress tree."""

    kind: str
    satisfied: bool
    achievement: AchievementRef | None = None
    #: the credential satisfying a leaf
    credential: HeldView | None = None
    n: int | None = None
    needed: int = 1
    done: int = 0
    min_hours: float | None = None
    hours: float = 0.0
    hours_short: float = 0.0
    within_days: int | None = None
    earned_after: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    leaves_total: int = 1
    leaves_done: int = 0
    children: list[NodeView] = Field(default_factory=list)


class AwardView(_View):
    id: str
    pathway_id: str
    org_id: str
    user_id: str
    #: the learner's account email (the credential's recipient)
    learner_email: str | None
    credential_row_id: str
    credential_id: str
    status: str
    constituents: list[dict[str, Any]]
    awarded_at: datetime
    attention: str | None
    attention_at: datetime | None


class ProgressView(_View):
    pathway: PathwayView
    user_id: str
    satisfied: bool
    leaves_total: int
    leaves_done: int
    tree: NodeView
    #: achievements still to earn (under the groups not yet satisfied)
    left: list[AchievementRef]
    award: AwardView | None


class FunnelStep(_View):
    leaves_done: int
    learners: int


class Funnel(_View):
    pathway_id: str
    leaves_total: int
    #: learners holding at least one constituent
    started: int
    #: learners by how many leaves they have done (1 .. leaves_total)
    by_leaves: list[FunnelStep]
    #: learners whose credentials satisfy the pathway now
    satisfied: int
    #: awards by status
    awarded: int
    flagged: int
    revoked: int


# --- reading -------------------------------------------------------------------------------------


def _pathway(session: Session, *, org_id: str, pathway_id: str) -> PathwayRow:
    row = session.get(PathwayRow, pathway_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"pathway {pathway_id!r} not found", property="pathway_id")
    return row


def _tree(row: PathwayRow) -> model.Group:
    node = model.parse_requirement(row.requirement)
    if not isinstance(node, model.Group):  # pragma: no cover - parse_requirement refuses it
        raise InvalidInput("the requirement's root must be a group", property="requirement")
    return node


def _hours_of(row: AchievementRow) -> float | None:
    for metadata in (row.published_metadata, row.draft_metadata):
        hours = (metadata or {}).get("hours")
        if isinstance(hours, int | float) and not isinstance(hours, bool) and hours >= 0:
            return float(hours)
    return None


def _refs(
    session: Session, platform: Platform, achievement_ids: Iterable[str]
) -> dict[str, AchievementRef]:
    ids = sorted(set(achievement_ids))
    rows: list[AchievementRow] = []
    for i in range(0, len(ids), _CHUNK):
        rows += session.scalars(
            select(AchievementRow).where(AchievementRow.id.in_(ids[i : i + _CHUNK]))
        )
    orgs = {
        o.id: o.name
        for o in session.scalars(
            select(OrganisationRow).where(OrganisationRow.id.in_({r.org_id for r in rows}))
        )
    }
    return {
        r.id: AchievementRef(
            id=r.id,
            name=r.name or "Achievement",
            org_id=r.org_id,
            org_name=orgs.get(r.org_id, ""),
            hours=_hours_of(r),
            url=catalog.achievement_url(platform, r.id),
        )
        for r in rows
    }


def _view(session: Session, platform: Platform, row: PathwayRow) -> PathwayView:
    tree = _tree(row)
    refs = _refs(session, platform, [row.achievement_id, *model.achievements_of(tree)])
    trusted = {
        o.id: o.name
        for o in session.scalars(
            select(OrganisationRow).where(OrganisationRow.id.in_(list(row.trusted_issuers)))
        )
    }
    own = refs.get(row.achievement_id)
    return PathwayView(
        id=row.id,
        org_id=row.org_id,
        achievement_id=row.achievement_id,
        name=own.name if own is not None else "Pathway",
        status=row.status,
        requirement=dict(row.requirement),
        revocation_policy=row.revocation_policy,
        trusted_issuers=[
            {"id": oid, "name": trusted[oid]} for oid in row.trusted_issuers if oid in trusted
        ],
        constituents=[refs[a] for a in model.achievements_of(tree) if a in refs],
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
        archived_at=row.archived_at,
    )


def _award_view(session: Session, row: PathwayAwardRow) -> AwardView:
    credential = session.get(CredentialRow, row.credential_row_id)
    return AwardView(
        id=row.id,
        pathway_id=row.pathway_id,
        org_id=row.org_id,
        user_id=row.user_id,
        learner_email=None if credential is None else credential.recipient,
        credential_row_id=row.credential_row_id,
        credential_id="" if credential is None else credential.credential_id,
        status=row.status,
        constituents=list(row.constituents),
        awarded_at=row.awarded_at,
        attention=row.attention,
        attention_at=row.attention_at,
    )


# --- what a learner verifiably holds -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Holding:
    held: model.Held
    org_id: str
    #: the hosted credential's row id (None: an imported wallet item)
    row_id: str | None


def _active(row: Any, now: datetime) -> bool:
    return (
        row.revoked_at is None
        and not row.suspended
        and (row.valid_until is None or row.valid_until > now)
    )


def _body(document: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = document.get("vc")
    return inner if isinstance(inner, Mapping) else document


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _instant(body: Mapping[str, Any], *members: str) -> datetime | None:
    for member in members:
        value = body.get(member)
        if isinstance(value, str):
            try:
                moment = parse_datetime(value)
            except ValueError:
                continue
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def _imported(
    session: Session, platform: Platform, items: Sequence[WalletItemRow], now: datetime
) -> list[_Holding]:
    """Imported, verified wallet items naming one of this platform's achievements and signed
    by that achievement's issuer."""
    prefix = platform.url("achievements/")
    found: list[tuple[WalletItemRow, str, datetime, str | None]] = []
    for item in items:
        if item.credential_row_id is not None or item.verdict != "valid":
            continue
        body = _body(item.document or {})
        expires = _instant(body, "validUntil", "expirationDate")
        if expires is not None and expires <= now:
            continue
        subject = _first(body.get("credentialSubject"))
        achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
        url = achievement.get("id") if isinstance(achievement, Mapping) else None
        if not isinstance(url, str) or not url.startswith(prefix):
            continue
        issuer = body.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        issued = _instant(body, "validFrom", "issuanceDate", "awardedDate") or item.created_at
        found.append((item, url[len(prefix) :], issued, issuer_id))
    if not found:
        return []
    achievements = {
        a.id: a
        for a in session.scalars(
            select(AchievementRow).where(AchievementRow.id.in_({f[1] for f in found}))
        )
    }
    orgs = {
        o.id: o
        for o in session.scalars(
            select(OrganisationRow).where(
                OrganisationRow.id.in_({a.org_id for a in achievements.values()})
            )
        )
    }
    out: list[_Holding] = []
    for item, achievement_id, issued, issuer_id in found:
        achievement_row = achievements.get(achievement_id)
        org = None if achievement_row is None else orgs.get(achievement_row.org_id)
        if org is None or issuer_id != issuer_did(platform, org):
            continue
        out.append(
            _Holding(
                model.Held(
                    credential_id=item.credential_id or f"urn:merito:wallet:{item.id}",
                    achievement_id=achievement_id,
                    issued_at=issued,
                    ref=item.id,
                ),
                org.id,
                None,
            )
        )
    return out


def _holdings(session: Session, platform: Platform, user_id: str) -> list[_Holding]:
    """The learner's verified credentials (see the module docstring for what counts)."""
    user = session.get(UserRow, user_id)
    if user is None:
        return []
    now = platform.clock.now()
    items = list(session.scalars(select(WalletItemRow).where(WalletItemRow.user_id == user_id)))
    claimed = [i.credential_row_id for i in items if i.credential_row_id is not None]
    query = (
        select(
            CredentialRow.id,
            CredentialRow.credential_id,
            CredentialRow.org_id,
            CredentialRow.issued_at,
            CredentialRow.revoked_at,
            CredentialRow.suspended,
            CredentialRow.valid_until,
            AchievementVersionRow.achievement_id,
        )
        .join(
            AchievementVersionRow, AchievementVersionRow.id == CredentialRow.achievement_version_id
        )
        .where(or_(CredentialRow.recipient == user.email, CredentialRow.id.in_(claimed)))
    )
    out: dict[str, _Holding] = {}
    for row in session.execute(query):
        if _active(row, now):
            out[row.credential_id] = _Holding(
                model.Held(
                    credential_id=row.credential_id,
                    achievement_id=row.achievement_id,
                    issued_at=row.issued_at,
                    ref=row.id,
                ),
                row.org_id,
                row.id,
            )
    for holding in _imported(session, platform, items, now):
        out.setdefault(holding.held.credential_id, holding)
    return list(out.values())


def _hours(session: Session, tree: model.Requirement) -> dict[str, float | None]:
    ids = list(model.achievements_of(tree))
    return {
        r.id: _hours_of(r)
        for r in session.scalars(select(AchievementRow).where(AchievementRow.id.in_(ids)))
    }


def _evaluate(
    session: Session, pathway: PathwayRow, holdings: Sequence[_Holding]
) -> model.Progress:
    tree = _tree(pathway)
    return model.evaluate(tree, [h.held for h in holdings], hours=_hours(session, tree))


def _node_view(progress: model.Progress, refs: Mapping[str, AchievementRef]) -> NodeView:
    node = progress.node
    held = progress.held
    if isinstance(node, model.Leaf):
        return NodeView(
            kind="achievement",
            satisfied=progress.satisfied,
            achievement=refs.get(node.achievement_id),
            credential=None
            if held is None
            else HeldView(credential_id=held.credential_id, issued_at=held.issued_at),
            hours=progress.hours,
            leaves_done=progress.leaves_done,
        )
    window = progress.window
    return NodeView(
        kind=node.kind,
        satisfied=progress.satisfied,
        n=node.n,
        needed=node.needed,
        done=progress.done,
        min_hours=node.min_hours,
        hours=progress.hours,
        hours_short=progress.hours_short,
        within_days=node.within_days,
        earned_after=node.earned_after,
        window_start=None if window is None else window[0],
        window_end=None if window is None or window[1].year == 9999 else window[1],
        leaves_total=progress.leaves_total,
        leaves_done=progress.leaves_done,
        children=[_node_view(c, refs) for c in progress.children],
    )


def _progress_view(
    session: Session, platform: Platform, pathway: PathwayRow, user_id: str
) -> ProgressView:
    view = _view(session, platform, pathway)
    progress = _evaluate(session, pathway, _holdings(session, platform, user_id))
    refs = {r.id: r for r in view.constituents}
    award = session.scalar(
        select(PathwayAwardRow).where(
            PathwayAwardRow.pathway_id == pathway.id, PathwayAwardRow.user_id == user_id
        )
    )
    return ProgressView(
        pathway=view,
        user_id=user_id,
        satisfied=progress.satisfied,
        leaves_total=progress.leaves_total,
        leaves_done=progress.leaves_done,
        tree=_node_view(progress, refs),
        left=[refs[a] for a in progress.left() if a in refs],
        award=None if award is None else _award_view(session, award),
    )


# --- editing -------------------------------------------------------------------------------------


def _policy(value: str) -> str:
    if value not in _POLICIES:
        raise InvalidInput(
            f"revocation_policy must be 'flag' or 'revoke' (got {value!r})",
            property="revocation_policy",
        )
    return value


def _trusted(session: Session, org_id: str, values: Sequence[str]) -> list[str]:
    """Organisation ids from ids or slugs, this organisation left out, each once."""
    if len(values) > MAX_TRUSTED:
        raise InvalidInput(
            f"trusted_issuers has more than {MAX_TRUSTED} entries", property="trusted_issuers"
        )
    out: list[str] = []
    for i, value in enumerate(values):
        text = value.strip() if isinstance(value, str) else ""
        found = (
            session.scalar(
                select(OrganisationRow).where(
                    or_(OrganisationRow.id == text, OrganisationRow.slug == text)
                )
            )
            if text
            else None
        )
        if found is None or found.kind != "issuer":
            raise InvalidInput(
                f"trusted_issuers[{i}]: no issuing organisation {value!r}",
                property=f"trusted_issuers[{i}]",
            )
        if found.id != org_id and found.id not in out:
            out.append(found.id)
    return out


def _checked_tree(
    session: Session,
    *,
    org_id: str,
    pathway_id: str | None,
    achievement_id: str,
    requirement: Any,
    trusted: Sequence[str],
) -> model.Group:
    tree = model.parse_requirement(requirement)
    if not isinstance(tree, model.Group):  # pragma: no cover - parse_requirement refuses it
        raise InvalidInput("the requirement's root must be a group", property="requirement")
    names = model.achievements_of(tree)
    if achievement_id in names:
        raise InvalidInput("a pathway cannot require its own achievement", property="requirement")
    allowed = {org_id, *trusted}
    known: dict[str, float | None] = {}
    for row in session.scalars(select(AchievementRow).where(AchievementRow.id.in_(names))):
        own = row.org_id == org_id and row.status != "archived"
        if own or (row.org_id in allowed and row.status == "published"):
            known[row.id] = _hours_of(row)
    model.validate(tree, known=known)
    # a pathway may name another pathway's achievement (stacks of stacks), never in a loop
    edges: dict[str, set[str]] = {}
    for other_id, other_achievement in session.execute(
        select(PathwayRow.id, PathwayRow.achievement_id)
    ):
        if other_id != pathway_id:
            edges.setdefault(other_achievement, set())
    for other_id, constituent in session.execute(
        select(PathwayConstituentRow.pathway_id, PathwayConstituentRow.achievement_id)
    ):
        if other_id == pathway_id:
            continue
        owner = session.get(PathwayRow, other_id)
        if owner is not None:
            edges.setdefault(owner.achievement_id, set()).add(constituent)
    edges[achievement_id] = set(names)
    cycle = model.find_cycle(edges)
    if cycle is not None:
        raise InvalidInput(
            "the requirement makes a cycle of pathways: " + " -> ".join(cycle),
            property="requirement",
        )
    return tree


def _store_constituents(session: Session, pathway_id: str, tree: model.Requirement) -> None:
    session.execute(
        delete(PathwayConstituentRow).where(PathwayConstituentRow.pathway_id == pathway_id)
    )
    for achievement_id in model.achievements_of(tree):
        session.add(PathwayConstituentRow(pathway_id=pathway_id, achievement_id=achievement_id))


def create_pathway(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    requirement: Any,
    revocation_policy: str = "flag",
    trusted_issuers: Sequence[str] = (),
) -> PathwayView:
    """A draft pathway: ``achievement_id`` (one of the organisation's achievements) is the
    stacked credential, ``requirement`` its tree. Conflict if the achievement already is one."""
    policy = _policy(revocation_policy)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        own = session.get(AchievementRow, achievement_id)
        if own is None or own.org_id != org_id:
            raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
        if session.scalar(select(PathwayRow.id).where(PathwayRow.achievement_id == achievement_id)):
            raise Conflict(
                f"achievement {achievement_id!r} already is a pathway", property="achievement_id"
            )
        trusted = _trusted(session, org_id, trusted_issuers)
        tree = _checked_tree(
            session,
            org_id=org_id,
            pathway_id=None,
            achievement_id=achievement_id,
            requirement=requirement,
            trusted=trusted,
        )
        now = platform.clock.now()
        row = PathwayRow(
            id=new_id(),
            org_id=org_id,
            achievement_id=achievement_id,
            status="draft",
            requirement=model.requirement_json(tree),
            revocation_policy=policy,
            trusted_issuers=trusted,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _store_constituents(session, row.id, tree)
        audit(
            session,
            actor,
            action="pathway.created",
            org_id=org_id,
            target=row.id,
            details={"achievement_id": achievement_id, "requirement": row.requirement},
        )
        session.flush()
        return _view(session, platform, row)


def update_pathway(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    pathway_id: str,
    requirement: Any = None,
    revocation_policy: str | None = None,
    trusted_issuers: Sequence[str] | None = None,
) -> PathwayView:
    """Changes the members given. A published pathway's new tree applies to later awards."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        if row.status == "archived":
            raise Conflict("the pathway is archived", property="pathway_id")
        changed: dict[str, Any] = {}
        if revocation_policy is not None:
            row.revocation_policy = changed["revocation_policy"] = _policy(revocation_policy)
        if trusted_issuers is not None:
            row.trusted_issuers = changed["trusted_issuers"] = _trusted(
                session, org_id, trusted_issuers
            )
        if requirement is not None or trusted_issuers is not None:
            tree = _checked_tree(
                session,
                org_id=org_id,
                pathway_id=row.id,
                achievement_id=row.achievement_id,
                requirement=row.requirement if requirement is None else requirement,
                trusted=list(row.trusted_issuers),
            )
            if row.status == "published":
                _check_publishable(session, row.achievement_id, tree)
            row.requirement = changed["requirement"] = model.requirement_json(tree)
            _store_constituents(session, row.id, tree)
        row.updated_at = platform.clock.now()
        audit(
            session, actor, action="pathway.updated", org_id=org_id, target=row.id, details=changed
        )
        session.flush()
        return _view(session, platform, row)


def _check_publishable(session: Session, achievement_id: str, tree: model.Requirement) -> None:
    own = session.get(AchievementRow, achievement_id)
    if own is None or own.status != "published":
        raise Conflict(
            "publish the pathway's achievement first: its credential is what learners earn",
            property="achievement_id",
        )
    for row in session.scalars(
        select(AchievementRow).where(AchievementRow.id.in_(model.achievements_of(tree)))
    ):
        if row.current_version is None:
            raise Conflict(
                f"achievement {row.name or row.id!r} in the requirement is not published yet",
                property="requirement",
            )


def publish_pathway(
    platform: Platform, actor: Actor, *, org_id: str, pathway_id: str
) -> PathwayView:
    """From now on, satisfying the tree awards the pathway's credential automatically.

    Learners who already satisfy it are awarded by ``award_eligible``."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        if row.status == "archived":
            raise Conflict("the pathway is archived", property="pathway_id")
        _check_publishable(session, row.achievement_id, _tree(row))
        if row.status != "published":
            row.status = "published"
            row.published_at = row.updated_at = platform.clock.now()
            audit(session, actor, action="pathway.published", org_id=org_id, target=row.id)
        session.flush()
        return _view(session, platform, row)


def archive_pathway(
    platform: Platform, actor: Actor, *, org_id: str, pathway_id: str
) -> PathwayView:
    """No more awards; awards made stay (and their credentials stay valid)."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        if row.status != "archived":
            row.status = "archived"
            row.archived_at = row.updated_at = platform.clock.now()
            audit(session, actor, action="pathway.archived", org_id=org_id, target=row.id)
        session.flush()
        return _view(session, platform, row)


def get_pathway(platform: Platform, actor: Actor, *, org_id: str, pathway_id: str) -> PathwayView:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        return _view(session, platform, _pathway(session, org_id=org_id, pathway_id=pathway_id))


def list_pathways(
    platform: Platform, actor: Actor, *, org_id: str, status: str | None = None
) -> list[PathwayView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        query = select(PathwayRow).where(PathwayRow.org_id == org_id)
        if status is not None:
            query = query.where(PathwayRow.status == status)
        rows = session.scalars(query.order_by(PathwayRow.created_at, PathwayRow.id))
        return [_view(session, platform, r) for r in rows]


# --- awarding ------------------------------------------------------------------------------------


def _award_key(pathway_id: str, user_id: str) -> str:
    return f"pathway-award:{pathway_id}:{user_id}"


def _evidence(
    session: Session, platform: Platform, used: Sequence[model.Held]
) -> list[dict[str, Any]]:
    """OB 3.0 Evidence per constituent: its public URL (when it has one), name, narrative."""
    refs = _refs(session, platform, [h.achievement_id for h in used])
    out = []
    for held in used:
        ref = refs.get(held.achievement_id)
        name = ref.name if ref is not None else "Achievement"
        issuer = f" from {ref.org_name}" if ref is not None and ref.org_name else ""
        entry: dict[str, Any] = {
            "type": ["Evidence"],
            "name": name,
            "narrative": f"Earned {name}{issuer} on {held.issued_at.date().isoformat()}.",
            "genre": "Credential",
        }
        if held.credential_id.startswith(("https://", "http://")):
            entry["id"] = held.credential_id
        out.append(entry)
    return out


def _existing(session: Session, pathway_id: str, user_id: str) -> PathwayAwardRow | None:
    return session.scalar(
        select(PathwayAwardRow).where(
            PathwayAwardRow.pathway_id == pathway_id, PathwayAwardRow.user_id == user_id
        )
    )


def _award(platform: Platform, *, pathway_id: str, user_id: str) -> AwardView | None:
    """Awards the pathway to the learner if their credentials satisfy it now: exactly once.

    Returns the award (new or earlier), or None when not satisfied (or not awardable)."""
    try:
        with platform.transaction() as session:
            pathway = session.get(PathwayRow, pathway_id)
            if pathway is None or pathway.status != "published":
                return None
            earlier = _existing(session, pathway_id, user_id)
            if earlier is not None:
                return _award_view(session, earlier)
            own = session.get(AchievementRow, pathway.achievement_id)
            user = session.get(UserRow, user_id)
            if own is None or own.status != "published" or user is None:
                return None
            progress = _evaluate(session, pathway, _holdings(session, platform, user_id))
            if not progress.satisfied:
                return None
            used = progress.credentials()
            record = credentials.issue_in(
                session,
                platform,
                SYSTEM,
                org_id=pathway.org_id,
                achievement_id=pathway.achievement_id,
                recipient=user.email,
                evidence=_evidence(session, platform, used),
                idempotency_key=_award_key(pathway_id, user_id),
            )
            award = PathwayAwardRow(
                id=new_id(),
                pathway_id=pathway_id,
                org_id=pathway.org_id,
                user_id=user_id,
                credential_row_id=record.id,
                status="awarded",
                constituents=[
                    {
                        "credential_id": h.credential_id,
                        "credential_row_id": h.ref,
                        "achievement_id": h.achievement_id,
                    }
                    for h in used
                ],
                awarded_at=platform.clock.now(),
            )
            session.add(award)
            session.flush()
            audit(
                session,
                SYSTEM,
                action="pathway.awarded",
                org_id=pathway.org_id,
                target=record.credential_id,
                details={
                    "pathway_id": pathway_id,
                    "award_id": award.id,
                    "user_id": user_id,
                    "constituents": [h.credential_id for h in used],
                },
            )
            enqueue(
                session,
                topic=AWARDED_TOPIC,
                payload={
                    "event": "pathway.awarded",
                    "org_id": pathway.org_id,
                    "pathway_id": pathway_id,
                    "award_id": award.id,
                    "credential_row_id": record.id,
                    "credential_id": record.credential_id,
                    "user_id": user_id,
                    "achievement_id": pathway.achievement_id,
                    "awarded_at": award.awarded_at.isoformat(),
                },
                idempotency_key=f"{AWARDED_TOPIC}:{award.id}",
                org_id=pathway.org_id,
            )
            session.flush()
            return _award_view(session, award)
    except Conflict:
        # a concurrent award of the same pathway to the same learner committed first
        with platform.reading() as session:
            earlier = _existing(session, pathway_id, user_id)
            if earlier is None:
                raise
            return _award_view(session, earlier)


def award_eligible(
    platform: Platform, actor: Actor, *, org_id: str, pathway_id: str
) -> list[AwardView]:
    """Awards every learner who satisfies the published pathway now and has no award yet
    (e.g. right after publishing). Returns the awards made by this call."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        pathway = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        if pathway.status != "published":
            raise Conflict("publish the pathway first", property="pathway_id")
        learners = _learners(session, pathway)
        done = set(
            session.scalars(
                select(PathwayAwardRow.user_id).where(PathwayAwardRow.pathway_id == pathway_id)
            )
        )
    made = []
    for user_id in sorted(learners - done):
        award = _award(platform, pathway_id=pathway_id, user_id=user_id)
        if award is not None:
            made.append(award)
    return made


def _owners(session: Session, credential: CredentialRow) -> set[str]:
    """The accounts a hosted credential belongs to: its recipient email's, and the wallets it
    was claimed into."""
    owners = set(session.scalars(select(UserRow.id).where(UserRow.email == credential.recipient)))
    owners |= set(
        session.scalars(
            select(WalletItemRow.user_id).where(WalletItemRow.credential_row_id == credential.id)
        )
    )
    return owners


def _learners(session: Session, pathway: PathwayRow) -> set[str]:
    """Accounts holding a (hosted) credential of at least one of the pathway's achievements."""
    ids = list(model.achievements_of(_tree(pathway)))
    rows = list(
        session.execute(
            select(CredentialRow.id, CredentialRow.recipient)
            .join(
                AchievementVersionRow,
                AchievementVersionRow.id == CredentialRow.achievement_version_id,
            )
            .where(AchievementVersionRow.achievement_id.in_(ids))
        )
    )
    recipients = sorted({r.recipient for r in rows})
    row_ids = [r.id for r in rows]
    learners: set[str] = set()
    for i in range(0, len(recipients), _CHUNK):
        learners |= set(
            session.scalars(select(UserRow.id).where(UserRow.email.in_(recipients[i : i + _CHUNK])))
        )
    for i in range(0, len(row_ids), _CHUNK):
        learners |= set(
            session.scalars(
                select(WalletItemRow.user_id).where(
                    WalletItemRow.credential_row_id.in_(row_ids[i : i + _CHUNK])
                )
            )
        )
    return learners


# --- the revocation policy -----------------------------------------------------------------------


def _on_revoked(platform: Platform, credential_row_id: str, reason: str | None) -> None:
    with platform.reading() as session:
        credential = session.get(CredentialRow, credential_row_id)
        if credential is None:
            return
        achievement_id = session.scalar(
            select(AchievementVersionRow.achievement_id).where(
                AchievementVersionRow.id == credential.achievement_version_id
            )
        )
        pathway_ids = list(
            session.scalars(
                select(PathwayConstituentRow.pathway_id).where(
                    PathwayConstituentRow.achievement_id == achievement_id
                )
            )
        )
        owners = _owners(session, credential)
        affected = [
            a.id
            for a in session.scalars(
                select(PathwayAwardRow).where(
                    PathwayAwardRow.pathway_id.in_(pathway_ids),
                    PathwayAwardRow.user_id.in_(owners),
                    PathwayAwardRow.status == "awarded",
                )
            )
            if any(c.get("credential_row_id") == credential_row_id for c in a.constituents)
        ]
        stacked = session.scalar(
            select(PathwayAwardRow.id).where(
                PathwayAwardRow.credential_row_id == credential_row_id,
                PathwayAwardRow.status != "revoked",
            )
        )
    if stacked is not None:
        # the stacked credential itself was revoked (by staff or by the policy below)
        with platform.transaction() as session:
            award = session.get(PathwayAwardRow, stacked, with_for_update=True)
            if award is not None and award.status != "revoked":
                award.status = "revoked"
                award.attention_at = award.attention_at or platform.clock.now()
                award.attention = award.attention or f"the credential was revoked: {reason or ''}"
    for award_id in affected:
        _apply_policy(platform, award_id, credential, reason)


def _apply_policy(
    platform: Platform, award_id: str, revoked: CredentialRow, reason: str | None
) -> None:
    with platform.transaction() as session:
        award = session.get(PathwayAwardRow, award_id, with_for_update=True)
        if award is None or award.status != "awarded":
            return  # already handled (a redelivered event)
        pathway = session.get(PathwayRow, award.pathway_id)
        if pathway is None:  # pragma: no cover - awards cascade with their pathway
            return
        progress = _evaluate(session, pathway, _holdings(session, platform, award.user_id))
        details = {
            "award_id": award.id,
            "pathway_id": pathway.id,
            "revoked_constituent": revoked.credential_id,
            "still_satisfied": progress.satisfied,
            "policy": pathway.revocation_policy,
        }
        if progress.satisfied:
            audit(
                session,
                SYSTEM,
                action="pathway.constituent_revoked",
                org_id=award.org_id,
                target=award.id,
                details=details,
            )
            return
        why = f"constituent {revoked.credential_id} was revoked" + (
            f" ({reason})" if reason else ""
        )
        award.attention = f"{why}; the pathway is no longer satisfied"
        award.attention_at = platform.clock.now()
        stacked = session.get(CredentialRow, award.credential_row_id)
        if pathway.revocation_policy == "revoke":
            award.status = "revoked"
            if stacked is not None and stacked.revoked_at is None:
                credentials.revoke_in(
                    session,
                    platform,
                    SYSTEM,
                    org_id=award.org_id,
                    credential_id=stacked.id,
                    reason=f"pathway no longer satisfied: {why}"[: credentials.MAX_REASON_LENGTH],
                )
        else:
            award.status = "flagged"
        audit(
            session,
            SYSTEM,
            action=f"pathway.award_{award.status}",
            org_id=award.org_id,
            target=award.id,
            details=details,
        )


# --- the domain-event listener -------------------------------------------------------------------


def _candidates(
    platform: Platform, credential_row_id: str, user_id: str | None
) -> list[tuple[str, str]]:
    """(pathway, learner) pairs a newly held credential may complete."""
    with platform.reading() as session:
        credential = session.get(CredentialRow, credential_row_id)
        if credential is None:
            return []
        achievement_id = session.scalar(
            select(AchievementVersionRow.achievement_id).where(
                AchievementVersionRow.id == credential.achievement_version_id
            )
        )
        if credential.revoked_at is not None:
            return []
        pathways = list(
            session.scalars(
                select(PathwayRow.id)
                .join(PathwayConstituentRow, PathwayConstituentRow.pathway_id == PathwayRow.id)
                .where(
                    PathwayConstituentRow.achievement_id == achievement_id,
                    PathwayRow.status == "published",
                )
                .order_by(PathwayRow.id)
            )
        )
        if not pathways:
            return []
        owners = {user_id} if user_id is not None else _owners(session, credential)
    return [(p, u) for p in pathways for u in sorted(owners)]


def on_event(platform: Platform, payload: Mapping[str, Any]) -> None:
    """Domain events -> pathway awards and the revocation policy (idempotent: redelivery of
    an event finds the award made, or the policy applied, and does nothing)."""
    event = payload.get("event")
    row_id = payload.get("credential_row_id")
    if not isinstance(row_id, str):
        return
    if event in ("credential.issued", "credential.claimed"):
        user_id = payload.get("user_id") if event == "credential.claimed" else None
        for pathway_id, learner in _candidates(
            platform, row_id, user_id if isinstance(user_id, str) else None
        ):
            try:
                _award(platform, pathway_id=pathway_id, user_id=learner)
            except (NotFound, InvalidInput) as e:
                # this pathway cannot issue (e.g. its issuer has no key profile): the others
                # still get their chance; retrying the whole event would not fix it
                log.warning("pathway %s not awarded to %s: %s", pathway_id, learner, e.message)
    elif event == "credential.revoked":
        reason = payload.get("reason")
        _on_revoked(platform, row_id, reason if isinstance(reason, str) else None)


# --- progress, funnel, awards --------------------------------------------------------------------


def _user(actor: Actor) -> str:
    if actor.kind != "user" or actor.user_id is None:
        raise PermissionDenied("sign in as a learner to see your pathways", property="actor")
    return actor.user_id


def _mine(session: Session, platform: Platform, user_id: str) -> list[PathwayRow]:
    """Published (or archived) pathways the learner started (holds a constituent of) or was
    awarded, oldest first."""
    holdings = _holdings(session, platform, user_id)
    achievements = {h.held.achievement_id for h in holdings}
    ids = set(
        session.scalars(
            select(PathwayConstituentRow.pathway_id).where(
                PathwayConstituentRow.achievement_id.in_(achievements)
            )
        )
    )
    ids |= set(
        session.scalars(
            select(PathwayAwardRow.pathway_id).where(PathwayAwardRow.user_id == user_id)
        )
    )
    return list(
        session.scalars(
            select(PathwayRow)
            .where(PathwayRow.id.in_(ids), PathwayRow.status != "draft")
            .order_by(PathwayRow.created_at, PathwayRow.id)
        )
    )


def _one_of_mine(session: Session, platform: Platform, user_id: str, pathway_id: str) -> PathwayRow:
    for row in _mine(session, platform, user_id):
        if row.id == pathway_id:
            return row
    raise NotFound(f"pathway {pathway_id!r} not found among yours", property="pathway_id")


def my_progress(platform: Platform, actor: Actor, *, pathway_id: str) -> ProgressView:
    """The caller's progress on a pathway they started: what is done and what is left."""
    user_id = _user(actor)
    with platform.reading() as session:
        row = _one_of_mine(session, platform, user_id, pathway_id)
        return _progress_view(session, platform, row, user_id)


def check_mine(platform: Platform, actor: Actor, *, pathway_id: str) -> ProgressView:
    """Re-evaluates the caller's progress and awards the pathway if it is satisfied (for a
    learner whose credentials satisfied it before it was published)."""
    user_id = _user(actor)
    with platform.reading() as session:
        _one_of_mine(session, platform, user_id, pathway_id)
    _award(platform, pathway_id=pathway_id, user_id=user_id)
    return my_progress(platform, actor, pathway_id=pathway_id)


def my_pathways(platform: Platform, actor: Actor) -> list[ProgressView]:
    """The pathways the caller started or was awarded, with their progress."""
    user_id = _user(actor)
    with platform.reading() as session:
        return [
            _progress_view(session, platform, r, user_id) for r in _mine(session, platform, user_id)
        ]


def progress(
    platform: Platform, actor: Actor, *, org_id: str, pathway_id: str, user_id: str
) -> ProgressView:
    """A learner's progress, for the pathway's organisation: only a learner it issued to or
    who holds one of the pathway's constituents (anyone else is NotFound)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_READ)
        pathway = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        holdings = _holdings(session, platform, user_id)
        names = set(model.achievements_of(_tree(pathway)))
        if not any(h.org_id == org_id or h.held.achievement_id in names for h in holdings) and (
            _existing(session, pathway_id, user_id) is None
        ):
            raise NotFound(f"learner {user_id!r} not found", property="user_id")
        return _progress_view(session, platform, pathway, user_id)


def funnel(platform: Platform, actor: Actor, *, org_id: str, pathway_id: str) -> Funnel:
    """Completion funnel: learners who started, by leaves done, satisfied, awarded."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        pathway = _pathway(session, org_id=org_id, pathway_id=pathway_id)
        tree = _tree(pathway)
        hours = _hours(session, tree)
        counts: dict[int, int] = {}
        started = satisfied = 0
        for user_id in sorted(_learners(session, pathway)):
            held = [h.held for h in _holdings(session, platform, user_id)]
            result = model.evaluate(tree, held, hours=hours)
            if result.leaves_done == 0:
                continue
            started += 1
            satisfied += int(result.satisfied)
            counts[result.leaves_done] = counts.get(result.leaves_done, 0) + 1
        statuses = dict.fromkeys(AWARD_STATUSES, 0)
        for status in session.scalars(
            select(PathwayAwardRow.status).where(PathwayAwardRow.pathway_id == pathway_id)
        ):
            statuses[status] += 1
        total = model.evaluate(tree, [], hours=hours).leaves_total
        return Funnel(
            pathway_id=pathway_id,
            leaves_total=total,
            started=started,
            by_leaves=[
                FunnelStep(leaves_done=k, learners=counts.get(k, 0)) for k in range(1, total + 1)
            ],
            satisfied=satisfied,
            awarded=statuses["awarded"],
            flagged=statuses["flagged"],
            revoked=statuses["revoked"],
        )


def list_awards(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    pathway_id: str | None = None,
    status: str | None = None,
) -> list[AwardView]:
    """The organisation's pathway awards, newest first (``flagged`` ones need attention)."""
    if status is not None and status not in AWARD_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(AWARD_STATUSES)}", property="status")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_READ)
        org_or_404(session, org_id)
        query = select(PathwayAwardRow).where(PathwayAwardRow.org_id == org_id)
        if pathway_id is not None:
            _pathway(session, org_id=org_id, pathway_id=pathway_id)
            query = query.where(PathwayAwardRow.pathway_id == pathway_id)
        if status is not None:
            query = query.where(PathwayAwardRow.status == status)
        rows = session.scalars(
            query.order_by(PathwayAwardRow.awarded_at.desc(), PathwayAwardRow.id)
        )
        return [_award_view(session, r) for r in rows]


def resolve_award(platform: Platform, actor: Actor, *, org_id: str, award_id: str) -> AwardView:
    """Clears a flagged award's attention (staff looked at it and keep the credential)."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_REVOKE)
        award = session.get(PathwayAwardRow, award_id, with_for_update=True)
        if award is None or award.org_id != org_id:
            raise NotFound(f"award {award_id!r} not found", property="award_id")
        if award.status != "flagged":
            raise Conflict("only a flagged award can be resolved", property="award_id")
        award.status = "awarded"
        audit(
            session,
            actor,
            action="pathway.award_resolved",
            org_id=org_id,
            target=award.id,
            details={"attention": award.attention},
        )
        award.attention = None
        award.attention_at = None
        session.flush()
        return _award_view(session, award)
