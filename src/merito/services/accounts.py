"""Accounts: users, passwords, web sessions, organisations, members, API keys and the audit log.

Passwords are hashed with argon2id (RFC 9106; argon2-cffi's default parameters unless the
platform's ``extras["password_hasher"]`` supplies another ``PasswordHasher``) and rehashed at
login when those parameters change. A login for an unknown email still verifies a password
against a dummy hash and writes an audit row, so it answers with the same error in about the
same time as a wrong password: the response does not tell which emails have accounts.

Secrets handed out (session cookies, API keys) are 256 random bits; only their SHA-256 is
stored. A web session lapses after ``SESSION_IDLE_TTL`` without use and ``SESSION_ABSOLUTE_TTL``
after login, whatever the use; a request that changes something (POST, PUT, PATCH, DELETE)
with a session cookie must also send the session's CSRF token (``X-CSRF-Token``), which only
a page of Merito's origin can read. An API key is ``mk_<prefix>_<secret>``: the prefix finds
the row, the secret's hash proves possession.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import secrets
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from merito.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from merito.services.platform import (
    ROLE_PERMISSIONS,
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    new_id,
    org_or_404,
)
from merito.storage.tables import AuditLogRow, MembershipRow, OrganisationRow, UserRow
from merito.storage.tables_accounts import ApiKeyRow, WebSessionRow

__all__ = [
    "API_KEY_PREFIX",
    "LOGIN_ATTEMPTS_BURST",
    "LOGIN_ATTEMPTS_REFILL",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "SESSION_ABSOLUTE_TTL",
    "SESSION_IDLE_TTL",
    "ApiKey",
    "AuditEntry",
    "CreatedApiKey",
    "LoginResult",
    "Member",
    "Organisation",
    "User",
    "add_member",
    "change_member_role",
    "check_password_policy",
    "create_api_key",
    "create_organisation",
    "create_user",
    "csrf_token_for",
    "get_organisation",
    "get_user",
    "list_api_keys",
    "list_audit",
    "list_members",
    "list_my_organisations",
    "login",
    "logout",
    "normalise_email",
    "register",
    "remove_member",
    "rename_organisation",
    "resolve_actor",
    "revoke_api_key",
]

MIN_PASSWORD_LENGTH: Final = 12
#: argon2 takes any length, but hashing megabytes per request is a denial of service
MAX_PASSWORD_LENGTH: Final = 1024
SESSION_IDLE_TTL: Final = timedelta(days=7)
SESSION_ABSOLUTE_TTL: Final = timedelta(days=30)
#: last_seen_at / last_used_at are written at most this often (not on every request)
TOUCH_INTERVAL: Final = timedelta(minutes=1)
API_KEY_PREFIX: Final = "mk_"
#: login attempts per (email, ip): a bucket of this many, refilled one per ``REFILL``
LOGIN_ATTEMPTS_BURST: Final = 10
LOGIN_ATTEMPTS_REFILL: Final = timedelta(seconds=60)
ROLES: Final = tuple(ROLE_PERMISSIONS)
SCOPES: Final = frozenset(p.value for p in Permission)

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SLUG: Final = re.compile(r"[a-z0-9-]{2,64}")
# deliberately loose (RFC 5322 addresses are wild): one @, something on each side, no spaces
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+")
_KEY_FORM: Final = re.compile(r"mk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})")
_ORG_KINDS: Final = ("issuer", "employer")
_DEFAULT_HASHER: Final = PasswordHasher()  # RFC 9106 §4 "second recommended option"


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class User:
    id: str
    email: str
    is_platform_admin: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class LoginResult:
    """A new web session: ``token`` is the cookie value (shown once), ``csrf_token`` goes in
    the ``X-CSRF-Token`` header of mutating requests; ``max_age`` is the cookie's lifetime."""

    token: str
    csrf_token: str
    session_id: str
    user: User
    expires_at: datetime
    max_age: int


@dataclass(frozen=True, kw_only=True)
class Organisation:
    id: str
    slug: str
    name: str
    kind: str
    created_at: datetime
    #: the caller's role in it (None for a platform admin who is not a member)
    role: str | None


