"""Studio integrations: inbound webhooks, xAPI rules, LTI platforms, outgoing webhooks and their
delivery log; and the LTI 1.3 launch page an LMS opens (``/lti/launch``).

``/studio/{slug}/integrations`` lists everything and posts every change back to itself with an
``action`` field (CSRF-checked); a secret made by an action is shown on that response only.
``/lti/launch`` is posted by the LMS (cross-site, no Merito session): the id_token is what
authenticates it. An instructor's page carries a one-hour award token, which is also what
the award form (``/lti/award``) proves itself with.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.errors import MeritoError, PermissionDenied
from merito.services import catalog, integrations, lti, webhooks_out
from merito.web import session
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import page_for, render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

router = APIRouter(include_in_schema=False)

SECTION: Final = "integrations"
_MAX: Final = 2000


def _page(
    ctx: StudioContext,
    *,
    error: str | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    platform, actor, org_id = ctx.platform, ctx.actor, ctx.org.id
    try:
        values = ctx.values(
            SECTION,
            endpoints=integrations.list_endpoints(platform, actor, org_id=org_id),
            events=integrations.list_events(platform, actor, org_id=org_id, limit=20),
            rules=integrations.list_rules(platform, actor, org_id=org_id),
            xapi_clients=integrations.list_xapi_clients(platform, actor, org_id=org_id),
            statements=integrations.list_statements(platform, actor, org_id=org_id, limit=20),
            lti_platforms=lti.list_platforms(platform, actor, org_id=org_id),
            subscriptions=webhooks_out.list_subscriptions(platform, actor, org_id=org_id),
            deliveries=webhooks_out.list_deliveries(platform, actor, org_id=org_id, limit=20),
            achievements=catalog.list_achievements(
                platform, actor, org_id=org_id, status="published", limit=500
            ),
            event_names=webhooks_out.EVENTS,
            error=error,
            shown=shown or {},
        )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    return render(ctx.page, "studio/integrations.html", values, status=status)


@router.get(STUDIO + "/{slug}/integrations")
def integrations_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _page(ctx)


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return str(value)[:_MAX].strip() if isinstance(value, str) else ""


def _act(ctx: StudioContext, action: str, form: Any) -> dict[str, Any] | None:
    """Runs one action; returns what to show once (a secret), or None."""
    platform, actor, org_id = ctx.platform, ctx.actor, ctx.org.id
    if action == "endpoint":
        made = integrations.create_endpoint(
            platform, actor, org_id=org_id, name=_text(form, "name")
        )
        return {"label": made.endpoint.name, "url": made.endpoint.url, "secret": made.secret}
    if action == "rotate-endpoint":
        made = integrations.rotate_endpoint_secret(
            platform, actor, org_id=org_id, endpoint_id=_text(form, "id")[:36]
        )
        return {"label": made.endpoint.name, "url": made.endpoint.url, "secret": made.secret}
    if action in ("enable-endpoint", "disable-endpoint"):
        integrations.set_endpoint_enabled(
            platform,
            actor,
            org_id=org_id,
            endpoint_id=_text(form, "id")[:36],
            enabled=action == "enable-endpoint",
        )
        return None
    if action == "rule":
        score = _text(form, "min_score")
        rule = integrations.RuleFields(
            source=_text(form, "source"),
            source_id=_text(form, "source_id")[:36] or None,
            trigger=_text(form, "trigger") or "-",
            activity_id=_text(form, "activity_id") or None,
            min_score=float(score) if score else None,
            achievement_id=_text(form, "achievement_id")[:36],
        )
        integrations.create_rule(platform, actor, org_id=org_id, fields=rule)
        return None
    if action == "delete-rule":
        integrations.delete_rule(platform, actor, org_id=org_id, rule_id=_text(form, "id")[:36])
        return None
    if action == "xapi-client":
        client = integrations.create_xapi_client(
            platform, actor, org_id=org_id, name=_text(form, "name")
        )
        return {"label": client.client.name, "key": client.client.key, "secret": client.secret}
    if action == "lti-platform":
        fields = lti.PlatformFields(
            name=_text(form, "name"),
            issuer=_text(form, "issuer"),
            client_id=_text(form, "client_id"),
            deployment_ids=[
                d for d in _text(form, "deployment_ids").replace(",", " ").split() if d
            ],
            auth_login_url=_text(form, "auth_login_url"),
            jwks_url=_text(form, "jwks_url") or None,
        )
        lti.register_platform(platform, actor, org_id=org_id, fields=fields)
        return None
    if action == "subscription":
        events = [e for e in form.getlist("events") if isinstance(e, str)][:20]
        sub = webhooks_out.create_subscription(
            platform,
            actor,
            org_id=org_id,
            fields=webhooks_out.SubscriptionFields(
                url=_text(form, "url"), description=_text(form, "description")[:500], events=events
            ),
        )
        return {"label": sub.subscription.url, "secret": sub.secret}
    if action == "edit-subscription":
        events = [e for e in form.getlist("events") if isinstance(e, str)][:20]
        webhooks_out.update_subscription(
            platform,
            actor,
            org_id=org_id,
            subscription_id=_text(form, "id")[:36],
            fields=webhooks_out.SubscriptionFields(
                url=_text(form, "url"), description=_text(form, "description")[:500], events=events
            ),
        )
        return None
    if action == "rotate-subscription":
        sub = webhooks_out.rotate_subscription_secret(
            platform, actor, org_id=org_id, subscription_id=_text(form, "id")[:36]
        )
        return {"label": sub.subscription.url, "secret": sub.secret}
    if action in ("enable-subscription", "disable-subscription"):
        webhooks_out.update_subscription(
            platform,
            actor,
            org_id=org_id,
            subscription_id=_text(form, "id")[:36],
            fields=webhooks_out.SubscriptionFields(enabled=action == "enable-subscription"),
        )
        return None
    if action == "redeliver":
        webhooks_out.redeliver(platform, actor, org_id=org_id, delivery_id=_text(form, "id")[:36])
        return None
    raise ValueError(action)


@router.post(STUDIO + "/{slug}/integrations")
async def integrations_action(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    form = await request.form()
    if not session.csrf_matches(request, str(form.get(session.CSRF_FIELD, ""))):
        return _page(ctx, error=csrf_error(_), status=403)
    action = _text(form, "action")
    try:
        shown = await run_in_threadpool(_act, ctx, action, form)
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    except MeritoError as e:
        return _page(ctx, error=e.message, status=422)
    except ValueError:
        return _page(ctx, error=_("Check the values you entered."), status=422)
    if shown is None:
        return see_other(ctx.page, ctx.url("/integrations"))
    return _page(ctx, shown=shown)


# --- the LTI launch ------------------------------------------------------------------------------


@router.post("/lti/launch")
async def lti_launch(request: Request) -> Response:
    page = page_for(request)
    form = await request.form()
    id_token, state = str(form.get("id_token", "")), str(form.get("state", ""))
    try:
        launched = await run_in_threadpool(
            lti.launch, session.get_platform(request), id_token=id_token[:50_000], state=state[:64]
        )
    except MeritoError as e:
        return render(page, "lti_launch.html", {"launch": None, "error": e.message}, status=401)
    return render(page, "lti_launch.html", {"launch": launched, "error": None, "awarded": None})


@router.post("/lti/award")
async def lti_award(request: Request) -> Response:
    page = page_for(request)
    form = await request.form()
    try:
        credential_id = await run_in_threadpool(
            lti.award_learner,
            session.get_platform(request),
            token=str(form.get("token", ""))[:200],
            achievement_id=str(form.get("achievement_id", ""))[:36],
            email=str(form.get("email", ""))[:320],
        )
    except MeritoError as e:
        return render(page, "lti_launch.html", {"launch": None, "error": e.message}, status=422)
    return render(
        page, "lti_launch.html", {"launch": None, "error": None, "awarded": credential_id}
    )
