"""Outgoing webhooks: an organisation's subscriptions, the signed deliveries and their log.

Flow: a domain event (a ``webhook.*`` outbox message: ``credential.issued``, ``.revoked``,
``.suspended``, ``.unsuspended``, ``.claimed``, ``pathway.awarded``, ...) reaches ``on_event``
(a listener of ``merito.services.events``), which writes, in one transaction, one delivery row
and one ``delivery.webhook`` outbox message per enabled subscription whose filter takes the
event. The event id is the SHA-256 of the event's content, so a redelivered event fans out to
nothing new (unique (subscription, event)). The outbox worker hands each message to
``deliver``, which POSTs the event signed the Standard Webhooks way (headers ``webhook-id`` =
the delivery id, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``),
records the attempt (status code, time taken, error) and raises a transient DeliveryError on
anything but a 2xx answer: the outbox retries with exponential back-off and jitter, then
dead-letters. A manual redelivery queues the same delivery again (same ``webhook-id``, so the
receiver can drop a duplicate).

The POST goes through the platform's ``WebhookPoster`` (``merito.net.webhook_sender``): the
SSRF guard of the fetcher (private, loopback and link-local addresses refused unless
``MERITO_FETCH_ALLOW_PRIVATE`` or ``MERITO_FETCH_ALLOWED_HOSTS`` say otherwise), bounded in
time and in how much of the answer is read. A subscription URL is checked for its form when
saved (http(s), a host, no user information); the address guard applies on every POST, so a
host that later resolves to a private address is refused then.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.domain import integrations as rules_
from merito.domain.integrations import WebhookPoster
from merito.errors import Conflict, DeliveryError, FetchError, InvalidInput, NotFound
from merito.services.integrations import open_secret, seal_secret
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    enqueue,
    new_id,
)
from merito.storage.tables import OutboxRow
from merito.storage.tables_integrations import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)

__all__ = [
    "DELIVERY_TOPIC",
    "EVENTS",
    "AttemptView",
    "DeliveryView",
    "SubscriptionCreated",
    "SubscriptionFields",
    "SubscriptionView",
    "create_subscription",
    "deliver",
    "get_delivery",
    "list_deliveries",
    "list_subscriptions",
    "on_event",
    "redeliver",
    "rotate_subscription_secret",
    "update_subscription",
]

#: the outbox topic of one delivery (not ``webhook.*``: those are domain events)
DELIVERY_TOPIC: Final = "delivery.webhook"
#: the events a subscription can name (a prefix such as ``credential.*`` also works)
EVENTS: Final = (
    "credential.issued",
    "credential.revoked",
    "credential.suspended",
    "credential.unsuspended",
    "credential.claimed",
    "pathway.awarded",
)
_MAX_ERROR: Final = 1000


def _poster(platform: Platform) -> WebhookPoster:
    found = platform.extras.get("webhook_poster")
    if isinstance(found, WebhookPoster):
        return found
    if isinstance(platform.fetcher, WebhookPoster):
        return platform.fetcher
    raise DeliveryError("no webhook sender is configured", transient=True)


# --- subscriptions -----------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise InvalidInput(f"url is not a valid URL ({e})", property="url") from e
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        raise InvalidInput("url must be an http(s) URL without user information", property="url")
    if len(url) > 2000:
        raise InvalidInput("url is longer than 2000 characters", property="url")
    return url


def _check_events(events: Sequence[str]) -> list[str]:
    out: list[str] = []
    for event in events:
        event = event.strip()
        known = event in EVENTS or (
            event.endswith(".*") and any(e.startswith(event[:-1]) for e in EVENTS)
        )
        if not known:
            raise InvalidInput(
                f"unknown event {event!r}: use one of {', '.join(EVENTS)} or a prefix like "
                "'credential.*'",
                property="events",
            )
        if event not in out:
            out.append(event)
    return out


def _wants(events: Sequence[str], event: str) -> bool:
    if not events:
        return True
    return any(e == event or (e.endswith(".*") and event.startswith(e[:-1])) for e in events)


class SubscriptionFields(BaseModel):
    """An outgoing webhook; on update only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    events: list[str] | None = Field(
        default=None, max_length=20, description="Event names or prefixes; empty: every event."
    )
    enabled: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionView:
    id: str
    org_id: str
    url: str
    description: str
    events: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionCreated:
    subscription: SubscriptionView
    #: the signing secret (``whsec_...``), shown this once
    secret: str


