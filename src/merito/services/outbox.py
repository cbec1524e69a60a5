"""The outbox worker: claims due messages, runs their topic's handler, then retries or gives up.

Messages are written by ``merito.services.platform.enqueue`` in the transaction of their cause.
``deliver_due`` works in three short steps, so no database transaction is open while a
handler talks to the network:

1. **claim**: one ``UPDATE ... RETURNING`` gives up to ``limit`` due messages a lease
   (``claimed_by``, ``claimed_until``) and counts the attempt. On PostgreSQL the candidate
   rows are picked with ``FOR UPDATE SKIP LOCKED``, so concurrent workers never wait for or
   take each other's rows; SQLite serialises writers, and the statement re-checks that each
   row is still unclaimed. A worker that dies keeps its lease only until ``claimed_until``:
   then any worker reclaims the message (crash safety).
2. **handle**: the topic's handler runs (an email is sent through ``platform.mailer``).
3. **settle**: the message is marked delivered, or scheduled again with exponential back-off
   and jitter, or dead-lettered (a permanent error, or ``max_attempts`` reached) with its
   ``last_error`` kept for the admin who may retry it (``retry_delivery``).

Delivery is at least once: a crash between the send and step 3 sends the message again when
the lease expires. Every email carries its idempotency key (header ``Merito-Idempotency-Key``
and a Message-ID derived from it), so the receiving side can drop the duplicate.

Topics with no registered handler (``ledger.leaf``: the sealer reads those rows itself)
are never claimed: they stay pending, untouched, and the worker logs how many are waiting.
Delivery is not a user mutation, so it is logged (logger ``merito.outbox``), not audited; an
admin's retry is audited.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import Session

from merito.domain.ports import OutgoingEmail
from merito.errors import Conflict, DeliveryError, InvalidInput, MeritoError, NotFound
from merito.services import anchoring, events, webhooks_out
from merito.services.platform import Actor, Permission, Platform, audit, authorize
from merito.storage.tables_delivery import DELIVERY_STATES, DeliveryState, OutboxRow, state_filter

__all__ = [
    "DEFAULT_HANDLERS",
    "DEFAULT_LEASE",
    "DELIVERY_STATES",
    "ClaimedMessage",
    "Delivery",
    "DeliveryState",
    "DeliveryStats",
    "Handler",
    "HandlerRegistry",
    "RetryPolicy",
    "claim_due",
    "default_worker_id",
    "deliver_due",
    "get_delivery",
    "list_deliveries",
    "retry_delivery",
    "run_worker",
    "send_email",
    "unhandled_topics",
]

log = logging.getLogger("merito.outbox")

#: a handler delivers one message; it raises DeliveryError(transient=...) when it cannot
Handler = Callable[[Platform, Mapping[str, Any]], None]

#: how long a claim lasts: far longer than one handler may take (SMTP: a few timeouts)
DEFAULT_LEASE: Final = timedelta(minutes=5)
#: how often the worker logs the topics it leaves pending for want of a handler
UNHANDLED_REPORT_SECONDS: Final = 600.0
#: a claimed message is only handled while this much of its lease is left
_LEASE_MARGIN: Final = 0.2
_MAX_ERROR_CHARS: Final = 2000


# --- handlers ------------------------------------------------------------------------------------


class HandlerRegistry:
    """Topic -> handler. A pattern is an exact topic (``ledger.leaf``) or a prefix (``email.*``);
    an exact match wins over a prefix, a longer prefix over a shorter one."""

    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._prefixes: dict[str, Handler] = {}

    def register(self, pattern: str, handler: Handler) -> None:
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            if not prefix.strip(".") or "*" in prefix:
                raise InvalidInput(f"topic pattern {pattern!r} is not valid", property="pattern")
            self._prefixes[prefix] = handler
        elif not pattern or "*" in pattern:
            raise InvalidInput(
                f"topic pattern {pattern!r}: use an exact topic or a 'prefix.*'",
                property="pattern",
            )
        else:
            self._exact[pattern] = handler

    def handler_for(self, topic: str) -> Handler | None:
        if topic in self._exact:
            return self._exact[topic]
        matches = [p for p in self._prefixes if topic.startswith(p)]
        return self._prefixes[max(matches, key=len)] if matches else None

    def handles(self, column: Any) -> ColumnElement[bool]:
        """SQL: the ``column`` (a topic) has a handler here."""
        conditions: list[ColumnElement[bool]] = []
        if self._exact:
            conditions.append(column.in_(sorted(self._exact)))
        conditions.extend(column.startswith(p, autoescape=True) for p in sorted(self._prefixes))
        return or_(*conditions) if conditions else false()

    def copy(self) -> HandlerRegistry:
        clone = HandlerRegistry()
        clone._exact = dict(self._exact)
        clone._prefixes = dict(self._prefixes)
        return clone


def send_email(platform: Platform, payload: Mapping[str, Any]) -> None:
    """Handler for ``email.*``: the payload holds ``OutgoingEmail``'s fields."""
    try:
        email = OutgoingEmail(
            to=payload["to"],
            subject=payload["subject"],
            text=payload["text"],
            idempotency_key=payload["idempotency_key"],
            html=payload.get("html"),
            headers=dict(payload.get("headers") or {}),
        )
    except KeyError as e:
        raise DeliveryError(f"email payload lacks {e.args[0]!r}", transient=False) from e
    except (InvalidInput, TypeError, AttributeError) as e:
        raise DeliveryError(f"email payload is not a valid email: {e}", transient=False) from e
    platform.mailer.send(email)


