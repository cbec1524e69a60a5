"""Merito's web pages: server-rendered HTML (Jinja2, htmx from /static, no external CDN).

``install(app)`` adds the pages and the static files to an app that provides
``app.state.settings`` (and ``app.state.platform``, built on first use when None), which
``merito.asgi`` composes with the API.
"""

from merito.web.app import STATIC_PATH, install

__all__ = ["STATIC_PATH", "install"]
