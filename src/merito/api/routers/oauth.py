"""The OAuth 2.0 endpoints: registration, authorization (login + consent pages), token, revoke.

Errors here are the OAuth protocol's own, not problem JSON: RFC 6749 §5.2 ``{"error",
"error_description"}`` at the token and revocation endpoints (401 for ``invalid_client``),
RFC 7591 §3.2.2 at registration, and redirects with ``error=`` from the authorization endpoint
(§4.1.2.1) unless the client or redirect URI cannot be trusted, when the user sees a page.
These routes are described by RFC 8414 metadata (``/.well-known/oauth-authorization-server``)
and the OB 3.0 discovery document, not by /openapi.json. The organisation's machine-client
routes under ``/api/v1`` are ordinary Merito API routes (problem JSON).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import urllib.parse
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from merito.api.auth import SESSION_COOKIE, CurrentActor, PlatformDep
from merito.api.deps import get_platform
from merito.errors import MeritoError, RateLimited, Unauthenticated
from merito.services import accounts, oauth
from merito.services.platform import Actor, Platform

__all__ = [
    "AUTHORIZE_PATH",
    "LOGIN_PATH",
    "METADATA_PATH",
    "REGISTER_PATH",
    "REVOKE_PATH",
    "TOKEN_PATH",
    "endpoints",
    "org_router",
    "router",
    "session_user",
]

REGISTER_PATH: Final = "/oauth/register"
AUTHORIZE_PATH: Final = "/oauth/authorize"
DECISION_PATH: Final = "/oauth/authorize/decision"
LOGIN_PATH: Final = "/oauth/login"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path, not a secret
REVOKE_PATH: Final = "/oauth/revoke"
METADATA_PATH: Final = "/.well-known/oauth-authorization-server"

#: registration and form bodies are small; anything bigger is refused unread
MAX_FORM_BYTES: Final = 64 * 1024
_FORM_TYPE: Final = "application/x-www-form-urlencoded"
#: RFC 6749 §5.1: token responses MUST NOT be cached
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

router = APIRouter(tags=["oauth"], include_in_schema=False)
org_router = APIRouter(tags=["oauth"])


def endpoints(platform: Platform) -> oauth.ServerEndpoints:
    return oauth.ServerEndpoints(
        issuer=platform.base_url.rstrip("/"),
        authorization_endpoint=platform.url(AUTHORIZE_PATH),
        token_endpoint=platform.url(TOKEN_PATH),
        registration_endpoint=platform.url(REGISTER_PATH),
        revocation_endpoint=platform.url(REVOKE_PATH),
        service_documentation=platform.url("/docs"),
    )


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _oauth_error(error: oauth.OAuthError) -> JSONResponse:
    status = 401 if error.error == "invalid_client" else 400
    headers = dict(_NO_STORE)
    if status == 401:
        # RFC 6749 §5.2: invalid_client is a 401 naming the scheme the client may use
        headers["WWW-Authenticate"] = 'Basic realm="merito"'
    return JSONResponse(
        {"error": error.error, "error_description": error.message},
        status_code=status,
        headers=headers,
    )


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None when it is over MAX_FORM_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; a repeated parameter is an error
    (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once")."""
    if _media_type(request) != _FORM_TYPE:
        raise oauth.OAuthError("invalid_request", f"send the parameters as {_FORM_TYPE}")
    body = await _read_limited(request)
    if body is None:
        raise oauth.OAuthError("invalid_request", f"the body is over {MAX_FORM_BYTES} bytes")
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=False, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError) as e:
        raise oauth.OAuthError("invalid_request", "the body is not a UTF-8 form") from e
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise oauth.OAuthError("invalid_request", f"'{name}' is given more than once")
        form[name] = value
    return form


# --- metadata and registration -------------------------------------------------------------


@router.get(METADATA_PATH)
def authorization_server_metadata(platform: PlatformDep) -> JSONResponse:
    """RFC 8414 §3: the authorization server metadata."""
    return JSONResponse(oauth.server_metadata(endpoints(platform)))


