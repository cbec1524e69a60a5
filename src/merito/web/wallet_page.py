"""The learner's wallet pages: the emailed claim link (``/claim/{token}``) and ``/wallet``.

``GET /claim/{token}`` asks a signed-in learner to confirm (a GET never changes anything);
the confirmation posts back and lands the credential in their wallet. ``/wallet`` lists the
wallet with each item's last verdict, and imports a badge file, image or URL.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.errors import Conflict, MeritoError, NotFound
from merito.services import wallet
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render

router = APIRouter(include_in_schema=False)

WALLET_PATH: Final = "/wallet"
_MAX_TOKEN: Final = 200


def _login_first(page: Page, path: str) -> Response:
    return see_other(page, "/login?next=" + quote(path, safe="/"))


def _claim_error(error: MeritoError, _: Gettext) -> str:
    if isinstance(error, Conflict):
        return _("This credential was already claimed by another account.")
    if isinstance(error, wallet.CredentialRevoked):
        return _("The issuer revoked this credential, so it cannot be claimed.")
    if isinstance(error, NotFound):
        return _("This claim link is not valid. Check that you opened the whole link.")
    return _("The credential could not be claimed. Please try again.")


@router.get("/claim/{token}")
def claim_page(request: Request, token: str) -> Response:
    page = page_for(request)
    token = token[:_MAX_TOKEN]
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, f"/claim/{token}")
    try:
        preview = wallet.claim_preview(session.get_platform(request), actor, token)
    except MeritoError as e:
        values = {"token": token, "error": _claim_error(e, page.gettext), "preview": None}
        return render(page, "claim.html", values, status=404)
    return render(page, "claim.html", {"token": token, "error": None, "preview": preview})


@router.post("/claim/{token}")
async def claim_submit(request: Request, token: str) -> Response:
    page = page_for(request)
    _ = page.gettext
    token = token[:_MAX_TOKEN]
    if page.viewer.actor is None:
        return _login_first(page, f"/claim/{token}")
    async with request.form(max_fields=2) as form:
        submitted = str(form.get("csrf_token") or "")
    if not session.csrf_matches(request, submitted):
        values = {"token": token, "error": csrf_error(_), "preview": None}
        return render(page, "claim.html", values, status=403)
    actor = page.viewer.actor
    try:
        item = await run_in_threadpool(wallet.claim, session.get_platform(request), actor, token)
    except MeritoError as e:
        values = {"token": token, "error": _claim_error(e, _), "preview": None}
        return render(page, "claim.html", values, status=409 if isinstance(e, Conflict) else 422)
    return see_other(page, f"{WALLET_PATH}?added={item.id}")


# --- the wallet ------------------------------------------------------------------------------


def _import_error(error: MeritoError, _: Gettext) -> str:
    reasons = {
        "not-a-badge": _("This is not a badge Merito can read."),
        "unsupported-format": _("This credential uses a format Merito does not support."),
        "signature-invalid": _("Its signature does not verify: it was changed or forged."),
        "issuer-mismatch": _("It was not signed by the issuer it names."),
        "credential-revoked": _("The issuer revoked this credential."),
        "source-unreachable": _("The badge, or a document it needs, could not be fetched."),
    }
    return reasons.get(error.code, _("The badge could not be imported.")) + " " + error.message


def _wallet(page: Page, *, error: str | None = None, status: int = 200) -> Response:
    actor = page.viewer.actor
    items = (
        wallet.list_items(session.get_platform(page.request), actor) if actor is not None else []
    )
    values: dict[str, Any] = {
        "items": items,
        "added": page.request.query_params.get("added"),
        "removed": page.request.query_params.get("removed") == "1",
        "checked": page.request.query_params.get("checked"),
        "error": error,
    }
    return render(page, "wallet.html", values, status=status)


@router.get(WALLET_PATH)
def wallet_page(request: Request) -> Response:
    page = page_for(request)
    if not page.viewer.signed_in:
        return _login_first(page, WALLET_PATH)
    return _wallet(page)


@router.post(WALLET_PATH)
async def wallet_import(request: Request) -> Response:
    page = page_for(request)
    _ = page.gettext
    if page.viewer.actor is None:
        return _login_first(page, WALLET_PATH)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > wallet.MAX_IMPORT_BYTES + 64_000:
        return _wallet(page, error=_("That file is too large (5 MB at most)."), status=413)
    arguments: dict[str, Any] = {}
    try:
        async with request.form(
            max_files=1, max_fields=4, max_part_size=wallet.MAX_IMPORT_BYTES
        ) as form:
            if not session.csrf_matches(request, str(form.get("csrf_token") or "")):
                return _wallet(page, error=csrf_error(_), status=403)
            upload = form.get("file")
            url = str(form.get("url") or "").strip()
            if isinstance(upload, UploadFile) and upload.filename:
                arguments = {
                    "data": await upload.read(wallet.MAX_IMPORT_BYTES + 1),
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                }
            elif url:
                arguments = {"url": url}
    except HTTPException as e:
        reason = _("The form could not be read: %(reason)s") % {"reason": e.detail}
        return _wallet(page, error=reason, status=422)
    if not arguments:
        return _wallet(page, error=_("Choose a badge file or enter its web address."), status=422)
    actor = page.viewer.actor
    try:
        item = await run_in_threadpool(
            lambda: wallet.import_credential(session.get_platform(request), actor, **arguments)
        )
    except MeritoError as e:
        return _wallet(page, error=_import_error(e, _), status=422)
    return see_other(page, f"{WALLET_PATH}?added={item.id}")


async def _checked_form(request: Request, page: Page) -> dict[str, str] | None:
    """The posted fields when the form's CSRF token is this browser's; None otherwise."""
    async with request.form(max_fields=3, max_files=0) as form:
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not session.csrf_matches(request, fields.get("csrf_token")):
        return None
    return fields


@router.post(WALLET_PATH + "/{item_id}/visibility")
async def wallet_visibility(request: Request, item_id: str) -> Response:
    """Public items may appear on the learner's portfolio; private ones never do."""
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, WALLET_PATH)
    fields = await _checked_form(request, page)
    if fields is None:
        return _wallet(page, error=csrf_error(page.gettext), status=403)
    visibility = "public" if fields.get("visibility") == "public" else "private"
    actor = page.viewer.actor
    try:
        await run_in_threadpool(
            wallet.set_visibility, session.get_platform(request), actor, item_id[:36], visibility
        )
    except NotFound:
        return _wallet(page, error=page.gettext("This item is not in your wallet."), status=404)
    return see_other(page, WALLET_PATH)


