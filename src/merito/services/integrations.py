"""Learning-platform integrations: inbound webhooks and xAPI statements that award achievements
by issuer-defined rules, and the management of endpoints, rules and xAPI clients.

Every inbound path is idempotent. An event is stored once per (endpoint, ``webhook-id``) and a
statement once per (organisation, statement id) before anything is awarded; each award is an
``issue_credential`` call whose idempotency key is derived from the learner's email and the
rule, so the same event twice, a retry after a crash, two deliveries racing each other, or a
second completion of the same activity issue one credential (a learner earns a rule's badge
once). An event whose awarding did not finish (status ``received``) is awarded
again when it is redelivered; an event nothing matches is stored as ``unmatched``.

Awards are made by an integration actor: an org-bound machine principal (``api_key`` kind,
id ``integration/<source>/<id>``) scoped to ``credentials:issue`` only, so the audit log says
which endpoint, client or platform issued a credential.

LTI 1.3 lives in ``merito.services.lti`` and outgoing webhooks in
``merito.services.webhooks_out``; they share the rules and the award step kept here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.domain import integrations as rules_
from merito.domain.integrations import RuleSpec, Trigger, XapiStatement
from merito.domain.ports_storage import SealedSecret
from merito.errors import Conflict, InvalidInput, MeritoError, NotFound, Unauthenticated
from merito.formats.json_depth import too_deep
from merito.services import credentials
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    new_id,
    org_or_404,
)
from merito.storage.tables import AchievementRow
from merito.storage.tables_integrations import (
    InboundEndpointRow,
    InboundEventRow,
    IntegrationRuleRow,
    LtiPlatformRow,
    XapiClientRow,
    XapiStatementRow,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "ROTATION_GRACE",
    "EndpointCreated",
    "EndpointView",
    "InboundEventView",
    "RuleFields",
    "RuleView",
    "XapiClientCreated",
    "XapiClientView",
    "XapiResult",
    "award",
    "create_endpoint",
    "create_rule",
    "create_xapi_client",
    "delete_rule",
    "get_statement",
    "integration_actor",
    "list_endpoints",
    "list_events",
    "list_rules",
    "list_statements",
    "list_xapi_clients",
    "open_secret",
    "receive_webhook",
    "record_statements",
    "rotate_endpoint_secret",
    "rule_specs",
    "seal_secret",
    "set_endpoint_enabled",
    "set_xapi_client_enabled",
    "xapi_client",
]

#: an inbound webhook body or an xAPI request larger than this is refused
MAX_EVENT_BYTES: Final = 256 * 1024
#: how long the secret before a rotation is still accepted (the platform switches over)
ROTATION_GRACE: Final = timedelta(hours=24)
MAX_STATEMENTS: Final = 100
_SECRET_PURPOSE: Final = "integration-secret"  # noqa: S105 - a sealing purpose, not a secret
Source = Literal["webhook", "xapi", "lti"]


# --- shared: secrets, actor, rules, awarding --------------------------------------------------


def seal_secret(platform: Platform, raw: bytes, *, org_id: str, row_id: str) -> SealedSecret:
    return platform.keystore.seal(raw, context=[_SECRET_PURPOSE, org_id, row_id])


def open_secret(
    platform: Platform, *, ciphertext: bytes, nonce: bytes, key_id: str, org_id: str, row_id: str
) -> bytes:
    sealed = SealedSecret(ciphertext=ciphertext, nonce=nonce, master_key_id=key_id)
    return platform.keystore.unseal(sealed, context=[_SECRET_PURPOSE, org_id, row_id])


def integration_actor(org_id: str, source: Source, source_id: str) -> Actor:
    """The principal an integration issues as: bound to ``org_id``, may only issue."""
    return Actor(
        kind="api_key",
        id=f"integration/{source}/{source_id}",
        org_id=org_id,
        scopes=frozenset({Permission.CREDENTIALS_ISSUE.value}),
    )


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RuleFields(BaseModel):
    """An award rule. ``trigger`` is the webhook event type, the xAPI verb IRI (or the words
    ``completed`` / ``passed``) or, for LTI, ``lti.launch``; ``activity_id`` is the course or
    activity id, the xAPI activity IRI, or the LTI resource link id (or context id)."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    source_id: str | None = Field(
        default=None, max_length=36, description="One endpoint, xAPI client or LTI platform."
    )
    trigger: str = Field(min_length=1, max_length=500)
    activity_id: str | None = Field(default=None, min_length=1, max_length=2000)
    min_score: float | None = Field(default=None, ge=-1e9, le=1e9)
    achievement_id: str = Field(max_length=36)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleView:
    id: str
    org_id: str
    source: str
    source_id: str | None
    trigger: str
    activity_id: str | None
    min_score: float | None
    achievement_id: str
    achievement_name: str
    enabled: bool
    created_at: datetime


