"""The platform kernel every service shares: context, principals, permissions, audit, outbox.

A service function takes the ``Platform`` (what the composition root built) and the ``Actor``
(who asks), opens one transaction with ``platform.transaction()``, checks access with
``authorize`` and writes its audit entry and outbox messages in that same transaction, so a
change, its audit record and its side effects commit together or not at all.

Services use the SQLAlchemy models of ``merito.storage.tables*`` directly (see
docs/decisions/0005-services-on-the-orm.md); adapters (api, web, cli) never import storage.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from merito.domain.ports import Clock, Fetcher, Mailer
from merito.domain.ports_storage import KeyStore
from merito.errors import DatabaseUnavailable, NotFound, PermissionDenied
from merito.proofs.keys import Signer
from merito.storage.db import integrity_as_conflict
from merito.storage.tables import AuditLogRow, MembershipRow, OrganisationRow, OutboxRow

__all__ = [
    "ROLE_PERMISSIONS",
    "Actor",
    "Permission",
    "Platform",
    "audit",
    "authorize",
    "enqueue",
    "new_id",
    "org_or_404",
]


class Permission(enum.StrEnum):
    """What an actor may do inside one organisation. API-key scopes use the same names."""

    ORG_READ = "org:read"
    CREDENTIALS_READ = "credentials:read"
    ACHIEVEMENTS_WRITE = "achievements:write"
    CREDENTIALS_ISSUE = "credentials:issue"
    CREDENTIALS_REVOKE = "credentials:revoke"
    PROFILE_WRITE = "profile:write"
    MEMBERS_MANAGE = "members:manage"
    KEYS_MANAGE = "keys:manage"
    INTEGRATIONS_MANAGE = "integrations:manage"
    AUDIT_READ = "audit:read"
    ORG_DELETE = "org:delete"
    ROLES_WRITE = "roles:write"
    CANDIDATES_READ = "candidates:read"
    APPLICATIONS_ASSESS = "applications:assess"
    ENDORSEMENTS_MANAGE = "endorsements:manage"
    WORKFORCE_READ = "workforce:read"
    WORKFORCE_MANAGE = "workforce:manage"
    ANALYTICS_READ = "analytics:read"


_VIEWER: Final = frozenset({Permission.ORG_READ, Permission.CREDENTIALS_READ})
_STAFF: Final = _VIEWER | {
    Permission.ACHIEVEMENTS_WRITE,
    Permission.CREDENTIALS_ISSUE,
    Permission.CREDENTIALS_REVOKE,
    Permission.ROLES_WRITE,
    Permission.CANDIDATES_READ,
    Permission.APPLICATIONS_ASSESS,
    Permission.ANALYTICS_READ,
}
#: reviews applications against rubrics; sees the programme, issues nothing itself
_ASSESSOR: Final = _VIEWER | {Permission.APPLICATIONS_ASSESS}
_ADMIN: Final = _STAFF | {
    Permission.PROFILE_WRITE,
    Permission.MEMBERS_MANAGE,
    Permission.KEYS_MANAGE,
    Permission.INTEGRATIONS_MANAGE,
    Permission.AUDIT_READ,
    Permission.ENDORSEMENTS_MANAGE,
    Permission.WORKFORCE_READ,
    Permission.WORKFORCE_MANAGE,
}
#: role -> permissions; the roles are the CHECK vocabulary of ``memberships.role``
ROLE_PERMISSIONS: Final[Mapping[str, frozenset[Permission]]] = {
    "viewer": _VIEWER,
    "assessor": _ASSESSOR,
    "issuer_staff": _STAFF,
    "admin": _ADMIN,
    "owner": frozenset(Permission),
}

ActorKind = Literal["user", "api_key", "oauth_token", "system", "anonymous"]


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who is asking. Adapters build it from a session cookie, an API key or an OAuth token.

    ``org_id`` binds a machine credential (API key, OAuth token) to one organisation; a user
    acts in any organisation they are a member of. ``scopes`` narrows a machine credential
    (None: everything the role allows). ``ip`` is recorded in the audit log.
    """

    kind: ActorKind
    id: str
    user_id: str | None = None
    org_id: str | None = None
    scopes: frozenset[str] | None = None
    is_platform_admin: bool = False
    ip: str | None = None

    @property
    def audit_name(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def system(cls, name: str = "merito") -> Actor:
        return cls(kind="system", id=name)

    @classmethod
    def anonymous(cls, ip: str | None = None) -> Actor:
        return cls(kind="anonymous", id="-", ip=ip)


@dataclass(frozen=True, kw_only=True)
class Platform:
    """What the services need, built once by ``merito.bootstrap.platform``."""

    sessions: sessionmaker[Session]
    keystore: KeyStore[Signer]
    clock: Clock
    mailer: Mailer
    #: the public origin Merito is reached at (credential ids, did:web, status list URLs)
    base_url: str
    fetcher: Fetcher | None = None
    #: W3C Bitstring Status List §6.1: at least 131,072 entries for herd privacy
    status_list_size: int = 131_072
    extras: Mapping[str, Any] = field(default_factory=dict)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error.

        Unique and foreign-key violations surface as ``merito.errors.Conflict``.
        """
        with database_errors(), integrity_as_conflict(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (nothing is committed)."""
        with database_errors(), self.sessions() as session:
            yield session

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@contextmanager
def database_errors() -> Iterator[None]:
    """The database failing under a unit of work (down, restarting, locked, full) -> a
    ``DatabaseUnavailable`` (API: 503 with Retry-After); the transaction was rolled back."""
    try:
        yield
    except (OperationalError, InterfaceError, SQLAlchemyTimeoutError) as e:
        text = str(getattr(e, "orig", e)).lower()
        if "disk is full" in text or "database or disk is full" in text or "no space" in text:
            raise DatabaseUnavailable(
                "the database is full (no space left): nothing was written; free some space",
                retry_after=60,
            ) from e
        if "locked" in text or "busy" in text:
            raise DatabaseUnavailable(
                "the database is busy with another write; try again shortly"
            ) from e
        raise DatabaseUnavailable(
            "the database is unavailable; nothing was written, try again shortly", retry_after=2
        ) from e
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
        raise DatabaseUnavailable(
            "the connection to the database was lost; nothing was written, try again shortly",
            retry_after=2,
        ) from e


def new_id() -> str:
    return str(uuid.uuid4())


def org_or_404(session: Session, org_id: str) -> OrganisationRow:
    org = session.get(OrganisationRow, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id!r} not found", property="org_id")
    return org


def authorize(session: Session, actor: Actor, org_id: str, permission: Permission) -> str:
    """Checks that ``actor`` may do ``permission`` in ``org_id``; returns the role it acts as.

    An actor with no standing in the organisation gets NotFound, not PermissionDenied: another
    tenant's data is indistinguishable from data that does not exist.
    """
    if actor.is_platform_admin and actor.kind == "user":
        org_or_404(session, org_id)
        return "owner"
    if actor.org_id is not None and actor.org_id != org_id:
        raise NotFound(f"organisation {org_id!r} not found", property="org_id")
    if actor.user_id is None:
        if actor.kind in ("api_key", "oauth_token") and actor.org_id == org_id:
            role = "owner"  # bounded by scopes below
        else:
            raise NotFound(f"organisation {org_id!r} not found", property="org_id")
    else:
        found = session.scalar(
            select(MembershipRow.role).where(
                MembershipRow.org_id == org_id, MembershipRow.user_id == actor.user_id
            )
        )
        if found is None:
            raise NotFound(f"organisation {org_id!r} not found", property="org_id")
        role = found
    if permission not in ROLE_PERMISSIONS[role]:
        raise PermissionDenied(
            f"the {role} role may not {permission.value!r} in this organisation",
            property="role",
        )
    if actor.scopes is not None and permission.value not in actor.scopes:
        raise PermissionDenied(
            f"this credential lacks the scope {permission.value!r}", property="scope"
        )
    return role


def audit(
    session: Session,
    actor: Actor,
    *,
    action: str,
    org_id: str | None,
    target: str | None = None,
    at: datetime | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Appends one audit entry in the caller's transaction (who, what, to what, when, where)."""
    row = AuditLogRow(
        actor=actor.audit_name,
        org_id=org_id,
        action=action,
        target=target,
        ip=actor.ip,
        details=dict(details or {}),
    )
    if at is not None:
        row.at = at
    session.add(row)


def enqueue(
    session: Session,
    *,
    topic: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    org_id: str | None,
    available_at: datetime | None = None,
) -> None:
    """Writes an outbox message in the caller's transaction; the worker delivers it later.

    ``idempotency_key`` is unique: the same effect is never queued twice.
    """
    row = OutboxRow(
        org_id=org_id, topic=topic, payload=dict(payload), idempotency_key=idempotency_key
    )
    if available_at is not None:
        row.available_at = available_at
    session.add(row)