@router.post(REGISTER_PATH)
async def register(request: Request, platform: PlatformDep) -> Response:
    """RFC 7591 §3.1: open dynamic registration of an OB 3.0 API client (201 + credentials)."""
    if _media_type(request) != "application/json":
        error = oauth.OAuthError("invalid_client_metadata", "send the metadata as JSON")
        return _oauth_error(error)
    body = await _read_limited(request)
    try:
        if body is None:
            raise oauth.OAuthError("invalid_client_metadata", "the metadata is too large")
        try:
            metadata = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise oauth.OAuthError("invalid_client_metadata", "the body is not JSON") from e
        if not isinstance(metadata, dict):
            raise oauth.OAuthError("invalid_client_metadata", "the metadata must be an object")
        client = await run_in_threadpool(oauth.register_client, platform, metadata, ip=_ip(request))
    except oauth.OAuthError as e:
        return _oauth_error(e)
    return JSONResponse(client.registration_response(), status_code=201, headers=_NO_STORE)


# --- token and revocation ------------------------------------------------------------------


@router.post(TOKEN_PATH)
async def token(request: Request, platform: PlatformDep) -> Response:
    """RFC 6749 §3.2: authorization_code (+PKCE), refresh_token, client_credentials."""
    authorization = request.headers.get("authorization")
    try:
        form = await _form(request)
        issued = await run_in_threadpool(
            lambda: oauth.exchange_token(
                platform, form=form, authorization=authorization, ip=_ip(request)
            )
        )
    except oauth.OAuthError as e:
        return _oauth_error(e)
    return JSONResponse(issued, headers=_NO_STORE)


@router.post(REVOKE_PATH)
async def revoke(request: Request, platform: PlatformDep) -> Response:
    """RFC 7009 §2: 200 whether or not the token was valid."""
    authorization = request.headers.get("authorization")
    try:
        form = await _form(request)
        await run_in_threadpool(
            lambda: oauth.revoke_token(
                platform, form=form, authorization=authorization, ip=_ip(request)
            )
        )
    except oauth.OAuthError as e:
        return _oauth_error(e)
    return Response(status_code=200, headers=_NO_STORE)


# --- the pages: login, consent -------------------------------------------------------------


