"""Who is looking at a page, and the CSRF token of its forms.

The pages share the API's login session: the cookie ``merito_session`` (HttpOnly,
SameSite=Lax, Secure over https) that ``POST /api/v1/auth/login`` or the log-in page sets,
resolved by ``merito.services.accounts.resolve_actor``. A form of a signed-in page carries the
session's CSRF token (``accounts.csrf_token_for``); a form shown before login (log in, sign up)
carries a random token that is also in the ``merito_csrf`` cookie (double submit: a
cross-site page can set neither), so nobody can log a victim into an attacker's account.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from merito import bootstrap
from merito.errors import MeritoError
from merito.services import accounts
from merito.services.platform import Actor, Platform

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "Viewer",
    "clear_session_cookie",
    "client_ip",
    "csrf_matches",
    "get_platform",
    "is_secure",
    "set_csrf_cookie",
    "set_session_cookie",
    "viewer",
]

SESSION_COOKIE: Final = "merito_session"
CSRF_COOKIE: Final = "merito_csrf"
CSRF_FIELD: Final = "csrf_token"

_platform_lock = threading.Lock()


def get_platform(request: Request) -> Platform:
    """The app's Platform (``app.state.platform``), built from its settings on first use."""
    state = request.app.state
    if getattr(state, "platform", None) is None:
        with _platform_lock:
            if getattr(state, "platform", None) is None:
                state.platform = bootstrap.platform(state.settings)
    platform: Platform = state.platform
    return platform


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_secure(request: Request) -> bool:
    """Cookies are Secure when Merito's public origin is https (as the API's login does)."""
    settings = request.app.state.settings
    platform = getattr(request.app.state, "platform", None)
    base_url: str = platform.base_url if platform is not None else settings.base_url
    return base_url.startswith("https://")


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person looking at a page: signed in (``actor``, ``email``) or anonymous."""

    actor: Actor | None
    email: str | None
    #: the token every form of this page sends back (session-bound or pre-session)
    csrf_token: str
    #: a new pre-session token the response must set as the ``merito_csrf`` cookie
    new_csrf_cookie: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.actor is not None


def viewer(request: Request) -> Viewer:
    """Resolves the session cookie (a stale or revoked one counts as signed out)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        platform = get_platform(request)
        try:
            actor = accounts.resolve_actor(
                platform,
                authorization=None,
                session_token=token,
                method="GET",  # reading who is there; forms are checked by csrf_matches
                csrf_token=None,
                ip=client_ip(request),
            )
        except MeritoError:
            actor = None
        if actor is not None:
            user = accounts.get_user(platform, actor)
            return Viewer(actor=actor, email=user.email, csrf_token=accounts.csrf_token_for(token))
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return Viewer(actor=None, email=None, csrf_token=existing)
    fresh = secrets.token_urlsafe(32)
    return Viewer(actor=None, email=None, csrf_token=fresh, new_csrf_cookie=fresh)


def csrf_matches(request: Request, submitted: str | None) -> bool:
    """Whether a form's token is the one of this browser's session (or pre-session cookie)."""
    if not submitted:
        return False
    session_token = request.cookies.get(SESSION_COOKIE)
    expected: list[str] = []
    if session_token:
        expected.append(accounts.csrf_token_for(session_token))
    pre_session = request.cookies.get(CSRF_COOKIE)
    if pre_session:
        expected.append(pre_session)
    return any(hmac.compare_digest(submitted, token) for token in expected)


def set_session_cookie(response: Response, request: Request, *, token: str, max_age: int) -> None:
    """The same cookie the API's login sets, so both see one session."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
