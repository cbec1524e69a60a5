"""Who is calling: the ``Actor`` behind a request (API key, OAuth token or web session).

Routers depend on ``current_actor`` (401 problem without valid credentials) or
``optional_actor`` (public pages that show more to members). The resolution itself lives in
``merito.services.accounts`` (API keys, web sessions with their CSRF check, and OAuth access
tokens through ``merito.services.oauth``); this module only reads the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from merito.api.deps import get_platform
from merito.errors import Unauthenticated
from merito.services import accounts
from merito.services.platform import Actor, Platform

#: the web session cookie (HttpOnly, SameSite=Lax; Secure when served over https)
SESSION_COOKIE = "merito_session"


def client_ip(request: Request) -> str | None:
    """The peer address (recorded in the audit log). Behind a proxy, run uvicorn with
    ``--proxy-headers`` so this is the client's, not the proxy's."""
    return request.client.host if request.client else None


def optional_actor(
    request: Request, platform: Annotated[Platform, Depends(get_platform)]
) -> Actor | None:
    """The caller, or None when the request carries no credentials at all.

    Invalid credentials (unknown, expired or revoked token) are an error, never anonymous.
    """
    authorization = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if authorization is None and cookie is None:
        return None
    return accounts.resolve_actor(
        platform,
        authorization=authorization,
        session_token=cookie,
        method=request.method,
        csrf_token=request.headers.get("x-csrf-token"),
        ip=client_ip(request),
    )


def current_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """The authenticated caller; a 401 problem when there is none."""
    if actor is None:
        raise Unauthenticated(
            "authentication required: send 'Authorization: Bearer <API key or access token>'"
        )
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]
PlatformDep = Annotated[Platform, Depends(get_platform)]
