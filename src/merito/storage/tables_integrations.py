"""Integrations tables (migration 0014).

Inbound webhook endpoints and their events, xAPI clients and statements, LTI 1.3 platforms,
logins and launches, the award rules all three share, and outgoing webhook subscriptions with
their deliveries and attempts. Secrets that Merito must use again (HMAC keys) are sealed by the
key store (AES-256-GCM under the master key); xAPI client secrets are only ever compared, so
only their SHA-256 is kept (they are 32 random bytes: no dictionary to guess from).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, BigId, JsonDocument, utcnow

__all__ = [
    "EVENT_STATUSES",
    "RULE_SOURCES",
    "InboundEndpointRow",
    "InboundEventRow",
    "IntegrationRuleRow",
    "LtiLaunchRow",
    "LtiLoginRow",
    "LtiPlatformRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookSubscriptionRow",
    "XapiClientRow",
    "XapiStatementRow",
]

RULE_SOURCES: Final = ("webhook", "xapi", "lti")
#: what became of an inbound event or statement: still to award, awarded, nothing matched
EVENT_STATUSES: Final = ("received", "awarded", "unmatched", "failed")

_ORG = "organisations.id"


def _org() -> Mapped[str]:
    return mapped_column(ForeignKey(_ORG, ondelete="CASCADE"), index=True)


class _Sealed:
    """A secret sealed by the key store: ciphertext, nonce and the master key's id."""

    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str] = mapped_column(String(32))


class InboundEndpointRow(_Sealed, Base):
    """Where one learning platform posts its signed events (``/webhooks/inbound/{id}``)."""

    __tablename__ = "inbound_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the secret before the last rotation, still accepted until ``previous_until``
    previous_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_key_id: Mapped[str | None] = mapped_column(String(32))
    previous_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntegrationRuleRow(Base):
    """An award rule: an event (webhook type, xAPI verb IRI or ``lti.launch``) on an activity,
    with an optional minimum score, issues an achievement. ``source_id`` narrows it to one
    endpoint, xAPI client or LTI platform (None: any of the organisation's)."""

    __tablename__ = "integration_rules"
    __table_args__ = (
        CheckConstraint("source IN ('webhook', 'xapi', 'lti')", name="source"),
        Index(None, "org_id", "source", "trigger"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey(_ORG, ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(String(36))
    trigger: Mapped[str] = mapped_column(String(500))
    activity_id: Mapped[str | None] = mapped_column(String(2000))
    min_score: Mapped[float | None] = mapped_column(Float)
    achievement_id: Mapped[str] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundEventRow(Base):
    """One event an endpoint accepted, stored once per ``webhook-id`` (replay protection)."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint("status IN ('received', 'awarded', 'unmatched', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("inbound_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="received")
    credential_ids: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class XapiClientRow(Base):
    """An LRS client (HTTP Basic: ``key`` / secret) that posts statements for one organisation."""

    __tablename__ = "xapi_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class XapiStatementRow(Base):
    """A stored statement: once per organisation and statement id (xAPI §2.4.1)."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        UniqueConstraint("org_id", "statement_id"),
        CheckConstraint("status IN ('received', 'awarded', 'unmatched', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey(_ORG, ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("xapi_clients.id", ondelete="CASCADE"), index=True
    )
    statement_id: Mapped[str] = mapped_column(String(36))
    content_sha256: Mapped[str] = mapped_column(String(64))
    verb: Mapped[str] = mapped_column(String(2000))
    activity_id: Mapped[str] = mapped_column(String(2000))
    actor: Mapped[str] = mapped_column(String(2000))
    score: Mapped[float | None] = mapped_column(Float)
    statement: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="received")
    credential_ids: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiPlatformRow(Base):
    """An LMS registered to launch Merito as an LTI 1.3 tool."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    deployment_ids: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
    #: a JWKS given inline at registration (used instead of fetching ``jwks_url``)
    jwks: Mapped[dict[str, Any] | None]
    #: the last JWKS fetched from ``jwks_url``, and when
    jwks_cache: Mapped[dict[str, Any] | None]
    jwks_fetched_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLoginRow(Base):
    """An OIDC login in flight: its ``state`` and ``nonce``, each usable once."""

    __tablename__ = "lti_logins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform_id: Mapped[str] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    target_link_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LtiLaunchRow(Base):
    """A validated launch; an instructor's carries a short-lived award token (its SHA-256)."""

    __tablename__ = "lti_launches"
    __table_args__ = (UniqueConstraint("platform_id", "nonce"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    platform_id: Mapped[str] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    deployment_id: Mapped[str] = mapped_column(String(500))
    resource_link_id: Mapped[str] = mapped_column(String(500))
    context_id: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320))
    roles: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    credential_ids: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    launched_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscriptionRow(_Sealed, Base):
    """An organisation's outgoing webhook: its URL, the events it wants, its signing secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = _org()
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    #: event names (``credential.issued``) or prefixes (``credential.*``); empty: every event
    events: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDeliveryRow(Base):
    """One event for one subscription (sent as ``webhook-id`` = ``id``), once per event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index(None, "org_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey(_ORG, ondelete="CASCADE"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    #: the outbox message that sends it now (a manual redelivery queues a new one)
    outbox_key: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttemptRow(Base):
    """One POST of a delivery: when, the HTTP status (None: no answer), time taken, error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey(_ORG, ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