def _sub_view(row: WebhookSubscriptionRow) -> SubscriptionView:
    return SubscriptionView(
        id=row.id,
        org_id=row.org_id,
        url=row.url,
        description=row.description,
        events=tuple(row.events),
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _own_sub(session: Session, *, org_id: str, subscription_id: str) -> WebhookSubscriptionRow:
    row = session.get(WebhookSubscriptionRow, subscription_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"subscription {subscription_id!r} not found", property="subscription_id")
    return row


def _seal_into(platform: Platform, row: WebhookSubscriptionRow) -> str:
    raw = secrets.token_bytes(32)
    sealed = seal_secret(platform, raw, org_id=row.org_id, row_id=row.id)
    row.secret_ciphertext, row.secret_nonce = sealed.ciphertext, sealed.nonce
    row.secret_key_id = sealed.master_key_id
    return rules_.encode_secret(raw)


def create_subscription(
    platform: Platform, actor: Actor, *, org_id: str, fields: SubscriptionFields
) -> SubscriptionCreated:
    if fields.url is None:
        raise InvalidInput("url is required", property="url")
    url = _check_url(fields.url)
    events = _check_events(fields.events or [])
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = WebhookSubscriptionRow(
            id=new_id(),
            org_id=org_id,
            url=url,
            description=(fields.description or "").strip(),
            events=events,
            enabled=True if fields.enabled is None else fields.enabled,
            created_at=now,
            updated_at=now,
        )
        secret = _seal_into(platform, row)
        session.add(row)
        audit(
            session,
            actor,
            action="integration.subscription_created",
            org_id=org_id,
            target=f"subscription:{row.id}",
            details={"url": url, "events": events},
        )
        session.flush()
        return SubscriptionCreated(subscription=_sub_view(row), secret=secret)


def list_subscriptions(platform: Platform, actor: Actor, *, org_id: str) -> list[SubscriptionView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(WebhookSubscriptionRow)
            .where(WebhookSubscriptionRow.org_id == org_id)
            .order_by(WebhookSubscriptionRow.created_at)
        ).all()
        return [_sub_view(row) for row in rows]


def update_subscription(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    subscription_id: str,
    fields: SubscriptionFields,
) -> SubscriptionView:
    """Changes the URL, description, events or enabled flag (disabling stops new deliveries;
    queued ones are skipped when their turn comes)."""
    url = _check_url(fields.url) if fields.url is not None else None
    events = _check_events(fields.events) if fields.events is not None else None
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_sub(session, org_id=org_id, subscription_id=subscription_id)
        changed: dict[str, Any] = {}
        if url is not None:
            row.url = changed["url"] = url
        if fields.description is not None:
            row.description = changed["description"] = fields.description.strip()
        if events is not None:
            row.events = events
            changed["events"] = events
        if fields.enabled is not None:
            row.enabled = changed["enabled"] = fields.enabled
        row.updated_at = platform.clock.now()
        audit(
            session,
            actor,
            action="integration.subscription_updated",
            org_id=org_id,
            target=f"subscription:{row.id}",
            details=changed,
        )
        session.flush()
        return _sub_view(row)


def rotate_subscription_secret(
    platform: Platform, actor: Actor, *, org_id: str, subscription_id: str
) -> SubscriptionCreated:
    """A new signing secret, used from the next attempt on."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_sub(session, org_id=org_id, subscription_id=subscription_id)
        secret = _seal_into(platform, row)
        row.updated_at = platform.clock.now()
        audit(
            session,
            actor,
            action="integration.subscription_secret_rotated",
            org_id=org_id,
            target=f"subscription:{row.id}",
        )
        session.flush()
        return SubscriptionCreated(subscription=_sub_view(row), secret=secret)


# --- fan-out -----------------------------------------------------------------------------------


def on_event(platform: Platform, payload: Mapping[str, Any]) -> None:
    """The ``events`` listener: one delivery per subscription that wants the event (once)."""
    event = payload.get("event")
    org_id = payload.get("org_id")
    if not isinstance(event, str) or not isinstance(org_id, str):
        return
    event_id = "evt_" + rules_.content_hash(dict(payload))[:40]
    try:
        with platform.transaction() as session:
            subs = session.scalars(
                select(WebhookSubscriptionRow).where(
                    WebhookSubscriptionRow.org_id == org_id,
                    WebhookSubscriptionRow.enabled.is_(True),
                )
            ).all()
            wanted = [s for s in subs if _wants(s.events, event)]
            if not wanted:
                return
            done = set(
                session.scalars(
                    select(WebhookDeliveryRow.subscription_id).where(
                        WebhookDeliveryRow.event_id == event_id,
                        WebhookDeliveryRow.subscription_id.in_([s.id for s in wanted]),
                    )
                )
            )
            for sub in wanted:
                if sub.id in done:
                    continue
                delivery_id = new_id()
                key = f"{DELIVERY_TOPIC}:{delivery_id}:0"
                session.add(
                    WebhookDeliveryRow(
                        id=delivery_id,
                        org_id=org_id,
                        subscription_id=sub.id,
                        event_id=event_id,
                        event_type=event,
                        payload=dict(payload),
                        outbox_key=key,
                        attempts=0,
                        created_at=platform.clock.now(),
                    )
                )
                enqueue(
                    session,
                    topic=DELIVERY_TOPIC,
                    payload={"delivery_id": delivery_id},
                    idempotency_key=key,
                    org_id=org_id,
                    available_at=platform.clock.now(),
                )
    except Conflict:
        # another worker fanned the same event out concurrently: its rows stand
        return


# --- delivery ----------------------------------------------------------------------------------


def _body(delivery: WebhookDeliveryRow, sent_at: datetime) -> bytes:
    data = {k: v for k, v in delivery.payload.items() if k != "event"}
    document = {
        "id": delivery.event_id,
        "type": delivery.event_type,
        "timestamp": sent_at.isoformat(),
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def deliver(platform: Platform, payload: Mapping[str, Any]) -> None:
    """The ``delivery.webhook`` outbox handler: one signed POST, logged as an attempt."""
    delivery_id = payload.get("delivery_id")
    if not isinstance(delivery_id, str):
        raise InvalidInput("a webhook delivery message needs its delivery_id")
    with platform.reading() as session:
        delivery = session.get(WebhookDeliveryRow, delivery_id)
        if delivery is None:
            return  # the subscription (and its deliveries) was deleted: nothing to send
        sub = session.get(WebhookSubscriptionRow, delivery.subscription_id)
        if sub is None or not sub.enabled:
            _record(platform, delivery_id, status=None, ms=0, error="subscription disabled")
            return
        secret = open_secret(
            platform,
            ciphertext=sub.secret_ciphertext,
            nonce=sub.secret_nonce,
            key_id=sub.secret_key_id,
            org_id=sub.org_id,
            row_id=sub.id,
        )
        url = sub.url
        now = platform.clock.now()
        body = _body(delivery, now)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": rules_.sign_webhook(
            secret, msg_id=delivery_id, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    try:
        answer = _poster(platform).post(url, body=body, headers=headers)
    except FetchError as e:
        ms = int((time.monotonic() - started) * 1000)
        _record(platform, delivery_id, status=None, ms=ms, error=e.message)
        raise DeliveryError(e.message, transient=True) from e
    ms = int((time.monotonic() - started) * 1000)
    if 200 <= answer.status < 300:
        _record(platform, delivery_id, status=answer.status, ms=ms, error=None)
        return
    excerpt = answer.body[:200].decode("utf-8", "replace")
    error = f"HTTP {answer.status} from the receiver" + (f": {excerpt}" if excerpt else "")
    _record(platform, delivery_id, status=answer.status, ms=ms, error=error)
    raise DeliveryError(error, transient=True)


def _record(
    platform: Platform, delivery_id: str, *, status: int | None, ms: int, error: str | None
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        delivery = session.get(WebhookDeliveryRow, delivery_id)
        if delivery is None:
            return
        session.add(
            WebhookAttemptRow(
                delivery_id=delivery_id,
                org_id=delivery.org_id,
                attempted_at=now,
                status_code=status,
                duration_ms=ms,
                error=error[:_MAX_ERROR] if error else None,
            )
        )
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_error = error[:_MAX_ERROR] if error else None
        if error is None:
            delivery.delivered_at = now


# --- the delivery log --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptView:
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryView:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    #: pending (waiting for an attempt or a retry), delivered or failed (no more retries)
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_retry_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    history: tuple[AttemptView, ...] = ()


def _delivery_view(
    row: WebhookDeliveryRow, outbox: OutboxRow | None, history: Sequence[WebhookAttemptRow] = ()
) -> DeliveryView:
    if outbox is None or outbox.delivered_at is not None:
        state = "delivered" if row.delivered_at is not None else "skipped"
        next_retry = None
    elif outbox.dead_at is not None:
        state, next_retry = "failed", None
    else:
        state, next_retry = "pending", outbox.available_at
    if row.delivered_at is not None and state != "pending":
        state = "delivered"
    return DeliveryView(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=state,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        next_retry_at=next_retry,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        history=tuple(
            AttemptView(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                duration_ms=a.duration_ms,
                error=a.error,
            )
            for a in history
        ),
    )


def list_deliveries(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    subscription_id: str | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """The newest deliveries first, with their state and next retry."""
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        query = select(WebhookDeliveryRow, OutboxRow).outerjoin(
            OutboxRow, OutboxRow.idempotency_key == WebhookDeliveryRow.outbox_key
        )
        query = query.where(WebhookDeliveryRow.org_id == org_id)
        if subscription_id is not None:
            query = query.where(WebhookDeliveryRow.subscription_id == subscription_id)
        rows = session.execute(
            query.order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id).limit(limit)
        ).all()
        return [_delivery_view(d, o) for d, o in rows]


def _own_delivery(session: Session, *, org_id: str, delivery_id: str) -> WebhookDeliveryRow:
    row = session.get(WebhookDeliveryRow, delivery_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"delivery {delivery_id!r} not found", property="delivery_id")
    return row


def get_delivery(
    platform: Platform, actor: Actor, *, org_id: str, delivery_id: str
) -> DeliveryView:
    """One delivery with every attempt (oldest first)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_delivery(session, org_id=org_id, delivery_id=delivery_id)
        outbox = session.scalar(
            select(OutboxRow).where(OutboxRow.idempotency_key == row.outbox_key)
        )
        history = session.scalars(
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id == row.id)
            .order_by(WebhookAttemptRow.id)
        ).all()
        return _delivery_view(row, outbox, history)


