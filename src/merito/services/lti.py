"""LTI 1.3: Merito as a tool an LMS launches (IMS LTI Core 1.3, IMS Security Framework 1.0).

- **registration**: an organisation registers a platform (issuer, client_id, deployment ids,
  the OIDC auth login URL, and a JWKS URL or an inline JWKS).
- **login** (Security Framework §5.1.1, third-party initiated login): the platform sends
  ``iss``, ``login_hint``, ``target_link_uri`` (and ``client_id``, ``lti_message_hint``);
  Merito stores a fresh ``state`` and ``nonce`` (10 minutes) and redirects to the platform's
  auth endpoint with an OIDC implicit-flow request (``response_type=id_token``,
  ``response_mode=form_post``, ``prompt=none``).
- **launch**: the platform posts ``id_token`` and ``state``. The state is used once; the
  id_token must be an RS256 JWS signed by a key of the platform's JWKS (fetched through the
  guarded fetcher and cached for an hour; an unknown ``kid`` refetches once), with the right
  iss, aud (and azp), a live exp/iat, the login's nonce (a nonce is accepted once), a registered
  deployment, and message type ``LtiResourceLinkRequest``.
- **awards**: an ``lti`` rule maps a resource link id (or the context id) to an achievement.
  A learner launch whose custom claim ``merito_completed=true`` or ``merito_score`` (>= the
  rule's minimum) awards the learner (email claim). An instructor launch (roles claim) gets a
  one-hour award token with which the launch page awards a named learner. Either way a
  learner gets a rule's badge once (the idempotency key is the email and the rule).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.domain import integrations as rules_
from merito.domain.integrations import LtiLaunch, Trigger
from merito.errors import (
    Conflict,
    FetchError,
    InvalidCredential,
    InvalidInput,
    InvalidKey,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from merito.formats import ob2
from merito.proofs.keys import public_key_from_jwk
from merito.services import integrations
from merito.services.platform import Actor, Permission, Platform, audit, authorize, new_id
from merito.storage.tables import AchievementRow, AchievementVersionRow
from merito.storage.tables_integrations import (
    IntegrationRuleRow,
    LtiLaunchRow,
    LtiLoginRow,
    LtiPlatformRow,
)

__all__ = [
    "JWKS_TTL",
    "LOGIN_TTL",
    "TOKEN_TTL",
    "BadgeView",
    "LaunchView",
    "LoginRedirect",
    "PlatformFields",
    "PlatformView",
    "award_learner",
    "launch",
    "list_platforms",
    "login",
    "register_platform",
    "update_platform",
]

LOGIN_TTL: Final = timedelta(minutes=10)
JWKS_TTL: Final = timedelta(hours=1)
TOKEN_TTL: Final = timedelta(hours=1)
_MAX_JWKS_KEYS: Final = 20


class PlatformFields(BaseModel):
    """An LMS registration; on update only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    issuer: str | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, max_length=200)
    deployment_ids: list[str] | None = Field(default=None, max_length=50)
    auth_login_url: str | None = Field(default=None, max_length=2000)
    jwks_url: str | None = Field(default=None, max_length=2000)
    jwks: dict[str, Any] | None = Field(default=None, description="An inline JWKS.")
    enabled: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformView:
    id: str
    org_id: str
    name: str
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    jwks_url: str | None
    has_inline_jwks: bool
    enabled: bool
    created_at: datetime
    #: what to give the LMS: the login initiation URL and the launch (redirect) URL
    login_url: str
    launch_url: str


def _view(platform: Platform, row: LtiPlatformRow) -> PlatformView:
    return PlatformView(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_ids=tuple(row.deployment_ids),
        auth_login_url=row.auth_login_url,
        jwks_url=row.jwks_url,
        has_inline_jwks=row.jwks is not None,
        enabled=row.enabled,
        created_at=row.created_at,
        login_url=platform.url("/lti/login"),
        launch_url=platform.url("/lti/launch"),
    )


