"""The whole Merito server: the API (``merito.api``) and the web pages (``merito.web``).

The two adapters never import each other; this module is where they meet. ``merito serve``
and ``merito demo`` run ``create_app`` (uvicorn's factory string ``merito.asgi:create_app``).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from merito import web
from merito.api.app import create_app as create_api_app
from merito.config import Settings
from merito.services.platform import Platform
from merito.verification import VerifyOptions

__all__ = ["create_app"]


def create_app(
    *,
    settings: Settings | None = None,
    verify_options_factory: Callable[[], VerifyOptions] | None = None,
    platform: Platform | None = None,
) -> FastAPI:
    """The API app with the pages and their static files added (same arguments)."""
    app = create_api_app(
        settings=settings, verify_options_factory=verify_options_factory, platform=platform
    )
    web.install(app)
    return app
