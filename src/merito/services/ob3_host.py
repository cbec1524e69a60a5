"""The OB 3.0 API's resource store: the credentials and profile a user keeps on Merito.

The operations of 1EdTech Open Badges 3.0 §6.2 (getCredentials, upsertCredential,
getProfile, putProfile), for the user who authorized the caller's access token and within
the token's scopes. A credential is only stored after it verifies (``merito.verification``);
it is keyed by its ``id`` per user, so upserting the same credential again replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select

from merito.errors import InvalidCredential, InvalidInput, NotFound, PermissionDenied
from merito.formats.ob3 import OB3_CONTEXT, VC2_CONTEXT
from merito.services.oauth import (
    SCOPE_CREDENTIAL_READONLY,
    SCOPE_CREDENTIAL_UPSERT,
    SCOPE_PROFILE_READONLY,
    SCOPE_PROFILE_UPDATE,
)
from merito.services.platform import Actor, Platform, audit, new_id
from merito.storage.tables import UserRow
from merito.storage.tables_oauth import Ob3CredentialRow, Ob3ProfileRow
from merito.verification import VerifyOptions, verify

__all__ = [
    "MAX_PAGE",
    "CredentialPage",
    "HostedCredential",
    "UpsertResult",
    "get_credentials",
    "get_profile",
    "put_profile",
    "require_scope",
    "upsert_credential",
]

#: the largest page getCredentials returns (a bigger ``limit`` is capped to it)
MAX_PAGE: Final = 100
_PROFILE_TEXT_FIELDS: Final = ("name", "email", "url", "phone", "description")


@dataclass(frozen=True, kw_only=True)
class HostedCredential:
    credential_id: str
    #: the credential as JSON (for a VC-JWT, its decoded ``vc`` claim)
    document: Mapping[str, Any]
    #: the compact JWS as received, when the credential is secured as a VC-JWT
    compact_jws: str | None
    issued_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class CredentialPage:
    items: tuple[HostedCredential, ...]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, kw_only=True)
class UpsertResult:
    created: bool
    credential: HostedCredential


def require_scope(actor: Actor, scope: str) -> str:
    """The user an OAuth access token acts for, if it carries ``scope``; else PermissionDenied.

    A token without a user (client credentials) has no resource owner here.
    """
    if actor.kind != "oauth_token" or actor.scopes is None or scope not in actor.scopes:
        raise PermissionDenied(f"this access token lacks the scope {scope!r}", property="scope")
    if actor.user_id is None:
        raise PermissionDenied(
            "this access token is not bound to a user: use the authorization code grant",
            property="access_token",
        )
    return actor.user_id


def _hosted(row: Ob3CredentialRow) -> HostedCredential:
    return HostedCredential(
        credential_id=row.credential_id,
        document=row.document,
        compact_jws=row.compact_jws,
        issued_at=row.issued_at,
        updated_at=row.updated_at,
    )


def get_credentials(
    platform: Platform,
    actor: Actor,
    *,
    limit: int | None = None,
    offset: int = 0,
    since: datetime | None = None,
) -> CredentialPage:
    """getCredentials (§6.2.2): the user's credentials, oldest issued first, one page.

    ``since`` keeps credentials issued after that instant; ``limit`` is capped at MAX_PAGE.
    """
    user_id = require_scope(actor, SCOPE_CREDENTIAL_READONLY)
    if limit is not None and limit < 1:
        raise InvalidInput("'limit' must be a positive integer", property="limit")
    if offset < 0:
        raise InvalidInput("'offset' must be a non-negative integer", property="offset")
    if since is not None and since.tzinfo is None:
        raise InvalidInput("'since' must carry a time zone", property="since")
    size = min(limit or MAX_PAGE, MAX_PAGE)
    conditions = [Ob3CredentialRow.user_id == user_id]
    if since is not None:
        conditions.append(Ob3CredentialRow.issued_at > since)
    with platform.reading() as session:
        total = session.scalar(
            select(func.count()).select_from(Ob3CredentialRow).where(*conditions)
        )
        rows = session.scalars(
            select(Ob3CredentialRow)
            .where(*conditions)
            # NULLS LAST spelled out: SQLite and PostgreSQL disagree on the default
            .order_by(
                Ob3CredentialRow.issued_at.asc().nulls_last(),
                Ob3CredentialRow.created_at,
                Ob3CredentialRow.id,
            )
            .limit(size)
            .offset(offset)
        ).all()
        return CredentialPage(
            items=tuple(_hosted(r) for r in rows), total=int(total or 0), limit=size, offset=offset
        )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def upsert_credential(
    platform: Platform,
    actor: Actor,
    *,
    credential: Mapping[str, Any] | str,
    options: VerifyOptions | None = None,
) -> UpsertResult:
    """upsertCredential (§6.2.3): stores a verified OB 3.0 credential for the user.

    ``credential`` is the JSON document (embedded proof) or a compact JWS (VC-JWT). A
    credential that does not verify, or is not an OpenBadgeCredential, is refused with
    InvalidCredential naming the first failed check. ``created`` is False when a credential
    with the same ``id`` was replaced.
    """
    user_id = require_scope(actor, SCOPE_CREDENTIAL_UPSERT)
    # default: the platform's clock and (SSRF-guarded) fetcher, so did:web issuers resolve
    # and status lists are checked; without a fetcher the status is a warning, not a failure
    options = options or VerifyOptions(clock=platform.clock, fetcher=platform.fetcher)
    report = verify(
        credential if isinstance(credential, str) else dict(credential), options=options
    )
    if not report.verified:
        failure = report.failures[0] if report.failures else None
        raise InvalidCredential(
            report.summary, property=failure.id if failure is not None else "credential"
        )
    if report.format != "ob-3.0" or report.credential is None:
        raise InvalidCredential(
            "the credential is not an Open Badges 3.0 AchievementCredential", property="type"
        )
    compact_jws: str | None
    if isinstance(credential, str):
        compact_jws, document = credential, dict(report.credential)
    else:
        compact_jws, document = None, dict(credential)
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or not credential_id:
        raise InvalidCredential("the credential has no 'id' to keep it by", property="id")
    if len(credential_id) > 500:
        raise InvalidCredential("the credential's 'id' is over 500 characters", property="id")
    issued_at = _instant(document.get("validFrom")) or _instant(document.get("issuanceDate"))
    now = platform.clock.now()
    with platform.transaction() as session:
        row = session.scalar(
            select(Ob3CredentialRow)
            .where(
                Ob3CredentialRow.user_id == user_id,
                Ob3CredentialRow.credential_id == credential_id,
            )
            .with_for_update()
        )
        created = row is None
        if row is None:
            row = Ob3CredentialRow(
                id=new_id(), user_id=user_id, credential_id=credential_id, created_at=now
            )
            session.add(row)
        row.document = document
        row.compact_jws = compact_jws
        row.issued_at = issued_at
        row.updated_at = now
        audit(
            session,
            actor,
            action="ob3.credential.create" if created else "ob3.credential.replace",
            org_id=None,
            target=credential_id,
            at=now,
            details={"envelope": report.envelope, "issuer": report.issuer},
        )
        session.flush()
        return UpsertResult(created=created, credential=_hosted(row))


def _default_profile(user: UserRow) -> dict[str, Any]:
    return {
        "@context": [VC2_CONTEXT, OB3_CONTEXT],
        "id": f"urn:uuid:{user.id}",
        "type": ["Profile"],
        "email": user.email,
    }


def get_profile(platform: Platform, actor: Actor) -> dict[str, Any]:
    """getProfile (§6.2.4): the stored profile, or one made from the account (id, email)."""
    user_id = require_scope(actor, SCOPE_PROFILE_READONLY)
    with platform.reading() as session:
        stored = session.get(Ob3ProfileRow, user_id)
        if stored is not None:
            return dict(stored.document)
        user = session.get(UserRow, user_id)
        if user is None:
            raise NotFound("the user of this access token no longer exists", property="user")
        return _default_profile(user)


def _validate_profile(profile: Any) -> dict[str, Any]:
    """OB 3.0 Profile (§B.1.x): ``id`` (a URI) and ``type`` including "Profile" are required."""
    if not isinstance(profile, Mapping):
        raise InvalidInput("the profile must be a JSON object", property="profile")
    types = profile.get("type")
    type_list = [types] if isinstance(types, str) else types
    if not isinstance(type_list, list) or "Profile" not in type_list:
        raise InvalidInput("'type' must be \"Profile\" or include it", property="type")
    if not all(isinstance(t, str) for t in type_list):
        raise InvalidInput("'type' must hold strings", property="type")
    profile_id = profile.get("id")
    if not isinstance(profile_id, str) or ":" not in profile_id or " " in profile_id:
        raise InvalidInput("'id' must be a URI", property="id")
    context = profile.get("@context")
    if context is not None and not isinstance(context, (str, list)):
        raise InvalidInput("'@context' must be a string or an array", property="@context")
    for name in _PROFILE_TEXT_FIELDS:
        value = profile.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"'{name}' must be a string", property=name)
    return dict(profile)


def put_profile(platform: Platform, actor: Actor, profile: Mapping[str, Any]) -> dict[str, Any]:
    """putProfile (§6.2.5): replaces the user's whole profile; returns what is now stored."""
    user_id = require_scope(actor, SCOPE_PROFILE_UPDATE)
    document = _validate_profile(profile)
    now = platform.clock.now()
    with platform.transaction() as session:
        if session.get(UserRow, user_id) is None:
            raise NotFound("the user of this access token no longer exists", property="user")
        row = session.get(Ob3ProfileRow, user_id, with_for_update=True)
        if row is None:
            session.add(Ob3ProfileRow(user_id=user_id, document=document, updated_at=now))
        else:
            row.document = document
            row.updated_at = now
        audit(
            session,
            actor,
            action="ob3.profile.update",
            org_id=None,
            target=document["id"],
            at=now,
        )
    return document
