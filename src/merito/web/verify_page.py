"""``/verify``: anyone checks a credential (a file, a baked badge image, pasted text or a URL).

A plain form POST (works without JavaScript); with htmx the result replaces only the result
region. ``GET /verify?url=...`` verifies at once: the link a QR code holds. Nothing submitted
is stored. A URL is fetched through the platform's SSRF-guarded fetcher; this site's own
credentials and status lists are read from its database (``services.platform_verification``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.errors import FetchError, InvalidInput, MeritoError
from merito.formats import baking
from merito.services import platform_verification, trust
from merito.services.trust import TrustedReport
from merito.verification import VerifyOptions
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.rendering import Page, page_for, render
from merito.web.trust_view import trust_view
from merito.web.verification_view import report_view

router = APIRouter(include_in_schema=False)

#: a baked image may be larger than the credential inside it
MAX_IMAGE_BYTES: Final = 5_000_000
_PNG: Final = b"\x89PNG\r\n\x1a\n"
_MAX_URL: Final = 2048


class _InputError(Exception):
    """What the person gave cannot be verified (shown as the form's error)."""


def _options(request: Request) -> VerifyOptions:
    factory: Callable[[], VerifyOptions] = request.app.state.verify_options_factory
    return factory()


def _is_image(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return data.startswith(_PNG) or head.startswith((b"<svg", b"<?xml", b"<!--"))


def _from_image(data: bytes, _: Gettext) -> str:
    try:
        baked = baking.extract(data, max_bytes=MAX_IMAGE_BYTES)
    except InvalidInput as e:
        raise _InputError(
            _("This image carries no credential (%(reason)s).") % {"reason": e}
        ) from e
    if baked.kind == "ob2-url":
        raise _InputError(
            _("This image holds an Open Badges 2.0 link (%(url)s); open it to verify it.")
            % {"url": baked.payload[:200]}
        )
    return baked.payload


def _fetch(request: Request, url: str, _: Gettext) -> bytes:
    url = url.strip()
    if len(url) > _MAX_URL or not url.startswith(("https://", "http://")):
        raise _InputError(_("Enter a web address that starts with https://."))
    settings = request.app.state.settings
    try:
        body = platform_verification.fetch_credential(
            session.get_platform(request), url, max_bytes=MAX_IMAGE_BYTES
        )
    except (FetchError, InvalidInput) as e:
        raise _InputError(_("That address could not be read: %(reason)s") % {"reason": e}) from e
    if _is_image(body):
        return _from_image(body, _).encode()
    if len(body) > settings.max_document_bytes:
        raise _InputError(_("That document is too large to be a credential."))
    return body


class _Choice:
    """The registries the person chose and the organisation they verify as (signed in)."""

    def __init__(self, registries: list[str], verify_as: str | None, counted: bool) -> None:
        self.registries = registries
        self.verify_as = verify_as
        #: a signed-in member's verification counts in the signals only with a valid CSRF
        #: token (a cross-site form must not inflate them)
        self.counted = counted


def _choice(request: Request, registries: list[str], verify_as: str, csrf: str) -> _Choice:
    return _Choice(
        [r[:80] for r in registries[:20]],
        verify_as[:36] or None,
        bool(verify_as) and session.csrf_matches(request, csrf),
    )


def _verify(request: Request, document: str | bytes, choice: _Choice) -> TrustedReport:
    """The platform's verification with the trust checks against the chosen registries
    (``merito``, or ``org_id:registry_id`` of the viewer's organisations)."""
    platform = session.get_platform(request)
    actor = session.viewer(request).actor
    chosen = []
    by_org: dict[str, list[str]] = {}
    for value in choice.registries:
        if value == trust.MERITO_REGISTRY:
            chosen.append(value)
        elif ":" in value and actor is not None:
            org_id, registry_id = value.split(":", 1)
            by_org.setdefault(org_id, []).append(registry_id)
    try:
        registries = list(trust.registries_for(platform, None, org_id=None, ids=chosen))
        for org_id, ids in by_org.items():
            registries.extend(trust.registries_for(platform, actor, org_id=org_id, ids=ids))
    except MeritoError as e:
        raise _InputError(e.message) from e
    counted = choice.counted and actor is not None
    return trust.verify_with_trust(
        platform,
        document,
        _options(request),
        registries=registries,
        actor=actor if counted else None,
        org_id=choice.verify_as if counted else None,
    )


def _form_values(page: Page, chosen: list[str] | None = None) -> dict[str, Any]:
    """What the verify form offers: Merito's registry, the viewer's organisations' ones."""
    platform = session.get_platform(page.request)
    return {
        "verifier_choices": trust.verifier_choices(platform, page.viewer.actor),
        "chosen_registries": chosen if chosen is not None else [trust.MERITO_REGISTRY],
    }


def _result(
    page: Page,
    *,
    report: TrustedReport | None,
    error: str | None,
    text: str = "",
    url: str = "",
    source: str | None = None,
    chosen: list[str] | None = None,
) -> Response:
    base_url = session.get_platform(page.request).base_url
    values: dict[str, Any] = {
        "report": report_view(report.report, page.gettext, base_url=base_url) if report else None,
        "trust": trust_view(report, page.gettext) if report else None,
        "error": error,
        "text": text,
        "url": url,
        "source": source,
        **_form_values(page, chosen),
    }
    if page.htmx:  # the fragment only; 200 so htmx swaps an error in too
        return render(page, "_verify_result.html", values)
    return render(page, "verify.html", values, status=422 if error else 200)


@router.get("/verify")
async def verify_page(request: Request) -> Response:
    page = page_for(request)
    url = request.query_params.get("url", "")
    if not url:
        values = {"report": None, "error": None, "text": "", "url": "", **_form_values(page)}
        return render(page, "verify.html", values)
    chosen = request.query_params.getlist("registry")
    choice = _choice(request, chosen, "", "")
    try:
        body = await run_in_threadpool(_fetch, request, url, page.gettext)
        report = await run_in_threadpool(_verify, request, body, choice)
    except _InputError as e:
        return _result(page, report=None, error=str(e), url=url[:_MAX_URL], chosen=chosen)
    source = page.gettext("From %(address)s") % {"address": url[:200]}
    return _result(
        page, report=report, error=None, url=url[:_MAX_URL], source=source, chosen=chosen
    )


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise _InputError("")
    return data


@router.post("/verify")
async def verify_submit(request: Request) -> Response:
    page = page_for(request)
    _ = page.gettext
    settings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES + 64_000:
        return _result(page, report=None, error=_("That file is too large (5 MB at most)."))
    text = url = ""
    chosen: list[str] = []
    try:
        async with request.form(
            max_files=1, max_fields=32, max_part_size=settings.max_document_bytes
        ) as form:
            upload = form.get("file")
            text = str(form.get("text") or "").strip()
            url = str(form.get("url") or "").strip()
            chosen = [v for v in form.getlist("registry") if isinstance(v, str)]
            choice = _choice(
                request,
                chosen,
                str(form.get("verify_as") or ""),
                str(form.get(session.CSRF_FIELD) or ""),
            )
            data = b""
            filename = ""
            if isinstance(upload, UploadFile) and upload.filename:
                filename = upload.filename[:200]
                try:
                    data = await _read_upload(upload, MAX_IMAGE_BYTES)
                except _InputError:
                    raise _InputError(_("That file is too large (5 MB at most).")) from None
        if data and _is_image(data):
            document: str | bytes = _from_image(data, _).encode()
            source = _("From the badge image %(name)s") % {"name": filename}
        elif data:
            document = data
            source = _("From the file %(name)s") % {"name": filename}
        elif text.startswith(("https://", "http://")) and "\n" not in text:
            url, text = text, ""
            document = await run_in_threadpool(_fetch, request, url, _)
            source = _("From %(address)s") % {"address": url[:200]}
        elif text:
            document = text
            source = _("From the pasted text")
        elif url:
            document = await run_in_threadpool(_fetch, request, url, _)
            source = _("From %(address)s") % {"address": url[:200]}
        else:
            raise _InputError(_("Choose a file, paste a credential or enter its web address."))
        report = await run_in_threadpool(_verify, request, document, choice)
    except _InputError as e:
        return _result(
            page,
            report=None,
            error=str(e),
            text=text[:100_000],
            url=url[:_MAX_URL],
            chosen=chosen,
        )
    except HTTPException as e:  # a malformed multipart body or a part over the limit
        reason = _("The form could not be read: %(reason)s") % {"reason": e.detail}
        return _result(page, report=None, error=reason, chosen=chosen)
    return _result(
        page,
        report=report,
        error=None,
        text=text[:100_000],
        url=url[:_MAX_URL],
        source=source,
        chosen=chosen,
    )
