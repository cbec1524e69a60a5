"""The learner's sharing page (``/sharing``): the public portfolio's settings, share links
with their view counts (create, revoke), and each credential's downloads (PDF certificate,
baked badge) and LinkedIn link. The downloads are the API's own routes, reached with the
same session cookie (a GET needs no CSRF token)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.errors import MeritoError
from merito.services import sharing, wallet
from merito.web import session
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render

__all__ = ["SHARING_PATH", "router"]

router = APIRouter(include_in_schema=False)

SHARING_PATH: Final = "/sharing"
_MAX_FIELD: Final = 400


def _page(
    page: Page,
    *,
    errors: dict[str, str] | None = None,
    new_link: str | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    actor = page.viewer.actor
    if actor is None:  # callers redirect signed-out visitors first; this is the backstop
        return see_other(page, "/login?next=" + SHARING_PATH)
    platform = session.get_platform(page.request)
    links = sharing.list_share_links(platform, actor)
    items = wallet.list_items(platform, actor)
    names = {i.id: i.name for i in items}
    now = platform.clock.now()
    values: dict[str, Any] = {
        "settings": sharing.get_portfolio_settings(platform, actor),
        "items": items,
        "links": [
            {
                "link": link,
                "active": link.active(now),
                "what": names.get(link.wallet_item_id or "", "") if link.target == "item" else "",
            }
            for link in links
        ],
        "errors": errors or {},
        "new_link": new_link,
        "saved": saved,
    }
    return render(page, "sharing.html", values, status=status)


@router.get(SHARING_PATH)
def sharing_page(request: Request) -> Response:
    page = page_for(request)
    if not page.viewer.signed_in:
        return see_other(page, "/login?next=" + SHARING_PATH)
    return _page(page, saved=request.query_params.get("saved") == "1")


async def _form(request: Request, fields: int) -> dict[str, str]:
    async with request.form(max_files=0, max_fields=fields) as form:
        return {k: str(v)[:_MAX_FIELD] for k, v in form.items() if isinstance(v, str)}


@router.post(SHARING_PATH + "/portfolio")
async def save_portfolio(request: Request) -> Response:
    page = page_for(request)
    _ = page.gettext
    if page.viewer.actor is None:
        return see_other(page, "/login?next=" + SHARING_PATH)
    form = await _form(request, 6)
    if not session.csrf_matches(request, form.get("csrf_token")):
        return _page(page, errors={"form": csrf_error(_)}, status=403)
    actor = page.viewer.actor
    try:
        await run_in_threadpool(
            lambda: sharing.update_portfolio(
                session.get_platform(request),
                actor,
                handle=form.get("handle", ""),
                display_name=form.get("display_name", ""),
                headline=form.get("headline", ""),
                enabled=form.get("enabled") == "on",
            )
        )
    except MeritoError as e:
        field = e.property if e.property in ("handle", "display_name", "headline") else "form"
        return _page(page, errors={field: e.message}, status=422 if field != "form" else 409)
    return see_other(page, SHARING_PATH + "?saved=1")


@router.post(SHARING_PATH + "/links")
async def create_link(request: Request) -> Response:
    page = page_for(request)
    _ = page.gettext
    if page.viewer.actor is None:
        return see_other(page, "/login?next=" + SHARING_PATH)
    form = await _form(request, 3)
    if not session.csrf_matches(request, form.get("csrf_token")):
        return _page(page, errors={"form": csrf_error(_)}, status=403)
    actor = page.viewer.actor
    item_id = form.get("item_id") or None
    try:
        link = await run_in_threadpool(
            lambda: sharing.create_share_link(
                session.get_platform(request),
                actor,
                target="item" if item_id else "portfolio",
                item_id=item_id,
            )
        )
    except MeritoError as e:
        return _page(page, errors={"form": e.message}, status=422)
    # shown once, in this answer: a redirect would put the token in the history
    return _page(page, new_link=link.url, status=201)


@router.post(SHARING_PATH + "/links/{link_id}/revoke")
async def revoke_link(request: Request, link_id: str) -> Response:
    page = page_for(request)
    _ = page.gettext
    if page.viewer.actor is None:
        return see_other(page, "/login?next=" + SHARING_PATH)
    form = await _form(request, 2)
    if not session.csrf_matches(request, form.get("csrf_token")):
        return _page(page, errors={"form": csrf_error(_)}, status=403)
    actor = page.viewer.actor
    try:
        await run_in_threadpool(
            sharing.revoke_share_link, session.get_platform(request), actor, link_id[:36]
        )
    except MeritoError as e:
        return _page(page, errors={"form": e.message}, status=404)
    return see_other(page, SHARING_PATH)