@dataclass(frozen=True, kw_only=True)
class Member:
    user_id: str
    email: str
    role: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class CreatedApiKey:
    """A new key: ``secret`` (the whole ``mk_...`` value) is shown here once and never again."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session, derived from its cookie value (nothing more is stored).

    Whoever can read the cookie server-side (the web pages) can render it into a form; a
    cross-site page can neither read the cookie nor this token (a different hash domain from
    the stored ``token_hash``, so the database does not reveal it either).
    """
    return hashlib.sha256(b"merito-csrf\x00" + session_token.encode()).hexdigest()


def _hasher(platform: Platform) -> PasswordHasher:
    hasher = platform.extras.get("password_hasher", _DEFAULT_HASHER)
    if not isinstance(hasher, PasswordHasher):
        raise TypeError("platform.extras['password_hasher'] must be an argon2 PasswordHasher")
    return hasher


_dummy_hashes: dict[tuple[int, int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the current parameters, verified for unknown emails (same cost, no user)."""
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased; InvalidInput (property ``email``) unless it looks like one."""
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.fullmatch(value):
        raise InvalidInput("email must be an address like name@example.org", property="email")
    return value


def check_password_policy(password: str) -> None:
    """At least 12 characters, at most 1024, and not one character repeated."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters long", property="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters long", property="password"
        )
    if len(set(password)) == 1:
        raise InvalidInput("password must not be one character repeated", property="password")


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        is_platform_admin=row.is_platform_admin,
        created_at=row.created_at,
    )


def _user_actor(user_id: str, *, is_platform_admin: bool = False, ip: str | None) -> Actor:
    return Actor(
        kind="user", id=user_id, user_id=user_id, is_platform_admin=is_platform_admin, ip=ip
    )


def _organisation(row: OrganisationRow, role: str | None) -> Organisation:
    return Organisation(
        id=row.id, slug=row.slug, name=row.name, kind=row.kind, created_at=row.created_at, role=role
    )


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes.split()),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _name(value: str, *, property: str, max_length: int = 200) -> str:
    name = value.strip()
    if not name or len(name) > max_length:
        raise InvalidInput(f"{property} must be 1 to {max_length} characters", property=property)
    return name


def _role(value: str) -> str:
    if value not in ROLE_PERMISSIONS:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", property="role")
    return value


def _require_user(actor: Actor, what: str) -> str:
    if actor.kind != "user" or actor.user_id is None:
        raise PermissionDenied(f"only a signed-in user may {what}", property="actor")
    return actor.user_id


# --- login throttling ------------------------------------------------------------------------


class _LoginThrottle:
    """A token bucket per (email, ip), in this process's memory.

    Enough for one server; several API workers each keep their own buckets (an attacker
    gets ``workers x burst`` attempts), which a shared store (Redis, the database) would fix.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, datetime]] = {}

    def take(self, key: tuple[str, str], now: datetime) -> float:
        """Takes one attempt; returns 0, or the seconds to wait when none is left."""
        refill = LOGIN_ATTEMPTS_REFILL.total_seconds()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(LOGIN_ATTEMPTS_BURST), now))
            elapsed = max(0.0, (now - at).total_seconds())
            tokens = min(float(LOGIN_ATTEMPTS_BURST), tokens + elapsed / refill)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) * refill
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 10_000:
                self._forget_full(now)
            return 0.0

    def _forget_full(self, now: datetime) -> None:
        # a bucket that has refilled is the same as no bucket: memory stays bounded
        horizon = LOGIN_ATTEMPTS_REFILL * LOGIN_ATTEMPTS_BURST
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < horizon}


# one throttle per Platform (keyed by its session factory, which lives as long as it does)
_throttles: weakref.WeakKeyDictionary[object, _LoginThrottle] = weakref.WeakKeyDictionary()
_throttles_lock = threading.Lock()


def _throttle(platform: Platform) -> _LoginThrottle:
    with _throttles_lock:
        throttle = _throttles.get(platform.sessions)
        if throttle is None:
            throttle = _throttles[platform.sessions] = _LoginThrottle()
        return throttle


# --- users and sessions ----------------------------------------------------------------------