def _rule_view(row: IntegrationRuleRow, name: str) -> RuleView:
    return RuleView(
        id=row.id,
        org_id=row.org_id,
        source=row.source,
        source_id=row.source_id,
        trigger=row.trigger,
        activity_id=row.activity_id,
        min_score=row.min_score,
        achievement_id=row.achievement_id,
        achievement_name=name,
        enabled=row.enabled,
        created_at=row.created_at,
    )


_SOURCE_TABLES: Final = {"webhook": InboundEndpointRow, "xapi": XapiClientRow}


def _check_source(session: Session, *, org_id: str, source: str, source_id: str | None) -> None:
    if source_id is None:
        return
    if source == "lti":
        row: Any = session.get(LtiPlatformRow, source_id)
    else:
        row = session.get(_SOURCE_TABLES[source], source_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"{source} source {source_id!r} not found", property="source_id")


def create_rule(platform: Platform, actor: Actor, *, org_id: str, fields: RuleFields) -> RuleView:
    """Adds an award rule; the achievement must be the organisation's and published."""
    trigger = fields.trigger.strip()
    if fields.source == "xapi":
        trigger = rules_.XAPI_VERBS.get(trigger, trigger)
        if "://" not in trigger:
            raise InvalidInput(
                "an xAPI trigger is a verb IRI (or 'completed' / 'passed')", property="trigger"
            )
    if fields.source == "lti" and trigger != "lti.launch":
        raise InvalidInput("an LTI rule's trigger is 'lti.launch'", property="trigger")
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        achievement = session.get(AchievementRow, fields.achievement_id)
        if achievement is None or achievement.org_id != org_id:
            raise NotFound(
                f"achievement {fields.achievement_id!r} not found", property="achievement_id"
            )
        if achievement.current_version is None:
            raise InvalidInput(
                "the achievement is not published yet: publish it before awarding it",
                property="achievement_id",
            )
        _check_source(session, org_id=org_id, source=fields.source, source_id=fields.source_id)
        row = IntegrationRuleRow(
            id=new_id(),
            org_id=org_id,
            source=fields.source,
            source_id=fields.source_id,
            trigger=trigger,
            activity_id=fields.activity_id.strip() if fields.activity_id else None,
            min_score=fields.min_score,
            achievement_id=fields.achievement_id,
            enabled=True,
            created_at=platform.clock.now(),
        )
        session.add(row)
        audit(
            session,
            actor,
            action="integration.rule_created",
            org_id=org_id,
            target=f"rule:{row.id}",
            details={"source": row.source, "trigger": trigger, "achievement": row.achievement_id},
        )
        session.flush()
        return _rule_view(row, achievement.name)