def session_user(
    request: Request, platform: Annotated[Platform, Depends(get_platform)]
) -> Actor | None:
    """The user logged in with the web session cookie, or None (no or stale session).

    The consent form carries its own CSRF token (the single-use, user-bound consent token),
    so the session is resolved as for a safe request whatever the method.
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    try:
        actor = accounts.resolve_actor(
            platform,
            authorization=None,
            session_token=cookie,
            method="GET",
            csrf_token=None,
            ip=_ip(request),
        )
    except Unauthenticated:
        return None
    if actor is None or actor.kind != "user" or actor.user_id is None:
        return None
    return actor


SessionUser = Annotated[Actor | None, Depends(session_user)]

_STYLE: Final = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "color:#1b1b1b}h1{font-size:1.4rem}ul{padding-left:1.2rem}li{margin:.3rem 0}"
    "img.logo{max-height:48px;max-width:160px}form{margin-top:1.5rem}"
    "label{display:block;margin:.6rem 0 .2rem}input[type=email],input[type=password]"
    "{width:100%;padding:.4rem;box-sizing:border-box}button{padding:.5rem 1.1rem;"
    "margin-right:.6rem;font-size:1rem}.error{color:#a40000}.muted{color:#555;font-size:.9rem}"
)
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def _origin(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _page(
    title: str, body: str, *, status: int = 200, form_targets: tuple[str, ...] = ()
) -> HTMLResponse:
    """A small self-contained page: no script, the one inline style allowed by its hash."""
    # form-action also governs where the POST's redirect may go (the client's redirect_uri)
    form_action = " ".join(("'self'", *form_targets))
    csp = (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src https:; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)} · Merito</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": csp, "Cache-Control": "no-store"}
    return HTMLResponse(document, status_code=status, headers=headers)


def _error_page(message: str, *, status: int = 400) -> HTMLResponse:
    body = (
        "<h1>This authorization request cannot continue</h1>"
        f'<p class="error">{html.escape(message)}.</p>'
        '<p class="muted">Go back to the application and try again; if it keeps happening, '
        "tell the application's developers.</p>"
    )
    return _page("Authorization error", body, status=status)


def _login_page(next_url: str, *, error: str | None = None, status: int = 200) -> HTMLResponse:
    notice = f'<p class="error">{html.escape(error)}</p>' if error else ""
    body = (
        "<h1>Log in to Merito</h1>"
        "<p>An application asks to use your Merito account. Log in first; you will then "
        "see what it asks for and decide.</p>"
        f"{notice}"
        f'<form method="post" action="{LOGIN_PATH}">'
        f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
        '<label for="email">Email</label>'
        '<input id="email" name="email" type="email" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<p><button type="submit">Log in</button></p></form>'
    )
    return _page("Log in", body, status=status)


def _link(label: str, uri: str | None) -> str:
    if not uri:
        return ""
    return f'<a href="{html.escape(uri)}" rel="noopener noreferrer">{html.escape(label)}</a>'


def _consent_page(prompt: oauth.ConsentPrompt) -> HTMLResponse:
    request = prompt.request
    name = html.escape(request.client_name)
    logo = (
        f'<img class="logo" src="{html.escape(request.logo_uri)}" alt="">'
        if request.logo_uri
        else ""
    )
    items = "".join(f"<li>{html.escape(text)}</li>" for _, text in prompt.scope_descriptions)
    links = " · ".join(
        link
        for link in (
            _link("Website", request.client_uri),
            _link("Privacy policy", request.policy_uri),
            _link("Terms of service", request.tos_uri),
        )
        if link
    )
    redirect_host = html.escape(urllib.parse.urlsplit(request.redirect_uri).netloc)
    body = (
        f"{logo}<h1>Allow {name} to use your Merito account?</h1>"
        f"<p><strong>{name}</strong> asks to:</p><ul>{items}</ul>"
        f'<p class="muted">{links}</p>'
        f'<p class="muted">If you allow it, you will be sent back to {redirect_host}. '
        "You can revoke this access at any time.</p>"
        f'<form method="post" action="{DECISION_PATH}">'
        f'<input type="hidden" name="consent_token" value="{html.escape(prompt.consent_token)}">'
        '<button type="submit" name="decision" value="approve">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
    )
    return _page(
        f"Authorize {request.client_name}", body, form_targets=(_origin(request.redirect_uri),)
    )


def _multi_query(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        out.setdefault(name, []).append(value)
    return out


@router.get(AUTHORIZE_PATH)
def authorize(request: Request, platform: PlatformDep, user: SessionUser) -> Response:
    """RFC 6749 §4.1.1: checks the request, then the login page or the consent page."""
    try:
        checked = oauth.check_authorization_request(platform, _multi_query(request))
    except oauth.AuthorizationRequestError as e:
        target = e.redirect_url
        if target is None:
            return _error_page(e.message)
        return RedirectResponse(target, status_code=302)
    if user is None:
        next_url = AUTHORIZE_PATH + "?" + request.url.query
        return _login_page(next_url)
    prompt = oauth.prepare_consent(platform, user, checked)
    return _consent_page(prompt)


@router.post(DECISION_PATH)
async def decide(request: Request, platform: PlatformDep, user: SessionUser) -> Response:
    """The consent form: 303 to the client's redirect URI with a code or access_denied."""
    if _cross_site(request, platform):
        return _error_page("This form was sent from another site", status=403)
    try:
        form = await _form(request)
    except oauth.OAuthError as e:
        return _error_page(e.message)
    if user is None:
        return _error_page("You are not logged in any more", status=401)
    consent_token = form.get("consent_token", "")
    decision = form.get("decision")
    if decision not in ("approve", "deny"):
        return _error_page("Choose Allow or Deny")
    try:
        target = await run_in_threadpool(
            lambda: oauth.decide_consent(
                platform, user, consent_token=consent_token, approve=decision == "approve"
            )
        )
    except MeritoError as e:
        return _error_page(e.message, status=400)
    # 303: the browser follows with GET, never re-posting the form to the client
    return RedirectResponse(target, status_code=303)


def _safe_next(next_url: str | None) -> str | None:
    """Only back to this server's authorization endpoint: never an open redirect."""
    if not next_url or not next_url.startswith(AUTHORIZE_PATH + "?"):
        return None
    if "\\" in next_url or any(ord(c) < 0x20 for c in next_url):
        return None
    return next_url