def _new_user(
    session: Session, platform: Platform, *, email: str, password: str, is_platform_admin: bool
) -> UserRow:
    normalised = normalise_email(email)
    check_password_policy(password)
    if session.scalar(select(UserRow.id).where(UserRow.email == normalised)) is not None:
        raise Conflict("an account with this email already exists", property="email")
    row = UserRow(
        id=new_id(),
        email=normalised,
        password_hash=_hasher(platform).hash(password),
        is_platform_admin=is_platform_admin,
        created_at=platform.clock.now(),
    )
    session.add(row)
    session.flush()  # a concurrent registration of the same email fails here, as Conflict
    return row


def register(platform: Platform, *, email: str, password: str, ip: str | None) -> User:
    """Self-service sign-up; Conflict (property ``email``) when the email has an account."""
    with platform.transaction() as session:
        row = _new_user(session, platform, email=email, password=password, is_platform_admin=False)
        audit(
            session,
            _user_actor(row.id, ip=ip),
            action="user.register",
            org_id=None,
            target=row.id,
            at=platform.clock.now(),
        )
        return _user(row)


def create_user(
    platform: Platform,
    actor: Actor,
    *,
    email: str,
    password: str,
    is_platform_admin: bool = False,
) -> User:
    """An operator creates an account (``merito admin create-user``): the system or a
    platform admin only."""
    if actor.kind != "system" and not (actor.kind == "user" and actor.is_platform_admin):
        raise PermissionDenied("only a platform admin may create accounts", property="actor")
    with platform.transaction() as session:
        row = _new_user(
            session, platform, email=email, password=password, is_platform_admin=is_platform_admin
        )
        audit(
            session,
            actor,
            action="user.create",
            org_id=None,
            target=row.id,
            at=platform.clock.now(),
            details={"is_platform_admin": is_platform_admin},
        )
        return _user(row)


def get_user(platform: Platform, actor: Actor) -> User:
    """The signed-in user's own account."""
    user_id = _require_user(actor, "read an account")
    with platform.reading() as session:
        row = session.get(UserRow, user_id)
        if row is None:
            raise NotFound("the account no longer exists", property="user_id")
        return _user(row)


