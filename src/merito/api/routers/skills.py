"""Skills: the ESCO taxonomy (search/normalise, skills, occupations) and organisations' own
skills mapped onto it.

The taxonomy is public: ``GET /skills?q=`` normalises free text to ranked ESCO skills. Every
taxonomy response carries ESCO's attribution (``attribution``, ``licence``): ESCO is © European
Union, reused under Commission Decision 2011/833/EU (CC BY 4.0).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, OptionalActor, PlatformDep
from merito.services import skills

router = APIRouter(tags=["skills"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
SkillId = Annotated[str, Path(max_length=500, description="The skill's id (or ESCO URI).")]
OccupationId = Annotated[
    str, Path(max_length=500, description="The occupation's id (or ESCO URI).")
]
SearchText = Annotated[
    str, Query(min_length=1, max_length=200, description="Free text, e.g. 'python dev', 'k8s'.")
]
Limit = Annotated[int, Query(ge=1, le=50)]

ATTRIBUTION = Field(default=skills.ESCO_ATTRIBUTION, description="ESCO's required credit.")


class Attributed(BaseModel):
    attribution: str = ATTRIBUTION
    licence: str = skills.ESCO_LICENCE_URL


class SkillRefOut(BaseModel):
    id: str
    uri: str
    preferred_label: str
    kind: str
    skill_type: str | None


class OccupationRefOut(BaseModel):
    id: str
    uri: str
    preferred_label: str
    code: str | None


class SkillMatchOut(BaseModel):
    skill: SkillRefOut
    score: float = Field(description="Fused score in [0, 1]: lexical and semantic cosines.")
    lexical: float
    semantic: float
    exact: bool = Field(description="The text equals one of the skill's labels.")


class SkillSearchOut(Attributed):
    query: str
    results: list[SkillMatchOut]
    tier: str = Field(
        default="default",
        description="The normaliser's semantic tier: default (the shipped static embedding) "
        "or heavy:<model> (MERITO_SKILLS_TIER=heavy).",
    )


class MappingOut(BaseModel):
    esco: SkillRefOut
    match: str


class SkillOut(Attributed):
    id: str
    uri: str
    preferred_label: str
    alt_labels: list[str]
    description: str
    kind: str
    skill_type: str | None
    reuse_level: str | None
    code: str | None
    collections: list[str]
    org_id: str | None
    broader: list[SkillRefOut]
    narrower: list[SkillRefOut]
    mappings: list[MappingOut]
    essential_for: list[OccupationRefOut]
    optional_for: list[OccupationRefOut]
    alignment: dict[str, Any] = Field(
        description="The OB 3.0 Alignment to put in an achievement's `alignment`."
    )


class OccupationMatchOut(BaseModel):
    occupation: OccupationRefOut
    score: float


class OccupationSearchOut(Attributed):
    query: str
    results: list[OccupationMatchOut]


class OccupationOut(Attributed):
    id: str
    uri: str
    preferred_label: str
    alt_labels: list[str]
    description: str
    code: str | None
    isco_group: str | None
    broader: OccupationRefOut | None
    essential_skills: list[SkillRefOut]
    optional_skills: list[SkillRefOut]


class MappingsIn(BaseModel):
    mappings: list[skills.MappingFields] = Field(max_length=50)


def _ref(ref: skills.SkillRef) -> SkillRefOut:
    return SkillRefOut(
        id=ref.id,
        uri=ref.uri,
        preferred_label=ref.preferred_label,
        kind=ref.kind,
        skill_type=ref.skill_type,
    )


def _occupation_ref(ref: skills.OccupationRef) -> OccupationRefOut:
    return OccupationRefOut(
        id=ref.id, uri=ref.uri, preferred_label=ref.preferred_label, code=ref.code
    )


def _skill(detail: skills.SkillDetail) -> SkillOut:
    framework = skills.ESCO_FRAMEWORK if detail.org_id is None else "organisation skills"
    return SkillOut(
        id=detail.id,
        uri=detail.uri,
        preferred_label=detail.preferred_label,
        alt_labels=list(detail.alt_labels),
        description=detail.description,
        kind=detail.kind,
        skill_type=detail.skill_type,
        reuse_level=detail.reuse_level,
        code=detail.code,
        collections=list(detail.collections),
        org_id=detail.org_id,
        broader=[_ref(r) for r in detail.broader],
        narrower=[_ref(r) for r in detail.narrower],
        mappings=[MappingOut(esco=_ref(m.esco), match=m.match) for m in detail.mappings],
        essential_for=[_occupation_ref(o) for o in detail.essential_for],
        optional_for=[_occupation_ref(o) for o in detail.optional_for],
        alignment=skills.skill_alignment(
            uri=detail.uri,
            name=detail.preferred_label,
            description=detail.description or None,
            framework=framework,
        ),
    )


def _matches(query: str, found: list[skills.SkillMatch]) -> SkillSearchOut:
    return SkillSearchOut(
        query=query,
        results=[
            SkillMatchOut(
                skill=_ref(m.skill),
                score=m.score,
                lexical=m.lexical,
                semantic=m.semantic,
                exact=m.exact,
            )
            for m in found
        ],
    )


# --- the public taxonomy -------------------------------------------------------------------


@router.get("/skills", summary="Search ESCO skills (normalise free text)")
def search_skills(q: SearchText, platform: PlatformDep, limit: Limit = 10) -> SkillSearchOut:
    """Free text ("python dev", "k8s") -> ESCO skills, best first. Hybrid: character n-gram
    TF-IDF and a static embedding; an exact label match ranks first."""
    found = _matches(q, skills.search_skills(platform, q, limit=limit))
    return found.model_copy(update={"tier": skills.normalizer_tier(platform)})


@router.get("/skills/{skill_id}", summary="Get a skill")
def get_skill(skill_id: SkillId, platform: PlatformDep, actor: OptionalActor) -> SkillOut:
    """An ESCO skill (or one of your organisation's) with its hierarchy and the occupations
    that need it, and the OB 3.0 Alignment an achievement can carry."""
    return _skill(skills.get_skill(platform, skill_id, actor=actor))


@router.get("/occupations", summary="Search ESCO occupations")
def search_occupations(
    q: SearchText, platform: PlatformDep, limit: Limit = 10
) -> OccupationSearchOut:
    found = skills.search_occupations(platform, q, limit=limit)
    return OccupationSearchOut(
        query=q,
        results=[
            OccupationMatchOut(occupation=_occupation_ref(m.occupation), score=m.score)
            for m in found
        ],
    )


@router.get("/occupations/{occupation_id}", summary="Get an occupation and its skills")
def get_occupation(occupation_id: OccupationId, platform: PlatformDep) -> OccupationOut:
    o = skills.get_occupation(platform, occupation_id)
    return OccupationOut(
        id=o.id,
        uri=o.uri,
        preferred_label=o.preferred_label,
        alt_labels=list(o.alt_labels),
        description=o.description,
        code=o.code,
        isco_group=o.isco_group,
        broader=_occupation_ref(o.broader) if o.broader is not None else None,
        essential_skills=[_ref(s) for s in o.essential_skills],
        optional_skills=[_ref(s) for s in o.optional_skills],
    )


# --- an organisation's own skills ----------------------------------------------------------


@router.get("/orgs/{org_id}/skills", summary="List (or search) the organisation's skills")
def list_org_skills(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Search ESCO and the organisation's own skills together.",
        ),
    ] = None,
    limit: Limit = 10,
) -> list[SkillOut] | SkillSearchOut:
    if q is not None:
        return _matches(
            q, skills.search_skills(platform, q, limit=limit, org_id=org_id, actor=actor)
        )
    return [_skill(s) for s in skills.list_org_skills(platform, actor, org_id=org_id)]


@router.post("/orgs/{org_id}/skills", summary="Add an organisation skill", status_code=201)
def create_org_skill(
    org_id: OrgId, body: skills.OrgSkillFields, actor: CurrentActor, platform: PlatformDep
) -> SkillOut:
    return _skill(skills.create_org_skill(platform, actor, org_id=org_id, fields=body))


@router.get("/orgs/{org_id}/skills/{skill_id}", summary="Get an organisation skill")
def get_org_skill(
    org_id: OrgId, skill_id: SkillId, actor: CurrentActor, platform: PlatformDep
) -> SkillOut:
    return _skill(skills.get_org_skill(platform, actor, org_id=org_id, skill_id=skill_id))


@router.patch("/orgs/{org_id}/skills/{skill_id}", summary="Edit an organisation skill")
def update_org_skill(
    org_id: OrgId,
    skill_id: SkillId,
    body: skills.OrgSkillUpdate,
    actor: CurrentActor,
    platform: PlatformDep,
) -> SkillOut:
    return _skill(
        skills.update_org_skill(platform, actor, org_id=org_id, skill_id=skill_id, fields=body)
    )


@router.delete(
    "/orgs/{org_id}/skills/{skill_id}", summary="Delete an organisation skill", status_code=204
)
def delete_org_skill(
    org_id: OrgId, skill_id: SkillId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    skills.delete_org_skill(platform, actor, org_id=org_id, skill_id=skill_id)
    return Response(status_code=204)


@router.put(
    "/orgs/{org_id}/skills/{skill_id}/mappings",
    summary="Map an organisation skill onto ESCO skills",
)
def set_mappings(
    org_id: OrgId,
    skill_id: SkillId,
    body: MappingsIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> SkillOut:
    """Replaces the mappings (SKOS exact/close/broad/narrow/related); an empty list clears them."""
    return _skill(
        skills.set_skill_mappings(
            platform, actor, org_id=org_id, skill_id=skill_id, mappings=body.mappings
        )
    )