def _https(url: str, what: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{what} must be an http(s) URL", property=what)
    return url


def _check_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys or len(keys) > _MAX_JWKS_KEYS:
        raise InvalidInput(
            f"jwks must be {{'keys': [...]}} with 1 to {_MAX_JWKS_KEYS} keys", property="jwks"
        )
    for n, key in enumerate(keys):
        if not isinstance(key, Mapping) or key.get("kty") != "RSA":
            raise InvalidInput(f"jwks.keys[{n}] must be an RSA JWK", property="jwks")
        try:
            public_key_from_jwk(key)
        except InvalidKey as e:
            raise InvalidInput(f"jwks.keys[{n}]: {e.message}", property="jwks") from e
    return {"keys": [dict(k) for k in keys]}


def _apply(row: LtiPlatformRow, fields: PlatformFields) -> None:
    if fields.name is not None:
        row.name = integrations._check_name(fields.name)
    if fields.issuer is not None:
        if not fields.issuer.strip():
            raise InvalidInput("issuer is required", property="issuer")
        row.issuer = fields.issuer.strip()
    if fields.client_id is not None:
        if not fields.client_id.strip():
            raise InvalidInput("client_id is required", property="client_id")
        row.client_id = fields.client_id.strip()
    if fields.deployment_ids is not None:
        ids = [d.strip() for d in fields.deployment_ids if d.strip()]
        if not ids:
            raise InvalidInput("at least one deployment id is required", property="deployment_ids")
        row.deployment_ids = ids
    if fields.auth_login_url is not None:
        row.auth_login_url = _https(fields.auth_login_url, "auth_login_url")
    if fields.jwks_url is not None:
        row.jwks_url = _https(fields.jwks_url, "jwks_url") if fields.jwks_url.strip() else None
        row.jwks_cache, row.jwks_fetched_at = None, None
    if fields.jwks is not None:
        row.jwks = _check_jwks(fields.jwks) if fields.jwks else None
    if fields.enabled is not None:
        row.enabled = fields.enabled
    if row.jwks is None and row.jwks_url is None:
        raise InvalidInput("give a jwks_url or an inline jwks", property="jwks_url")


def register_platform(
    platform: Platform, actor: Actor, *, org_id: str, fields: PlatformFields
) -> PlatformView:
    for name in ("name", "issuer", "client_id", "deployment_ids", "auth_login_url"):
        if getattr(fields, name) is None:
            raise InvalidInput(f"{name} is required", property=name)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = LtiPlatformRow(
            id=new_id(), org_id=org_id, enabled=True, created_at=platform.clock.now()
        )
        row.jwks_url, row.jwks = None, None
        _apply(row, fields)
        clash = session.scalar(
            select(LtiPlatformRow.id).where(
                LtiPlatformRow.issuer == row.issuer, LtiPlatformRow.client_id == row.client_id
            )
        )
        if clash is not None:
            raise Conflict(
                "a platform with this issuer and client_id is already registered",
                property="client_id",
            )
        session.add(row)
        audit(
            session,
            actor,
            action="integration.lti_platform_registered",
            org_id=org_id,
            target=f"lti-platform:{row.id}",
            details={"issuer": row.issuer, "client_id": row.client_id},
        )
        session.flush()
        return _view(platform, row)


def update_platform(
    platform: Platform, actor: Actor, *, org_id: str, platform_id: str, fields: PlatformFields
) -> PlatformView:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = session.get(LtiPlatformRow, platform_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"LTI platform {platform_id!r} not found", property="platform_id")
        _apply(row, fields)
        audit(
            session,
            actor,
            action="integration.lti_platform_updated",
            org_id=org_id,
            target=f"lti-platform:{row.id}",
            details=fields.model_dump(exclude_none=True, exclude={"jwks"}),
        )
        session.flush()
        return _view(platform, row)


def list_platforms(platform: Platform, actor: Actor, *, org_id: str) -> list[PlatformView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(LtiPlatformRow)
            .where(LtiPlatformRow.org_id == org_id)
            .order_by(LtiPlatformRow.created_at)
        ).all()
        return [_view(platform, row) for row in rows]


# --- OIDC login ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginRedirect:
    """Where to send the browser: the platform's auth endpoint with the OIDC request."""

    url: str


def _find_platform(session: Session, *, issuer: str, client_id: str | None) -> LtiPlatformRow:
    query = select(LtiPlatformRow).where(
        LtiPlatformRow.issuer == issuer, LtiPlatformRow.enabled.is_(True)
    )
    if client_id:
        query = query.where(LtiPlatformRow.client_id == client_id)
    rows = session.scalars(query.limit(2)).all()
    if not rows:
        raise NotFound("no LTI platform is registered for this issuer", property="iss")
    if len(rows) > 1:
        raise InvalidInput(
            "several registrations share this issuer: the login must name its client_id",
            property="client_id",
        )
    return rows[0]


def login(platform: Platform, params: Mapping[str, str]) -> LoginRedirect:
    """Third-party initiated login (Security Framework §5.1.1.1)."""
    issuer = params.get("iss", "").strip()
    login_hint = params.get("login_hint", "").strip()
    target = params.get("target_link_uri", "").strip()
    for name, value in (("iss", issuer), ("login_hint", login_hint), ("target_link_uri", target)):
        if not value:
            raise InvalidInput(f"the login request needs {name}", property=name)
    if len(target) > 2000 or len(login_hint) > 2000:
        raise InvalidInput("the login request is too long", property="target_link_uri")
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _find_platform(session, issuer=issuer, client_id=params.get("client_id"))
        deployment = params.get("lti_deployment_id")
        if deployment and deployment not in row.deployment_ids:
            raise InvalidInput(
                f"deployment {deployment!r} is not registered", property="lti_deployment_id"
            )
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session.add(
            LtiLoginRow(
                state=state,
                platform_id=row.id,
                nonce=nonce,
                target_link_uri=target,
                created_at=now,
                expires_at=now + LOGIN_TTL,
            )
        )
        query: dict[str, str] = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": row.client_id,
            "redirect_uri": platform.url("/lti/launch"),
            "login_hint": login_hint,
            "state": state,
            "nonce": nonce,
        }
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        separator = "&" if "?" in row.auth_login_url else "?"
        return LoginRedirect(url=row.auth_login_url + separator + urlencode(query))


