"""Hiring: an organisation's roles, candidate rankings and saved searches; a learner's skills,
discoverability, rankings (with the explanation the employer saw) and learning paths.

Ranking is a POST: each run is recorded (so ranked learners can see it) and audited.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import hiring

router = APIRouter(tags=["hiring"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
RoleId = Annotated[str, Path(max_length=36, description="The role's id.")]
CandidateId = Annotated[str, Path(max_length=36, description="The candidate's user id.")]
SearchId = Annotated[str, Path(max_length=36, description="The saved search's id.")]


class RankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=hiring.MAX_RESULTS)
    require_all: bool = Field(
        default=False, description="Only candidates meeting every required skill."
    )
    min_score: float = Field(default=0.0, ge=0, le=1)


class DiscoverabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public: bool = Field(description="Discoverable by every organisation.")
    org_ids: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list, max_length=500, description="Organisations that may find you."
    )


# --- roles -------------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/roles", summary="Create a role", status_code=201, response_model=hiring.RoleView
)
def create_role(
    org_id: OrgId, body: hiring.RoleFields, actor: CurrentActor, platform: PlatformDep
) -> hiring.RoleView:
    """``title`` is required; ``occupation`` (an ESCO occupation URI) prefills the requirements
    with its essential (required) and optional skills when ``requirements`` is not given."""
    return hiring.create_role(platform, actor, org_id=org_id, fields=body)


@router.get("/orgs/{org_id}/roles", summary="List roles", response_model=list[hiring.RoleView])
def list_roles(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
) -> list[hiring.RoleView]:
    return hiring.list_roles(platform, actor, org_id=org_id, status=status)


@router.get("/orgs/{org_id}/roles/{role_id}", summary="Get a role", response_model=hiring.RoleView)
def get_role(
    org_id: OrgId, role_id: RoleId, actor: CurrentActor, platform: PlatformDep
) -> hiring.RoleView:
    return hiring.get_role(platform, actor, org_id=org_id, role_id=role_id)


@router.patch(
    "/orgs/{org_id}/roles/{role_id}", summary="Update a role", response_model=hiring.RoleView
)
def update_role(
    org_id: OrgId,
    role_id: RoleId,
    body: hiring.RoleFields,
    actor: CurrentActor,
    platform: PlatformDep,
) -> hiring.RoleView:
    """Only the members given change; ``requirements`` replaces the whole list."""
    return hiring.update_role(
        platform, actor, org_id=org_id, role_id=role_id, fields=body.model_dump(exclude_unset=True)
    )


@router.delete("/orgs/{org_id}/roles/{role_id}", summary="Delete a role", status_code=204)
def delete_role(
    org_id: OrgId, role_id: RoleId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    hiring.delete_role(platform, actor, org_id=org_id, role_id=role_id)
    return Response(status_code=204)


# --- ranking -----------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/roles/{role_id}/ranking",
    summary="Rank discoverable candidates for a role",
    response_model=hiring.Ranking,
)
def rank_candidates(
    org_id: OrgId, role_id: RoleId, body: RankRequest, actor: CurrentActor, platform: PlatformDep
) -> hiring.Ranking:
    """Each result explains its score: per requirement the matching skill (exact, through a
    narrower or a broader skill), its level against the minimum, the credentials and issuers
    proving it; and what is missing. Only verified skills count, no personal attributes."""
    return hiring.rank_candidates(
        platform,
        actor,
        org_id=org_id,
        role_id=role_id,
        limit=body.limit,
        require_all=body.require_all,
        min_score=body.min_score,
    )


@router.get(
    "/orgs/{org_id}/roles/{role_id}/candidates/{candidate_id}",
    summary="A candidate's match and gap for a role",
    response_model=hiring.ExplanationView,
)
def explain_candidate(
    org_id: OrgId,
    role_id: RoleId,
    candidate_id: CandidateId,
    actor: CurrentActor,
    platform: PlatformDep,
) -> hiring.ExplanationView:
    return hiring.explain_candidate(
        platform, actor, org_id=org_id, role_id=role_id, user_id=candidate_id
    )


# --- saved searches ----------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/saved-searches",
    summary="Save a search",
    status_code=201,
    response_model=hiring.SavedSearch,
)
def create_saved_search(
    org_id: OrgId, body: hiring.SavedSearchFields, actor: CurrentActor, platform: PlatformDep
) -> hiring.SavedSearch:
    return hiring.create_saved_search(platform, actor, org_id=org_id, fields=body)


@router.get(
    "/orgs/{org_id}/saved-searches",
    summary="List saved searches",
    response_model=list[hiring.SavedSearch],
)
def list_saved_searches(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[hiring.SavedSearch]:
    return hiring.list_saved_searches(platform, actor, org_id=org_id)


@router.post(
    "/orgs/{org_id}/saved-searches/{search_id}/run",
    summary="Run a saved search",
    response_model=hiring.Ranking,
)
def run_saved_search(
    org_id: OrgId, search_id: SearchId, actor: CurrentActor, platform: PlatformDep
) -> hiring.Ranking:
    return hiring.run_saved_search(platform, actor, org_id=org_id, search_id=search_id)


@router.delete(
    "/orgs/{org_id}/saved-searches/{search_id}", summary="Delete a saved search", status_code=204
)
def delete_saved_search(
    org_id: OrgId, search_id: SearchId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    hiring.delete_saved_search(platform, actor, org_id=org_id, search_id=search_id)
    return Response(status_code=204)


# --- the learner -------------------------------------------------------------------------------


@router.get("/me/skills", summary="My verified skills", response_model=list[hiring.SkillView])
def my_skills(actor: CurrentActor, platform: PlatformDep) -> list[hiring.SkillView]:
    """Skills proven by credentials that verify now, with their level and the proofs."""
    return hiring.my_profile(platform, actor)


@router.get(
    "/me/discoverability",
    summary="Who may find me",
    response_model=hiring.Discoverability,
)
def get_discoverability(actor: CurrentActor, platform: PlatformDep) -> hiring.Discoverability:
    return hiring.get_discoverability(platform, actor)


@router.put(
    "/me/discoverability",
    summary="Set who may find me",
    response_model=hiring.Discoverability,
)
def set_discoverability(
    body: DiscoverabilityIn, actor: CurrentActor, platform: PlatformDep
) -> hiring.Discoverability:
    """Replaces your consents. Withdrawing consent also deletes the rankings you appeared in."""
    return hiring.set_discoverability(platform, actor, public=body.public, org_ids=body.org_ids)


@router.get(
    "/me/rankings",
    summary="Roles I was ranked for",
    response_model=list[hiring.RankingRecord],
)
def my_rankings(actor: CurrentActor, platform: PlatformDep) -> list[hiring.RankingRecord]:
    return hiring.my_rankings(platform, actor)


@router.get(
    "/me/rankings/{role_id}",
    summary="The explanation an employer saw for me",
    response_model=hiring.ExplanationView,
)
def my_explanation(
    role_id: RoleId, actor: CurrentActor, platform: PlatformDep
) -> hiring.ExplanationView:
    return hiring.my_explanation(platform, actor, role_id=role_id)


@router.get(
    "/me/learning-path",
    summary="The cheapest path to a role or an occupation",
    response_model=hiring.LearningPathView,
)
def learning_path(
    actor: CurrentActor,
    platform: PlatformDep,
    role: Annotated[
        str | None, Query(max_length=36, description="A role you were ranked for.")
    ] = None,
    occupation: Annotated[
        str | None, Query(max_length=500, description="An ESCO occupation URI.")
    ] = None,
    cost: Annotated[Literal["hours", "price"], Query()] = "hours",
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
) -> hiring.LearningPathView:
    """Published achievements covering your missing skills at least total cost (hours or
    price), prerequisites first; skills no achievement covers are listed as uncoverable."""
    return hiring.learning_path(
        platform, actor, role_id=role, occupation=occupation, cost=cost, currency=currency
    )
