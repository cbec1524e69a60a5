"""Issuer analytics: what happened to an organisation's credentials, per UTC day, and its CSV.

Five daily series per organisation, optionally for one achievement:

- ``issued``: credentials issued (``credentials.issued_at``);
- ``claimed``: credentials first taken into a learner's wallet, by claim link, system delivery
  or proven DID (the earliest ``credential_claims.claimed_at`` or claimed wallet item);
- ``shared``: share links made to a credential (one per credential a collection link shows),
  plus PDF certificates, baked badge images and signed presentations made of it;
- ``verified``: public verifications of the organisation's credentials (``POST /verify``, the
  verify page, the credential page), whatever their verdict;
- ``revoked``: credentials revoked (``credentials.revoked_at``).

Verifications and link-less shares leave no row of their own, so they are counted in
``analytics_daily_counts``. Verification is a hot path (goal: 1,000 requests/s), so
``record_verification`` only increments an in-memory counter under a lock; the counts are
written with one UPSERT per (organisation, achievement, day, metric) by ``flush``, which runs
on a background thread at most every ``FLUSH_SECONDS``, before each dashboard read and at exit.
Counting never fails nor slows a verification: a failed flush logs and keeps its counts for
the next one. A crash loses at most the last ``FLUSH_SECONDS`` of counts (these are metrics,
not records).
"""

from __future__ import annotations

import atexit
import csv
import io
import logging
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypedDict

from sqlalchemy import ColumnElement, Select, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from merito.domain.verification import VerificationReport
from merito.errors import InvalidInput, NotFound
from merito.services import pathways
from merito.services.platform import Actor, Permission, Platform, authorize
from merito.storage.tables import AchievementRow, AchievementVersionRow, CredentialRow
from merito.storage.tables_analytics import AnalyticsDailyCountRow
from merito.storage.tables_issuance import CredentialClaimRow
from merito.storage.tables_sharing import CollectionItemRow, ShareLinkRow
from merito.storage.tables_skills import SkillRow
from merito.storage.tables_wallet import WalletItemRow

__all__ = [
    "FLUSH_SECONDS",
    "MAX_DAYS",
    "METRICS",
    "RANGES",
    "AchievementChoice",
    "Activity",
    "Dashboard",
    "FunnelStage",
    "PathwayFunnel",
    "Period",
    "SkillCount",
    "activity",
    "activity_csv",
    "dashboard",
    "flush",
    "funnel_csv",
    "pathway_choices",
    "pathway_funnel",
    "period",
    "record_share",
    "record_verification",
    "skills_csv",
    "top_skills",
]

log = logging.getLogger("merito.analytics")

METRICS: Final = ("issued", "claimed", "shared", "verified", "revoked")
#: the ranges the dashboard offers, in days (ending today, UTC)
RANGES: Final = (7, 30, 90, 365)
#: the longest custom range: two years and a day (a leap year)
MAX_DAYS: Final = 731
FLUSH_SECONDS: Final = 5.0
#: pending keys beyond which a flush starts at once
_FLUSH_KEYS: Final = 5_000
#: pending keys kept after failed flushes (beyond: dropped, and logged)
_MAX_PENDING: Final = 100_000
_ROW_ID_LENGTH: Final = 36
_IN_CHUNK: Final = 500
#: a CSV cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "\n")


# --- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(
            self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)
        )

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return self.since + timedelta(days=(self.end - self.start).days + 1)


