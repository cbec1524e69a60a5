"""Trust: endorsements, trust registries, quality signals.

Organisation routes (``/api/v1/orgs/{org_id}/...``): ask for an endorsement, answer incoming
requests (accept with a comment: the EndorsementCredential is issued; decline with a reason),
endorse unasked, revoke; import, refresh and remove trust registries; verify a credential as
the organisation (its registries chosen, the verification counted in the achievement's
signals).

Public routes: Merito's signed registry (``/trust/registry.json``, cacheable with an ETag), the
DID Configuration of its did:web issuers (``/.well-known/did-configuration.json``), each
endorsement's URL, an achievement's quality facts and counts, and ``POST /verify/trusted``
(the public verifier with the trust checks; ``registry=merito`` chooses Merito's registry).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.errors import InvalidInput
from merito.services import endorsements, trust
from merito.verification import VerifyOptions

router = APIRouter(tags=["trust"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["trust"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
IncomingId = Annotated[str, Path(max_length=36, description="A request this organisation got.")]
RequestId = Annotated[str, Path(max_length=36, description="A request this organisation sent.")]
EndorsementId = Annotated[str, Path(max_length=36, description="The endorsement's id.")]
RegistryId = Annotated[str, Path(max_length=36, description="The imported registry's id.")]
AchievementId = Annotated[str, Path(max_length=36, description="The achievement's id.")]

_CACHE_CONTROL: Final = f"public, max-age={trust.CACHE_SECONDS}, must-revalidate"
_MAX_CREDENTIAL: Final = 1_000_000
_VC_MEDIA_TYPE: Final = "application/vc+ld+json"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestIn(_In):
    endorser_org_id: str = Field(max_length=36, description="The organisation asked to endorse.")
    achievement_id: str | None = Field(
        default=None,
        max_length=36,
        description="One of your published achievements; omit it "
        "to ask for an endorsement of your organisation (its issuer profile).",
    )
    message: str = Field(default="", max_length=endorsements.MAX_COMMENT)


class CommentIn(_In):
    comment: str = Field(max_length=endorsements.MAX_COMMENT, description="endorsementComment")


class ReasonIn(_In):
    reason: str = Field(max_length=1000)


class RevokeIn(_In):
    reason: str | None = Field(default=None, max_length=1000)


class EndorseIn(_In):
    subject_org_id: str = Field(max_length=36, description="The organisation endorsed.")
    achievement_id: str | None = Field(
        default=None, max_length=36, description="Its achievement; omit to endorse its profile."
    )
    comment: str = Field(max_length=endorsements.MAX_COMMENT)


class RegistryIn(_In):
    url: str | None = Field(default=None, max_length=2048, description="An https:// registry.")
    document: dict[str, Any] | None = Field(default=None, description="An uploaded registry.")


class RefreshIn(_In):
    document: dict[str, Any] | None = Field(
        default=None, description="A new copy of an uploaded registry (same publisher)."
    )


class VerifyIn(_In):
    credential: dict[str, Any] | str = Field(description="The credential (JSON or a VC-JWT).")
    registries: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list,
        max_length=20,
        description="'merito' and/or ids of this organisation's imported registries.",
    )


def _json(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=json.dumps(value, ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _document_text(credential: dict[str, Any] | str) -> str:
    text = credential if isinstance(credential, str) else json.dumps(credential)
    if len(text) > _MAX_CREDENTIAL:
        raise InvalidInput("the credential is over 1 MB", property="credential")
    return text


# --- endorsement requests ----------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/endorsement-requests",
    summary="Ask another organisation for an endorsement",
    status_code=201,
    response_model=endorsements.RequestView,
)
def request_endorsement(
    org_id: OrgId, body: RequestIn, actor: CurrentActor, platform: PlatformDep
) -> endorsements.RequestView:
    return endorsements.request_endorsement(
        platform,
        actor,
        org_id=org_id,
        endorser_org_id=body.endorser_org_id,
        achievement_id=body.achievement_id,
        message=body.message,
    )


@router.get(
    "/orgs/{org_id}/endorsement-requests",
    summary="Endorsement requests received (incoming) or sent (outgoing)",
    response_model=list[endorsements.RequestView],
)
def list_requests(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    direction: Annotated[Literal["incoming", "outgoing"], Query()] = "incoming",
    status: Annotated[
        Literal["pending", "accepted", "declined", "withdrawn"] | None, Query()
    ] = None,
) -> list[endorsements.RequestView]:
    return endorsements.list_requests(
        platform, actor, org_id=org_id, direction=direction, status=status
    )


@router.post(
    "/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/accept",
    summary="Accept a request: the endorsement is issued with your comment",
    status_code=201,
    response_model=endorsements.EndorsementView,
)
def accept_request(
    org_id: OrgId,
    incoming_id: IncomingId,
    body: CommentIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> endorsements.EndorsementView:
    return endorsements.accept_request(
        platform, actor, org_id=org_id, request_id=incoming_id, comment=body.comment
    )


@router.post(
    "/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/decline",
    summary="Decline a request, with a reason the requester sees",
    response_model=endorsements.RequestView,
)
def decline_request(
    org_id: OrgId,
    incoming_id: IncomingId,
    body: ReasonIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> endorsements.RequestView:
    return endorsements.decline_request(
        platform, actor, org_id=org_id, request_id=incoming_id, reason=body.reason
    )


@router.post(
    "/orgs/{org_id}/endorsement-requests/{request_id}/withdraw",
    summary="Withdraw a pending request you sent",
    response_model=endorsements.RequestView,
)
def withdraw_request(
    org_id: OrgId, request_id: RequestId, actor: CurrentActor, platform: PlatformDep
) -> endorsements.RequestView:
    return endorsements.withdraw_request(platform, actor, org_id=org_id, request_id=request_id)


# --- endorsements ------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/endorsements",
    summary="Endorse another organisation's achievement or profile",
    status_code=201,
    response_model=endorsements.EndorsementView,
)
def issue_endorsement(
    org_id: OrgId, body: EndorseIn, actor: CurrentActor, platform: PlatformDep
) -> endorsements.EndorsementView:
    return endorsements.issue_endorsement(
        platform,
        actor,
        org_id=org_id,
        subject_org_id=body.subject_org_id,
        achievement_id=body.achievement_id,
        comment=body.comment,
    )


@router.get(
    "/orgs/{org_id}/endorsements",
    summary="Endorsements issued or received",
    response_model=list[endorsements.EndorsementView],
)
def list_endorsements(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    direction: Annotated[Literal["issued", "received"], Query()] = "issued",
) -> list[endorsements.EndorsementView]:
    return endorsements.list_endorsements(platform, actor, org_id=org_id, direction=direction)


@router.post(
    "/orgs/{org_id}/endorsements/{endorsement_id}/revoke",
    summary="Revoke an endorsement (its status-list bit is set)",
    response_model=endorsements.EndorsementView,
)
def revoke_endorsement(
    org_id: OrgId,
    endorsement_id: EndorsementId,
    body: RevokeIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> endorsements.EndorsementView:
    return endorsements.revoke_endorsement(
        platform, actor, org_id=org_id, endorsement_id=endorsement_id, reason=body.reason
    )


# --- trust registries --------------------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/trust-registries",
    summary="The trust registries this organisation verifies against",
    response_model=list[trust.RegistryView],
)
def list_registries(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[trust.RegistryView]:
    return trust.list_registries(platform, actor, org_id=org_id)


@router.post(
    "/orgs/{org_id}/trust-registries",
    summary="Import a trust registry (upload it, or give its https:// URL)",
    status_code=201,
    response_model=trust.RegistryView,
)
def import_registry(
    org_id: OrgId, body: RegistryIn, actor: CurrentActor, platform: PlatformDep
) -> trust.RegistryView:
    """The registry's signature is checked and its publisher pinned: a later copy signed by
    anyone else is refused."""
    return trust.import_registry(
        platform, actor, org_id=org_id, document=body.document, url=body.url
    )


@router.post(
    "/orgs/{org_id}/trust-registries/{registry_id}/refresh",
    summary="Fetch a registry again (or upload a new copy)",
    response_model=trust.RegistryView,
)
def refresh_registry(
    org_id: OrgId,
    registry_id: RegistryId,
    body: RefreshIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> trust.RegistryView:
    return trust.refresh_registry(
        platform, actor, org_id=org_id, registry_id=registry_id, document=body.document
    )


@router.delete(
    "/orgs/{org_id}/trust-registries/{registry_id}",
    summary="Remove an imported registry",
    status_code=204,
)
def delete_registry(
    org_id: OrgId, registry_id: RegistryId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    trust.delete_registry(platform, actor, org_id=org_id, registry_id=registry_id)
    return Response(status_code=204)


# --- verification ------------------------------------------------------------------------------


def _options(request: Request) -> VerifyOptions:
    factory = request.app.state.verify_options_factory
    options: VerifyOptions = factory()
    return options


@router.post(
    "/orgs/{org_id}/verify",
    summary="Verify a credential as this organisation (trust, quality, signals)",
)
async def verify_as_org(
    org_id: OrgId, body: VerifyIn, request: Request, actor: CurrentActor, platform: PlatformDep
) -> Response:
    """The verification report with the ``endorsements``, ``trust`` and (did:web issuers)
    ``domain_linkage`` checks, the achievement's ``quality`` facts and ``signals``. A valid
    credential of one of this platform's achievements counts as verified by this
    organisation (counts only; never who holds it)."""
    text = _document_text(body.credential)

    def run() -> dict[str, Any]:
        return trust.verify_as_organisation(
            platform,
            actor,
            org_id=org_id,
            document=text,
            base=_options(request),
            registry_ids=body.registries,
        ).to_dict()

    return _json(await run_in_threadpool(run))


@public_router.post(
    "/verify/trusted",
    summary="Verify a credential with the trust checks (public)",
)
async def verify_trusted(body: VerifyIn, request: Request, platform: PlatformDep) -> Response:
    """Like ``POST /verify``, plus ``endorsements``, ``trust`` and ``domain_linkage`` checks,
    quality facts and signals. Only ``merito`` (this platform's registry) can be chosen here;
    an organisation's own registries are chosen on ``/api/v1/orgs/{org_id}/verify``."""
    text = _document_text(body.credential)

    def run() -> dict[str, Any]:
        registries = trust.registries_for(platform, None, org_id=None, ids=body.registries)
        return trust.verify_with_trust(
            platform, text, _options(request), registries=registries
        ).to_dict()

    return _json(await run_in_threadpool(run))


# --- public documents --------------------------------------------------------------------------


def _matches(if_none_match: str, etag: str) -> bool:
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == etag
        for tag in if_none_match.split(",")
    )


