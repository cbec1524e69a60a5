"""The OAuth 2.0 authorization server: clients, consent, codes with PKCE, tokens, revocation.

RFC 6749 (the framework), RFC 7636 (PKCE: S256 only), RFC 7591 (dynamic client registration,
as the 1EdTech Open Badges 3.0 API §7.1.1 requires), RFC 7009 (revocation), RFC 8414
(server metadata). Every secret handed out (client secret, code, access and refresh token) is
256 random bits with a prefix that says what it is; only its SHA-256 is stored.

Grants: an approved consent becomes one authorization code; redeeming it opens a *grant*
whose tokens share ``grant_id``. A replayed code or a reused (already rotated) refresh token
revokes every token of its grant (RFC 6749 §4.1.2, §10.4; OAuth 2.0 Security BCP §4.14).
Client-credentials tokens belong to the organisation that registered the client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from merito.errors import InvalidInput, NotFound, Unauthenticated
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    new_id,
    org_or_404,
)
from merito.storage.tables import UserRow
from merito.storage.tables_oauth import (
    OAuthAuthorizationCodeRow,
    OAuthAuthorizationRequestRow,
    OAuthClientRow,
    OAuthTokenRow,
)

__all__ = [
    "ACCESS_TOKEN_PREFIX",
    "ACCESS_TOKEN_TTL",
    "AUTHORIZATION_CODE_TTL",
    "OB3_SCOPES",
    "REFRESH_TOKEN_TTL",
    "SCOPE_CREDENTIAL_READONLY",
    "SCOPE_CREDENTIAL_UPSERT",
    "SCOPE_OFFLINE_ACCESS",
    "SCOPE_PROFILE_READONLY",
    "SCOPE_PROFILE_UPDATE",
    "AuthorizationRequest",
    "AuthorizationRequestError",
    "ClientInfo",
    "ConsentPrompt",
    "GrantInfo",
    "OAuthError",
    "RegisteredClient",
    "ServerEndpoints",
    "check_authorization_request",
    "decide_consent",
    "exchange_token",
    "list_org_clients",
    "list_user_grants",
    "prepare_consent",
    "register_client",
    "register_org_client",
    "resolve_access_token",
    "revoke_token",
    "revoke_user_grant",
    "server_metadata",
]

SCOPE_CREDENTIAL_READONLY: Final = (
    "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
)
SCOPE_CREDENTIAL_UPSERT: Final = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.upsert"
SCOPE_PROFILE_READONLY: Final = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly"
SCOPE_PROFILE_UPDATE: Final = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.update"
#: the OB 3.0 registration and authorization examples ask for it (OpenID Connect §11)
SCOPE_OFFLINE_ACCESS: Final = "offline_access"

#: OB 3.0 §6.2.1 scopes -> what the consent page tells the user
OB3_SCOPES: Final[Mapping[str, str]] = {
    SCOPE_CREDENTIAL_READONLY: "Read the credentials (badges) you keep on Merito.",
    SCOPE_CREDENTIAL_UPSERT: "Add credentials to your Merito account and replace ones you keep.",
    SCOPE_PROFILE_READONLY: "Read your profile.",
    SCOPE_PROFILE_UPDATE: "Change your profile.",
}
#: what a user may grant a dynamically registered client
USER_SCOPES: Final[Mapping[str, str]] = {
    **OB3_SCOPES,
    SCOPE_OFFLINE_ACCESS: "Keep this access while you are not using the application.",
}
#: what an organisation may grant its own machine clients: Merito API permissions
ORG_SCOPES: Final = frozenset(p.value for p in Permission)

# prefixes, not secrets: they tell a leaked value's kind at a glance (and to secret scanners)
ACCESS_TOKEN_PREFIX: Final = "mat_"  # noqa: S105
REFRESH_TOKEN_PREFIX: Final = "mrt_"  # noqa: S105
CODE_PREFIX: Final = "mac_"
REQUEST_PREFIX: Final = "mar_"
CLIENT_ID_PREFIX: Final = "mci_"
CLIENT_SECRET_PREFIX: Final = "mcs_"  # noqa: S105

ACCESS_TOKEN_TTL: Final = timedelta(hours=1)
REFRESH_TOKEN_TTL: Final = timedelta(days=30)
#: RFC 6749 §4.1.2: "a maximum authorization code lifetime of 10 minutes is RECOMMENDED"
AUTHORIZATION_CODE_TTL: Final = timedelta(minutes=10)
CONSENT_TTL: Final = timedelta(minutes=10)

_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
_USER_GRANT_TYPES: Final = frozenset({"authorization_code", "refresh_token"})
#: RFC 7636 §4.1: code_verifier = 43*128unreserved
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
#: an S256 challenge is BASE64URL(SHA-256) without padding: exactly 43 characters
_S256_CHALLENGE: Final = re.compile(r"[A-Za-z0-9\-_]{43}")
_MAX_TEXT: Final = 2000


# --- errors -------------------------------------------------------------------------------


class OAuthError(InvalidInput):
    """An error the OAuth endpoints answer in RFC 6749 §5.2 / RFC 7591 §3.2.2 form.

    ``error`` is the registered error code (``invalid_grant``, ``invalid_client``,
    ``invalid_redirect_uri``...); the message is the ``error_description``.
    """

    code = "oauth-error"

    def __init__(self, error: str, message: str, *, property: str | None = None) -> None:
        super().__init__(message, property=property)
        self.error = error


class AuthorizationRequestError(OAuthError):
    """An authorization request that cannot proceed (RFC 6749 §4.1.2.1).

    With ``redirect_uri`` set the error goes back to the client (with ``state``); without,
    the client or redirect URI is not trustworthy and the user is told instead.
    """

    def __init__(
        self,
        error: str,
        message: str,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
        property: str | None = None,
    ) -> None:
        super().__init__(error, message, property=property)
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def redirect_url(self) -> str | None:
        if self.redirect_uri is None:
            return None
        params = {"error": self.error, "error_description": self.message}
        if self.state is not None:
            params["state"] = self.state
        return _with_query(self.redirect_uri, params)


# --- secrets ------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    """``uri`` with ``params`` appended to its query, keeping what it already has (§3.1.2)."""
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.urlencode(params)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urllib.parse.urlunsplit(parts._replace(query=joined, fragment=""))


def _scopes(text: str | None) -> list[str]:
    """RFC 6749 §3.3: space-delimited, case-sensitive, order irrelevant; duplicates dropped."""
    out: list[str] = []
    for scope in (text or "").split(" "):
        if scope and scope not in out:
            out.append(scope)
    return out


# --- access tokens (the seam accounts.resolve_actor calls) ----------------------------------


def resolve_access_token(platform: Platform, token: str, *, ip: str | None) -> Actor | None:
    """The Actor an access token stands for, or None when ``token`` is not one Merito issues.

    Raises Unauthenticated when it has Merito's access-token form but is unknown, expired or
    revoked, or its client was revoked. ``scopes`` are the granted scope strings: OB 3.0 scope
    URIs for user tokens (they grant no ``Permission``: ``authorize`` refuses them), Merito
    permission names for an organisation's client-credentials tokens.
    """
    if not token.startswith(ACCESS_TOKEN_PREFIX):
        return None
    # columns, not ORM entities: this runs on every API request that carries a token
    with platform.reading() as session:
        row = session.execute(
            select(
                OAuthTokenRow.id,
                OAuthTokenRow.user_id,
                OAuthTokenRow.org_id,
                OAuthTokenRow.scope,
                OAuthTokenRow.expires_at,
                OAuthTokenRow.revoked_at,
                OAuthClientRow.revoked_at.label("client_revoked_at"),
            )
            .join(OAuthClientRow, OAuthClientRow.id == OAuthTokenRow.client_id)
            .where(OAuthTokenRow.token_hash == _digest(token), OAuthTokenRow.kind == "access")
        ).first()
    if row is None:
        raise Unauthenticated("the access token is not recognised", property="access_token")
    if row.revoked_at is not None or row.client_revoked_at is not None:
        raise Unauthenticated("the access token was revoked", property="access_token")
    if row.expires_at <= platform.clock.now():
        raise Unauthenticated("the access token has expired", property="access_token")
    return Actor(
        kind="oauth_token",
        id=row.id,
        user_id=row.user_id,
        org_id=row.org_id,
        scopes=frozenset(_scopes(row.scope)),
        ip=ip,
    )


# --- client registration (RFC 7591) --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegisteredClient:
    """A new client: ``client_secret`` is shown here once and never again."""

    client_id: str
    client_secret: str
    client_id_issued_at: int
    metadata: Mapping[str, Any]

    def registration_response(self) -> dict[str, Any]:
        """The RFC 7591 §3.2.1 client information response."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_id_issued_at": self.client_id_issued_at,
            "client_secret_expires_at": 0,  # the secret does not expire
            **self.metadata,
        }


