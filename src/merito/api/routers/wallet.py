"""The learner's wallet over HTTP (``/api/v1/me/wallet``): claim, import, list, view, visibility.

Wallet routes are user-scoped: they act on the signed-in user's own wallet (a session, or an
OAuth token issued to that user); another user's item answers 404. Every refusal of an import
is a problem with its own type (``urn:merito:problem:not-a-badge``, ``signature-invalid``,
``credential-revoked``, ``source-unreachable``...; see ``merito.services.wallet``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.api.problems import PROBLEM_MEDIA_TYPE, merito_problem
from merito.errors import InvalidInput
from merito.services import wallet

router = APIRouter(prefix="/me/wallet", tags=["wallet"])

ItemId = Annotated[str, Path(max_length=36, description="The wallet item's id.")]
_RAW_TYPES: Final = (
    "image/png",
    "image/svg+xml",
    "application/ld+json",
    "application/vc+ld+json",
    "application/vc+jwt",
    "application/jwt",
    "text/plain",
    "application/octet-stream",
)


class WalletItemOut(BaseModel):
    """A credential in the wallet and its latest verification."""

    id: str
    source: Literal["claimed", "imported"]
    format: str = Field(
        description="ob3, vc2, vc-jwt, vc1.1, ob2-hosted, ob2-signed, blockcerts-v2, blockcerts-v3"
    )
    name: str
    issuer_id: str | None
    issuer_name: str | None
    credential_id: str | None
    verdict: Literal["valid", "invalid", "indeterminate"] | None = Field(
        description="indeterminate: nothing failed, but something could not be checked (a "
        "Blockcerts anchor offline, a status list that could not be fetched)."
    )
    summary: str
    verified_at: datetime | None
    visibility: Literal["private", "public"]
    created_at: datetime
    verification: dict[str, Any] | None = Field(
        default=None, description="The verification report (item view only)."
    )
    credential: dict[str, Any] | None = Field(
        default=None, description="The credential as stored (item view only)."
    )
    raw: str | None = Field(default=None, description="The compact JWT/JWS as received, if any.")


class WalletItemList(BaseModel):
    items: list[WalletItemOut]


def _out(item: wallet.WalletItem, *, full: bool = False) -> WalletItemOut:
    return WalletItemOut(
        id=item.id,
        source=item.source,
        format=item.format,
        name=item.name,
        issuer_id=item.issuer_id,
        issuer_name=item.issuer_name,
        credential_id=item.credential_id,
        verdict=item.verdict,
        summary=item.summary,
        verified_at=item.verified_at,
        visibility=item.visibility,
        created_at=item.created_at,
        verification=dict(item.verification) if full and item.verification else None,
        credential=dict(item.document) if full else None,
        raw=item.raw if full else None,
    )


def _json_response(item: wallet.WalletItem, *, status: int) -> JSONResponse:
    return JSONResponse(_out(item, full=True).model_dump(mode="json"), status_code=status)


@router.get("/items", response_model=WalletItemList, summary="My wallet")
def list_items(actor: CurrentActor, platform: PlatformDep) -> WalletItemList:
    """Newest first, each with its last stored verdict (open one to verify it again)."""
    return WalletItemList(items=[_out(i) for i in wallet.list_items(platform, actor)])


async def _bounded_body(request: Request) -> bytes:
    limit = wallet.MAX_IMPORT_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the upload is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _import_arguments(request: Request) -> dict[str, Any]:
    """What to import from the request: a multipart ``file``, JSON ``{"url"}`` or
    ``{"credential"}``, or the credential itself as the body (image, JSON-LD, JWT)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > wallet.MAX_IMPORT_BYTES:
            raise HTTPException(413, f"the upload is larger than {wallet.MAX_IMPORT_BYTES} bytes")
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if isinstance(upload, UploadFile):
                data = await upload.read(wallet.MAX_IMPORT_BYTES + 1)
                return {
                    "data": data,
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                }
            url = form.get("url")
            if isinstance(url, str) and url.strip():
                return {"url": url}
        raise InvalidInput("send the badge as the form field 'file' (or 'url')", property="file")
    body = await _bounded_body(request)
    if media_type == "application/json":
        try:
            wrapper = json.loads(body)
        except ValueError as e:
            raise InvalidInput(f"the body is not JSON: {e}", property="body") from e
        if not isinstance(wrapper, dict) or not ({"url", "credential"} & set(wrapper)):
            raise InvalidInput(
                'send {"url": "https://..."} or {"credential": <JSON or JWT>}', property="body"
            )
        if isinstance(wrapper.get("url"), str):
            return {"url": wrapper["url"]}
        credential = wrapper.get("credential")
        if isinstance(credential, str):
            return {"data": credential.encode("utf-8")}
        if isinstance(credential, dict):
            return {"data": json.dumps(credential, ensure_ascii=False).encode("utf-8")}
        raise InvalidInput("credential must be a JSON object or a JWT", property="credential")
    if media_type in _RAW_TYPES:
        return {"data": body, "content_type": media_type}
    raise HTTPException(415, f"unsupported media type {media_type!r}")


