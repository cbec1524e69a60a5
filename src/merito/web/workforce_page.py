"""Employer workforce: employees and consent, skills inventory, team gaps, demand, sponsorships.

The employer's page is ``/studio/{slug}/workforce`` (one page, a section per use case; every
count of people is k-anonymous, shown as "fewer than k"); its CSV links are the API's.
The employee's page is ``/me/employers`` (consent per employer, leave, redeem a voucher), and
``/workforce/invitations/{token}`` is the emailed accept link (a GET never changes anything).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from merito.errors import Conflict, InvalidInput, MeritoError, NotFound
from merito.services import workforce
from merito.web import session
from merito.web.charts import Bar, Series, bar_chart, line_chart
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SECTION: Final = "workforce"
ME_PATH: Final = "/me/employers"
_MAX_TOKEN: Final = 200


async def _form(request: Request) -> dict[str, Any]:
    async with request.form(max_fields=1100, max_files=0) as form:
        fields: dict[str, Any] = {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}
        fields["credential_ids"] = [str(v)[:500] for v in form.getlist("credential_ids")]
    return fields


def _employer_values(ctx: StudioContext, request: Request, **more: Any) -> dict[str, Any]:
    by: Literal["team", "role"] = "role" if request.query_params.get("by") == "role" else "team"
    cost: Literal["hours", "price"] = (
        "price" if request.query_params.get("cost") == "price" else "hours"
    )
    p, a, org = ctx.platform, ctx.actor, ctx.org.id
    return ctx.values(
        SECTION,
        by=by,
        cost=cost,
        employees=workforce.list_employees(p, a, org_id=org),
        invitations=workforce.list_invitations(p, a, org_id=org),
        inventory=workforce.inventory(p, a, org_id=org, by=by),
        coverage=workforce.coverage(p, a, org_id=org),
        gaps=workforce.gaps(p, a, org_id=org, cost=cost),
        demand=workforce.demand(p, a, org_id=org, months=12),
        in_demand=workforce.achievements_in_demand(p, a, org_id=org),
        sponsorships=workforce.list_sponsorships(p, a, org_id=org),
        sponsorable=workforce.sponsorable_achievements(p, a, org_id=org),
        api_base=f"/api/v1/orgs/{org}/workforce",
        notice=request.query_params.get("notice", ""),
        **more,
    )


def _legend(label: str, limit: int = 32) -> str:
    """A series name short enough for a legend on a phone (the tables keep the full label)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _charts(page: Page, values: dict[str, Any]) -> dict[str, Any]:
    """The demand over time (all skills and the top three), demand per skill, and the
    inventory's published skill totals; every chart carries its own data table."""
    _ = page.gettext
    demand: workforce.Demand = values["demand"]
    inventory: workforce.Inventory = values["inventory"]
    top = demand.skills[:3]
    return {
        "demand_chart": line_chart(
            chart_id="demand-months",
            title=_("Skill requirements of open roles, by month posted"),
            x_labels=list(demand.months),
            series=[
                Series(_("All skills"), list(demand.totals_by_month)),
                *(Series(_legend(s.label), list(s.by_month)) for s in top),
            ],
            gettext=_,
            lang=page.lang,
            x_heading=_("Month"),
        ),
        "skills_chart": bar_chart(
            chart_id="demand-skills",
            title=_("Open roles per skill"),
            bars=[Bar(s.label, s.roles) for s in demand.skills[:10]],
            gettext=_,
            lang=page.lang,
            label_heading=_("Skill"),
            value_heading=_("Open roles"),
        ),
        "inventory_chart": bar_chart(
            chart_id="inventory-skills",
            title=_("Consenting employees holding each verified skill"),
            bars=[Bar(s.label, s.total) for s in inventory.skills[:10] if s.total is not None],
            gettext=_,
            lang=page.lang,
            label_heading=_("Skill"),
            value_heading=_("Consenting employees"),
        ),
    }


def _employer_page(
    ctx: StudioContext, request: Request, *, status: int = 200, **more: Any
) -> Response:
    try:
        values = _employer_values(ctx, request, **more)
    except MeritoError as e:
        return refused(ctx, e, section=SECTION)
    values.update(_charts(ctx.page, values))
    return render(ctx.page, "workforce/employer.html", values, status=status)


@router.get(STUDIO + "/{slug}/workforce")
def employer_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _employer_page(ctx, request, error=None, codes=None)