def _day(value: str | date | None, prop: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise InvalidInput(
            f"{prop} must be a date like 2026-01-31, not {value[:40]!r}", property=prop
        ) from e


def period(
    now: datetime,
    *,
    days: int | str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> Period:
    """The period asked for: the last ``days`` days (one of ``RANGES``) ending today, or a
    custom ``start``..``end`` (ISO dates, both included; ``end`` defaults to today)."""
    today = now.astimezone(UTC).date()
    first, last = _day(start, "start"), _day(end, "end")
    if first is None and last is None:
        if days is None or days == "":
            days = 30
        try:
            count = int(days)
        except (TypeError, ValueError) as e:
            raise InvalidInput(
                f"range must be one of {', '.join(map(str, RANGES))} days", property="range"
            ) from e
        if count not in RANGES:
            raise InvalidInput(
                f"range must be one of {', '.join(map(str, RANGES))} days, not {count}",
                property="range",
            )
        return Period(today - timedelta(days=count - 1), today)
    if first is None:
        raise InvalidInput("give the first day of the range (start)", property="start")
    last = last or today
    if last > today:
        raise InvalidInput("the range cannot end after today (UTC)", property="end")
    if first > last:
        raise InvalidInput("the range must start on or before its last day", property="start")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a range is at most {MAX_DAYS} days long", property="start")
    return Period(first, last)


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activity:
    """The daily series of one organisation (one achievement's credentials when set)."""

    org_id: str
    period: Period
    achievement_id: str | None
    #: metric -> one count per day of ``period.days``
    series: Mapping[str, tuple[int, ...]]

    @property
    def totals(self) -> dict[str, int]:
        return {metric: sum(values) for metric, values in self.series.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "achievement_id": self.achievement_id,
            "totals": self.totals,
            "days": [
                {"date": day.isoformat(), **{m: self.series[m][i] for m in METRICS}}
                for i, day in enumerate(self.period.days)
            ],
        }


@dataclass(frozen=True, slots=True)
class SkillCount:
    """A skill the organisation's achievements align to, weighted by credentials issued."""

    uri: str
    label: str
    credentials: int
    in_taxonomy: bool


@dataclass(frozen=True, slots=True)
class AchievementChoice:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    activity: Activity
    skills: tuple[SkillCount, ...]
    achievements: tuple[AchievementChoice, ...]


# --- reading ------------------------------------------------------------------------------------


def _utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL (SQLite stores UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _check_achievement(session: Session, org_id: str, achievement_id: str | None) -> None:
    if achievement_id is None:
        return
    found = session.scalar(
        select(AchievementRow.id).where(
            AchievementRow.id == achievement_id, AchievementRow.org_id == org_id
        )
    )
    if found is None:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")


def _of_achievement(query: Select[Any], credential_id: Any, achievement_id: str | None) -> Any:
    if achievement_id is None:
        return query
    return (
        query.join(CredentialRow, CredentialRow.id == credential_id)
        .join(
            AchievementVersionRow, AchievementVersionRow.id == CredentialRow.achievement_version_id
        )
        .where(AchievementVersionRow.achievement_id == achievement_id)
    )


def _timestamp_counts(
    session: Session,
    column: Any,
    *,
    org_id: str,
    span: Period,
    achievement_id: str | None,
) -> dict[date, int]:
    day = _utc_day(session, column)
    query = (
        select(day, func.count())
        .where(CredentialRow.org_id == org_id, column >= span.since, column < span.until)
        .group_by(day)
    )
    if achievement_id is not None:
        query = query.join(
            AchievementVersionRow,
            AchievementVersionRow.id == CredentialRow.achievement_version_id,
        ).where(AchievementVersionRow.achievement_id == achievement_id)
    return {_as_date(d): int(n) for d, n in session.execute(query)}


def _claimed(
    session: Session, *, org_id: str, span: Period, achievement_id: str | None
) -> dict[date, int]:
    """Claims per day: claim links redeemed (and system deliveries), plus credentials taken
    into a wallet with no redeemed link (a proven DID), once each."""
    at = CredentialClaimRow.claimed_at
    day = _utc_day(session, at)
    by_link = (
        select(day, func.count())
        .where(CredentialClaimRow.org_id == org_id, at >= span.since, at < span.until)
        .group_by(day)
    )
    by_link = _of_achievement(by_link, CredentialClaimRow.credential_row_id, achievement_id)
    counts = {_as_date(d): int(n) for d, n in session.execute(by_link)}
    linked = (
        select(CredentialClaimRow.id)
        .where(
            CredentialClaimRow.credential_row_id == WalletItemRow.credential_row_id,
            CredentialClaimRow.claimed_at.is_not(None),
        )
        .exists()
    )
    wallet_day = _utc_day(session, WalletItemRow.created_at)
    by_did = (
        select(wallet_day, func.count(func.distinct(WalletItemRow.credential_row_id)))
        .join(CredentialRow, CredentialRow.id == WalletItemRow.credential_row_id)
        .where(
            CredentialRow.org_id == org_id,
            WalletItemRow.source == "claimed",
            WalletItemRow.created_at >= span.since,
            WalletItemRow.created_at < span.until,
            ~linked,
        )
        .group_by(wallet_day)
    )
    if achievement_id is not None:
        by_did = by_did.join(
            AchievementVersionRow,
            AchievementVersionRow.id == CredentialRow.achievement_version_id,
        ).where(AchievementVersionRow.achievement_id == achievement_id)
    for d, n in session.execute(by_did):
        counts[_as_date(d)] = counts.get(_as_date(d), 0) + int(n)
    return counts


def _shared_by_link(
    session: Session, *, org_id: str, span: Period, achievement_id: str | None
) -> dict[date, int]:
    day = _utc_day(session, ShareLinkRow.created_at)
    in_range = (ShareLinkRow.created_at >= span.since, ShareLinkRow.created_at < span.until)
    items = (
        select(ShareLinkRow.created_at.label("at"), WalletItemRow.credential_row_id.label("cid"))
        .join(WalletItemRow, WalletItemRow.id == ShareLinkRow.wallet_item_id)
        .where(ShareLinkRow.target == "item", *in_range)
    )
    collections = (
        select(ShareLinkRow.created_at.label("at"), WalletItemRow.credential_row_id.label("cid"))
        .join(CollectionItemRow, CollectionItemRow.collection_id == ShareLinkRow.collection_id)
        .join(WalletItemRow, WalletItemRow.id == CollectionItemRow.wallet_item_id)
        .where(ShareLinkRow.target == "collection", *in_range)
    )
    shares = union_all(items, collections).subquery()
    day = _utc_day(session, shares.c.at)
    query = (
        select(day, func.count())
        .select_from(shares)
        .join(CredentialRow, CredentialRow.id == shares.c.cid)
        .where(CredentialRow.org_id == org_id)
        .group_by(day)
    )
    if achievement_id is not None:
        query = query.join(
            AchievementVersionRow,
            AchievementVersionRow.id == CredentialRow.achievement_version_id,
        ).where(AchievementVersionRow.achievement_id == achievement_id)
    return {_as_date(d): int(n) for d, n in session.execute(query)}


def _counted(
    session: Session, metric: str, *, org_id: str, span: Period, achievement_id: str | None
) -> dict[date, int]:
    row = AnalyticsDailyCountRow
    query = (
        select(row.day, func.sum(row.count))
        .where(
            row.org_id == org_id,
            row.metric == metric,
            row.day >= span.start,
            row.day <= span.end,
        )
        .group_by(row.day)
    )
    if achievement_id is not None:
        query = query.where(row.achievement_id == achievement_id)
    return {_as_date(d): int(n) for d, n in session.execute(query)}


class _Scope(TypedDict):
    org_id: str
    span: Period
    achievement_id: str | None


def _series(counts: Mapping[date, int], span: Period) -> tuple[int, ...]:
    return tuple(counts.get(day, 0) for day in span.days)


def _activity(
    session: Session, *, org_id: str, span: Period, achievement_id: str | None
) -> Activity:
    scope: _Scope = {"org_id": org_id, "span": span, "achievement_id": achievement_id}
    shared = _shared_by_link(session, **scope)
    for day, n in _counted(session, "shared", **scope).items():
        shared[day] = shared.get(day, 0) + n
    counts = {
        "issued": _timestamp_counts(session, CredentialRow.issued_at, **scope),
        "claimed": _claimed(session, **scope),
        "shared": shared,
        "verified": _counted(session, "verified", **scope),
        "revoked": _timestamp_counts(session, CredentialRow.revoked_at, **scope),
    }
    return Activity(
        org_id=org_id,
        period=span,
        achievement_id=achievement_id,
        series={metric: _series(counts[metric], span) for metric in METRICS},
    )


def _alignments(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """An achievement's (skill URI, name) alignments (OB 3.0 ``alignment``)."""
    items = document.get("alignment")
    out: list[tuple[str, str]] = []
    for item in items if isinstance(items, list) else [items]:
        if not isinstance(item, Mapping):
            continue
        url = item.get("targetUrl")
        if isinstance(url, str) and url.strip().startswith(("http://", "https://", "urn:")):
            name = item.get("targetName")
            out.append((url.strip(), name.strip() if isinstance(name, str) else ""))
    return out


def _top_skills(
    session: Session, *, org_id: str, span: Period, achievement_id: str | None, limit: int
) -> tuple[SkillCount, ...]:
    query = (
        select(CredentialRow.achievement_version_id, func.count())
        .where(
            CredentialRow.org_id == org_id,
            CredentialRow.issued_at >= span.since,
            CredentialRow.issued_at < span.until,
        )
        .group_by(CredentialRow.achievement_version_id)
    )
    if achievement_id is not None:
        query = query.join(
            AchievementVersionRow,
            AchievementVersionRow.id == CredentialRow.achievement_version_id,
        ).where(AchievementVersionRow.achievement_id == achievement_id)
    per_version = {vid: int(n) for vid, n in session.execute(query)}
    weights: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    versions = sorted(per_version)
    for i in range(0, len(versions), _IN_CHUNK):
        chunk = versions[i : i + _IN_CHUNK]
        for vid, document in session.execute(
            select(AchievementVersionRow.id, AchievementVersionRow.document).where(
                AchievementVersionRow.id.in_(chunk)
            )
        ):
            for uri, name in dict(_alignments(document)).items():
                weights[uri] += per_version[vid]
                names.setdefault(uri, name)
    labels: dict[str, str] = {}
    uris = sorted(weights)
    for i in range(0, len(uris), _IN_CHUNK):
        chunk = uris[i : i + _IN_CHUNK]
        for uri, label, owner in session.execute(
            select(SkillRow.uri, SkillRow.preferred_label, SkillRow.org_id).where(
                SkillRow.uri.in_(chunk),
                (SkillRow.org_id.is_(None)) | (SkillRow.org_id == org_id),
            )
        ):
            # the organisation's own label wins over the shared taxonomy's
            if uri not in labels or owner is not None:
                labels[uri] = label
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], labels.get(kv[0], names[kv[0]])))
    return tuple(
        SkillCount(
            uri=uri,
            label=labels.get(uri) or names[uri] or uri,
            credentials=count,
            in_taxonomy=uri in labels,
        )
        for uri, count in ranked[:limit]
    )


def activity(
    platform: Platform,
    actor: Actor,
    org_id: str,
    *,
    span: Period,
    achievement_id: str | None = None,
) -> Activity:
    """The organisation's daily series over ``span`` (``achievement_id``: its credentials)."""
    flush(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        _check_achievement(session, org_id, achievement_id)
        return _activity(session, org_id=org_id, span=span, achievement_id=achievement_id)


def top_skills(
    platform: Platform,
    actor: Actor,
    org_id: str,
    *,
    span: Period,
    achievement_id: str | None = None,
    limit: int = 10,
) -> tuple[SkillCount, ...]:
    """The skills most aligned to the credentials issued over ``span``, most first."""
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        _check_achievement(session, org_id, achievement_id)
        return _top_skills(
            session, org_id=org_id, span=span, achievement_id=achievement_id, limit=limit
        )


def dashboard(
    platform: Platform,
    actor: Actor,
    org_id: str,
    *,
    span: Period,
    achievement_id: str | None = None,
    skills: int = 10,
) -> Dashboard:
    """Everything the studio's analytics page shows, read in one session."""
    flush(platform)
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
        _check_achievement(session, org_id, achievement_id)
        choices = tuple(
            AchievementChoice(id=aid, name=name or aid)
            for aid, name in session.execute(
                select(AchievementRow.id, AchievementRow.name)
                .where(AchievementRow.org_id == org_id)
                .order_by(AchievementRow.name, AchievementRow.id)
            )
        )
        return Dashboard(
            activity=_activity(session, org_id=org_id, span=span, achievement_id=achievement_id),
            skills=_top_skills(
                session, org_id=org_id, span=span, achievement_id=achievement_id, limit=skills
            ),
            achievements=choices,
        )


# --- pathways -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunnelStage:
    """One step of a pathway's completion funnel: ``key`` is ``started``, ``requirements``
    (at least ``done`` of ``total`` requirements done), ``satisfied`` or ``awarded``."""

    key: str
    learners: int
    done: int | None = None
    total: int | None = None

    @property
    def label(self) -> str:
        if self.key == "requirements":
            return f"at least {self.done} of {self.total} requirements done"
        return {
            "started": "started (one requirement done)",
            "satisfied": "all requirements met",
            "awarded": "awarded",
        }[self.key]


@dataclass(frozen=True, slots=True)
class PathwayFunnel:
    pathway_id: str
    name: str
    stages: tuple[FunnelStage, ...]


#: funnels with more requirements than this show only started, satisfied and awarded
_MAX_FUNNEL_STEPS: Final = 8


def pathway_choices(platform: Platform, actor: Actor, org_id: str) -> tuple[AchievementChoice, ...]:
    """The organisation's pathways (not archived), for the dashboard's funnel picker."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ANALYTICS_READ)
    return tuple(
        AchievementChoice(id=view.id, name=view.name)
        for view in pathways.list_pathways(platform, actor, org_id=org_id)
        if view.status != "archived"
    )


def pathway_funnel(platform: Platform, actor: Actor, org_id: str, pathway_id: str) -> PathwayFunnel:
    """A pathway's completion funnel as cumulative stages: started, at least k of its n
    requirements, all met, awarded (``services.pathways.funnel`` counts the learners)."""
    counted = pathways.funnel(platform, actor, org_id=org_id, pathway_id=pathway_id)
    view = pathways.get_pathway(platform, actor, org_id=org_id, pathway_id=pathway_id)
    total = counted.leaves_total
    exactly = {step.leaves_done: step.learners for step in counted.by_leaves}
    stages = [FunnelStage("started", counted.started)]
    if 2 <= total <= _MAX_FUNNEL_STEPS:
        for done in range(2, total + 1):
            at_least = sum(n for k, n in exactly.items() if k >= done)
            stages.append(FunnelStage("requirements", at_least, done=done, total=total))
    stages.append(FunnelStage("satisfied", counted.satisfied))
    stages.append(FunnelStage("awarded", counted.awarded))
    return PathwayFunnel(pathway_id=pathway_id, name=view.name, stages=tuple(stages))


def funnel_csv(result: PathwayFunnel) -> str:
    return _csv(["stage", "learners"], ([stage.label, stage.learners] for stage in result.stages))


# --- CSV ----------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading formula character is quoted with '."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()


def activity_csv(result: Activity) -> str:
    """One line per day: ``date`` (ISO 8601) then one column per metric."""
    return _csv(
        ["date", *METRICS],
        (
            [day.isoformat(), *(result.series[m][i] for m in METRICS)]
            for i, day in enumerate(result.period.days)
        ),
    )


def skills_csv(skills: Sequence[SkillCount]) -> str:
    return _csv(
        ["skill_uri", "label", "credentials"], ([s.uri, s.label, s.credentials] for s in skills)
    )


# --- counting -----------------------------------------------------------------------------------

_Key = tuple[str, date, str]  # credential row id, UTC day, metric


class _Counter:
    """Counts waiting to be written for one database; all methods are thread-safe."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        # weak: a counter does not keep its database's sessions (nor the platform) alive
        self.sessions = weakref.ref(sessions)
        self.lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self.pending: dict[_Key, int] = defaultdict(int)
        self.oldest: float | None = None
        self.flushing = False

    def add(self, key: _Key) -> bool:
        """Counts one event; True when a flush is due (the caller starts one)."""
        now = time.monotonic()
        with self.lock:
            self.pending[key] += 1
            if self.oldest is None:
                self.oldest = now
            due = not self.flushing and (
                now - self.oldest >= FLUSH_SECONDS or len(self.pending) >= _FLUSH_KEYS
            )
            if due:
                self.flushing = True
            return due

    def take(self) -> dict[_Key, int]:
        with self.lock:
            taken = dict(self.pending)
            self.pending.clear()
            self.oldest = None
            return taken

    def give_back(self, counts: Mapping[_Key, int]) -> None:
        with self.lock:
            room = _MAX_PENDING - len(self.pending)
            dropped = 0
            for key, n in counts.items():
                if key in self.pending or room > 0:
                    if key not in self.pending:
                        room -= 1
                    self.pending[key] += n
                else:
                    dropped += n
            if self.oldest is None and self.pending:
                self.oldest = time.monotonic()
            if dropped:
                log.warning("analytics: %d counted events dropped (pending counts full)", dropped)

    def flush(self, *, quiet: bool = False) -> int:
        """Writes the pending counts; returns how many events were written. ``quiet``: a
        failure is one warning line, not a traceback (at exit the database may be gone)."""
        with self.flush_lock:
            counts = self.take()
            sessions = self.sessions()
            try:
                if counts and sessions is not None:
                    with sessions.begin() as session:
                        _write(session, counts)
            except Exception as e:
                events = sum(counts.values())
                if quiet:
                    log.warning(
                        "analytics: %d counted events not written (%s)", events, type(e).__name__
                    )
                else:
                    log.exception("analytics: writing %d counted events failed", events)
                self.give_back(counts)
                return 0
            finally:
                with self.lock:
                    self.flushing = False
            return sum(counts.values()) if sessions is not None else 0


_counters: weakref.WeakKeyDictionary[sessionmaker[Session], _Counter] = weakref.WeakKeyDictionary()
_counters_lock = threading.Lock()


def _counter(platform: Platform) -> _Counter:
    counter = _counters.get(platform.sessions)
    if counter is None:
        with _counters_lock:
            counter = _counters.get(platform.sessions)
            if counter is None:
                counter = _counters[platform.sessions] = _Counter(platform.sessions)
    return counter


def _write(session: Session, counts: Mapping[_Key, int]) -> None:
    """Adds ``counts`` to the daily rows of the credentials' organisations and achievements."""
    owners: dict[str, tuple[str, str]] = {}
    row_ids = sorted({row_id for row_id, _, _ in counts})
    for i in range(0, len(row_ids), _IN_CHUNK):
        chunk = row_ids[i : i + _IN_CHUNK]
        for row_id, org_id, achievement_id in session.execute(
            select(CredentialRow.id, CredentialRow.org_id, AchievementVersionRow.achievement_id)
            .join(
                AchievementVersionRow,
                AchievementVersionRow.id == CredentialRow.achievement_version_id,
            )
            .where(CredentialRow.id.in_(chunk))
        ):
            owners[row_id] = (org_id, achievement_id)
    totals: dict[tuple[str, str, date, str], int] = defaultdict(int)
    for (row_id, day, metric), n in counts.items():
        owner = owners.get(row_id)
        if owner is not None:  # not (or no longer) one of this platform's credentials
            totals[(owner[0], owner[1], day, metric)] += n
    if not totals:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = AnalyticsDailyCountRow
    for (org_id, achievement_id, day, metric), n in sorted(totals.items()):
        statement = insert(row).values(
            org_id=org_id, achievement_id=achievement_id, day=day, metric=metric, count=n
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["org_id", "metric", "day", "achievement_id"],
                set_={"count": row.count + statement.excluded.count},
            )
        )


def _flush_in_background(counter: _Counter) -> None:
    threading.Thread(target=counter.flush, name="merito-analytics-flush", daemon=True).start()


def _record(platform: Platform, row_id: str, metric: str) -> None:
    counter = _counter(platform)
    day = platform.clock.now().astimezone(UTC).date()
    if counter.add((row_id, day, metric)):
        _flush_in_background(counter)


_prefixes: dict[str, str] = {}


def _own_row_id(platform: Platform, credential_id: object) -> str | None:
    if not isinstance(credential_id, str):
        return None
    prefix = _prefixes.get(platform.base_url)
    if prefix is None:
        prefix = _prefixes[platform.base_url] = platform.url("/credentials/")
    if not credential_id.startswith(prefix):
        return None
    row_id = credential_id[len(prefix) :]
    return row_id if len(row_id) == _ROW_ID_LENGTH else None


def record_verification(platform: Platform, report: VerificationReport) -> None:
    """Counts a public verification when it is of a credential this platform issued.

    Cheap (no I/O: a dictionary increment) and never raises: a verification must not fail or
    wait because it could not be counted."""
    try:
        credential = report.credential
        if not isinstance(credential, Mapping):
            return
        row_id = _own_row_id(platform, credential.get("id"))
        if row_id is not None:
            _record(platform, row_id, "verified")
    except Exception:  # pragma: no cover - counting is best effort by design
        log.exception("analytics: a verification was not counted")


def record_share(platform: Platform, credential_id: str | None) -> None:
    """Counts a share that leaves no share link (PDF certificate, baked image, presentation)
    of the credential ``credential_id`` (its id URI) when this platform issued it; never
    raises."""
    try:
        row_id = _own_row_id(platform, credential_id)
        if row_id is not None:
            _record(platform, row_id, "shared")
    except Exception:  # pragma: no cover - counting is best effort by design
        log.exception("analytics: a share was not counted")


def flush(platform: Platform) -> int:
    """Writes this platform's pending counts now (tests, shutdown, before a dashboard read)."""
    counter = _counters.get(platform.sessions)
    return counter.flush() if counter is not None else 0


@atexit.register
def _flush_all() -> None:
    for counter in list(_counters.values()):
        counter.flush(quiet=True)
