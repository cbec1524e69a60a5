"""Analytics: the issuer dashboard's series and CSV export.

Every route reads one organisation (permission ``analytics:read``) over a range of whole UTC
days: ``range`` (7, 30, 90 or 365 days ending today; 30 by default) or ``start`` and ``end``
(ISO dates, both included, at most 731 days), and ``achievement_id`` for one achievement's
credentials. Each JSON route has a ``.csv`` twin with the same numbers (RFC 4180, a header
line, ISO 8601 dates, cells a spreadsheet cannot run as formulas).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import analytics
from merito.services.platform import Platform

router = APIRouter(tags=["analytics"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["analytics"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
PathwayId = Annotated[str, Path(max_length=36, description="The pathway's id.")]
RangeDays = Annotated[
    int | None,
    Query(alias="range", description="Days ending today (UTC): 7, 30, 90 or 365."),
]
Start = Annotated[
    str | None, Query(max_length=10, description="First day (ISO date), instead of range.")
]
End = Annotated[str | None, Query(max_length=10, description="Last day (ISO date); default today.")]
AchievementFilter = Annotated[
    str | None, Query(max_length=36, description="Only this achievement's credentials.")
]
Limit = Annotated[int, Query(ge=1, le=100, description="How many skills.")]

_CSV = "text/csv; charset=utf-8"


class DayOut(BaseModel):
    date: str = Field(description="The UTC day, ISO 8601.")
    issued: int
    claimed: int
    shared: int
    verified: int
    revoked: int


class Totals(BaseModel):
    issued: int
    claimed: int
    shared: int
    verified: int
    revoked: int


class ActivityOut(BaseModel):
    org_id: str
    start: str
    end: str
    achievement_id: str | None
    totals: Totals
    days: list[DayOut]


class SkillOut(BaseModel):
    uri: str
    label: str
    credentials: int = Field(description="Credentials issued in the range aligned to it.")
    in_taxonomy: bool = Field(description="The label is the skills taxonomy's.")


class SkillsOut(BaseModel):
    org_id: str
    start: str
    end: str
    achievement_id: str | None
    skills: list[SkillOut]


class StageOut(BaseModel):
    key: str = Field(description="started, requirements, satisfied or awarded.")
    label: str
    learners: int
    done: int | None = None
    total: int | None = None


class FunnelOut(BaseModel):
    pathway_id: str
    name: str
    stages: list[StageOut]


def _span(
    platform: Platform, days: int | None, start: str | None, end: str | None
) -> analytics.Period:
    return analytics.period(platform.clock.now(), days=days, start=start, end=end)


def _csv(text: str, filename: str) -> Response:
    return Response(
        content=text,
        media_type=_CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _name(kind: str, span: analytics.Period) -> str:
    return f"merito-{kind}-{span.start.isoformat()}-{span.end.isoformat()}.csv"


def _activity(
    platform: Platform,
    actor: CurrentActor,
    org_id: str,
    *,
    days: int | None,
    start: str | None,
    end: str | None,
    achievement_id: str | None,
) -> analytics.Activity:
    return analytics.activity(
        platform,
        actor,
        org_id,
        span=_span(platform, days, start, end),
        achievement_id=achievement_id or None,
    )


@router.get(
    "/orgs/{org_id}/analytics/activity",
    summary="Issued, claimed, shared, verified and revoked per day",
    response_model=ActivityOut,
)
def activity(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    days: RangeDays = None,
    start: Start = None,
    end: End = None,
    achievement_id: AchievementFilter = None,
) -> ActivityOut:
    """One entry per UTC day of the range (zeros included) and the range's totals."""
    result = _activity(
        platform, actor, org_id, days=days, start=start, end=end, achievement_id=achievement_id
    )
    return ActivityOut.model_validate(result.to_dict())


@router.get(
    "/orgs/{org_id}/analytics/activity.csv",
    summary="The daily series as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "date,issued,claimed,..."}},
)
def activity_csv(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    days: RangeDays = None,
    start: Start = None,
    end: End = None,
    achievement_id: AchievementFilter = None,
) -> Response:
    result = _activity(
        platform, actor, org_id, days=days, start=start, end=end, achievement_id=achievement_id
    )
    return _csv(analytics.activity_csv(result), _name("activity", result.period))


def _skills(
    platform: Platform,
    actor: CurrentActor,
    org_id: str,
    *,
    days: int | None,
    start: str | None,
    end: str | None,
    achievement_id: str | None,
    limit: int,
) -> tuple[analytics.Period, tuple[analytics.SkillCount, ...]]:
    span = _span(platform, days, start, end)
    found = analytics.top_skills(
        platform, actor, org_id, span=span, achievement_id=achievement_id or None, limit=limit
    )
    return span, found


@router.get(
    "/orgs/{org_id}/analytics/skills",
    summary="Top skills of the credentials issued",
    response_model=SkillsOut,
)
def skills(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    days: RangeDays = None,
    start: Start = None,
    end: End = None,
    achievement_id: AchievementFilter = None,
    limit: Limit = 10,
) -> SkillsOut:
    """The skills the achievements align to, weighted by credentials issued in the range."""
    span, found = _skills(
        platform,
        actor,
        org_id,
        days=days,
        start=start,
        end=end,
        achievement_id=achievement_id,
        limit=limit,
    )
    return SkillsOut(
        org_id=org_id,
        start=span.start.isoformat(),
        end=span.end.isoformat(),
        achievement_id=achievement_id or None,
        skills=[
            SkillOut(uri=s.uri, label=s.label, credentials=s.credentials, in_taxonomy=s.in_taxonomy)
            for s in found
        ],
    )


@router.get(
    "/orgs/{org_id}/analytics/skills.csv",
    summary="Top skills as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "skill_uri,label,credentials"}},
)
def skills_csv(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    days: RangeDays = None,
    start: Start = None,
    end: End = None,
    achievement_id: AchievementFilter = None,
    limit: Limit = 10,
) -> Response:
    span, found = _skills(
        platform,
        actor,
        org_id,
        days=days,
        start=start,
        end=end,
        achievement_id=achievement_id,
        limit=limit,
    )
    return _csv(analytics.skills_csv(found), _name("skills", span))


@router.get(
    "/orgs/{org_id}/analytics/pathways/{pathway_id}/funnel",
    summary="A pathway's completion funnel, stage by stage",
    response_model=FunnelOut,
)
def funnel(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> FunnelOut:
    """Learners who started, did at least k of the n requirements, met them all, were awarded
    (cumulative: each stage counts the learners who reached it)."""
    result = analytics.pathway_funnel(platform, actor, org_id, pathway_id)
    return FunnelOut(
        pathway_id=result.pathway_id,
        name=result.name,
        stages=[
            StageOut(key=s.key, label=s.label, learners=s.learners, done=s.done, total=s.total)
            for s in result.stages
        ],
    )


@router.get(
    "/orgs/{org_id}/analytics/pathways/{pathway_id}/funnel.csv",
    summary="A pathway's completion funnel as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "stage,learners"}},
)
def funnel_csv(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    result = analytics.pathway_funnel(platform, actor, org_id, pathway_id)
    return _csv(analytics.funnel_csv(result), f"merito-pathway-funnel-{result.pathway_id}.csv")
