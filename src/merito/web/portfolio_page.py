"""A learner's public portfolio page and a share link's landing page (HTML).

The addresses are the API's (``/p/{handle}``, ``/s/{token}``): programs get JSON there, and a
browser asking for HTML is handed to these renderers (installed as
``app.state.portfolio_page`` and ``app.state.share_page`` by ``merito.web.install``), as the
credential page is. Only what the learner made public (or shared with the link) is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from fastapi import Request
from starlette.responses import Response

from merito.errors import InvalidInput, NotFound
from merito.services import sharing
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.rendering import page_for, render
from merito.web.verification_view import badge_of

__all__ = ["render_portfolio", "render_share"]

#: a learner's page is theirs to share, not a search engine's to list
_HEADERS: Final = {"X-Robots-Tag": "noindex", "Vary": "Accept, Cookie, Accept-Language"}


def _standing(value: str, _: Gettext) -> tuple[str, str]:
    """The pill's CSS class and label for an item's standing."""
    return {
        "valid": ("pill-ok", _("Valid")),
        "revoked": ("pill-bad", _("Revoked")),
        "suspended": ("pill-warn", _("Suspended")),
        "expired": ("pill-bad", _("Expired")),
        "invalid": ("pill-bad", _("Not valid")),
    }.get(value, ("pill-neutral", _("Not checked")))


def _cards(items: Iterable[sharing.SharedItem], base_url: str, _: Gettext) -> list[dict[str, Any]]:
    cards = []
    for item in items:
        css, label = _standing(item.standing, _)
        cards.append(
            {
                "badge": badge_of(item.document, base_url=base_url),
                "pill_class": css,
                "pill": label,
                "href": item.credential_id
                if item.credential_id and item.credential_id.startswith(("https://", "http://"))
                else None,
            }
        )
    return cards


def render_portfolio(request: Request, handle: str) -> Response:
    page = page_for(request)
    platform = session.get_platform(request)
    try:
        portfolio = sharing.public_portfolio(platform, handle)
    except (NotFound, InvalidInput):
        return render(page, "not_found.html", {}, status=404, headers=_HEADERS)
    values = {
        "portfolio": portfolio,
        "cards": _cards(portfolio.items, platform.base_url, page.gettext),
        "collections": [
            {"collection": c, "cards": _cards(c.items, platform.base_url, page.gettext)}
            for c in portfolio.collections
        ],
        "skills": portfolio.skills,
    }
    return render(page, "portfolio.html", values, headers=_HEADERS)


def render_share(request: Request, token: str) -> Response:
    page = page_for(request)
    platform = session.get_platform(request)
    try:
        view = sharing.resolve_share_link(platform, token)
    except (NotFound, InvalidInput):
        return render(page, "not_found.html", {}, status=404, headers=_HEADERS)
    items: tuple[sharing.SharedItem, ...] = ()
    title = None
    if view.item is not None:
        items = (view.item,)
    elif view.collection is not None:
        items, title = view.collection.items, view.collection.name
    elif view.portfolio is not None:
        items = view.portfolio.items
        title = view.portfolio.display_name or view.portfolio.handle
    values = {
        "title": title,
        "cards": _cards(items, platform.base_url, page.gettext),
        "skills": view.skills,
    }
    return render(page, "shared.html", values, headers=_HEADERS)