#: what ``merito serve`` and ``merito worker`` deliver; later areas register their topics here
DEFAULT_HANDLERS: Final = HandlerRegistry()
DEFAULT_HANDLERS.register("email.*", send_email)
DEFAULT_HANDLERS.register(anchoring.ANCHOR_TOPIC, anchoring.anchor_batch)
DEFAULT_HANDLERS.register(anchoring.CONFIRM_TOPIC, anchoring.confirm_anchor)
DEFAULT_HANDLERS.register("webhook.*", events.dispatch)  # domain events -> listeners
DEFAULT_HANDLERS.register(webhooks_out.DELIVERY_TOPIC, webhooks_out.deliver)  # outgoing webhooks


# --- retry policy --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential back-off with jitter: after attempt n the message waits
    ``min(base * 2**(n-1), cap)`` shortened by up to ``jitter`` of itself (so workers that
    failed together do not retry together); it dies after ``max_attempts``."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 10
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1", property="max_attempts")
        if not 0 <= self.jitter < 1:
            raise InvalidInput("jitter must be in [0, 1)", property="jitter")

    def nominal_delay(self, attempts: int) -> timedelta:
        exponent = min(max(attempts - 1, 0), 32)  # 2**32 * base is past any cap
        return min(self.base * (1 << exponent), self.cap)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        return self.nominal_delay(attempts) * (1 - self.jitter * rng.random())


# --- the worker ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ClaimedMessage:
    id: int
    org_id: str | None
    topic: str
    payload: Mapping[str, Any]
    idempotency_key: str
    #: attempts including this one
    attempts: int
    claimed_until: datetime


