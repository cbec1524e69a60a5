"""A credential's public page: what a person sees at the credential's URL.

The credential's URL (``/credentials/{id}``) is the API's: machines get the credential there.
When a browser asks for HTML, the API hands the request to ``render_public`` (installed as
``app.state.credential_page`` by ``merito.web.install``), so the address a learner shares stays
the one in the credential. ``/c/{id}`` is the same page under the web's own path, and
``/c/{id}/download`` the credential as a file.
"""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from merito.errors import InvalidInput, NotFound
from merito.services import credentials, trust
from merito.services.credentials import PublicCredential
from merito.services.trust import TrustedReport
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.rendering import page_for, render
from merito.web.trust_view import trust_view
from merito.web.verification_view import badge_of, report_view

router = APIRouter(include_in_schema=False)

_MAX_ID: Final = 36
#: a learner's credential is theirs to share, not a search engine's to list
_PUBLIC_HEADERS: Final = {"X-Robots-Tag": "noindex", "Vary": "Accept, Cookie, Accept-Language"}


def _state_text(state: str, _: Gettext) -> str:
    return {
        "active": _("Active: issued and not revoked."),
        "suspended": _("Suspended by its issuer: do not rely on it for now."),
        "revoked": _("Revoked by its issuer: it is no longer valid."),
        "expired": _("Expired: its validity period is over."),
    }.get(state, state)


def _lookup(request: Request, credential_id: str) -> PublicCredential | None:
    if len(credential_id) > _MAX_ID:
        return None
    try:
        return credentials.public_credential(session.get_platform(request), credential_id)
    except (NotFound, InvalidInput):
        return None


def _verify(request: Request, public: PublicCredential) -> TrustedReport:
    """Every check, with the trust ones (embedded endorsements, domain linkage) and the
    achievement's quality facts and signals (services.trust)."""
    document: str = public.jwt if public.jwt is not None else json.dumps(public.document)
    return trust.verify_with_trust(
        session.get_platform(request), document, request.app.state.verify_options_factory()
    )


def render_public(request: Request, credential_id: str) -> Response:
    """The page of one credential, checked now (404 page when there is none)."""
    page = page_for(request)
    public = _lookup(request, credential_id)
    if public is None:
        return render(page, "not_found.html", {}, status=404, headers=_PUBLIC_HEADERS)
    platform = session.get_platform(request)
    trusted = _verify(request, public)
    view = report_view(trusted.report, page.gettext, base_url=platform.base_url)
    badge = view.badge or badge_of(public.document, base_url=platform.base_url)
    values = {
        "credential": public,
        "badge": badge,
        "report": view,
        "trust": trust_view(trusted, page.gettext),
        "state_text": _state_text(public.state, page.gettext),
        "download_href": f"/c/{public.id}/download",
        "verify_href": "/verify?url=" + quote(public.url, safe=""),
    }
    return render(page, "credential.html", values, headers=_PUBLIC_HEADERS)


@router.get("/c/{credential_id}")
def credential_page(request: Request, credential_id: str) -> Response:
    return render_public(request, credential_id)


@router.get("/c/{credential_id}/download")
def download(request: Request, credential_id: str) -> Response:
    public = _lookup(request, credential_id)
    if public is None:
        return render(page_for(request), "not_found.html", {}, status=404)
    headers = {"Cache-Control": "no-cache", "X-Robots-Tag": "noindex"}
    if public.jwt is not None:
        headers["Content-Disposition"] = f'attachment; filename="credential-{public.id}.jwt"'
        return Response(public.jwt, media_type="application/vc+jwt", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="credential-{public.id}.json"'
    body = json.dumps(public.document, ensure_ascii=False, indent=2)
    return Response(body, media_type="application/ld+json", headers=headers)