# --- launch ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BadgeView:
    achievement_id: str
    name: str
    description: str
    min_score: float | None
    #: the credential this launch awarded (the learner's), if any
    awarded_credential_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchView:
    launch_id: str
    org_id: str
    platform_name: str
    resource_link_id: str
    resource_link_title: str
    context_title: str
    name: str
    email: str | None
    instructor: bool
    badges: tuple[BadgeView, ...]
    credential_ids: tuple[str, ...]
    #: an instructor's award token (shown in the launch page's form), valid ``TOKEN_TTL``
    award_token: str | None
    error: str | None = None


def _jwks(platform: Platform, row: LtiPlatformRow, *, refresh: bool) -> Mapping[str, Any]:
    if row.jwks is not None:
        return row.jwks
    now = platform.clock.now()
    fresh = row.jwks_fetched_at is not None and now - row.jwks_fetched_at < JWKS_TTL
    if row.jwks_cache is not None and fresh and not refresh:
        return row.jwks_cache
    if platform.fetcher is None or row.jwks_url is None:
        raise Unauthenticated("the platform's JWKS cannot be fetched", property="jwks_url")
    try:
        response = platform.fetcher.fetch(row.jwks_url, accept="application/json")
        document = json.loads(response.body.decode("utf-8"))
        keys = _check_jwks(document if isinstance(document, Mapping) else {})
    except (FetchError, InvalidInput, UnicodeDecodeError, ValueError) as e:
        raise Unauthenticated(
            f"the platform's JWKS could not be read: {getattr(e, 'message', e)}",
            property="jwks_url",
        ) from e
    with platform.transaction() as session:
        stored = session.get(LtiPlatformRow, row.id)
        if stored is not None:
            stored.jwks_cache, stored.jwks_fetched_at = keys, now
    row.jwks_cache, row.jwks_fetched_at = keys, now
    return keys


def _key_for(jwks: Mapping[str, Any], kid: Any) -> Mapping[str, Any] | None:
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((k for k in keys if k.get("kid") == kid), None)


