"""Pathways: stacked credentials, requirement trees, progress, the completion funnel, awards.

An organisation designs a pathway over achievements (its own, and published ones of issuers
it trusts); once published, a learner whose verified credentials satisfy the tree is awarded
the pathway's credential automatically, exactly once. A learner sees their own progress under
``/me/pathways``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import pathways

router = APIRouter(tags=["pathways"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["pathways"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
PathwayId = Annotated[str, Path(max_length=36, description="The pathway's id.")]
LearnerId = Annotated[str, Path(max_length=36, description="The learner's user id.")]
AwardId = Annotated[str, Path(max_length=36, description="The award's id.")]

_TREE = (
    'The requirement tree. A group: `{"kind": "all" | "any" | "n_of", "children": '
    '[...], "n": 2, "min_hours": 40, "within_days": 365, "earned_after": '
    '"2026-01-01"}` (n only for n_of; the rest optional). A leaf: `{"kind": '
    '"achievement", "achievement_id": "..."}`. The root is a group.'
)


class PathwayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: str = Field(
        max_length=36, description="The organisation's achievement learners earn: the pathway."
    )
    requirement: dict[str, Any] = Field(description=_TREE)
    revocation_policy: Literal["flag", "revoke"] = Field(
        default="flag",
        description="When a revoked constituent leaves the pathway unsatisfied: flag the award "
        "for attention, or revoke the stacked credential.",
    )
    trusted_issuers: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=pathways.MAX_TRUSTED,
        description="Organisations (ids or slugs) whose published achievements may be used.",
    )


class PathwayPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirement: dict[str, Any] | None = Field(default=None, description=_TREE)
    revocation_policy: Literal["flag", "revoke"] | None = None
    trusted_issuers: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=pathways.MAX_TRUSTED
    )


# --- designing -----------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/pathways",
    summary="Create a pathway (draft)",
    status_code=201,
    response_model=pathways.PathwayView,
)
def create_pathway(
    org_id: OrgId, body: PathwayIn, actor: CurrentActor, platform: PlatformDep
) -> pathways.PathwayView:
    """Refused with a problem naming the property: an unknown or untrusted achievement, N
    greater than the number of children, a tree too deep or too large, unreachable hours, a
    cycle of pathways."""
    return pathways.create_pathway(
        platform,
        actor,
        org_id=org_id,
        achievement_id=body.achievement_id,
        requirement=body.requirement,
        revocation_policy=body.revocation_policy,
        trusted_issuers=body.trusted_issuers,
    )


@router.get(
    "/orgs/{org_id}/pathways",
    summary="List pathways",
    response_model=list[pathways.PathwayView],
)
def list_pathways(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    status: Annotated[Literal["draft", "published", "archived"] | None, Query()] = None,
) -> list[pathways.PathwayView]:
    return pathways.list_pathways(platform, actor, org_id=org_id, status=status)


@router.get(
    "/orgs/{org_id}/pathways/{pathway_id}",
    summary="Get a pathway",
    response_model=pathways.PathwayView,
)
def get_pathway(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.PathwayView:
    return pathways.get_pathway(platform, actor, org_id=org_id, pathway_id=pathway_id)


@router.patch(
    "/orgs/{org_id}/pathways/{pathway_id}",
    summary="Update a pathway",
    response_model=pathways.PathwayView,
)
def update_pathway(
    org_id: OrgId,
    pathway_id: PathwayId,
    body: PathwayPatch,
    actor: CurrentActor,
    platform: PlatformDep,
) -> pathways.PathwayView:
    """Only the members given change. A published pathway's new tree applies to later awards."""
    return pathways.update_pathway(
        platform,
        actor,
        org_id=org_id,
        pathway_id=pathway_id,
        requirement=body.requirement,
        revocation_policy=body.revocation_policy,
        trusted_issuers=body.trusted_issuers,
    )