@dataclass(kw_only=True)
class DeliveryStats:
    """What one ``deliver_due`` call did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    #: claimed but handed back unhandled (stop requested, or the lease ran short)
    released: int = 0


def default_worker_id() -> str:
    """Unique per worker: host, process and a random suffix (two threads never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimable(now: datetime, handlers: HandlerRegistry) -> ColumnElement[bool]:
    return (
        OutboxRow.delivered_at.is_(None)
        & OutboxRow.dead_at.is_(None)
        & (OutboxRow.available_at <= now)
        & (OutboxRow.claimed_until.is_(None) | (OutboxRow.claimed_until <= now))
        & handlers.handles(OutboxRow.topic)
    )


def claim_due(
    platform: Platform,
    *,
    worker_id: str,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    handlers: HandlerRegistry = DEFAULT_HANDLERS,
) -> list[ClaimedMessage]:
    """Step 1 of ``deliver_due``: leases up to ``limit`` due messages to ``worker_id``."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", property="limit")
    now = platform.clock.now()
    until = now + lease
    with platform.transaction() as session:
        candidates = (
            select(OutboxRow.id)
            .where(_claimable(now, handlers))
            .order_by(OutboxRow.available_at, OutboxRow.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # concurrent workers skip each other's rows instead of queueing behind them
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(OutboxRow)
            # re-checked on the row itself: on SQLite another worker may have claimed it
            # between our snapshot and our write lock; PostgreSQL re-evaluates it on a
            # concurrently updated row too
            .where(OutboxRow.id.in_(candidates), _claimable(now, handlers))
            .values(claimed_by=worker_id, claimed_until=until, attempts=OutboxRow.attempts + 1)
            .returning(
                OutboxRow.id,
                OutboxRow.org_id,
                OutboxRow.topic,
                OutboxRow.payload,
                OutboxRow.idempotency_key,
                OutboxRow.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(statement).all()
    claimed = [
        ClaimedMessage(
            id=row.id,
            org_id=row.org_id,
            topic=row.topic,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
            claimed_until=until,
        )
        for row in rows
    ]
    claimed.sort(key=lambda m: m.id)
    return claimed


def deliver_due(
    platform: Platform,
    *,
    worker_id: str,
    limit: int = 100,
    handlers: HandlerRegistry = DEFAULT_HANDLERS,
    policy: RetryPolicy | None = None,
    lease: timedelta = DEFAULT_LEASE,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
) -> DeliveryStats:
    """Delivers up to ``limit`` due messages: claim, handle each, settle each (see module doc).

    Safe to run from several threads and processes at once. ``stop`` (set on shutdown) ends
    the batch after the current message and hands the rest back at once.
    """
    policy = policy or RetryPolicy()
    rng = rng or random.Random()  # noqa: S311 - jitter spreads retries; it guards nothing
    stats = DeliveryStats()
    claimed = claim_due(platform, worker_id=worker_id, limit=limit, lease=lease, handlers=handlers)
    stats.claimed = len(claimed)
    for position, message in enumerate(claimed):
        margin = lease * _LEASE_MARGIN
        if (stop is not None and stop.is_set()) or platform.clock.now() >= (
            message.claimed_until - margin
        ):
            stats.released += _release(platform, claimed[position:], worker_id=worker_id)
            break
        outcome = _handle(platform, message, handlers=handlers, worker_id=worker_id)
        if outcome is None:
            _settle_delivered(platform, message, worker_id=worker_id)
            stats.delivered += 1
            continue
        error, transient = outcome
        if transient and message.attempts < policy.max_attempts:
            retry_at = platform.clock.now() + policy.delay(message.attempts, rng)
            _settle_retry(platform, message, worker_id=worker_id, error=error, retry_at=retry_at)
            stats.retried += 1
        else:
            _settle_dead(platform, message, worker_id=worker_id, error=error, transient=transient)
            stats.dead += 1
    return stats


def _handle(
    platform: Platform, message: ClaimedMessage, *, handlers: HandlerRegistry, worker_id: str
) -> tuple[str, bool] | None:
    """Runs the handler; None on success, else (error text, transient?)."""
    handler = handlers.handler_for(message.topic)
    if handler is None:  # pragma: no cover - claim_due only claims handled topics
        return f"no handler for topic {message.topic!r}", True
    try:
        handler(platform, message.payload)
    except DeliveryError as e:
        return e.message, e.transient
    except MeritoError as e:
        # a payload the handler refuses will be refused on every attempt
        return f"{type(e).__name__}: {e.message}", False
    except Exception as e:
        # a bug, or a library error nobody wrapped: retry (a fix may be deployed), bounded
        # by max_attempts, and keep the traceback in the log
        log.exception(
            "outbox: handler crashed id=%s topic=%s attempt=%d worker=%s",
            message.id,
            message.topic,
            message.attempts,
            worker_id,
            extra=_fields(message, worker_id),
        )
        return f"{type(e).__name__}: {e}", True
    return None


def _fields(message: ClaimedMessage, worker_id: str, **more: Any) -> dict[str, Any]:
    """Structured log fields (``extra``): a JSON formatter emits them as they are."""
    return {
        "outbox_id": message.id,
        "topic": message.topic,
        "org_id": message.org_id,
        "attempt": message.attempts,
        "worker": worker_id,
        **more,
    }


def _mine(message: ClaimedMessage, worker_id: str) -> ColumnElement[bool]:
    return (
        (OutboxRow.id == message.id)
        & (OutboxRow.claimed_by == worker_id)
        & OutboxRow.delivered_at.is_(None)
    )


def _settle_delivered(platform: Platform, message: ClaimedMessage, *, worker_id: str) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        # whoever holds the lease now, the message did go out: record it (a worker that
        # reclaimed it after our lease expired will find it delivered and do nothing)
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == message.id, OutboxRow.delivered_at.is_(None))
            .values(delivered_at=now, claimed_by=None, claimed_until=None, dead_at=None)
            .execution_options(synchronize_session=False)
        )
    log.info(
        "outbox: delivered id=%s topic=%s attempt=%d worker=%s",
        message.id,
        message.topic,
        message.attempts,
        worker_id,
        extra=_fields(message, worker_id, outcome="delivered"),
    )


def _error_text(message: ClaimedMessage, error: str) -> str:
    return f"attempt {message.attempts}: {error}"[:_MAX_ERROR_CHARS]


def _settle_retry(
    platform: Platform,
    message: ClaimedMessage,
    *,
    worker_id: str,
    error: str,
    retry_at: datetime,
) -> None:
    with platform.transaction() as session:
        result = session.execute(
            update(OutboxRow)
            .where(_mine(message, worker_id))
            .values(
                available_at=retry_at,
                last_error=_error_text(message, error),
                claimed_by=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
    if _rowcount(result) == 0:
        _lease_lost(message, worker_id)
        return
    log.warning(
        "outbox: retry id=%s topic=%s attempt=%d at=%s worker=%s error=%s",
        message.id,
        message.topic,
        message.attempts,
        retry_at.isoformat(),
        worker_id,
        error,
        extra=_fields(message, worker_id, outcome="retry", retry_at=retry_at.isoformat()),
    )


def _settle_dead(
    platform: Platform,
    message: ClaimedMessage,
    *,
    worker_id: str,
    error: str,
    transient: bool,
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        result = session.execute(
            update(OutboxRow)
            .where(_mine(message, worker_id))
            .values(
                dead_at=now,
                last_error=_error_text(message, error),
                claimed_by=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )
    if _rowcount(result) == 0:
        _lease_lost(message, worker_id)
        return
    reason = "too many attempts" if transient else "permanent error"
    log.error(
        "outbox: dead letter id=%s topic=%s attempt=%d (%s) worker=%s error=%s",
        message.id,
        message.topic,
        message.attempts,
        reason,
        worker_id,
        error,
        extra=_fields(message, worker_id, outcome="dead", reason=reason),
    )


def _release(platform: Platform, messages: list[ClaimedMessage], *, worker_id: str) -> int:
    """Hands claimed, unhandled messages back at once (the attempt did not happen)."""
    ids = [m.id for m in messages]
    with platform.transaction() as session:
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(ids),
                OutboxRow.claimed_by == worker_id,
                OutboxRow.delivered_at.is_(None),
            )
            .values(claimed_by=None, claimed_until=None, attempts=OutboxRow.attempts - 1)
            .execution_options(synchronize_session=False)
        )
    released = _rowcount(result)
    log.info("outbox: released %d claimed message(s) unhandled worker=%s", released, worker_id)
    return released


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


def _lease_lost(message: ClaimedMessage, worker_id: str) -> None:
    log.warning(
        "outbox: lease lost id=%s topic=%s worker=%s (another worker reclaimed it)",
        message.id,
        message.topic,
        worker_id,
        extra=_fields(message, worker_id, outcome="lease-lost"),
    )


def unhandled_topics(
    platform: Platform, handlers: HandlerRegistry = DEFAULT_HANDLERS
) -> dict[str, int]:
    """Pending messages no handler here takes (they are never claimed), counted by topic."""
    with platform.reading() as session:
        rows = session.execute(
            select(OutboxRow.topic, func.count())
            .where(
                OutboxRow.delivered_at.is_(None),
                OutboxRow.dead_at.is_(None),
                ~handlers.handles(OutboxRow.topic),
            )
            .group_by(OutboxRow.topic)
        ).all()
    return {topic: int(count) for topic, count in rows}


def _report_unhandled(platform: Platform, handlers: HandlerRegistry, worker_id: str) -> None:
    try:
        waiting = unhandled_topics(platform, handlers)
    except Exception:  # only a report: the next round will tell whether the database is back
        log.warning("outbox: could not count unhandled topics", exc_info=True)
        return
    for topic, count in sorted(waiting.items()):
        log.info(
            "outbox: %d pending message(s) for topic %s: no handler registered, "
            "left pending worker=%s",
            count,
            topic,
            worker_id,
            extra={"topic": topic, "pending": count, "worker": worker_id},
        )


def run_worker(
    platform: Platform,
    *,
    stop: threading.Event,
    poll_interval: float = 1.0,
    worker_id: str | None = None,
    limit: int = 100,
    handlers: HandlerRegistry = DEFAULT_HANDLERS,
    policy: RetryPolicy | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> None:
    """Delivers until ``stop`` is set: a full batch goes on at once, otherwise it waits
    ``poll_interval`` seconds. A database outage is logged and waited out (growing pauses,
    at most a minute); the loop itself never dies of it."""
    if poll_interval <= 0:
        raise InvalidInput("poll_interval must be positive", property="poll_interval")
    worker_id = worker_id or default_worker_id()
    rng = random.Random()  # noqa: S311 - jitter spreads retries; it guards nothing
    failures = 0
    next_report = 0.0  # time.monotonic() of the next look at unhandled topics
    log.info("outbox: worker started worker=%s", worker_id, extra={"worker": worker_id})
    while not stop.is_set():
        try:
            stats = deliver_due(
                platform,
                worker_id=worker_id,
                limit=limit,
                handlers=handlers,
                policy=policy,
                lease=lease,
                rng=rng,
                stop=stop,
            )
        except Exception:
            failures += 1
            pause = min(poll_interval * 2**failures, 60.0)
            log.exception(
                "outbox: delivery round failed; next try in %.1fs worker=%s",
                pause,
                worker_id,
                extra={"worker": worker_id},
            )
            stop.wait(pause)
            continue
        failures = 0
        if time.monotonic() >= next_report:
            # a count over every waiting message: not on every poll
            next_report = time.monotonic() + UNHANDLED_REPORT_SECONDS
            _report_unhandled(platform, handlers, worker_id)
        if stats.claimed < limit:
            stop.wait(poll_interval)
    log.info("outbox: worker stopped worker=%s", worker_id, extra={"worker": worker_id})


# --- admin visibility ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """An outbox message as an admin sees it. The payload is not shown: it holds the
    recipient's address and claim link, which the admin does not need to diagnose delivery."""

    id: int
    org_id: str | None
    topic: str
    state: DeliveryState
    attempts: int
    last_error: str | None
    created_at: datetime
    available_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    idempotency_key: str


def _state(row: OutboxRow) -> DeliveryState:
    if row.delivered_at is not None:
        return "delivered"
    return "dead" if row.dead_at is not None else "pending"


def _view(row: OutboxRow) -> Delivery:
    return Delivery(
        id=row.id,
        org_id=row.org_id,
        topic=row.topic,
        state=_state(row),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        available_at=row.available_at,
        delivered_at=row.delivered_at,
        dead_at=row.dead_at,
        idempotency_key=row.idempotency_key,
    )


def list_deliveries(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    state: DeliveryState = "dead",
    limit: int = 50,
    before_id: int | None = None,
) -> list[Delivery]:
    """The organisation's outbox messages in ``state``, newest first (page with ``before_id``)."""
    if state not in DELIVERY_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(DELIVERY_STATES)}, not {state!r}", property="state"
        )
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        query = select(OutboxRow).where(OutboxRow.org_id == org_id, state_filter(state))
        if before_id is not None:
            query = query.where(OutboxRow.id < before_id)
        rows = session.scalars(query.order_by(OutboxRow.id.desc()).limit(limit)).all()
        return [_view(row) for row in rows]


def _own_row(session: Session, *, org_id: str, delivery_id: int) -> OutboxRow:
    row = session.get(OutboxRow, delivery_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"delivery {delivery_id} not found", property="delivery_id")
    return row


def get_delivery(platform: Platform, actor: Actor, *, org_id: str, delivery_id: int) -> Delivery:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        return _view(_own_row(session, org_id=org_id, delivery_id=delivery_id))


def retry_delivery(platform: Platform, actor: Actor, *, org_id: str, delivery_id: int) -> Delivery:
    """Makes a dead letter (or a pending message waiting for its back-off) due now, with a
    fresh attempt budget. A delivered message is a Conflict: it would be sent twice."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_row(session, org_id=org_id, delivery_id=delivery_id)
        before = _state(row)
        if before == "delivered":
            raise Conflict(
                f"delivery {delivery_id} was already delivered; retrying would send it twice",
                property="state",
            )
        row.dead_at = None
        row.attempts = 0
        row.available_at = now
        audit(
            session,
            actor,
            action="delivery.retry",
            org_id=org_id,
            target=f"outbox:{delivery_id}",
            at=now,
            details={"topic": row.topic, "state": before, "last_error": row.last_error},
        )
        session.flush()
        return _view(row)