def _verified_claims(platform: Platform, row: LtiPlatformRow, id_token: str) -> Mapping[str, Any]:
    try:
        jws = ob2.parse_jws(id_token)
    except InvalidCredential as e:
        raise Unauthenticated(f"the id_token is not a JWT: {e.message}", property="id_token") from e
    if jws.header.get("alg") != "RS256":
        raise Unauthenticated("the id_token must be signed with RS256", property="alg")
    kid = jws.header.get("kid")
    jwk = _key_for(_jwks(platform, row, refresh=False), kid)
    if jwk is None and row.jwks is None:
        jwk = _key_for(_jwks(platform, row, refresh=True), kid)  # the platform rotated keys
    if jwk is None:
        raise Unauthenticated(
            "no key of the platform's JWKS matches the id_token's kid", property="kid"
        )
    if not public_key_from_jwk(jwk).verify(jws.signing_input, jws.signature):
        raise Unauthenticated("the id_token's signature does not verify", property="id_token")
    return jws.payload


def _badges(
    session: Session, *, org_id: str, platform_id: str, link: LtiLaunch
) -> list[tuple[Any, AchievementRow]]:
    activities = tuple(a for a in (link.resource_link_id, link.context_id) if a)
    rows = session.execute(
        select(IntegrationRuleRow, AchievementRow)
        .join(AchievementRow, AchievementRow.id == IntegrationRuleRow.achievement_id)
        .where(
            IntegrationRuleRow.org_id == org_id,
            IntegrationRuleRow.source == "lti",
            IntegrationRuleRow.enabled.is_(True),
            (IntegrationRuleRow.source_id == platform_id) | IntegrationRuleRow.source_id.is_(None),
            IntegrationRuleRow.activity_id.in_(activities)
            | IntegrationRuleRow.activity_id.is_(None),
        )
        .order_by(IntegrationRuleRow.created_at, IntegrationRuleRow.id)
    ).all()
    return [(rule, achievement) for rule, achievement in rows]


def _description(session: Session, achievement: AchievementRow) -> str:
    """The published version's description (the draft's when nothing is published)."""
    document: Any = achievement.draft_document or {}
    if achievement.current_version is not None:
        document = session.scalar(
            select(AchievementVersionRow.document).where(
                AchievementVersionRow.achievement_id == achievement.id,
                AchievementVersionRow.version == achievement.current_version,
            )
        )
    text = document.get("description") if isinstance(document, Mapping) else None
    return str(text or "")