@router.post(
    "/orgs/{org_id}/pathways/{pathway_id}/publish",
    summary="Publish a pathway (auto-award starts)",
    response_model=pathways.PathwayView,
)
def publish_pathway(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.PathwayView:
    return pathways.publish_pathway(platform, actor, org_id=org_id, pathway_id=pathway_id)


@router.post(
    "/orgs/{org_id}/pathways/{pathway_id}/archive",
    summary="Archive a pathway (no more awards)",
    response_model=pathways.PathwayView,
)
def archive_pathway(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.PathwayView:
    return pathways.archive_pathway(platform, actor, org_id=org_id, pathway_id=pathway_id)


@router.post(
    "/orgs/{org_id}/pathways/{pathway_id}/award",
    summary="Award every learner who already satisfies the pathway",
    response_model=list[pathways.AwardView],
)
def award_eligible(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> list[pathways.AwardView]:
    """For learners whose credentials satisfied the tree before it was published. Idempotent:
    learners already awarded are left alone. Returns the awards this call made."""
    return pathways.award_eligible(platform, actor, org_id=org_id, pathway_id=pathway_id)


# --- progress, funnel, awards --------------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/pathways/{pathway_id}/funnel",
    summary="The pathway's completion funnel",
    response_model=pathways.Funnel,
)
def funnel(
    org_id: OrgId, pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.Funnel:
    """Learners who started (hold a constituent), by number of requirements done, satisfied
    now, and awards by status."""
    return pathways.funnel(platform, actor, org_id=org_id, pathway_id=pathway_id)


@router.get(
    "/orgs/{org_id}/pathways/{pathway_id}/learners/{learner_id}",
    summary="A learner's progress",
    response_model=pathways.ProgressView,
)
def learner_progress(
    org_id: OrgId,
    pathway_id: PathwayId,
    learner_id: LearnerId,
    actor: CurrentActor,
    platform: PlatformDep,
) -> pathways.ProgressView:
    """Only for a learner the organisation issued to, or who holds one of the constituents."""
    return pathways.progress(
        platform, actor, org_id=org_id, pathway_id=pathway_id, user_id=learner_id
    )


@router.get(
    "/orgs/{org_id}/pathway-awards",
    summary="Pathway awards",
    response_model=list[pathways.AwardView],
)
def list_awards(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    pathway_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[Literal["awarded", "flagged", "revoked"] | None, Query()] = None,
) -> list[pathways.AwardView]:
    """``flagged`` awards need attention: a constituent was revoked and the pathway is no
    longer satisfied."""
    return pathways.list_awards(
        platform, actor, org_id=org_id, pathway_id=pathway_id, status=status
    )


@router.post(
    "/orgs/{org_id}/pathway-awards/{award_id}/resolve",
    summary="Keep a flagged award",
    response_model=pathways.AwardView,
)
def resolve_award(
    org_id: OrgId, award_id: AwardId, actor: CurrentActor, platform: PlatformDep
) -> pathways.AwardView:
    """Clears the flag (to withdraw the credential instead, revoke it)."""
    return pathways.resolve_award(platform, actor, org_id=org_id, award_id=award_id)


# --- the learner ---------------------------------------------------------------------------------


@router.get("/me/pathways", summary="My pathways", response_model=list[pathways.ProgressView])
def my_pathways(actor: CurrentActor, platform: PlatformDep) -> list[pathways.ProgressView]:
    """Pathways you started (you hold one of their constituents) or were awarded."""
    return pathways.my_pathways(platform, actor)


@router.get(
    "/me/pathways/{pathway_id}",
    summary="My progress on a pathway",
    response_model=pathways.ProgressView,
)
def my_progress(
    pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.ProgressView:
    """Per requirement: done (with the credential that satisfies it) or left."""
    return pathways.my_progress(platform, actor, pathway_id=pathway_id)


@router.post(
    "/me/pathways/{pathway_id}/check",
    summary="Check my progress again (and get the pathway if it is complete)",
    response_model=pathways.ProgressView,
)
def check_mine(
    pathway_id: PathwayId, actor: CurrentActor, platform: PlatformDep
) -> pathways.ProgressView:
    return pathways.check_mine(platform, actor, pathway_id=pathway_id)