@router.post(WALLET_PATH + "/{item_id}/delete")
async def wallet_delete(request: Request, item_id: str) -> Response:
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, WALLET_PATH)
    fields = await _checked_form(request, page)
    if fields is None:
        return _wallet(page, error=csrf_error(page.gettext), status=403)
    actor = page.viewer.actor
    try:
        await run_in_threadpool(
            wallet.delete_item, session.get_platform(request), actor, item_id[:36]
        )
    except NotFound:
        return _wallet(page, error=page.gettext("This item is not in your wallet."), status=404)
    return see_other(page, WALLET_PATH + "?removed=1")


@router.post(WALLET_PATH + "/{item_id}/verify")
async def wallet_verify(request: Request, item_id: str) -> Response:
    """Verify the item again now (its issuer may have revoked it since) and store the result."""
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, WALLET_PATH)
    fields = await _checked_form(request, page)
    if fields is None:
        return _wallet(page, error=csrf_error(page.gettext), status=403)
    actor = page.viewer.actor
    try:
        await run_in_threadpool(wallet.get_item, session.get_platform(request), actor, item_id[:36])
    except NotFound:
        return _wallet(page, error=page.gettext("This item is not in your wallet."), status=404)
    return see_other(page, f"{WALLET_PATH}?checked={item_id[:36]}")