def _cached(request: Request, published: trust.PublishedDocument, media_type: str) -> Response:
    headers = {"ETag": published.etag, "Cache-Control": _CACHE_CONTROL}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, published.etag):
        return Response(status_code=304, headers=headers)
    return Response(
        content=json.dumps(published.document, ensure_ascii=False),
        media_type=media_type,
        headers=headers,
    )


@public_router.get(
    "/trust/registry.json",
    summary="Merito's signed trust registry of its issuers",
    responses={
        200: {
            "description": "The signed registry (docs/trust.md).",
            "content": {_VC_MEDIA_TYPE: {"schema": {"type": "object"}}},
        },
        304: {"description": "Not modified since the ETag sent in If-None-Match."},
    },
)
async def registry_document(request: Request, platform: PlatformDep) -> Response:
    published = await run_in_threadpool(trust.recent_registry, platform)
    return _cached(request, published, _VC_MEDIA_TYPE)


@public_router.get(
    "/.well-known/did-configuration.json",
    summary="DIF DID Configuration: this origin vouches for its did:web issuers",
    responses={304: {"description": "Not modified since the ETag sent in If-None-Match."}},
)
async def did_configuration(request: Request, platform: PlatformDep) -> Response:
    published = await run_in_threadpool(trust.did_configuration, platform)
    return _cached(request, published, "application/json")


@public_router.get(
    "/endorsements/{endorsement_id}",
    summary="An EndorsementCredential",
    responses={
        200: {
            "description": "The signed EndorsementCredential.",
            "content": {_VC_MEDIA_TYPE: {"schema": {"type": "object"}}},
        }
    },
)
def endorsement_document(endorsement_id: EndorsementId, platform: PlatformDep) -> Response:
    return Response(
        content=json.dumps(
            endorsements.public_endorsement(platform, endorsement_id), ensure_ascii=False
        ),
        media_type=_VC_MEDIA_TYPE,
    )


@public_router.get(
    "/trust/achievements/{achievement_id}",
    summary="An achievement's quality facts and aggregate signals (counts only)",
)
def achievement_signals(achievement_id: AchievementId, platform: PlatformDep) -> Response:
    """Holders and verifying organisations under 5 are reported as "fewer than 5" (null)."""
    signals = trust.signals_for(platform, achievement_id)
    quality = trust.achievement_quality(platform, achievement_id)
    return _json({"quality": quality.to_dict(), "signals": signals.to_dict()})