@router.post(
    "/items",
    status_code=201,
    response_model=WalletItemOut,
    summary="Import a badge (file, image, JWT or URL)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string", "format": "uri"},
                            "credential": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                        },
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                **{t: {"schema": {"type": "string", "format": "binary"}} for t in _RAW_TYPES},
            },
        }
    },
    responses={
        200: {"description": "Already in the wallet: the stored item."},
        413: {"description": "Larger than 5 MB."},
    },
)
async def import_item(request: Request, actor: CurrentActor, platform: PlatformDep) -> Response:
    """Sniffs the format (OB 3.0 / VC 2.0 JSON-LD or VC-JWT, VC 1.1, OB 2.0 hosted or signed,
    Blockcerts v2/v3, a baked PNG or SVG), verifies it and stores it with its report."""
    arguments = await _import_arguments(request)
    try:
        item = await run_in_threadpool(
            lambda: wallet.import_credential(platform, actor, **arguments)
        )
    except wallet.WalletImportError as e:
        return _refusal(e, instance=request.url.path)
    return _json_response(item, status=201 if item.created else 200)


def _refusal(error: wallet.WalletImportError, *, instance: str) -> Response:
    """The refusal's problem, with the verification report that decided it (``report``)."""
    response = merito_problem(error, instance=instance)
    if error.report is None:
        return response
    body = json.loads(bytes(response.body))
    body["report"] = error.report.to_dict()
    return Response(
        content=json.dumps(body, ensure_ascii=False, default=str),
        status_code=response.status_code,
        media_type=PROBLEM_MEDIA_TYPE,
    )


@router.get("/items/{item_id}", response_model=WalletItemOut, summary="One item, verified now")
def get_item(item_id: ItemId, actor: CurrentActor, platform: PlatformDep) -> WalletItemOut:
    """Verifies the credential again (its status may have changed) and stores the new report."""
    return _out(wallet.get_item(platform, actor, item_id), full=True)


class VisibilityIn(BaseModel):
    visibility: Literal["private", "public"]


@router.patch("/items/{item_id}", response_model=WalletItemOut, summary="Make it public or private")
def set_visibility(
    item_id: ItemId, body: VisibilityIn, actor: CurrentActor, platform: PlatformDep
) -> WalletItemOut:
    """Public items may appear on the learner's portfolio; private ones never do."""
    return _out(wallet.set_visibility(platform, actor, item_id, body.visibility))


@router.delete("/items/{item_id}", status_code=204, summary="Remove it from my wallet")
def delete_item(item_id: ItemId, actor: CurrentActor, platform: PlatformDep) -> Response:
    wallet.delete_item(platform, actor, item_id)
    return Response(status_code=204)


class ClaimIn(BaseModel):
    token: str = Field(
        min_length=1, max_length=200, description="The last part of the emailed claim link."
    )


@router.post("/claims", status_code=201, response_model=WalletItemOut, summary="Claim by link")
def claim(body: ClaimIn, actor: CurrentActor, platform: PlatformDep) -> Response:
    """Redeems the claim link emailed at issuance (``<base>/claim/<token>``): the token proves
    the learner reads that mailbox. Again: the same item (200); another account's: 409."""
    item = wallet.claim(platform, actor, body.token)
    return _json_response(item, status=201 if item.created else 200)


class DidChallengeIn(BaseModel):
    did: str = Field(max_length=500, description="A did:key DID the learner controls.")


class DidChallengeOut(BaseModel):
    did: str
    challenge: str = Field(description="Sign a JWS with payload {nonce: challenge, aud}.")
    audience: str
    expires_at: datetime


@router.post(
    "/did-challenges",
    status_code=201,
    response_model=DidChallengeOut,
    summary="Get a challenge to prove control of a DID",
)
def did_challenge(
    body: DidChallengeIn, actor: CurrentActor, platform: PlatformDep
) -> DidChallengeOut:
    found = wallet.did_challenge(platform, actor, body.did)
    return DidChallengeOut(
        did=found.did,
        challenge=found.challenge,
        audience=found.audience,
        expires_at=found.expires_at,
    )


class DidClaimIn(BaseModel):
    proof: str = Field(
        max_length=10_000,
        description="Compact JWS signed with the DID's key (header kid: a DID URL of it).",
    )


@router.post(
    "/did-claims", response_model=WalletItemList, summary="Claim what was issued to my DID"
)
def claim_did(body: DidClaimIn, actor: CurrentActor, platform: PlatformDep) -> WalletItemList:
    """Checks the signed challenge, then adds every credential issued to that DID."""
    return WalletItemList(
        items=[_out(i) for i in wallet.claim_did(platform, actor, proof=body.proof)]
    )
