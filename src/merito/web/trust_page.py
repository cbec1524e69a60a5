"""Studio trust: endorsement requests (sent and received), endorsements issued and received,
and the trust registries the organisation verifies against (``/studio/{slug}/trust``).

One page lists everything and posts every change back to itself with an ``action`` field
(CSRF-checked); a service error is shown as the form's error, never a server error.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.errors import InvalidInput, MeritoError, PermissionDenied
from merito.services import catalog, endorsements, trust
from merito.web import session
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

router = APIRouter(include_in_schema=False)

SECTION: Final = "trust"
_MAX: Final = 5000
_MAX_REGISTRY: Final = 5_000_000


def _page(
    ctx: StudioContext, *, error: str | None = None, done: str | None = None, status: int = 200
) -> Response:
    platform, actor, org_id = ctx.platform, ctx.actor, ctx.org.id
    try:
        values = ctx.values(
            SECTION,
            incoming=endorsements.list_requests(
                platform, actor, org_id=org_id, direction="incoming"
            ),
            outgoing=endorsements.list_requests(
                platform, actor, org_id=org_id, direction="outgoing"
            ),
            issued=endorsements.list_endorsements(
                platform, actor, org_id=org_id, direction="issued"
            ),
            received=endorsements.list_endorsements(
                platform, actor, org_id=org_id, direction="received"
            ),
            registries=trust.list_registries(platform, actor, org_id=org_id),
            achievements=catalog.list_achievements(
                platform, actor, org_id=org_id, status="published", limit=500
            ),
            merito_registry=trust.registry_url(platform),
            error=error,
            done=done,
        )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    return render(ctx.page, "studio/trust.html", values, status=status)


@router.get(STUDIO + "/{slug}/trust")
def trust_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _page(ctx)


def _text(form: Any, name: str, limit: int = _MAX) -> str:
    value = form.get(name, "")
    return str(value)[:limit].strip() if isinstance(value, str) else ""


def _act(ctx: StudioContext, action: str, form: Any) -> None:
    platform, actor, org_id = ctx.platform, ctx.actor, ctx.org.id
    if action == "request":
        endorser_id, _ = endorsements.find_organisation(platform, _text(form, "endorser", 64))
        endorsements.request_endorsement(
            platform,
            actor,
            org_id=org_id,
            endorser_org_id=endorser_id,
            achievement_id=_text(form, "achievement_id", 36) or None,
            message=_text(form, "message"),
        )
    elif action == "accept":
        endorsements.accept_request(
            platform,
            actor,
            org_id=org_id,
            request_id=_text(form, "id", 36),
            comment=_text(form, "comment"),
        )
    elif action == "decline":
        endorsements.decline_request(
            platform,
            actor,
            org_id=org_id,
            request_id=_text(form, "id", 36),
            reason=_text(form, "reason", 1000),
        )
    elif action == "withdraw":
        endorsements.withdraw_request(
            platform, actor, org_id=org_id, request_id=_text(form, "id", 36)
        )
    elif action == "revoke":
        endorsements.revoke_endorsement(
            platform,
            actor,
            org_id=org_id,
            endorsement_id=_text(form, "id", 36),
            reason=_text(form, "reason", 1000) or None,
        )
    elif action == "import":
        url = _text(form, "url", 2048)
        pasted = _text(form, "document", _MAX_REGISTRY)
        document = None
        if pasted:
            try:
                document = json.loads(pasted)
            except ValueError as e:
                raise InvalidInput(f"the registry is not JSON: {e}", property="document") from e
        trust.import_registry(
            platform, actor, org_id=org_id, document=document, url=None if pasted else url or None
        )
    elif action == "refresh":
        trust.refresh_registry(platform, actor, org_id=org_id, registry_id=_text(form, "id", 36))
    elif action == "delete-registry":
        trust.delete_registry(platform, actor, org_id=org_id, registry_id=_text(form, "id", 36))
    else:
        raise ValueError(action)


@router.post(STUDIO + "/{slug}/trust")
async def trust_action(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    async with request.form(max_files=0, max_fields=20, max_part_size=_MAX_REGISTRY) as form:
        if not session.csrf_matches(request, str(form.get(session.CSRF_FIELD, ""))):
            return _page(ctx, error=csrf_error(_), status=403)
        action = _text(form, "action", 32)
        try:
            await run_in_threadpool(_act, ctx, action, form)
        except PermissionDenied as e:
            return refused(ctx, e, section=SECTION)
        except MeritoError as e:
            return _page(ctx, error=e.message, status=422)
        except ValueError:
            return _page(ctx, error=_("Check the values you entered."), status=422)
    return see_other(ctx.page, ctx.url("/trust"))