def launch(platform: Platform, *, id_token: str, state: str) -> LaunchView:
    """Validates a resource link launch and awards what its custom claims earn."""
    if not id_token or not state or len(id_token) > 50_000 or len(state) > 64:
        raise Unauthenticated(
            "the launch needs an id_token and the login's state", property="state"
        )
    now = platform.clock.now()
    with platform.transaction() as session:
        pending = session.get(LtiLoginRow, state)
        if pending is None or pending.used_at is not None or pending.expires_at <= now:
            raise Unauthenticated(
                "this launch's state is unknown, used or expired: launch again from the course",
                property="state",
            )
        pending.used_at = now  # single use, even if what follows fails
        platform_id, nonce = pending.platform_id, pending.nonce
    with platform.reading() as session:
        row = session.get(LtiPlatformRow, platform_id)
        if row is None or not row.enabled:
            raise Unauthenticated("this LTI platform is not registered", property="iss")
        session.expunge(row)
    claims = _verified_claims(platform, row, id_token)
    link = rules_.check_lti_claims(
        claims,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_ids=list(row.deployment_ids),
        nonce=nonce,
        now=now,
    )
    token = secrets.token_urlsafe(32) if link.is_instructor else None
    launch_id = new_id()
    with platform.transaction() as session:
        replay = session.scalar(
            select(LtiLaunchRow.id).where(
                LtiLaunchRow.platform_id == row.id, LtiLaunchRow.nonce == link.nonce
            )
        )
        if replay is not None:
            raise Unauthenticated("this id_token was already used", property="nonce")
        session.add(
            LtiLaunchRow(
                id=launch_id,
                org_id=row.org_id,
                platform_id=row.id,
                nonce=link.nonce,
                subject=link.subject[:500],
                deployment_id=link.deployment_id[:500],
                resource_link_id=link.resource_link_id[:500],
                context_id=link.context_id[:500] if link.context_id else None,
                email=link.email,
                roles=list(link.roles),
                instructor=link.is_instructor,
                token_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None,
                token_expires_at=now + TOKEN_TTL if token else None,
                credential_ids=[],
                launched_at=now,
            )
        )
        found = _badges(session, org_id=row.org_id, platform_id=row.id, link=link)
        descriptions = {a.id: _description(session, a) for _, a in found}
        specs = [
            rules_.RuleSpec(
                id=rule.id,
                trigger=rule.trigger,
                activity_id=rule.activity_id,
                min_score=rule.min_score,
                achievement_id=rule.achievement_id,
            )
            for rule, _ in found
        ]
    awarded: dict[str, str] = {}
    error: str | None = None
    score = link.score
    if not link.is_instructor and score is not None:
        activities = tuple(a for a in (link.resource_link_id, link.context_id) if a)
        matched = rules_.matching_rules(
            specs, Trigger(trigger="lti.launch", activity_ids=activities, score=score)
        )
        for spec in matched:
            outcome = integrations.award(
                platform,
                org_id=row.org_id,
                source="lti",
                source_id=row.id,
                matched=[spec],
                email=link.email,
                key=f"learner:{link.email}",
                evidence=f"LTI launch of {link.resource_link_title or link.resource_link_id}",
            )
            if outcome.credential_ids:
                awarded[spec.achievement_id] = outcome.credential_ids[0]
            error = error or outcome.error
        if awarded:
            with platform.transaction() as session:
                stored_launch = session.get(LtiLaunchRow, launch_id)
                if stored_launch is not None:
                    stored_launch.credential_ids = list(awarded.values())
    return LaunchView(
        launch_id=launch_id,
        org_id=row.org_id,
        platform_name=row.name,
        resource_link_id=link.resource_link_id,
        resource_link_title=link.resource_link_title,
        context_title=link.context_title,
        name=link.name,
        email=link.email,
        instructor=link.is_instructor,
        badges=tuple(
            BadgeView(
                achievement_id=achievement.id,
                name=achievement.name,
                description=descriptions.get(achievement.id, ""),
                min_score=rule.min_score,
                awarded_credential_id=awarded.get(achievement.id),
            )
            for rule, achievement in found
        ),
        credential_ids=tuple(awarded.values()),
        award_token=token,
        error=error,
    )


def award_learner(platform: Platform, *, token: str, achievement_id: str, email: str) -> str:
    """An instructor's award from the launch page: the credential id (the same one again if
    this learner already has it from this link)."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput("give the learner's email address", property="email")
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    now = platform.clock.now()
    with platform.reading() as session:
        row = session.scalar(select(LtiLaunchRow).where(LtiLaunchRow.token_sha256 == digest))
        if row is None or row.token_expires_at is None or row.token_expires_at <= now:
            raise Unauthenticated(
                "this award form has expired: launch Merito again from the course",
                property="token",
            )
        if not row.instructor:  # pragma: no cover - only instructors get a token
            raise PermissionDenied("only an instructor may award", property="roles")
        link = LtiLaunch(
            issuer="",
            subject=row.subject,
            deployment_id=row.deployment_id,
            resource_link_id=row.resource_link_id,
            resource_link_title="",
            context_id=row.context_id,
            context_title="",
            email=None,
            name="",
            roles=tuple(row.roles),
            custom={},
            nonce=row.nonce,
        )
        rules = [
            rule
            for rule, achievement in _badges(
                session, org_id=row.org_id, platform_id=row.platform_id, link=link
            )
            if achievement.id == achievement_id
        ]
        org_id, platform_id, resource_link = row.org_id, row.platform_id, row.resource_link_id
    if not rules:
        raise NotFound("this badge is not offered by this course link", property="achievement_id")
    rule = rules[0]
    outcome = integrations.award(
        platform,
        org_id=org_id,
        source="lti",
        source_id=platform_id,
        matched=[
            rules_.RuleSpec(
                id=rule.id,
                trigger=rule.trigger,
                activity_id=rule.activity_id,
                min_score=None,
                achievement_id=rule.achievement_id,
            )
        ],
        email=email,
        key=f"learner:{email}",
        evidence=f"Awarded by the instructor in the course (LTI link {resource_link})",
    )
    if outcome.error is not None or not outcome.credential_ids:
        raise InvalidInput(outcome.error or "nothing was awarded", property="achievement_id")
    return outcome.credential_ids[0]