def _cross_site(request: Request, platform: Platform) -> bool:
    """A form post another site made the browser send (login CSRF): Fetch Metadata says so,
    or the Origin is neither this server's public origin nor the request's own."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    own = {_origin(platform.base_url), f"{request.url.scheme}://{request.url.netloc}"}
    return origin not in own


@router.post(LOGIN_PATH)
async def login(request: Request, platform: PlatformDep) -> Response:
    """The login form of the authorization flow: sets the session cookie, back to consent."""
    if _cross_site(request, platform):
        return _error_page("This login form was sent from another site", status=403)
    try:
        form = await _form(request)
    except oauth.OAuthError as e:
        return _error_page(e.message)
    next_url = _safe_next(form.get("next"))
    if next_url is None:
        return _error_page("The login form was not sent from an authorization request")
    email, password = form.get("email", ""), form.get("password", "")
    try:
        session = await run_in_threadpool(
            lambda: accounts.login(platform, email=email, password=password, ip=_ip(request))
        )
    except Unauthenticated:
        return _login_page(next_url, error="The email or password is not right.", status=401)
    except RateLimited as e:
        page = _login_page(next_url, error=e.message, status=429)
        page.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
        return page
    except MeritoError as e:
        return _login_page(next_url, error=e.message, status=400)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=session.max_age,
        httponly=True,
        samesite="lax",
        secure=platform.base_url.startswith("https://"),
        path="/",
    )
    return response


# --- an organisation's machine clients (Merito API, problem JSON) -----------------------------


class OrgClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_name: str = Field(min_length=1, max_length=200, description="Shown in audit logs.")
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(oauth.ORG_SCOPES),
        description="Merito permissions the client's tokens may carry (e.g. credentials:read).",
    )
    token_endpoint_auth_method: str = Field(
        default="client_secret_basic", pattern="^client_secret_(basic|post)$"
    )


class OrgClientOut(BaseModel):
    client_id: str
    client_secret: str | None = Field(
        default=None, description="Only in the response that created the client."
    )
    client_name: str
    scope: str
    grant_types: list[str]
    token_endpoint: str


class OrgClientList(BaseModel):
    clients: list[OrgClientOut]


@org_router.post(
    "/orgs/{org_id}/oauth-clients",
    status_code=201,
    response_model=OrgClientOut,
    summary="Register a machine client (client credentials)",
)
def create_org_client(
    org_id: str, body: OrgClientIn, actor: CurrentActor, platform: PlatformDep
) -> OrgClientOut:
    """A client for the OAuth 2.0 client-credentials grant whose tokens act in this
    organisation only, with at most ``scopes``. The secret is shown once (needs
    ``integrations:manage``)."""
    client = oauth.register_org_client(
        platform,
        actor,
        org_id=org_id,
        client_name=body.client_name,
        scopes=body.scopes,
        token_endpoint_auth_method=body.token_endpoint_auth_method,
    )
    return OrgClientOut(
        client_id=client.client_id,
        client_secret=client.client_secret,
        client_name=str(client.metadata["client_name"]),
        scope=str(client.metadata["scope"]),
        grant_types=list(client.metadata["grant_types"]),
        token_endpoint=platform.url(TOKEN_PATH),
    )


@org_router.get(
    "/orgs/{org_id}/oauth-clients",
    response_model=OrgClientList,
    summary="List the machine clients",
)
def list_org_clients(org_id: str, actor: CurrentActor, platform: PlatformDep) -> OrgClientList:
    clients = oauth.list_org_clients(platform, actor, org_id=org_id)
    return OrgClientList(
        clients=[
            OrgClientOut(
                client_id=c.client_id,
                client_name=c.client_name,
                scope=c.scope,
                grant_types=list(c.grant_types),
                token_endpoint=platform.url(TOKEN_PATH),
            )
            for c in clients
        ]
    )


# --- the user's connected applications (Merito API, problem JSON) ---------------------------


class GrantOut(BaseModel):
    grant_id: str
    client_id: str
    client_name: str
    scope: str
    granted_at: datetime
    expires_at: datetime


class GrantList(BaseModel):
    grants: list[GrantOut]


@org_router.get(
    "/me/oauth-grants",
    response_model=GrantList,
    summary="Applications with access to my account",
)
def list_my_grants(actor: CurrentActor, platform: PlatformDep) -> GrantList:
    """The applications holding live OAuth tokens for the logged-in user."""
    grants = oauth.list_user_grants(platform, actor)
    return GrantList(
        grants=[
            GrantOut(
                grant_id=g.grant_id,
                client_id=g.client_id,
                client_name=g.client_name,
                scope=g.scope,
                granted_at=g.granted_at,
                expires_at=g.expires_at,
            )
            for g in grants
        ]
    )


@org_router.delete(
    "/me/oauth-grants/{grant_id}",
    status_code=204,
    summary="Revoke an application's access to my account",
)
def revoke_my_grant(grant_id: str, actor: CurrentActor, platform: PlatformDep) -> Response:
    """Every access and refresh token of the grant stops working at once."""
    oauth.revoke_user_grant(platform, actor, grant_id=grant_id)
    return Response(status_code=204)