def login(platform: Platform, *, email: str, password: str, ip: str | None) -> LoginResult:
    """Checks the password and opens a web session.

    Unknown email and wrong password give the same Unauthenticated error after the same
    work (one argon2 verification, one audit row). RateLimited after
    ``LOGIN_ATTEMPTS_BURST`` attempts for one email from one address, then one attempt per
    ``LOGIN_ATTEMPTS_REFILL``.
    """
    now = platform.clock.now()
    key = (email.strip().lower()[:320], ip or "-")
    wait = _throttle(platform).take(key, now)
    if wait > 0:
        raise RateLimited(
            "too many login attempts for this account from this address; try again later",
            retry_after=wait,
            property="email",
        )
    hasher = _hasher(platform)
    # made before the first lookup, whatever its outcome: the first unknown email of a
    # process must not be the one login that also pays for hashing the dummy
    dummy = _dummy_hash(hasher)
    user_id: str | None = None
    with platform.transaction() as session:
        row = session.scalar(select(UserRow).where(UserRow.email == key[0]))
        stored = row.password_hash if row is not None else dummy
        try:
            hasher.verify(stored, password)
            user_id = row.id if row is not None else None
        except (VerificationError, InvalidHashError):
            user_id = None
        if user_id is None:
            audit(
                session,
                Actor.anonymous(ip),
                action="user.login_failed",
                org_id=None,
                target=row.id if row is not None else None,
                at=now,
            )
    if user_id is None:
        # raised after the commit: the failed attempt stays in the audit log
        raise Unauthenticated("the email or the password is wrong", property="password")
    with platform.transaction() as session:
        user = session.get(UserRow, user_id)
        if user is None:  # deleted between the two transactions
            raise Unauthenticated("the email or the password is wrong", property="password")
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
        token = secrets.token_urlsafe(32)
        web_session = WebSessionRow(
            id=new_id(),
            token_hash=_sha256(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_ABSOLUTE_TTL,
            ip=ip,
        )
        session.add(web_session)
        audit(
            session,
            _user_actor(user.id, is_platform_admin=user.is_platform_admin, ip=ip),
            action="user.login",
            org_id=None,
            target=user.id,
            at=now,
            details={"session_id": web_session.id},
        )
        return LoginResult(
            token=token,
            csrf_token=csrf_token_for(token),
            session_id=web_session.id,
            user=_user(user),
            expires_at=web_session.expires_at,
            max_age=int(SESSION_ABSOLUTE_TTL.total_seconds()),
        )


def logout(platform: Platform, *, session_token: str, ip: str | None) -> None:
    """Revokes the session (a no-op for a session already revoked or unknown)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        row = session.scalar(
            select(WebSessionRow)
            .where(WebSessionRow.token_hash == _sha256(session_token))
            .with_for_update()
        )
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now
        audit(
            session,
            _user_actor(row.user_id, ip=ip),
            action="user.logout",
            org_id=None,
            target=row.user_id,
            at=now,
            details={"session_id": row.id},
        )


def _session_actor(
    platform: Platform, token: str, *, method: str, csrf_token: str | None, ip: str | None
) -> Actor:
    now = platform.clock.now()
    with platform.reading() as session:
        found = session.execute(
            select(
                WebSessionRow.id,
                WebSessionRow.user_id,
                WebSessionRow.last_seen_at,
                WebSessionRow.expires_at,
                WebSessionRow.revoked_at,
                UserRow.is_platform_admin,
            )
            .join(UserRow, UserRow.id == WebSessionRow.user_id)
            .where(WebSessionRow.token_hash == _sha256(token))
        ).first()
    if found is None:
        raise Unauthenticated("the session is not recognised: log in again", property="session")
    if found.revoked_at is not None:
        raise Unauthenticated("the session was closed: log in again", property="session")
    if found.expires_at <= now or found.last_seen_at + SESSION_IDLE_TTL <= now:
        raise Unauthenticated("the session has expired: log in again", property="session")
    if method.upper() not in _SAFE_METHODS and not (
        csrf_token is not None and hmac.compare_digest(csrf_token, csrf_token_for(token))
    ):
        raise PermissionDenied(
            "a request that changes something must send the session's X-CSRF-Token header",
            property="X-CSRF-Token",
        )
    if now - found.last_seen_at >= TOUCH_INTERVAL:
        with platform.transaction() as session:
            session.execute(
                update(WebSessionRow)
                .where(
                    WebSessionRow.id == found.id,
                    WebSessionRow.last_seen_at <= now - TOUCH_INTERVAL,
                )
                .values(last_seen_at=now)
            )
    return _user_actor(found.user_id, is_platform_admin=found.is_platform_admin, ip=ip)


def _api_key_actor(platform: Platform, token: str, *, ip: str | None) -> Actor:
    match = _KEY_FORM.fullmatch(token)
    if match is None:
        raise Unauthenticated("the API key is malformed", property="authorization")
    prefix, secret = match.groups()
    now = platform.clock.now()
    with platform.reading() as session:
        found = session.execute(
            select(
                ApiKeyRow.id,
                ApiKeyRow.org_id,
                ApiKeyRow.secret_hash,
                ApiKeyRow.scopes,
                ApiKeyRow.expires_at,
                ApiKeyRow.revoked_at,
                ApiKeyRow.last_used_at,
            ).where(ApiKeyRow.prefix == prefix)
        ).first()
    # compare even when the prefix is unknown, so timing does not reveal live prefixes
    expected = found.secret_hash if found is not None else "0" * 64
    if not hmac.compare_digest(expected, _sha256(secret)) or found is None:
        raise Unauthenticated("the API key is not recognised", property="authorization")
    if found.revoked_at is not None:
        raise Unauthenticated("the API key was revoked", property="authorization")
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthenticated("the API key has expired", property="authorization")
    if found.last_used_at is None or now - found.last_used_at >= TOUCH_INTERVAL:
        with platform.transaction() as session:
            session.execute(
                update(ApiKeyRow)
                .where(
                    ApiKeyRow.id == found.id,
                    or_(
                        ApiKeyRow.last_used_at.is_(None),
                        ApiKeyRow.last_used_at <= now - TOUCH_INTERVAL,
                    ),
                )
                .values(last_used_at=now)
            )
    return Actor(
        kind="api_key",
        id=found.id,
        org_id=found.org_id,
        scopes=frozenset(found.scopes.split()),
        ip=ip,
    )


def _oauth_actor(platform: Platform, token: str, *, ip: str | None) -> Actor | None:
    # merito.services.oauth is another area's module, imported lazily: a build without the
    # OAuth server simply knows no access tokens
    try:
        oauth = importlib.import_module("merito.services.oauth")
    except ImportError:
        return None
    resolve = getattr(oauth, "resolve_access_token", None)
    if resolve is None:
        return None
    actor: Actor | None = resolve(platform, token, ip=ip)
    return actor


def resolve_actor(
    platform: Platform,
    *,
    authorization: str | None,
    session_token: str | None,
    method: str,
    csrf_token: str | None,
    ip: str | None,
) -> Actor | None:
    """The Actor behind an Authorization header (Bearer API key / OAuth access token) or a
    web session cookie (mutating methods also need the session's CSRF token).

    None when neither is given; Unauthenticated when what is given is not valid (never
    anonymous). The Authorization header wins over a cookie: a browser never adds it by
    itself, so a request carrying it needs no CSRF token.
    """
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "send 'Authorization: Bearer <API key or access token>'", property="authorization"
            )
        if token.startswith(API_KEY_PREFIX):
            return _api_key_actor(platform, token, ip=ip)
        actor = _oauth_actor(platform, token, ip=ip)
        if actor is None:
            raise Unauthenticated("the bearer token is not recognised", property="authorization")
        return actor
    if session_token is not None:
        return _session_actor(platform, session_token, method=method, csrf_token=csrf_token, ip=ip)
    return None


# --- organisations ---------------------------------------------------------------------------


def create_organisation(
    platform: Platform, actor: Actor, *, slug: str, name: str, kind: str = "issuer"
) -> Organisation:
    """A new organisation; its creator becomes its owner. Conflict when the slug is taken."""
    user_id = _require_user(actor, "create an organisation")
    if not _SLUG.fullmatch(slug):
        raise InvalidInput("slug must be 2 to 64 characters of a-z, 0-9 and '-'", property="slug")
    if kind not in _ORG_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(_ORG_KINDS)}", property="kind")
    name = _name(name, property="name")
    now = platform.clock.now()
    with platform.transaction() as session:
        if session.scalar(select(OrganisationRow.id).where(OrganisationRow.slug == slug)):
            raise Conflict(f"the slug {slug!r} is taken", property="slug")
        row = OrganisationRow(id=new_id(), slug=slug, name=name, kind=kind, created_at=now)
        session.add(row)
        session.flush()  # a concurrent create of the same slug fails here, as Conflict
        session.add(MembershipRow(org_id=row.id, user_id=user_id, role="owner", created_at=now))
        audit(
            session,
            actor,
            action="org.create",
            org_id=row.id,
            target=row.id,
            at=now,
            details={"slug": slug, "name": name, "kind": kind},
        )
        return _organisation(row, "owner")


def _member_role(session: Session, actor: Actor, org_id: str) -> str | None:
    if actor.user_id is None:
        return None
    role: str | None = session.scalar(
        select(MembershipRow.role).where(
            MembershipRow.org_id == org_id, MembershipRow.user_id == actor.user_id
        )
    )
    return role


def get_organisation(platform: Platform, actor: Actor, org_id: str) -> Organisation:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        return _organisation(org_or_404(session, org_id), _member_role(session, actor, org_id))


def list_my_organisations(platform: Platform, actor: Actor) -> list[Organisation]:
    """The organisations the user is a member of (a machine credential: its own), by name."""
    if actor.scopes is not None and Permission.ORG_READ.value not in actor.scopes:
        raise PermissionDenied(
            f"this credential lacks the scope {Permission.ORG_READ.value!r}", property="scope"
        )
    with platform.reading() as session:
        if actor.user_id is not None:
            rows = session.execute(
                select(OrganisationRow, MembershipRow.role)
                .join(MembershipRow, MembershipRow.org_id == OrganisationRow.id)
                .where(MembershipRow.user_id == actor.user_id)
                .order_by(OrganisationRow.name, OrganisationRow.id)
            ).all()
            return [_organisation(org, role) for org, role in rows]
        if actor.org_id is not None:
            authorize(session, actor, actor.org_id, Permission.ORG_READ)
            return [_organisation(org_or_404(session, actor.org_id), None)]
        return []


def rename_organisation(
    platform: Platform, actor: Actor, *, org_id: str, name: str
) -> Organisation:
    name = _name(name, property="name")
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.PROFILE_WRITE)
        row = org_or_404(session, org_id)
        old = row.name
        row.name = name
        audit(
            session,
            actor,
            action="org.rename",
            org_id=org_id,
            target=org_id,
            at=platform.clock.now(),
            details={"from": old, "to": name},
        )
        return _organisation(row, _member_role(session, actor, org_id))


# --- members ---------------------------------------------------------------------------------


def _member(membership: MembershipRow, user: UserRow) -> Member:
    return Member(
        user_id=membership.user_id,
        email=user.email,
        role=membership.role,
        created_at=membership.created_at,
    )


def list_members(platform: Platform, actor: Actor, org_id: str) -> list[Member]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        rows = session.execute(
            select(MembershipRow, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.org_id == org_id)
            .order_by(UserRow.email)
        ).all()
        return [_member(m, u) for m, u in rows]


def _require_owner_for(acting_role: str, actor: Actor, what: str) -> None:
    # API keys act as "owner" bounded by scopes; granting or taking ownership is a person's call
    if acting_role != "owner" or actor.kind != "user":
        raise PermissionDenied(f"only an owner may {what}", property="role")


def _owners_locked(session: Session, org_id: str) -> list[str]:
    """The owners' user ids, their rows locked (PostgreSQL) so two concurrent demotions
    cannot each see another owner left."""
    return list(
        session.scalars(
            select(MembershipRow.user_id)
            .where(MembershipRow.org_id == org_id, MembershipRow.role == "owner")
            .with_for_update()
        )
    )


def _membership(session: Session, org_id: str, user_id: str) -> MembershipRow:
    row = session.scalar(
        select(MembershipRow)
        .where(MembershipRow.org_id == org_id, MembershipRow.user_id == user_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"user {user_id!r} is not a member", property="user_id")
    return row


def add_member(platform: Platform, actor: Actor, *, org_id: str, email: str, role: str) -> Member:
    """Adds an existing account by email. Only an owner may add an owner."""
    role = _role(role)
    normalised = normalise_email(email)
    now = platform.clock.now()
    with platform.transaction() as session:
        acting = authorize(session, actor, org_id, Permission.MEMBERS_MANAGE)
        if role == "owner":
            _require_owner_for(acting, actor, "grant the owner role")
        user = session.scalar(select(UserRow).where(UserRow.email == normalised))
        if user is None:
            raise NotFound("no account has this email", property="email")
        if session.get(MembershipRow, (org_id, user.id)) is not None:
            raise Conflict("this account is already a member", property="email")
        membership = MembershipRow(org_id=org_id, user_id=user.id, role=role, created_at=now)
        session.add(membership)
        session.flush()
        audit(
            session,
            actor,
            action="member.add",
            org_id=org_id,
            target=user.id,
            at=now,
            details={"role": role},
        )
        return _member(membership, user)


def change_member_role(
    platform: Platform, actor: Actor, *, org_id: str, user_id: str, role: str
) -> Member:
    """Changes a member's role; only an owner may grant or take the owner role, and the last
    owner can never be demoted (Conflict)."""
    role = _role(role)
    now = platform.clock.now()
    with platform.transaction() as session:
        acting = authorize(session, actor, org_id, Permission.MEMBERS_MANAGE)
        owners = _owners_locked(session, org_id)
        membership = _membership(session, org_id, user_id)
        old = membership.role
        if role == "owner" or old == "owner":
            _require_owner_for(acting, actor, "grant or take the owner role")
        if old == "owner" and role != "owner" and owners == [user_id]:
            raise Conflict(
                "the last owner cannot be demoted: make another member owner first",
                property="role",
            )
        user = session.get(UserRow, user_id)
        if user is None:  # the membership's foreign key makes this unreachable
            raise NotFound(f"user {user_id!r} is not a member", property="user_id")
        if old != role:
            membership.role = role
            audit(
                session,
                actor,
                action="member.change_role",
                org_id=org_id,
                target=user_id,
                at=now,
                details={"from": old, "to": role},
            )
        return _member(membership, user)


def remove_member(platform: Platform, actor: Actor, *, org_id: str, user_id: str) -> None:
    """Removes a member; only an owner may remove an owner, and never the last one."""
    with platform.transaction() as session:
        acting = authorize(session, actor, org_id, Permission.MEMBERS_MANAGE)
        owners = _owners_locked(session, org_id)
        membership = _membership(session, org_id, user_id)
        if membership.role == "owner":
            _require_owner_for(acting, actor, "remove an owner")
            if owners == [user_id]:
                raise Conflict(
                    "the last owner cannot be removed: make another member owner first",
                    property="user_id",
                )
        session.delete(membership)
        audit(
            session,
            actor,
            action="member.remove",
            org_id=org_id,
            target=user_id,
            at=platform.clock.now(),
            details={"role": membership.role},
        )


# --- API keys --------------------------------------------------------------------------------


def _scopes(scopes: Iterable[str], *, allowed: frozenset[str]) -> list[str]:
    out = sorted(set(scopes))
    if not out:
        raise InvalidInput("scopes must name at least one permission", property="scopes")
    unknown = [s for s in out if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope {unknown[0]!r}; use one of {', '.join(sorted(SCOPES))}",
            property="scopes",
        )
    beyond = [s for s in out if s not in allowed]
    if beyond:
        raise PermissionDenied(
            f"a key may not carry the scope {beyond[0]!r}, which its creator lacks",
            property="scopes",
        )
    return out


def create_api_key(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
) -> CreatedApiKey:
    """A new API key for ``org_id``; its scopes are ``Permission`` values the creator holds.
    The returned ``secret`` is the only copy."""
    name = _name(name, property="name")
    now = platform.clock.now()
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise InvalidInput(
            "expires_at must be a future time with a time zone", property="expires_at"
        )
    with platform.transaction() as session:
        acting = authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        allowed = frozenset(p.value for p in ROLE_PERMISSIONS[acting])
        if actor.scopes is not None:
            allowed &= actor.scopes
        granted = _scopes(scopes, allowed=allowed)
        prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=new_id(),
            org_id=org_id,
            name=name,
            prefix=prefix,
            secret_hash=_sha256(secret),
            scopes=" ".join(granted),
            created_by=actor.user_id,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="api_key.create",
            org_id=org_id,
            target=row.id,
            at=now,
            details={"name": name, "prefix": prefix, "scopes": granted},
        )
        return CreatedApiKey(key=_api_key(row), secret=f"{API_KEY_PREFIX}{prefix}_{secret}")


def list_api_keys(platform: Platform, actor: Actor, org_id: str) -> list[ApiKey]:
    """The organisation's keys, newest first, revoked ones included (never a secret)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(ApiKeyRow)
            .where(ApiKeyRow.org_id == org_id)
            .order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id)
        )
        return [_api_key(row) for row in rows]