def redeliver(platform: Platform, actor: Actor, *, org_id: str, delivery_id: str) -> DeliveryView:
    """Sends the delivery again now (same ``webhook-id``), whatever became of it; a delivery
    still waiting for its turn is a Conflict (it would go out twice at once)."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_delivery(session, org_id=org_id, delivery_id=delivery_id)
        outbox = session.scalar(
            select(OutboxRow).where(OutboxRow.idempotency_key == row.outbox_key)
        )
        if outbox is not None and outbox.delivered_at is None and outbox.dead_at is None:
            raise Conflict(
                "this delivery is still queued: wait for its attempt or its retry",
                property="delivery_id",
            )
        key = f"{DELIVERY_TOPIC}:{row.id}:{new_id()}"
        enqueue(
            session,
            topic=DELIVERY_TOPIC,
            payload={"delivery_id": row.id},
            idempotency_key=key,
            org_id=org_id,
            available_at=platform.clock.now(),
        )
        row.outbox_key = key
        audit(
            session,
            actor,
            action="integration.webhook_redelivered",
            org_id=org_id,
            target=f"delivery:{row.id}",
            details={"event": row.event_type, "attempts": row.attempts},
        )
        session.flush()
        fresh = session.scalar(select(OutboxRow).where(OutboxRow.idempotency_key == key))
        return _delivery_view(row, fresh)