@dataclass(frozen=True, kw_only=True)
class ClientInfo:
    client_id: str
    client_name: str
    org_id: str | None
    scope: str
    grant_types: tuple[str, ...]
    created_at: datetime
    revoked: bool


def _metadata_error(message: str, prop: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", message, property=prop)


def _text(metadata: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = metadata.get(name)
    if value is None:
        if required:
            raise _metadata_error(f"'{name}' is required", name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise _metadata_error(f"'{name}' must be a non-empty string", name)
    if len(value) > _MAX_TEXT:
        raise _metadata_error(f"'{name}' is longer than {_MAX_TEXT} characters", name)
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _web_uri(value: str, name: str, *, error: str = "invalid_client_metadata") -> str:
    """An absolute https URL (http only on a loopback host), without a fragment."""
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname or ""
    except ValueError as e:
        raise OAuthError(error, f"'{name}' is not a URL: {value!r}", property=name) from e
    if parts.scheme not in ("https", "http") or not host:
        raise OAuthError(error, f"'{name}' must be an absolute https URL: {value!r}", property=name)
    if parts.scheme == "http" and not _is_loopback(host):
        raise OAuthError(
            error, f"'{name}' must use https (http only for loopback): {value!r}", property=name
        )
    if parts.fragment or value.endswith("#"):
        raise OAuthError(error, f"'{name}' must not have a fragment: {value!r}", property=name)
    if any(c.isspace() for c in value):
        raise OAuthError(error, f"'{name}' must not contain spaces: {value!r}", property=name)
    return value


def _string_list(metadata: Mapping[str, Any], name: str, default: Sequence[str]) -> list[str]:
    value = metadata.get(name)
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _metadata_error(f"'{name}' must be an array of strings", name)
    out: list[str] = []
    for item in value:
        if item not in out:
            out.append(item)
    return out


def _validate_user_client(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7591 §2 metadata, with what OB 3.0 §7.1.1.2 requires of an OB API client."""
    if not isinstance(metadata, Mapping):
        raise _metadata_error("the registration request must be a JSON object", "body")
    out: dict[str, Any] = {}
    redirect_uris = metadata.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        raise OAuthError(
            "invalid_redirect_uri",
            "'redirect_uris' must be a non-empty array of URLs",
            property="redirect_uris",
        )
    for uri in redirect_uris:
        if not isinstance(uri, str) or len(uri) > _MAX_TEXT:
            raise OAuthError(
                "invalid_redirect_uri", "every redirect URI must be a URL", property="redirect_uris"
            )
        _web_uri(uri, "redirect_uris", error="invalid_redirect_uri")
    out["redirect_uris"] = list(dict.fromkeys(redirect_uris))
    out["client_name"] = _text(metadata, "client_name", required=True)
    for name in ("client_uri", "logo_uri", "tos_uri", "policy_uri"):
        value = _text(metadata, name, required=True)
        if value is not None:  # always: required=True raises instead of returning None
            out[name] = _web_uri(value, name)
    for name in ("software_id", "software_version"):
        value = _text(metadata, name, required=False)
        if value is not None:
            out[name] = value
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in _AUTH_METHODS:
        raise _metadata_error(
            f"'token_endpoint_auth_method' must be one of {', '.join(_AUTH_METHODS)}"
            " (Merito issues confidential clients only)",
            "token_endpoint_auth_method",
        )
    out["token_endpoint_auth_method"] = method
    grant_types = _string_list(metadata, "grant_types", ["authorization_code", "refresh_token"])
    unknown = [g for g in grant_types if g not in _USER_GRANT_TYPES]
    if unknown:
        raise _metadata_error(
            f"'grant_types' may only hold authorization_code and refresh_token, not {unknown[0]!r}",
            "grant_types",
        )
    if "authorization_code" not in grant_types:
        raise _metadata_error("'grant_types' must include authorization_code", "grant_types")
    out["grant_types"] = grant_types
    response_types = _string_list(metadata, "response_types", ["code"])
    if response_types != ["code"]:
        # RFC 7591 §2.1: authorization_code pairs with the response type "code" only
        raise _metadata_error("'response_types' must be [\"code\"]", "response_types")
    out["response_types"] = response_types
    scope_text = metadata.get("scope")
    if scope_text is None:
        scopes = list(OB3_SCOPES)
    elif not isinstance(scope_text, str):
        raise _metadata_error("'scope' must be a space-separated string", "scope")
    else:
        scopes = _scopes(scope_text)
        unknown = [s for s in scopes if s not in USER_SCOPES]
        if unknown:
            raise _metadata_error(f"'scope' holds an unknown scope {unknown[0]!r}", "scope")
        if not any(s in OB3_SCOPES for s in scopes):
            raise _metadata_error("'scope' must name at least one Open Badges scope", "scope")
    out["scope"] = " ".join(scopes)
    contacts = metadata.get("contacts")
    if contacts is not None:
        out["contacts"] = _string_list(metadata, "contacts", [])
    return out


def register_client(
    platform: Platform, metadata: Mapping[str, Any], *, ip: str | None = None
) -> RegisteredClient:
    """RFC 7591 §3: registers a confidential client of the OB 3.0 API (open registration).

    Raises OAuthError ``invalid_redirect_uri`` / ``invalid_client_metadata`` (§3.2.2).
    """
    clean = _validate_user_client(metadata)
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(16)
    client_secret = _secret(CLIENT_SECRET_PREFIX)
    now = platform.clock.now()
    with platform.transaction() as session:
        session.add(
            OAuthClientRow(
                id=client_id,
                org_id=None,
                secret_hash=_digest(client_secret),
                client_name=clean["client_name"],
                token_endpoint_auth_method=clean["token_endpoint_auth_method"],
                client_metadata=clean,
                created_at=now,
            )
        )
        audit(
            session,
            Actor.anonymous(ip),
            action="oauth.client.register",
            org_id=None,
            target=client_id,
            at=now,
            details={"client_name": clean["client_name"], "scope": clean["scope"]},
        )
    return RegisteredClient(
        client_id=client_id,
        client_secret=client_secret,
        client_id_issued_at=int(now.timestamp()),
        metadata=clean,
    )


def register_org_client(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    client_name: str,
    scopes: Iterable[str],
    token_endpoint_auth_method: str = "client_secret_basic",  # noqa: S107
) -> RegisteredClient:
    """A machine client of ``org_id`` for the client-credentials grant (INTEGRATIONS_MANAGE).

    Its tokens act in that organisation only, with at most ``scopes`` (Merito permissions).
    """
    name = client_name.strip() if isinstance(client_name, str) else ""
    if not name or len(name) > 200:
        raise InvalidInput("'client_name' must be 1 to 200 characters", property="client_name")
    wanted = list(dict.fromkeys(scopes))
    if not wanted:
        raise InvalidInput("'scopes' must name at least one permission", property="scopes")
    unknown = [s for s in wanted if s not in ORG_SCOPES]
    if unknown:
        raise InvalidInput(
            f"'scopes' holds an unknown permission {unknown[0]!r}; use {sorted(ORG_SCOPES)}",
            property="scopes",
        )
    if token_endpoint_auth_method not in _AUTH_METHODS:
        raise InvalidInput(
            f"'token_endpoint_auth_method' must be one of {', '.join(_AUTH_METHODS)}",
            property="token_endpoint_auth_method",
        )
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(16)
    client_secret = _secret(CLIENT_SECRET_PREFIX)
    now = platform.clock.now()
    metadata: dict[str, Any] = {
        "client_name": name,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "scope": " ".join(wanted),
    }
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        session.add(
            OAuthClientRow(
                id=client_id,
                org_id=org_id,
                secret_hash=_digest(client_secret),
                client_name=name,
                token_endpoint_auth_method=token_endpoint_auth_method,
                client_metadata=metadata,
                created_at=now,
            )
        )
        audit(
            session,
            actor,
            action="oauth.client.register",
            org_id=org_id,
            target=client_id,
            at=now,
            details={"client_name": name, "scope": metadata["scope"]},
        )
    return RegisteredClient(
        client_id=client_id,
        client_secret=client_secret,
        client_id_issued_at=int(now.timestamp()),
        metadata=metadata,
    )


def list_org_clients(platform: Platform, actor: Actor, *, org_id: str) -> list[ClientInfo]:
    """The organisation's machine clients, oldest first (INTEGRATIONS_MANAGE)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.INTEGRATIONS_MANAGE)
        rows = session.scalars(
            select(OAuthClientRow)
            .where(OAuthClientRow.org_id == org_id)
            .order_by(OAuthClientRow.created_at, OAuthClientRow.id)
        ).all()
        return [_client_info(row) for row in rows]


def _client_info(row: OAuthClientRow) -> ClientInfo:
    return ClientInfo(
        client_id=row.id,
        client_name=row.client_name,
        org_id=row.org_id,
        scope=str(row.client_metadata.get("scope", "")),
        grant_types=tuple(row.client_metadata.get("grant_types", ())),
        created_at=row.created_at,
        revoked=row.revoked_at is not None,
    )


# --- authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3) -------------------------------


@dataclass(frozen=True, kw_only=True)
class AuthorizationRequest:
    """A checked authorization request, ready for the user's consent."""

    client_id: str
    client_name: str
    client_uri: str | None
    logo_uri: str | None
    policy_uri: str | None
    tos_uri: str | None
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str


def _param(params: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    """One parameter; RFC 6749 §3.1: parameters MUST NOT be included more than once."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    values = [v for v in value if v]
    if len(values) > 1:
        raise OAuthError("invalid_request", f"'{name}' is given more than once", property=name)
    return values[0] if values else None


def check_authorization_request(
    platform: Platform, params: Mapping[str, str | Sequence[str]]
) -> AuthorizationRequest:
    """Validates the query of an authorization request (no user needed yet).

    Raises AuthorizationRequestError: without ``redirect_uri`` when the client or the
    redirect URI is unknown (tell the user, never redirect), with it otherwise.
    """
    try:
        client_id = _param(params, "client_id")
        redirect_uri = _param(params, "redirect_uri")
    except OAuthError as e:
        raise AuthorizationRequestError(e.error, e.message, property=e.property) from e
    if client_id is None:
        raise AuthorizationRequestError(
            "invalid_request", "the request has no client_id", property="client_id"
        )
    with platform.reading() as session:
        client = session.get(OAuthClientRow, client_id)
    if client is None or client.revoked_at is not None or client.org_id is not None:
        raise AuthorizationRequestError(
            "invalid_client", f"no application is registered as {client_id!r}", property="client_id"
        )
    metadata = client.client_metadata
    if redirect_uri is None:
        raise AuthorizationRequestError(
            "invalid_request", "the request has no redirect_uri", property="redirect_uri"
        )
    # RFC 6749 §3.1.2.3 / Security BCP §4.1.3: exact string comparison, nothing else
    if redirect_uri not in metadata.get("redirect_uris", ()):
        raise AuthorizationRequestError(
            "invalid_request",
            "the redirect_uri is not one the application registered",
            property="redirect_uri",
        )
    try:
        state = _param(params, "state")
    except OAuthError as e:
        raise AuthorizationRequestError(
            e.error, e.message, redirect_uri=redirect_uri, property=e.property
        ) from e

    def fail(error: str, message: str, prop: str) -> AuthorizationRequestError:
        return AuthorizationRequestError(
            error, message, redirect_uri=redirect_uri, state=state, property=prop
        )

    try:
        response_type = _param(params, "response_type")
        scope_text = _param(params, "scope")
        challenge = _param(params, "code_challenge")
        method = _param(params, "code_challenge_method")
    except OAuthError as e:
        raise fail(e.error, e.message, e.property or "request") from e
    if response_type is None:
        raise fail("invalid_request", "the request has no response_type", "response_type")
    if response_type != "code":
        raise fail(
            "unsupported_response_type", "only response_type=code is supported", "response_type"
        )
    registered = _scopes(metadata.get("scope"))
    scopes = _scopes(scope_text) if scope_text is not None else registered
    if not scopes:
        raise fail("invalid_scope", "the request asks for no scope", "scope")
    unknown = [s for s in scopes if s not in registered]
    if unknown:
        raise fail(
            "invalid_scope", f"the application may not ask for the scope {unknown[0]!r}", "scope"
        )
    # OB 3.0 §7.1.2.1: PKCE MUST be used; RFC 7636 §4.2: S256 is mandatory to implement,
    # and "plain" gives no protection against a leaked authorization request
    if challenge is None:
        raise fail("invalid_request", "PKCE is required: send code_challenge", "code_challenge")
    if method != "S256":
        raise fail(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
            "code_challenge_method",
        )
    if not _S256_CHALLENGE.fullmatch(challenge):
        raise fail(
            "invalid_request",
            "code_challenge must be BASE64URL(SHA-256(code_verifier)): 43 characters",
            "code_challenge",
        )
    return AuthorizationRequest(
        client_id=client.id,
        client_name=client.client_name,
        client_uri=metadata.get("client_uri"),
        logo_uri=metadata.get("logo_uri"),
        policy_uri=metadata.get("policy_uri"),
        tos_uri=metadata.get("tos_uri"),
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        state=state,
        code_challenge=challenge,
    )


@dataclass(frozen=True, kw_only=True)
class ConsentPrompt:
    """What the consent page shows; ``consent_token`` goes back in the form (and is its CSRF
    token: it is bound to the user and unguessable)."""

    consent_token: str
    request: AuthorizationRequest
    #: (scope, plain-language description) in the requested order
    scope_descriptions: tuple[tuple[str, str], ...] = field(default=())


def _require_user(actor: Actor) -> str:
    if actor.kind != "user" or actor.user_id is None:
        raise Unauthenticated("this needs a logged-in user (a web session)", property="session")
    return actor.user_id


def prepare_consent(
    platform: Platform, actor: Actor, request: AuthorizationRequest
) -> ConsentPrompt:
    """Stores the checked request for the logged-in user and returns the consent prompt."""
    user_id = _require_user(actor)
    token = _secret(REQUEST_PREFIX)
    now = platform.clock.now()
    with platform.transaction() as session:
        session.add(
            OAuthAuthorizationRequestRow(
                id_hash=_digest(token),
                client_id=request.client_id,
                user_id=user_id,
                redirect_uri=request.redirect_uri,
                scope=" ".join(request.scopes),
                state=request.state,
                code_challenge=request.code_challenge,
                created_at=now,
                expires_at=now + CONSENT_TTL,
            )
        )
        audit(
            session,
            actor,
            action="oauth.consent.request",
            org_id=None,
            target=request.client_id,
            at=now,
            details={"scope": " ".join(request.scopes)},
        )
    return ConsentPrompt(
        consent_token=token,
        request=request,
        scope_descriptions=tuple((s, USER_SCOPES.get(s, s)) for s in request.scopes),
    )


def decide_consent(platform: Platform, actor: Actor, *, consent_token: str, approve: bool) -> str:
    """The user's answer; returns the URL to send the browser to (RFC 6749 §4.1.2).

    Approve: ``redirect_uri?code=...&state=...``; deny: ``error=access_denied``. The consent
    token is single use, expires after 10 minutes and only works for the user it was shown to
    (anything else is NotFound: a forged form learns nothing).
    """
    user_id = _require_user(actor)
    now = platform.clock.now()
    with platform.transaction() as session:
        row = session.get(
            OAuthAuthorizationRequestRow, _digest(consent_token), with_for_update=True
        )
        if row is None or row.user_id != user_id or row.decided_at is not None:
            raise NotFound(
                "this authorization request is unknown or was answered already",
                property="consent_token",
            )
        if row.expires_at <= now:
            raise NotFound(
                "this authorization request has expired; start again from the application",
                property="consent_token",
            )
        row.decided_at = now
        params: dict[str, str]
        if approve:
            code = _secret(CODE_PREFIX)
            session.add(
                OAuthAuthorizationCodeRow(
                    code_hash=_digest(code),
                    grant_id=new_id(),
                    client_id=row.client_id,
                    user_id=user_id,
                    redirect_uri=row.redirect_uri,
                    scope=row.scope,
                    code_challenge=row.code_challenge,
                    created_at=now,
                    expires_at=now + AUTHORIZATION_CODE_TTL,
                )
            )
            params = {"code": code, "scope": row.scope}
        else:
            params = {
                "error": "access_denied",
                "error_description": "the user did not authorize the application",
            }
        if row.state is not None:
            params["state"] = row.state
        audit(
            session,
            actor,
            action="oauth.consent.approve" if approve else "oauth.consent.deny",
            org_id=None,
            target=row.client_id,
            at=now,
            details={"scope": row.scope},
        )
        return _with_query(row.redirect_uri, params)


# --- token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6) --------------------------------------


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "use HTTP Basic client authentication")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise OAuthError("invalid_client", "the Basic credentials are not base64") from e
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "the Basic credentials have no ':'")
    # RFC 6749 §2.3.1: both are form-urlencoded before base64
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _authenticate_client(
    session: Session, form: Mapping[str, str], authorization: str | None
) -> OAuthClientRow:
    """RFC 6749 §2.3.1: client_secret_basic or client_secret_post, never both."""
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if authorization is not None:
        if posted_secret is not None:
            raise OAuthError(
                "invalid_request", "authenticate with one method only: Basic or the form"
            )
        client_id, secret = _basic_credentials(authorization)
        if posted_id is not None and posted_id != client_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
    elif posted_id is not None and posted_secret is not None:
        client_id, secret = posted_id, posted_secret
    else:
        raise OAuthError("invalid_client", "client authentication is required")
    client = session.get(OAuthClientRow, client_id)
    # compare against a dummy when the client is unknown, so timing tells nothing
    expected = client.secret_hash if client is not None else _digest("-")
    if (
        not hmac.compare_digest(expected, _digest(secret))
        or client is None
        or client.revoked_at is not None
    ):
        raise OAuthError("invalid_client", "client authentication failed")
    return client


def _issue(
    session: Session,
    *,
    client: OAuthClientRow,
    grant_id: str,
    user_id: str | None,
    org_id: str | None,
    scope: str,
    now: datetime,
    refresh: bool,
    ip: str | None,
    action: str,
) -> dict[str, Any]:
    access = _secret(ACCESS_TOKEN_PREFIX)
    access_id = new_id()
    session.add(
        OAuthTokenRow(
            id=access_id,
            token_hash=_digest(access),
            kind="access",
            grant_id=grant_id,
            client_id=client.id,
            user_id=user_id,
            org_id=org_id,
            scope=scope,
            created_at=now,
            expires_at=now + ACCESS_TOKEN_TTL,
        )
    )
    response: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
        "scope": scope,
    }
    if refresh:
        refresh_token = _secret(REFRESH_TOKEN_PREFIX)
        session.add(
            OAuthTokenRow(
                id=new_id(),
                token_hash=_digest(refresh_token),
                kind="refresh",
                grant_id=grant_id,
                client_id=client.id,
                user_id=user_id,
                org_id=org_id,
                scope=scope,
                created_at=now,
                expires_at=now + REFRESH_TOKEN_TTL,
            )
        )
        response["refresh_token"] = refresh_token
    actor = Actor(kind="oauth_token", id=access_id, user_id=user_id, org_id=org_id, ip=ip)
    audit(
        session,
        actor,
        action=action,
        org_id=org_id,
        target=client.id,
        at=now,
        details={"grant_id": grant_id, "scope": scope},
    )
    return response


def _revoke_grant(session: Session, grant_id: str, now: datetime) -> int:
    result = session.execute(
        update(OAuthTokenRow)
        .where(OAuthTokenRow.grant_id == grant_id, OAuthTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _pkce_matches(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def _grant_allowed(client: OAuthClientRow, grant_type: str) -> None:
    if grant_type not in client.client_metadata.get("grant_types", ()):
        raise OAuthError(
            "unauthorized_client", f"this client is not registered for the {grant_type} grant"
        )


def exchange_token(
    platform: Platform,
    *,
    form: Mapping[str, str],
    authorization: str | None,
    ip: str | None = None,
) -> dict[str, Any]:
    """The token endpoint: the RFC 6749 §5.1 response for a form-encoded request.

    Grants: ``authorization_code`` (with the PKCE ``code_verifier``), ``refresh_token``
    (rotating: the old refresh token stops working) and ``client_credentials`` (an
    organisation's machine clients). Raises OAuthError with the §5.2 error code.
    """
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "the request has no grant_type", property="grant_type")
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        raise OAuthError(
            "unsupported_grant_type", f"the grant type {grant_type!r} is not supported"
        )
    now = platform.clock.now()
    replayed_grant: str | None = None
    with platform.transaction() as session:
        client = _authenticate_client(session, form, authorization)
        _grant_allowed(client, grant_type)
        if grant_type == "authorization_code":
            response, replayed_grant = _authorization_code_grant(
                session, client=client, form=form, now=now, ip=ip
            )
        elif grant_type == "refresh_token":
            response, replayed_grant = _refresh_token_grant(
                session, client=client, form=form, now=now, ip=ip
            )
        else:
            response = _client_credentials_grant(session, client=client, form=form, now=now, ip=ip)
        if replayed_grant is not None:
            # the revocation must commit although the request fails
            revoked = _revoke_grant(session, replayed_grant, now)
            audit(
                session,
                Actor(kind="system", id="oauth", ip=ip),
                action="oauth.grant.revoke",
                org_id=None,
                target=client.id,
                at=now,
                details={
                    "grant_id": replayed_grant,
                    "reason": f"{grant_type} reused",
                    "tokens": revoked,
                },
            )
    if replayed_grant is not None or response is None:
        what = "authorization code" if grant_type == "authorization_code" else "refresh token"
        raise OAuthError(
            "invalid_grant",
            f"the {what} was already used; every token issued from it is now revoked",
        )
    return response


def _authorization_code_grant(
    session: Session,
    *,
    client: OAuthClientRow,
    form: Mapping[str, str],
    now: datetime,
    ip: str | None,
) -> tuple[dict[str, Any] | None, str | None]:
    code, redirect_uri, verifier = (
        form.get("code"),
        form.get("redirect_uri"),
        form.get("code_verifier"),
    )
    if not code:
        raise OAuthError("invalid_request", "the request has no code", property="code")
    if not redirect_uri:
        raise OAuthError(
            "invalid_request", "the request has no redirect_uri", property="redirect_uri"
        )
    if not verifier:
        raise OAuthError(
            "invalid_request", "the request has no code_verifier (PKCE)", property="code_verifier"
        )
    row = session.get(OAuthAuthorizationCodeRow, _digest(code), with_for_update=True)
    if row is None or row.client_id != client.id:
        raise OAuthError("invalid_grant", "the authorization code is not valid", property="code")
    if row.used_at is not None:
        return None, row.grant_id
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "the authorization code has expired", property="code")
    if row.redirect_uri != redirect_uri:
        raise OAuthError(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
            property="redirect_uri",
        )
    if not _VERIFIER.fullmatch(verifier) or not _pkce_matches(verifier, row.code_challenge):
        raise OAuthError(
            "invalid_grant",
            "the code_verifier does not match the code_challenge",
            property="code_verifier",
        )
    if session.get(UserRow, row.user_id) is None:
        raise OAuthError("invalid_grant", "the user who authorized this no longer exists")
    row.used_at = now
    response = _issue(
        session,
        client=client,
        grant_id=row.grant_id,
        user_id=row.user_id,
        org_id=None,
        scope=row.scope,
        now=now,
        refresh="refresh_token" in client.client_metadata.get("grant_types", ()),
        ip=ip,
        action="oauth.token.issue",
    )
    return response, None


def _refresh_token_grant(
    session: Session,
    *,
    client: OAuthClientRow,
    form: Mapping[str, str],
    now: datetime,
    ip: str | None,
) -> tuple[dict[str, Any] | None, str | None]:
    token = form.get("refresh_token")
    if not token:
        raise OAuthError(
            "invalid_request", "the request has no refresh_token", property="refresh_token"
        )
    row = session.scalar(
        select(OAuthTokenRow)
        .where(OAuthTokenRow.token_hash == _digest(token), OAuthTokenRow.kind == "refresh")
        .with_for_update()
    )
    if row is None or row.client_id != client.id:
        raise OAuthError(
            "invalid_grant", "the refresh token is not valid", property="refresh_token"
        )
    if row.revoked_at is not None:
        # a rotated refresh token came back: someone holds a copy (Security BCP §4.14.2)
        return None, row.grant_id
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "the refresh token has expired", property="refresh_token")
    granted = _scopes(row.scope)
    asked = form.get("scope")
    scopes = _scopes(asked) if asked else granted
    extra = [s for s in scopes if s not in granted]
    if extra or not scopes:
        raise OAuthError(
            "invalid_scope",
            f"the scope {extra[0]!r} was not granted" if extra else "the request asks for no scope",
            property="scope",
        )
    row.revoked_at = now  # rotation: this refresh token is spent
    response = _issue(
        session,
        client=client,
        grant_id=row.grant_id,
        user_id=row.user_id,
        org_id=row.org_id,
        scope=" ".join(scopes),
        now=now,
        refresh=True,
        ip=ip,
        action="oauth.token.refresh",
    )
    return response, None


def _client_credentials_grant(
    session: Session,
    *,
    client: OAuthClientRow,
    form: Mapping[str, str],
    now: datetime,
    ip: str | None,
) -> dict[str, Any]:
    if client.org_id is None:
        raise OAuthError(
            "unauthorized_client", "only an organisation's clients may use client_credentials"
        )
    org_or_404(session, client.org_id)
    registered = _scopes(client.client_metadata.get("scope"))
    asked = form.get("scope")
    scopes = _scopes(asked) if asked else registered
    extra = [s for s in scopes if s not in registered]
    if extra or not scopes:
        raise OAuthError(
            "invalid_scope",
            f"the client may not ask for the scope {extra[0]!r}"
            if extra
            else "the request asks for no scope",
            property="scope",
        )
    # RFC 6749 §4.4.3: a refresh token SHOULD NOT be included
    return _issue(
        session,
        client=client,
        grant_id=new_id(),
        user_id=None,
        org_id=client.org_id,
        scope=" ".join(scopes),
        now=now,
        refresh=False,
        ip=ip,
        action="oauth.token.issue",
    )


# --- revocation (RFC 7009) -----------------------------------------------------------------


def revoke_token(
    platform: Platform,
    *,
    form: Mapping[str, str],
    authorization: str | None,
    ip: str | None = None,
) -> None:
    """RFC 7009 §2.1: revokes an access or refresh token of the authenticated client.

    An unknown token, or one issued to another client, is answered like a revoked one
    (§2.2: "invalid tokens do not cause an error response"). Revoking a refresh token also
    revokes the access tokens of its grant.
    """
    token = form.get("token")
    if not token:
        raise OAuthError("invalid_request", "the request has no token", property="token")
    # token_type_hint is only an optimisation (§2.1: the server MAY ignore it): one lookup by
    # hash finds either kind, so an unknown or wrong hint changes nothing
    now = platform.clock.now()
    with platform.transaction() as session:
        client = _authenticate_client(session, form, authorization)
        row = session.scalar(
            select(OAuthTokenRow).where(OAuthTokenRow.token_hash == _digest(token))
        )
        if row is None or row.client_id != client.id or row.revoked_at is not None:
            return
        if row.kind == "refresh":
            _revoke_grant(session, row.grant_id, now)
        else:
            row.revoked_at = now
        audit(
            session,
            Actor(kind="oauth_token", id=row.id, user_id=row.user_id, org_id=row.org_id, ip=ip),
            action="oauth.token.revoke",
            org_id=row.org_id,
            target=client.id,
            at=now,
            details={"kind": row.kind, "grant_id": row.grant_id},
        )


# --- the user's view: which applications may act for them --------------------------------


@dataclass(frozen=True, kw_only=True)
class GrantInfo:
    """One application's live access to a user's account (an approved consent)."""

    grant_id: str
    client_id: str
    client_name: str
    scope: str
    granted_at: datetime
    #: when the last of its tokens expires unless refreshed
    expires_at: datetime


def list_user_grants(platform: Platform, actor: Actor) -> list[GrantInfo]:
    """The applications holding live tokens for the logged-in user, newest first."""
    user_id = _require_user(actor)
    now = platform.clock.now()
    with platform.reading() as session:
        rows = session.execute(
            select(OAuthTokenRow, OAuthClientRow.client_name)
            .join(OAuthClientRow, OAuthClientRow.id == OAuthTokenRow.client_id)
            .where(
                OAuthTokenRow.user_id == user_id,
                OAuthTokenRow.revoked_at.is_(None),
                OAuthTokenRow.expires_at > now,
                OAuthClientRow.revoked_at.is_(None),
            )
            .order_by(OAuthTokenRow.created_at)
        ).all()
    grants: dict[str, GrantInfo] = {}
    for token, client_name in rows:
        seen = grants.get(token.grant_id)
        grants[token.grant_id] = GrantInfo(
            grant_id=token.grant_id,
            client_id=token.client_id,
            client_name=client_name,
            scope=token.scope if seen is None else seen.scope,
            granted_at=token.created_at if seen is None else seen.granted_at,
            expires_at=token.expires_at if seen is None else max(seen.expires_at, token.expires_at),
        )
    return sorted(grants.values(), key=lambda g: g.granted_at, reverse=True)


def revoke_user_grant(platform: Platform, actor: Actor, *, grant_id: str) -> None:
    """Withdraws an application's access: every token of the grant stops working.

    Another user's grant (or an unknown id) is NotFound.
    """
    user_id = _require_user(actor)
    now = platform.clock.now()
    with platform.transaction() as session:
        owned = session.scalar(
            select(OAuthTokenRow.client_id)
            .where(OAuthTokenRow.grant_id == grant_id, OAuthTokenRow.user_id == user_id)
            .limit(1)
        )
        if owned is None:
            raise NotFound(f"no access {grant_id!r} was granted by you", property="grant_id")
        revoked = _revoke_grant(session, grant_id, now)
        audit(
            session,
            actor,
            action="oauth.grant.revoke",
            org_id=None,
            target=owned,
            at=now,
            details={"grant_id": grant_id, "reason": "revoked by the user", "tokens": revoked},
        )


# --- metadata (RFC 8414) -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServerEndpoints:
    """Where the adapter serves each endpoint (absolute URLs)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str
    revocation_endpoint: str
    service_documentation: str | None = None


def server_metadata(endpoints: ServerEndpoints) -> dict[str, Any]:
    """The RFC 8414 §2 authorization server metadata document."""
    out: dict[str, Any] = {
        "issuer": endpoints.issuer,
        "authorization_endpoint": endpoints.authorization_endpoint,
        "token_endpoint": endpoints.token_endpoint,
        "registration_endpoint": endpoints.registration_endpoint,
        "revocation_endpoint": endpoints.revocation_endpoint,
        "scopes_supported": [*USER_SCOPES, *sorted(ORG_SCOPES)],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
    }
    if endpoints.service_documentation is not None:
        out["service_documentation"] = endpoints.service_documentation
    return out