def revoke_api_key(platform: Platform, actor: Actor, *, org_id: str, key_id: str) -> ApiKey:
    """Revokes a key at once (idempotent: revoking it again changes nothing)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        row = session.scalar(
            select(ApiKeyRow)
            .where(ApiKeyRow.org_id == org_id, ApiKeyRow.id == key_id)
            .with_for_update()
        )
        if row is None:
            raise NotFound(f"API key {key_id!r} not found", property="key_id")
        if row.revoked_at is None:
            row.revoked_at = now
            audit(
                session,
                actor,
                action="api_key.revoke",
                org_id=org_id,
                target=row.id,
                at=now,
                details={"name": row.name, "prefix": row.prefix},
            )
        return _api_key(row)


# --- audit log -------------------------------------------------------------------------------


def list_audit(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    limit: int = 50,
    after_id: int | None = None,
) -> list[AuditEntry]:
    """The organisation's audit entries, oldest first, after ``after_id`` (a cursor: pass
    the last id of a page to get the next one)."""
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.AUDIT_READ)
        query = select(AuditLogRow).where(AuditLogRow.org_id == org_id)
        if after_id is not None:
            query = query.where(AuditLogRow.id > after_id)
        rows = session.scalars(query.order_by(AuditLogRow.id).limit(limit))
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                ip=row.ip,
                details=dict(row.details),
            )
            for row in rows
        ]
