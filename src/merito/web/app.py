"""Installs the pages and the static files on an ASGI app (see ``merito.asgi``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from merito.web import (
    analytics_page,
    assessment_page,
    credential_page,
    employer_page,
    integrations_page,
    pages,
    pathways_page,
    portfolio_page,
    sharing_page,
    skills_page,
    studio,
    studio_issuing,
    trust_page,
    verify_page,
    wallet_page,
    workforce_page,
)
from merito.web.rendering import page_for, render

__all__ = ["STATIC_DIR", "STATIC_PATH", "install"]

STATIC_PATH: Final = "/static"
STATIC_DIR: Final = Path(__file__).parent / "static"
#: paths whose errors stay machine-readable whoever asks (the API, its docs, OAuth, OB 3.0)
_MACHINE_PREFIXES: Final = ("/api/", "/docs", "/oauth", "/ims/", "/.well-known/", STATIC_PATH)

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


class _Static(StaticFiles):
    """Static files with a cache lifetime (they change only with a release)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response


def _wants_page(request: Request) -> bool:
    if request.url.path.startswith(_MACHINE_PREFIXES) or request.method not in ("GET", "HEAD"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/xhtml+xml" in accept


def _not_found_page(previous: Handler | None) -> Handler:
    """A person following a dead link gets a page; programs keep the API's problem JSON."""

    async def handle(request: Request, error: Exception) -> Response:
        if isinstance(error, HTTPException) and error.status_code == 404 and _wants_page(request):
            return render(page_for(request), "not_found.html", {}, status=404)
        if previous is None:
            raise error
        result = previous(request, error)
        return await result if isinstance(result, Awaitable) else result

    return handle


def install(app: FastAPI) -> None:
    """Adds every page route and ``/static`` to ``app``; browsers asking the API's credential
    URL for HTML get the credential page (``app.state.credential_page``)."""
    app.include_router(pages.router)
    app.include_router(verify_page.router)
    app.include_router(credential_page.router)
    app.include_router(wallet_page.router)  # /claim/{token}, /wallet
    app.include_router(sharing_page.router)  # /sharing: portfolio settings, links, downloads
    app.include_router(studio.router)  # /studio/{slug}: dashboard, achievements
    app.include_router(studio_issuing.router)  # issue, bulk, credentials, API keys
    app.include_router(analytics_page.router)  # /studio/{slug}/analytics
    app.include_router(pathways_page.router)
    app.include_router(integrations_page.router)
    app.include_router(assessment_page.router)
    app.include_router(trust_page.router)
    app.include_router(workforce_page.router)
    app.include_router(employer_page.router)  # /studio/{slug}/roles: hiring
    app.include_router(skills_page.router)  # /me/skills, learning path; /attribution
    app.state.credential_page = credential_page.render_public
    app.state.portfolio_page = portfolio_page.render_portfolio  # /p/{handle} for browsers
    app.state.share_page = portfolio_page.render_share  # /s/{token} for browsers
    app.mount(STATIC_PATH, _Static(directory=STATIC_DIR), name="static")
    previous = app.exception_handlers.get(HTTPException)
    app.add_exception_handler(HTTPException, _not_found_page(previous))