def list_rules(
    platform: Platform, actor: Actor, *, org_id: str, source: str | None = None
) -> list[RuleView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        query = (
            select(IntegrationRuleRow, AchievementRow.name)
            .join(AchievementRow, AchievementRow.id == IntegrationRuleRow.achievement_id)
            .where(IntegrationRuleRow.org_id == org_id)
        )
        if source is not None:
            query = query.where(IntegrationRuleRow.source == source)
        rows = session.execute(query.order_by(IntegrationRuleRow.created_at)).all()
        return [_rule_view(row, name) for row, name in rows]


def delete_rule(platform: Platform, actor: Actor, *, org_id: str, rule_id: str) -> None:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = session.get(IntegrationRuleRow, rule_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"rule {rule_id!r} not found", property="rule_id")
        session.delete(row)
        audit(
            session,
            actor,
            action="integration.rule_deleted",
            org_id=org_id,
            target=f"rule:{rule_id}",
            details={"source": row.source, "trigger": row.trigger},
        )


def rule_specs(session: Session, *, org_id: str, source: Source, source_id: str) -> list[RuleSpec]:
    """The enabled rules of one source (its own and the organisation-wide ones)."""
    rows = session.scalars(
        select(IntegrationRuleRow)
        .where(
            IntegrationRuleRow.org_id == org_id,
            IntegrationRuleRow.source == source,
            IntegrationRuleRow.enabled.is_(True),
            (IntegrationRuleRow.source_id == source_id) | IntegrationRuleRow.source_id.is_(None),
        )
        .order_by(IntegrationRuleRow.created_at, IntegrationRuleRow.id)
    ).all()
    return [
        RuleSpec(
            id=r.id,
            trigger=r.trigger,
            activity_id=r.activity_id,
            min_score=r.min_score,
            achievement_id=r.achievement_id,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Awarded:
    status: Literal["awarded", "unmatched", "failed"]
    credential_ids: tuple[str, ...]
    error: str | None


def award(
    platform: Platform,
    *,
    org_id: str,
    source: Source,
    source_id: str,
    matched: Sequence[RuleSpec],
    email: str | None,
    key: str,
    evidence: str,
) -> Awarded:
    """Issues one credential per matched rule to ``email``; each issue is idempotent on
    ``key`` (the learner) + the rule, so calling this again issues nothing new."""
    if not matched:
        return Awarded(status="unmatched", credential_ids=(), error=None)
    if email is None:
        return Awarded(
            status="failed", credential_ids=(), error="the event names no learner email address"
        )
    actor = integration_actor(org_id, source, source_id)
    issued: list[str] = []
    for rule in matched:
        try:
            record = credentials.issue_credential(
                platform,
                actor,
                org_id=org_id,
                achievement_id=rule.achievement_id,
                recipient=email,
                idempotency_key=f"{source}:{_hash(key)[:40]}:{rule.id}",
                evidence=[{"narrative": evidence[:1000]}],
            )
        except MeritoError as e:
            return Awarded(
                status="failed", credential_ids=tuple(issued), error=f"rule {rule.id}: {e.message}"
            )
        issued.append(record.id)
    return Awarded(status="awarded", credential_ids=tuple(issued), error=None)


# --- inbound webhook endpoints -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointView:
    id: str
    org_id: str
    name: str
    enabled: bool
    #: where the platform posts (``{base_url}/webhooks/inbound/{id}``)
    url: str
    previous_secret_until: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointCreated:
    endpoint: EndpointView
    #: the signing secret (``whsec_...``), shown this once
    secret: str


def _endpoint_view(platform: Platform, row: InboundEndpointRow) -> EndpointView:
    now = platform.clock.now()
    until = row.previous_until if row.previous_until and row.previous_until > now else None
    return EndpointView(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        enabled=row.enabled,
        url=platform.url(f"/webhooks/inbound/{row.id}"),
        previous_secret_until=until,
        created_at=row.created_at,
    )


def _own_endpoint(session: Session, *, org_id: str, endpoint_id: str) -> InboundEndpointRow:
    row = session.get(InboundEndpointRow, endpoint_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"endpoint {endpoint_id!r} not found", property="endpoint_id")
    return row


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", property="name")
    return name


def create_endpoint(platform: Platform, actor: Actor, *, org_id: str, name: str) -> EndpointCreated:
    """A new inbound endpoint with a fresh secret (returned once)."""
    name = _check_name(name)
    raw = secrets.token_bytes(32)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row_id = new_id()
        sealed = seal_secret(platform, raw, org_id=org_id, row_id=row_id)
        row = InboundEndpointRow(
            id=row_id,
            org_id=org_id,
            name=name,
            enabled=True,
            secret_ciphertext=sealed.ciphertext,
            secret_nonce=sealed.nonce,
            secret_key_id=sealed.master_key_id,
            created_at=platform.clock.now(),
        )
        session.add(row)
        audit(
            session,
            actor,
            action="integration.endpoint_created",
            org_id=org_id,
            target=f"endpoint:{row_id}",
            details={"name": name},
        )
        session.flush()
        return EndpointCreated(
            endpoint=_endpoint_view(platform, row), secret=rules_.encode_secret(raw)
        )


def list_endpoints(platform: Platform, actor: Actor, *, org_id: str) -> list[EndpointView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(InboundEndpointRow)
            .where(InboundEndpointRow.org_id == org_id)
            .order_by(InboundEndpointRow.created_at)
        ).all()
        return [_endpoint_view(platform, row) for row in rows]


def rotate_endpoint_secret(
    platform: Platform, actor: Actor, *, org_id: str, endpoint_id: str
) -> EndpointCreated:
    """A new secret; the old one is still accepted for ``ROTATION_GRACE``."""
    raw = secrets.token_bytes(32)
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_endpoint(session, org_id=org_id, endpoint_id=endpoint_id)
        row.previous_ciphertext = row.secret_ciphertext
        row.previous_nonce = row.secret_nonce
        row.previous_key_id = row.secret_key_id
        row.previous_until = now + ROTATION_GRACE
        sealed = seal_secret(platform, raw, org_id=org_id, row_id=row.id)
        row.secret_ciphertext, row.secret_nonce = sealed.ciphertext, sealed.nonce
        row.secret_key_id = sealed.master_key_id
        audit(
            session,
            actor,
            action="integration.endpoint_secret_rotated",
            org_id=org_id,
            target=f"endpoint:{row.id}",
            details={"previous_until": row.previous_until.isoformat()},
        )
        session.flush()
        return EndpointCreated(
            endpoint=_endpoint_view(platform, row), secret=rules_.encode_secret(raw)
        )


def set_endpoint_enabled(
    platform: Platform, actor: Actor, *, org_id: str, endpoint_id: str, enabled: bool
) -> EndpointView:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = _own_endpoint(session, org_id=org_id, endpoint_id=endpoint_id)
        row.enabled = enabled
        audit(
            session,
            actor,
            action="integration.endpoint_enabled" if enabled else "integration.endpoint_disabled",
            org_id=org_id,
            target=f"endpoint:{row.id}",
        )
        session.flush()
        return _endpoint_view(platform, row)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundEventView:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    credential_ids: tuple[str, ...]
    error: str | None
    received_at: datetime
    #: False when this request repeated an event already stored (nothing new was awarded)
    created: bool = True


def _event_view(row: InboundEventRow, *, created: bool = True) -> InboundEventView:
    return InboundEventView(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        credential_ids=tuple(row.credential_ids),
        error=row.error,
        received_at=row.received_at,
        created=created,
    )


def list_events(
    platform: Platform, actor: Actor, *, org_id: str, limit: int = 50
) -> list[InboundEventView]:
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(InboundEventRow)
            .where(InboundEventRow.org_id == org_id)
            .order_by(InboundEventRow.received_at.desc(), InboundEventRow.id)
            .limit(limit)
        ).all()
        return [_event_view(row) for row in rows]


def _json_body(body: bytes, what: str) -> Any:
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidInput(f"the {what} is larger than {MAX_EVENT_BYTES} bytes", property="body")
    try:
        text = body.decode("utf-8")
        if too_deep(text):
            raise ValueError("nested too deeply")
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidInput(f"the {what} is not JSON: {e}", property="body") from e


def _text(data: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _event_fields(
    payload: Mapping[str, Any],
) -> tuple[str, str | None, tuple[str, ...], float | None]:
    """(type, learner email, course/activity ids, score) of an inbound event body."""
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 200:
        raise InvalidInput("the event needs a 'type' (a string of 1 to 200)", property="type")
    data = payload.get("data", {})
    if not isinstance(data, Mapping):
        raise InvalidInput("the event's 'data' must be an object", property="data")
    learner = data.get("learner")
    email = _text(learner, "email") if isinstance(learner, Mapping) else None
    email = email or _text(data, "email", "learner_email")
    if email is not None and ("@" not in email or len(email) > 320):
        raise InvalidInput("data.learner.email is not an email address", property="email")
    activities = tuple(
        a for a in (_text(data, "course_id"), _text(data, "activity_id")) if a is not None
    )
    score = data.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise InvalidInput("data.score must be a number", property="data.score")
    return (
        event_type.strip(),
        email.lower() if email else None,
        activities,
        float(score) if score is not None else None,
    )


def _endpoint_secrets(platform: Platform, row: InboundEndpointRow) -> list[bytes]:
    found = [
        open_secret(
            platform,
            ciphertext=row.secret_ciphertext,
            nonce=row.secret_nonce,
            key_id=row.secret_key_id,
            org_id=row.org_id,
            row_id=row.id,
        )
    ]
    if (
        row.previous_ciphertext is not None
        and row.previous_nonce is not None
        and row.previous_key_id is not None
        and row.previous_until is not None
        and row.previous_until > platform.clock.now()
    ):
        found.append(
            open_secret(
                platform,
                ciphertext=row.previous_ciphertext,
                nonce=row.previous_nonce,
                key_id=row.previous_key_id,
                org_id=row.org_id,
                row_id=row.id,
            )
        )
    return found


def receive_webhook(
    platform: Platform, *, endpoint_id: str, headers: Mapping[str, str], body: bytes
) -> InboundEventView:
    """A signed event from a learning platform (Standard Webhooks headers, see the domain
    module): verified, stored once per ``webhook-id``, then awarded by the endpoint's rules.

    ``headers`` has lower-case names. A repeated ``webhook-id`` returns the stored event
    (``created`` False) and awards nothing more; a stored event whose awarding did not finish
    is awarded now.
    """
    with platform.reading() as session:
        endpoint = session.get(InboundEndpointRow, endpoint_id)
        if endpoint is None or not endpoint.enabled:
            raise NotFound("this webhook endpoint does not exist or is disabled")
        org_id = endpoint.org_id
        keys = _endpoint_secrets(platform, endpoint)
    event_id, _ = rules_.verify_webhook(keys, headers=headers, body=body, now=platform.clock.now())
    payload = _json_body(body, "event body")
    if not isinstance(payload, Mapping):
        raise InvalidInput("the event body must be a JSON object", property="body")
    event_type, email, activities, score = _event_fields(payload)
    created = True
    try:
        with platform.transaction() as session:
            row = session.scalar(
                select(InboundEventRow).where(
                    InboundEventRow.endpoint_id == endpoint_id, InboundEventRow.event_id == event_id
                )
            )
            if row is None:
                row = InboundEventRow(
                    id=new_id(),
                    org_id=org_id,
                    endpoint_id=endpoint_id,
                    event_id=event_id,
                    event_type=event_type,
                    payload=dict(payload),
                    status="received",
                    credential_ids=[],
                    received_at=platform.clock.now(),
                )
                session.add(row)
            else:
                created = False
            session.flush()
            stored = _event_view(row, created=created)
    except Conflict:
        # the same event arriving concurrently: the other request stored it first
        created = False
        with platform.reading() as session:
            found = session.scalar(
                select(InboundEventRow).where(
                    InboundEventRow.endpoint_id == endpoint_id, InboundEventRow.event_id == event_id
                )
            )
            if found is None:
                raise
            stored = _event_view(found, created=False)
    if stored.status != "received":
        return stored
    with platform.reading() as session:
        specs = rule_specs(session, org_id=org_id, source="webhook", source_id=endpoint_id)
    matched = rules_.matching_rules(
        specs, Trigger(trigger=event_type, activity_ids=activities, score=score)
    )
    outcome = award(
        platform,
        org_id=org_id,
        source="webhook",
        source_id=endpoint_id,
        matched=matched,
        email=email,
        key=f"learner:{email}",
        evidence=f"Learning platform event {event_type} ({event_id})",
    )
    with platform.transaction() as session:
        row = session.get(InboundEventRow, stored.id)
        if row is None:  # pragma: no cover - the endpoint was deleted meanwhile
            raise NotFound("this webhook endpoint no longer exists")
        row.status = outcome.status
        row.credential_ids = list(outcome.credential_ids)
        row.error = outcome.error
        session.flush()
        return _event_view(row, created=created)


# --- xAPI ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class XapiClientView:
    id: str
    org_id: str
    name: str
    #: the HTTP Basic user name
    key: str
    enabled: bool
    created_at: datetime
    last_used_at: datetime | None
    #: where statements are posted
    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class XapiClientCreated:
    client: XapiClientView
    #: the HTTP Basic password, shown this once (only its SHA-256 is stored)
    secret: str


def _client_view(platform: Platform, row: XapiClientRow) -> XapiClientView:
    return XapiClientView(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        key=row.key,
        enabled=row.enabled,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        endpoint=platform.url("/xapi/"),
    )


def create_xapi_client(
    platform: Platform, actor: Actor, *, org_id: str, name: str
) -> XapiClientCreated:
    name = _check_name(name)
    secret = secrets.token_urlsafe(32)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = XapiClientRow(
            id=new_id(),
            org_id=org_id,
            name=name,
            key="xapi_" + secrets.token_hex(12),
            secret_sha256=_hash(secret),
            enabled=True,
            created_at=platform.clock.now(),
        )
        session.add(row)
        audit(
            session,
            actor,
            action="integration.xapi_client_created",
            org_id=org_id,
            target=f"xapi-client:{row.id}",
            details={"name": name, "key": row.key},
        )
        session.flush()
        return XapiClientCreated(client=_client_view(platform, row), secret=secret)


def list_xapi_clients(platform: Platform, actor: Actor, *, org_id: str) -> list[XapiClientView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(XapiClientRow)
            .where(XapiClientRow.org_id == org_id)
            .order_by(XapiClientRow.created_at)
        ).all()
        return [_client_view(platform, row) for row in rows]


def set_xapi_client_enabled(
    platform: Platform, actor: Actor, *, org_id: str, client_id: str, enabled: bool
) -> XapiClientView:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = session.get(XapiClientRow, client_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"xAPI client {client_id!r} not found", property="client_id")
        row.enabled = enabled
        audit(
            session,
            actor,
            action="integration.xapi_client_enabled"
            if enabled
            else "integration.xapi_client_disabled",
            org_id=org_id,
            target=f"xapi-client:{row.id}",
        )
        session.flush()
        return _client_view(platform, row)


@dataclass(frozen=True, slots=True)
class XapiPrincipal:
    client_id: str
    org_id: str


def xapi_client(platform: Platform, *, key: str, secret: str) -> XapiPrincipal:
    """The client HTTP Basic credentials name; Unauthenticated when they do not match."""
    with platform.reading() as session:
        row = session.scalar(select(XapiClientRow).where(XapiClientRow.key == key))
    expected = row.secret_sha256 if row is not None else "0" * 64
    good = hmac.compare_digest(expected, _hash(secret))
    if row is None or not good or not row.enabled:
        raise Unauthenticated(
            "the xAPI client key or secret is not valid", property="authorization"
        )
    return XapiPrincipal(client_id=row.id, org_id=row.org_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class XapiResult:
    statement_id: str
    status: str
    credential_ids: tuple[str, ...]
    #: False when the statement was already stored (nothing new was awarded)
    created: bool


def _statement_row(session: Session, *, org_id: str, statement_id: str) -> XapiStatementRow | None:
    return session.scalar(
        select(XapiStatementRow).where(
            XapiStatementRow.org_id == org_id, XapiStatementRow.statement_id == statement_id
        )
    )


def _store_statement(
    platform: Platform, principal: XapiPrincipal, statement: XapiStatement
) -> tuple[str, str, bool]:
    """Stores the statement once; returns (row id, status, created). 409 on a different
    statement under a stored id (xAPI 1.0.3 §2.4.1)."""
    digest = rules_.content_hash(statement.document)
    for _ in range(2):
        try:
            with platform.transaction() as session:
                row = _statement_row(session, org_id=principal.org_id, statement_id=statement.id)
                if row is not None:
                    if row.content_sha256 != digest:
                        raise Conflict(
                            f"statement {statement.id} is already stored with other content",
                            property="id",
                        )
                    return row.id, row.status, False
                row = XapiStatementRow(
                    id=new_id(),
                    org_id=principal.org_id,
                    client_id=principal.client_id,
                    statement_id=statement.id,
                    content_sha256=digest,
                    verb=statement.verb,
                    activity_id=statement.activity_id,
                    actor=statement.email or statement.account or "",
                    score=statement.score,
                    statement=dict(statement.document),
                    status="received",
                    credential_ids=[],
                    stored_at=platform.clock.now(),
                )
                session.add(row)
                client = session.get(XapiClientRow, principal.client_id)
                if client is not None:
                    client.last_used_at = platform.clock.now()
                session.flush()
                return row.id, row.status, True
        except Conflict as e:
            if e.property == "id":
                raise
            continue  # stored concurrently: read it on the second pass
    raise Conflict(f"statement {statement.id} could not be stored", property="id")


def record_statements(
    platform: Platform, principal: XapiPrincipal, *, body: bytes
) -> list[XapiResult]:
    """``POST /xapi/statements``: validates one statement or an array, stores each once, and
    awards by the client's xAPI rules (verb + activity + minimum scaled score)."""
    value = _json_body(body, "statement body")
    statements = rules_.parse_statements(
        value, assigned_ids=[new_id() for _ in range(MAX_STATEMENTS)]
    )
    # a batch with a conflicting id is refused before any of it is stored (xAPI §2.4.1)
    with platform.reading() as session:
        for statement in statements:
            known = _statement_row(session, org_id=principal.org_id, statement_id=statement.id)
            if known is not None and known.content_sha256 != rules_.content_hash(
                statement.document
            ):
                raise Conflict(
                    f"statement {statement.id} is already stored with other content",
                    property="id",
                )
    results: list[XapiResult] = []
    for statement in statements:
        row_id, status, created = _store_statement(platform, principal, statement)
        if status != "received":
            with platform.reading() as session:
                row = session.get(XapiStatementRow, row_id)
                ids = tuple(row.credential_ids) if row is not None else ()
            results.append(
                XapiResult(
                    statement_id=statement.id, status=status, credential_ids=ids, created=created
                )
            )
            continue
        with platform.reading() as session:
            specs = rule_specs(
                session, org_id=principal.org_id, source="xapi", source_id=principal.client_id
            )
        matched = rules_.matching_rules(
            specs,
            Trigger(
                trigger=statement.verb,
                activity_ids=(statement.activity_id,),
                score=statement.score,
            ),
        )
        if statement.success is False:
            matched = []  # a failed attempt awards nothing, whatever the verb
        outcome = award(
            platform,
            org_id=principal.org_id,
            source="xapi",
            source_id=principal.client_id,
            matched=matched,
            email=statement.email,
            key=f"learner:{statement.email}",
            evidence=f"xAPI statement {statement.id}: {statement.verb} {statement.activity_id}",
        )
        with platform.transaction() as session:
            row = session.get(XapiStatementRow, row_id)
            if row is not None:
                row.status = outcome.status
                row.credential_ids = list(outcome.credential_ids)
                row.error = outcome.error
        results.append(
            XapiResult(
                statement_id=statement.id,
                status=outcome.status,
                credential_ids=outcome.credential_ids,
                created=created,
            )
        )
    return results


def get_statement(
    platform: Platform, principal: XapiPrincipal, *, statement_id: str
) -> dict[str, Any]:
    """A stored statement by id (``GET /xapi/statements?statementId=``), as it was sent."""
    with platform.reading() as session:
        row = _statement_row(session, org_id=principal.org_id, statement_id=statement_id.lower())
        if row is None:
            raise NotFound(f"statement {statement_id} not found", property="statementId")
        return {**row.statement, "stored": row.stored_at.isoformat()}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementView:
    statement_id: str
    client_id: str
    verb: str
    activity_id: str
    actor: str
    score: float | None
    status: str
    credential_ids: tuple[str, ...]
    error: str | None
    stored_at: datetime


def list_statements(
    platform: Platform, actor: Actor, *, org_id: str, limit: int = 50
) -> list[StatementView]:
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        org_or_404(session, org_id)
        rows = session.scalars(
            select(XapiStatementRow)
            .where(XapiStatementRow.org_id == org_id)
            .order_by(XapiStatementRow.stored_at.desc(), XapiStatementRow.id)
            .limit(limit)
        ).all()
        return [
            StatementView(
                statement_id=r.statement_id,
                client_id=r.client_id,
                verb=r.verb,
                activity_id=r.activity_id,
                actor=r.actor,
                score=r.score,
                status=r.status,
                credential_ids=tuple(r.credential_ids),
                error=r.error,
                stored_at=r.stored_at,
            )
            for r in rows
        ]
