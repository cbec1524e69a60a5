"""Rendering a page: its language, its viewer, its security headers.

Every page carries its own Content-Security-Policy (the API's middleware only sets one when a
response has none): scripts and styles from this origin only, no inline script or style
attribute, images from this origin or ``data:`` (baked badge images), forms posting only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from merito.web import i18n, session
from merito.web.templating import environment

__all__ = ["PAGE_CSP", "PAGE_HEADERS", "Page", "page_for", "render"]

PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": PAGE_CSP,
    # pages hold a CSRF token and who is signed in: never stored by a shared cache
    "Cache-Control": "no-store",
    "Vary": "Cookie, Accept-Language",
}
_HTMX_HEADER: Final = "hx-request"


class Page:
    """What a page's template is rendered with, beyond its own values."""

    def __init__(self, request: Request) -> None:
        self.request = request
        query_lang = request.query_params.get("lang")
        self.lang = i18n.negotiate(
            query=query_lang,
            cookie=request.cookies.get(i18n.LANG_COOKIE),
            accept_language=request.headers.get("accept-language"),
        )
        self.remember_lang = query_lang == self.lang
        self.viewer = session.viewer(request)
        self.gettext: i18n.Gettext = i18n.translations(self.lang).gettext

    @property
    def htmx(self) -> bool:
        """An htmx request (the page swaps a fragment in) rather than a full navigation."""
        return self.request.headers.get(_HTMX_HEADER) == "true"

    def language_links(self) -> list[dict[str, Any]]:
        links = []
        for code, name in i18n.LANGUAGES.items():
            url = self.request.url.include_query_params(lang=code)
            links.append(
                {
                    "code": code,
                    "name": name,
                    "href": f"{url.path}?{url.query}",
                    "current": code == self.lang,
                }
            )
        return links

    def context(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "viewer": self.viewer,
            "csrf_field": session.CSRF_FIELD,
            "csrf_token": self.viewer.csrf_token,
            "path": self.request.url.path,
            "language_links": self.language_links(),
        }


def page_for(request: Request) -> Page:
    return Page(request)


def render(
    page: Page,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The template rendered in the page's language, with the page headers and cookies."""
    html = (
        environment(page.lang).get_template(template).render({**page.context(), **(values or {})})
    )
    response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
    finish(page, response)
    return response


def finish(page: Page, response: Response) -> None:
    """Cookies a page sets: the pre-session CSRF token, a language picked with ``?lang=``."""
    if page.viewer.new_csrf_cookie is not None:
        session.set_csrf_cookie(response, page.request, page.viewer.new_csrf_cookie)
    if page.remember_lang:
        response.set_cookie(
            i18n.LANG_COOKIE,
            page.lang,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=session.is_secure(page.request),
            path="/",
        )
