"""Assessment: applications with evidence, the review queue and reviews, claim codes.

Organisation routes (``/orgs/{org_id}/...``) are for issuers and assessors; learner routes are
under ``/me/...``; the evidence files of awarded credentials (``/evidence/{id}``) and the
claim-by-code routes are public.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep, client_ip
from merito.services import assessment, claim_codes, credentials

router = APIRouter(tags=["assessment"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["assessment"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
AchievementId = Annotated[str, Path(max_length=36, description="The achievement's id.")]
ApplicationId = Annotated[str, Path(max_length=36, description="The application's id.")]
EvidenceId = Annotated[str, Path(max_length=36, description="The evidence's id.")]
CodeId = Annotated[str, Path(max_length=36, description="The claim code's id.")]
Code = Annotated[str, Path(max_length=40, description="The claim code as shown at the event.")]

_BINARY: Final = {"schema": {"type": "string", "format": "binary"}}
#: files are never served as something a browser would run, and always as a download
_FILE_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=300",
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelIn(_In):
    key: str | None = Field(default=None, max_length=40)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    points: float = Field(ge=0, le=1000)


class CriterionIn(_In):
    key: str | None = Field(default=None, max_length=40)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    levels: list[LevelIn] = Field(min_length=2, max_length=10)


class RubricIn(_In):
    criteria: list[CriterionIn] = Field(min_length=1, max_length=30)


class DecisionRuleIn(_In):
    rule: Literal["all_agree", "majority", "average_score"] = "all_agree"
    reviews_required: int = Field(default=1, ge=1, le=10)
    min_score: float = Field(default=0.0, ge=0, le=1)


class ConfigIn(_In):
    """Members left out keep their value."""

    open: bool | None = Field(default=None, description="Open for application.")
    rubric: RubricIn | None = None
    decision_rule: DecisionRuleIn | None = None
    peer_review: bool | None = Field(default=None, description="Holders may review too.")
    max_file_bytes: int | None = Field(default=None, ge=1, le=1_000_000_000)
    allowed_types: list[Annotated[str, Field(max_length=130)]] | None = Field(
        default=None, max_length=50
    )
    sla_hours: int | None = Field(default=None, ge=1, le=8760)


class ApplicationIn(_In):
    achievement_id: str = Field(max_length=36)
    narrative: str = Field(default="", max_length=assessment.MAX_NARRATIVE)


class ApplicationPatch(_In):
    narrative: str = Field(max_length=assessment.MAX_NARRATIVE)


class EvidenceIn(_In):
    """A URL or a text; files are uploaded to ``.../evidence/file``."""

    kind: Literal["url", "text"]
    name: str = Field(max_length=assessment.MAX_NAME)
    narrative: str = Field(default="", max_length=assessment.MAX_NARRATIVE)
    url: str | None = Field(default=None, max_length=assessment.MAX_URL)


class AssignmentIn(_In):
    assessor_user_id: str = Field(max_length=36)


class ReviewIn(_In):
    decision: Literal["award", "return", "reject"]
    scores: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=40)]] = (
        Field(default_factory=dict, description="Criterion key -> level key.")
    )
    comment: str = Field(default="", max_length=assessment.MAX_NARRATIVE)
    reason: str = Field(
        default="", max_length=assessment.MAX_NARRATIVE, description="Required to return/reject."
    )


class ClaimCodeIn(_In):
    achievement_id: str = Field(max_length=36)
    label: str = Field(default="", max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)
    allowed_domain: str | None = Field(default=None, max_length=253)


class ClaimRequestIn(_In):
    email: str = Field(max_length=320)


class ClaimConfirmIn(_In):
    token: str = Field(max_length=200)


class ClaimedOut(BaseModel):
    credential_id: str
    recipient: str
    url: str


class RemindedOut(BaseModel):
    reminded: int


def _review(body: ReviewIn) -> assessment.ReviewFields:
    return assessment.ReviewFields(
        decision=body.decision, scores=body.scores, comment=body.comment, reason=body.reason
    )


def _file_response(found: assessment.EvidenceFile) -> Response:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in found.name)[:100] or "evidence"
    return Response(
        content=found.data,
        media_type=found.media_type,
        headers={
            **_FILE_HEADERS,
            "Content-Disposition": f'attachment; filename="{name}"',
            "ETag": f'"{found.sha256}"',
            "Digest": f"sha-256={found.sha256}",
        },
    )


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` (never all read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the file is larger than {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the file is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- issuers: configuration ----------------------------------------------------------------------


@router.put(
    "/orgs/{org_id}/achievements/{achievement_id}/assessment",
    summary="Open an achievement for application (rubric, decision rule, evidence limits)",
    response_model=assessment.ConfigView,
)
def configure(
    org_id: OrgId,
    achievement_id: AchievementId,
    body: ConfigIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> assessment.ConfigView:
    """A new rubric is published into the achievement as OB 3.0 ResultDescriptions (one per
    criterion, with its RubricCriterionLevels, and the total as a RubricScore)."""
    given: dict[str, Any] = body.model_dump(exclude_unset=True)
    return assessment.configure(
        platform,
        actor,
        org_id=org_id,
        achievement_id=achievement_id,
        fields=assessment.ConfigFields(
            open=given.get("open"),
            rubric=given.get("rubric"),
            decision_rule=given.get("decision_rule"),
            peer_review=given.get("peer_review"),
            max_file_bytes=given.get("max_file_bytes"),
            allowed_types=given.get("allowed_types"),
            sla_hours=given.get("sla_hours"),
        ),
    )


@router.get(
    "/orgs/{org_id}/achievements/{achievement_id}/assessment",
    summary="How an achievement is assessed",
    response_model=assessment.ConfigView,
)
def get_config(
    org_id: OrgId, achievement_id: AchievementId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ConfigView:
    return assessment.get_config(platform, actor, org_id=org_id, achievement_id=achievement_id)


# --- assessors: queue and reviews -------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/applications",
    summary="The review queue",
    response_model=list[assessment.QueueItem],
)
def review_queue(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    achievement_id: Annotated[str | None, Query(max_length=36)] = None,
    state: Annotated[
        Literal["submitted", "in_review", "returned", "awarded", "rejected", "withdrawn"] | None,
        Query(description="Default: submitted and in review."),
    ] = None,
    assignee: Annotated[
        str | None, Query(max_length=36, description="A user id, 'me' or 'none'.")
    ] = None,
    overdue: Annotated[bool | None, Query(description="Past the SLA (or not).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[assessment.QueueItem]:
    """Oldest first, each with its age in hours, its due time (submission + the SLA) and
    whether it is overdue."""
    return assessment.queue(
        platform,
        actor,
        org_id=org_id,
        achievement_id=achievement_id,
        state=state,
        assignee=assignee,
        overdue=overdue,
        limit=limit,
    )


@router.post(
    "/orgs/{org_id}/applications/reminders",
    summary="Email the assessors of overdue applications",
    response_model=RemindedOut,
)
def remind_overdue(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> RemindedOut:
    return RemindedOut(reminded=assessment.remind_overdue(platform, actor, org_id=org_id))


@router.get(
    "/orgs/{org_id}/applications/{application_id}",
    summary="An application with its evidence and reviews",
    response_model=assessment.ApplicationView,
)
def get_application(
    org_id: OrgId, application_id: ApplicationId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.application_for_assessor(
        platform, actor, org_id=org_id, application_id=application_id
    )


@router.get(
    "/orgs/{org_id}/applications/{application_id}/evidence/{evidence_id}",
    summary="An evidence file (assessors)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": _BINARY}}},
)
def assessor_evidence_file(
    org_id: OrgId,
    application_id: ApplicationId,
    evidence_id: EvidenceId,
    actor: CurrentActor,
    platform: PlatformDep,
) -> Response:
    return _file_response(
        assessment.evidence_file(
            platform, actor, application_id=application_id, evidence_id=evidence_id, org_id=org_id
        )
    )


@router.post(
    "/orgs/{org_id}/applications/{application_id}/assignments",
    summary="Assign an assessor",
    response_model=assessment.ApplicationView,
)
def assign(
    org_id: OrgId,
    application_id: ApplicationId,
    body: AssignmentIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> assessment.ApplicationView:
    """The assessor must be a member who may assess, and not the applicant."""
    return assessment.assign(
        platform,
        actor,
        org_id=org_id,
        application_id=application_id,
        assessor_user_id=body.assessor_user_id,
    )


@router.post(
    "/orgs/{org_id}/applications/{application_id}/reviews",
    summary="Review an application (score the rubric, award / return / reject)",
    response_model=assessment.ApplicationView,
)
def review(
    org_id: OrgId,
    application_id: ApplicationId,
    body: ReviewIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> assessment.ApplicationView:
    """When the reviews of the round decide (the achievement's rule), the application is
    awarded (its credential issued once, with the evidence and the Results), returned or
    rejected. An assessor reviews a submission once; nobody reviews their own."""
    return assessment.review(
        platform, actor, org_id=org_id, application_id=application_id, fields=_review(body)
    )


# --- issuers: claim codes ----------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/claim-codes",
    summary="Create a claim code for an event",
    status_code=201,
    response_model=claim_codes.ClaimCodeView,
)
def create_claim_code(
    org_id: OrgId, body: ClaimCodeIn, actor: CurrentActor, platform: PlatformDep
) -> claim_codes.ClaimCodeView:
    return claim_codes.create_claim_code(
        platform,
        actor,
        org_id=org_id,
        achievement_id=body.achievement_id,
        label=body.label,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        max_uses=body.max_uses,
        allowed_domain=body.allowed_domain,
    )


@router.get(
    "/orgs/{org_id}/claim-codes",
    summary="List claim codes",
    response_model=list[claim_codes.ClaimCodeView],
)
def list_claim_codes(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    achievement_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[claim_codes.ClaimCodeView]:
    return claim_codes.list_claim_codes(
        platform, actor, org_id=org_id, achievement_id=achievement_id
    )


@router.post(
    "/orgs/{org_id}/claim-codes/{code_id}/deactivate",
    summary="Stop a claim code",
    response_model=claim_codes.ClaimCodeView,
)
def deactivate_claim_code(
    org_id: OrgId, code_id: CodeId, actor: CurrentActor, platform: PlatformDep
) -> claim_codes.ClaimCodeView:
    return claim_codes.deactivate_claim_code(platform, actor, org_id=org_id, code_id=code_id)


@router.get(
    "/orgs/{org_id}/claim-codes/{code_id}/qr",
    summary="The claim code's QR code (SVG or PNG)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": _BINARY, "image/png": _BINARY}}},
)
def claim_code_qr(
    org_id: OrgId,
    code_id: CodeId,
    actor: CurrentActor,
    platform: PlatformDep,
    format: Annotated[Literal["svg", "png"], Query()] = "svg",
) -> Response:
    media_type, data = claim_codes.claim_code_qr(
        platform, actor, org_id=org_id, code_id=code_id, kind=format
    )
    return Response(content=data, media_type=media_type, headers={"Cache-Control": "private"})


# --- learners -----------------------------------------------------------------------------------


@router.get(
    "/me/open-achievements",
    summary="Achievements open for application",
    response_model=list[assessment.OpenAchievement],
)
def open_achievements(
    actor: CurrentActor, platform: PlatformDep
) -> list[assessment.OpenAchievement]:
    return assessment.open_achievements(platform)


@router.post(
    "/me/applications",
    summary="Start an application",
    status_code=201,
    response_model=assessment.ApplicationView,
)
def create_application(
    body: ApplicationIn, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.create_application(
        platform, actor, achievement_id=body.achievement_id, narrative=body.narrative
    )


@router.get(
    "/me/applications", summary="My applications", response_model=list[assessment.ApplicationView]
)
def my_applications(actor: CurrentActor, platform: PlatformDep) -> list[assessment.ApplicationView]:
    return assessment.my_applications(platform, actor)


@router.get(
    "/me/applications/{application_id}",
    summary="One of my applications",
    response_model=assessment.ApplicationView,
)
def my_application(
    application_id: ApplicationId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.my_application(platform, actor, application_id=application_id)


@router.patch(
    "/me/applications/{application_id}",
    summary="Edit a draft or returned application",
    response_model=assessment.ApplicationView,
)
def update_application(
    application_id: ApplicationId,
    body: ApplicationPatch,
    actor: CurrentActor,
    platform: PlatformDep,
) -> assessment.ApplicationView:
    return assessment.update_application(
        platform, actor, application_id=application_id, narrative=body.narrative
    )


@router.post(
    "/me/applications/{application_id}/evidence",
    summary="Add a URL or a text as evidence",
    status_code=201,
    response_model=assessment.EvidenceView,
)
def add_evidence(
    application_id: ApplicationId, body: EvidenceIn, actor: CurrentActor, platform: PlatformDep
) -> assessment.EvidenceView:
    return assessment.add_evidence(
        platform,
        actor,
        application_id=application_id,
        kind=body.kind,
        name=body.name,
        narrative=body.narrative,
        url=body.url,
    )


@router.post(
    "/me/applications/{application_id}/evidence/file",
    summary="Upload a file as evidence (the body is the file)",
    status_code=201,
    response_model=assessment.EvidenceView,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": _BINARY}}
    },
    responses={413: {"description": "The file is larger than the achievement allows."}},
)
async def upload_evidence(
    application_id: ApplicationId,
    request: Request,
    actor: CurrentActor,
    platform: PlatformDep,
    name: Annotated[str, Query(min_length=1, max_length=assessment.MAX_NAME)],
    narrative: Annotated[str, Query(max_length=2000)] = "",
) -> assessment.EvidenceView:
    """The Content-Type header is the file's media type (it must be one the achievement
    accepts, and the content must match it). The file is virus-scanned when a scanner is set
    up, and stored by its SHA-256."""
    limit = await run_in_threadpool(
        lambda: assessment.file_limit(platform, actor, application_id=application_id)
    )
    data = await _bounded_body(request, limit)
    media_type = request.headers.get("content-type", "")
    return await run_in_threadpool(
        lambda: assessment.add_evidence(
            platform,
            actor,
            application_id=application_id,
            kind="file",
            name=name,
            narrative=narrative,
            data=data,
            media_type=media_type,
        )
    )


@router.delete(
    "/me/applications/{application_id}/evidence/{evidence_id}",
    summary="Remove evidence from a draft",
    status_code=204,
)
def remove_evidence(
    application_id: ApplicationId,
    evidence_id: EvidenceId,
    actor: CurrentActor,
    platform: PlatformDep,
) -> Response:
    assessment.remove_evidence(
        platform, actor, application_id=application_id, evidence_id=evidence_id
    )
    return Response(status_code=204)


@router.get(
    "/me/applications/{application_id}/evidence/{evidence_id}",
    summary="One of my evidence files",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": _BINARY}}},
)
def my_evidence_file(
    application_id: ApplicationId,
    evidence_id: EvidenceId,
    actor: CurrentActor,
    platform: PlatformDep,
) -> Response:
    return _file_response(
        assessment.evidence_file(
            platform, actor, application_id=application_id, evidence_id=evidence_id
        )
    )


@router.post(
    "/me/applications/{application_id}/submit",
    summary="Submit (or resubmit) an application",
    response_model=assessment.ApplicationView,
)
def submit(
    application_id: ApplicationId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.submit(platform, actor, application_id=application_id)


@router.post(
    "/me/applications/{application_id}/withdraw",
    summary="Withdraw an application",
    response_model=assessment.ApplicationView,
)
def withdraw(
    application_id: ApplicationId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.withdraw(platform, actor, application_id=application_id)


@router.get(
    "/me/peer-reviews",
    summary="Applications I may peer-review (I hold the achievement)",
    response_model=list[assessment.QueueItem],
)
def peer_queue(actor: CurrentActor, platform: PlatformDep) -> list[assessment.QueueItem]:
    return assessment.peer_queue(platform, actor)


@router.get(
    "/me/peer-reviews/{peer_application_id}",
    summary="An application to peer-review",
    response_model=assessment.ApplicationView,
)
def peer_application(
    peer_application_id: ApplicationId, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.peer_application(platform, actor, application_id=peer_application_id)


@router.post(
    "/me/peer-reviews/{peer_application_id}",
    summary="Peer-review an application",
    response_model=assessment.ApplicationView,
)
def peer_review(
    peer_application_id: ApplicationId, body: ReviewIn, actor: CurrentActor, platform: PlatformDep
) -> assessment.ApplicationView:
    return assessment.review(
        platform, actor, org_id=None, application_id=peer_application_id, fields=_review(body)
    )


# --- public: claim by code, awarded evidence ------------------------------------------------------


@router.get(
    "/claim-codes/{code}",
    summary="What a claim code is for",
    response_model=claim_codes.PublicClaimCode,
)
def public_claim_code(
    code: Code, request: Request, platform: PlatformDep
) -> claim_codes.PublicClaimCode:
    """404 for an unknown code; after too many unknown codes or links from one client address
    (or for one email), every claim-code route answers 429 with Retry-After for a while."""
    return claim_codes.public_claim_code(platform, code, ip=client_ip(request))


@router.post(
    "/claim-codes/{code}/requests",
    summary="Ask for a claim link by email",
    status_code=202,
)
def request_claim(
    code: Code, body: ClaimRequestIn, request: Request, platform: PlatformDep
) -> Response:
    """A one-time link is emailed to the address (it proves the address). Rate-limited per
    client address, per code and per email, and failed lookups per client address and per
    email (429 with Retry-After)."""
    claim_codes.request_claim(platform, code=code, email=body.email, ip=client_ip(request))
    return Response(status_code=202)


@router.post(
    "/claim-codes/{code}/claims",
    summary="Claim with the emailed token",
    status_code=201,
    response_model=ClaimedOut,
)
def confirm_claim(
    code: Code, body: ClaimConfirmIn, request: Request, platform: PlatformDep
) -> ClaimedOut:
    record: credentials.CredentialRecord = claim_codes.confirm_claim(
        platform, code=code, token=body.token, ip=client_ip(request)
    )
    return ClaimedOut(
        credential_id=record.credential_id, recipient=record.recipient, url=record.url
    )


@public_router.get(
    "/evidence/{evidence_id}",
    summary="The evidence file behind an awarded credential",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": _BINARY}}},
)
def public_evidence(evidence_id: EvidenceId, platform: PlatformDep) -> Response:
    """Its SHA-256 is the credential's Evidence ``digestMultibase`` (a sha2-256 multihash):
    a verifier can tell the file changed. Only the evidence of awarded applications is
    served."""
    return _file_response(assessment.public_evidence_file(platform, evidence_id))
