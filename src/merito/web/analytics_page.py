"""The issuer studio's analytics: ``/studio/{slug}/analytics``.

A GET form picks the range (7, 30, 90 or 365 days ending today, or custom dates; UTC days),
one achievement or all, and a pathway for the funnel; the page shows the range's totals, the
daily series (issued, claimed, shared, verified, revoked), the top skills and the pathway's
completion funnel as server-drawn charts (``merito.web.charts``), each with its data table.
Its CSV links are the API's (the session cookie authenticates them).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from babel.dates import format_date
from fastapi import APIRouter, Request
from starlette.responses import Response

from merito.errors import InvalidInput, NotFound, PermissionDenied
from merito.services import analytics
from merito.web.charts import Bar, Series, Stage, bar_chart, funnel_chart, line_chart
from merito.web.i18n import Gettext
from merito.web.rendering import render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SECTION: Final = "analytics"
_CUSTOM: Final = "custom"
_MAX_PARAM: Final = 40


def _labels(_: Gettext) -> dict[str, str]:
    return {
        "issued": _("Issuances"),
        "claimed": _("Claims"),
        "shared": _("Shares"),
        "verified": _("Verifications"),
        "revoked": _("Revocations"),
    }


def _stage_label(stage: analytics.FunnelStage, _: Gettext) -> str:
    if stage.key == "requirements":
        return _("At least %(done)s of %(total)s requirements") % {
            "done": stage.done,
            "total": stage.total,
        }
    return {
        "started": _("Started"),
        "satisfied": _("All requirements met"),
        "awarded": _("Awarded"),
    }[stage.key]


def _param(request: Request, name: str) -> str:
    return request.query_params.get(name, "").strip()[:_MAX_PARAM]


def _day_label(day: date, lang: str) -> str:
    return format_date(day, format="medium", locale=lang)


def _charts(
    ctx: StudioContext, board: analytics.Dashboard, funnel: analytics.PathwayFunnel | None
) -> dict[str, Any]:
    page = ctx.page
    _ = page.gettext
    labels = _labels(_)
    days = board.activity.period.days
    activity_chart = line_chart(
        chart_id="activity",
        title=_("Activity per day (UTC)"),
        x_labels=[_day_label(day, page.lang) for day in days],
        series=[
            Series(labels[metric], list(board.activity.series[metric]))
            for metric in analytics.METRICS
        ],
        gettext=_,
        lang=page.lang,
    )
    skills_chart = bar_chart(
        chart_id="top-skills",
        title=_("Top skills of the credentials issued"),
        bars=[Bar(skill.label, skill.credentials) for skill in board.skills],
        gettext=_,
        lang=page.lang,
        label_heading=_("Skill"),
        value_heading=_("Credentials"),
    )
    funnel_figure = None
    if funnel is not None:
        funnel_figure = funnel_chart(
            chart_id="pathway-funnel",
            title=_("Completion of %(pathway)s") % {"pathway": funnel.name},
            stages=[Stage(_stage_label(s, _), s.learners) for s in funnel.stages],
            gettext=_,
            lang=page.lang,
            value_heading=_("Learners"),
        )
    return {
        "activity_chart": activity_chart,
        "skills_chart": skills_chart,
        "funnel_chart": funnel_figure,
    }


@router.get(STUDIO + "/{slug}/analytics")
def analytics_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    chosen_range = _param(request, "range")
    start, end = _param(request, "start"), _param(request, "end")
    achievement_id = _param(request, "achievement_id") or None
    pathway_id = _param(request, "pathway_id") or None
    custom = chosen_range == _CUSTOM or (not chosen_range and bool(start))
    form = {
        "range": _CUSTOM if custom else (chosen_range or "30"),
        "start": start,
        "end": end,
        "achievement_id": achievement_id or "",
        "pathway_id": pathway_id or "",
    }
    errors: dict[str, str] = {}
    now = ctx.platform.clock.now()
    try:
        if custom:
            if not start:
                raise InvalidInput("custom range without a start", property="start")
            span = analytics.period(now, start=start, end=end or None)
        else:
            span = analytics.period(now, days=form["range"])
    except InvalidInput as e:
        field = e.property if e.property in ("start", "end") else "range"
        errors[field] = {
            "range": _("Choose one of the ranges in the list."),
            "start": _(
                "Enter the first day as a date like 2026-01-31, on or before the last day, "
                "at most two years before it."
            ),
            "end": _("Enter the last day as a date like 2026-01-31, no later than today."),
        }[field]
        span = analytics.period(now, days=30)
    try:
        board = analytics.dashboard(
            ctx.platform, ctx.actor, ctx.org.id, span=span, achievement_id=achievement_id
        )
        pathways = analytics.pathway_choices(ctx.platform, ctx.actor, ctx.org.id)
        selected = next((p for p in pathways if p.id == pathway_id), None)
        if selected is None and pathways:
            selected = pathways[0]
        funnel = (
            analytics.pathway_funnel(ctx.platform, ctx.actor, ctx.org.id, selected.id)
            if selected is not None
            else None
        )
    except (PermissionDenied, NotFound) as e:
        return refused(ctx, e, section=SECTION)
    query = {"start": span.start.isoformat(), "end": span.end.isoformat()}
    if achievement_id:
        query["achievement_id"] = achievement_id
    api = f"/api/v1/orgs/{ctx.org.id}/analytics"
    csv_links = {
        "activity": f"{api}/activity.csv?{urlencode(query)}",
        "skills": f"{api}/skills.csv?{urlencode(query)}",
        "funnel": f"{api}/pathways/{selected.id}/funnel.csv" if selected is not None else None,
    }
    values = ctx.values(
        SECTION,
        form=form,
        errors=errors,
        ranges=analytics.RANGES,
        span=span,
        span_first=_day_label(span.start, ctx.page.lang),
        span_last=_day_label(span.end, ctx.page.lang),
        board=board,
        labels=_labels(_),
        metrics=analytics.METRICS,
        totals=board.activity.totals,
        pathways=pathways,
        selected_pathway=selected,
        csv_links=csv_links,
        **_charts(ctx, board, funnel),
    )
    return render(ctx.page, "studio/analytics.html", values, status=422 if errors else 200)