def _expiry(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")  # a date: midnight UTC
    except ValueError:
        raise InvalidInput("expires_at must be a date", property="expires_at") from None
    return day.replace(tzinfo=UTC)


@router.post(STUDIO + "/{slug}/workforce/{action}")
async def employer_action(request: Request, slug: str, action: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    fields = await _form(request)
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section=SECTION)
    p, a, org = ctx.platform, ctx.actor, ctx.org.id
    codes = None
    try:
        if action == "invite":
            workforce.invite_employee(
                p,
                a,
                org_id=org,
                email=fields.get("email", ""),
                team=fields.get("team", ""),
                job_role_id=fields.get("job_role_id") or None,
            )
            notice = "invited"
        elif action == "revoke":
            workforce.revoke_invitation(
                p, a, org_id=org, invitation_id=fields.get("invitation_id", "")[:36]
            )
            notice = "revoked"
        elif action == "remove":
            workforce.remove_employee(
                p, a, org_id=org, employee_id=fields.get("employee_id", "")[:36]
            )
            notice = "removed"
        elif action == "sponsor":
            try:
                count = int(fields.get("vouchers", "0"))
            except ValueError:
                count = 0
            made = workforce.create_sponsorship(
                p,
                a,
                org_id=org,
                achievement_id=fields.get("achievement_id", "")[:36],
                vouchers=count,
                expires_at=_expiry(fields.get("expires_at", "")),
                note=fields.get("note", ""),
            )
            codes = made
            notice = ""
        else:
            return render(ctx.page, "not_found.html", {}, status=404)
    except InvalidInput as e:
        return _employer_page(ctx, request, status=422, error=e.message, codes=None)
    except MeritoError as e:
        return refused(ctx, e, section=SECTION)
    if codes is not None:
        return _employer_page(ctx, request, error=None, codes=codes)
    return see_other(ctx.page, ctx.url(f"/workforce?notice={notice}"))


# --- the employee ----------------------------------------------------------------------------


def _login_first(page: Page, path: str) -> Response:
    return see_other(page, "/login?next=" + quote(path, safe="/"))


def _me_page(page: Page, request: Request, *, status: int = 200, **more: Any) -> Response:
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME_PATH)
    platform = session.get_platform(request)
    values = {
        "employments": workforce.my_employments(platform, actor),
        "vouchers": workforce.my_vouchers(platform, actor),
        "notice": request.query_params.get("notice", ""),
        "error": None,
        **more,
    }
    return render(page, "workforce/employee.html", values, status=status)


@router.get(ME_PATH)
def employee_page(request: Request) -> Response:
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, ME_PATH)
    return _me_page(page, request)


@router.post(ME_PATH + "/{action}")
async def employee_action(request: Request, action: str) -> Response:
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME_PATH)
    fields = await _form(request)
    _ = page.gettext
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        return _me_page(page, request, status=409, error=csrf_error(_))
    platform = session.get_platform(request)
    try:
        if action == "consent":
            share = fields.get("share", "none")
            workforce.set_consent(
                platform,
                actor,
                employment_id=fields.get("employment_id", "")[:36],
                share_all=share == "all",
                credential_ids=fields["credential_ids"] if share == "listed" else [],
                show_individual=fields.get("show_individual") == "yes",
            )
            notice = "consent"
        elif action == "leave":
            workforce.leave(platform, actor, employment_id=fields.get("employment_id", "")[:36])
            notice = "left"
        elif action == "redeem":
            workforce.redeem_voucher(platform, actor, code=fields.get("code", ""))
            notice = "redeemed"
        else:
            return render(page, "not_found.html", {}, status=404)
    except MeritoError as e:
        status = 404 if isinstance(e, NotFound) else 409 if isinstance(e, Conflict) else 422
        return _me_page(page, request, status=status, error=e.message)
    return see_other(page, f"{ME_PATH}?notice={notice}")


@router.get("/workforce/invitations/{token}")
def invitation_page(request: Request, token: str) -> Response:
    page = page_for(request)
    token = token[:_MAX_TOKEN]
    if page.viewer.actor is None:
        return _login_first(page, f"/workforce/invitations/{token}")
    try:
        preview = workforce.preview_invitation(session.get_platform(request), token)
    except MeritoError as e:
        return render(
            page, "workforce/accept.html", {"preview": None, "error": e.message}, status=404
        )
    return render(
        page, "workforce/accept.html", {"preview": preview, "token": token, "error": None}
    )


@router.post("/workforce/invitations/{token}")
async def invitation_accept(request: Request, token: str) -> Response:
    page = page_for(request)
    token = token[:_MAX_TOKEN]
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, f"/workforce/invitations/{token}")
    fields = await _form(request)
    platform = session.get_platform(request)
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        error = csrf_error(page.gettext)
    else:
        try:
            workforce.accept_invitation(platform, actor, token=token)
        except MeritoError as e:
            error = e.message
        else:
            return see_other(page, f"{ME_PATH}?notice=joined")
    try:
        preview = workforce.preview_invitation(platform, token)
    except MeritoError:
        preview = None
    values = {"preview": preview, "token": token, "error": error}
    return render(page, "workforce/accept.html", values, status=409)
