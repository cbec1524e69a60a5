"""Installs the pages and the static files on an ASGI app (see ``merito.asgi``)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from merito.web import credential_page, pages, portfolio_page, verify_page, wallet_page

__all__ = ["STATIC_DIR", "STATIC_PATH", "install"]

STATIC_PATH: Final = "/static"
STATIC_DIR: Final = Path(__file__).parent / "static"


class _Static(StaticFiles):
    """Static files with a cache lifetime (they change only with a release)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response


def install(app: FastAPI) -> None:
    """Adds every page route and ``/static`` to ``app``; browsers asking the API's credential
    URL for HTML get the credential page (``app.state.credential_page``)."""
    app.include_router(pages.router)
    app.include_router(verify_page.router)
    app.include_router(credential_page.router)
    app.include_router(wallet_page.router)  # /claim/{token}, /wallet
    app.state.credential_page = credential_page.render_public
    app.state.portfolio_page = portfolio_page.render_portfolio  # /p/{handle} for browsers
    app.state.share_page = portfolio_page.render_share  # /s/{token} for browsers
    app.mount(STATIC_PATH, _Static(directory=STATIC_DIR), name="static")
