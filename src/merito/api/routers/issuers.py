"""Issuer profiles, DID documents and signing keys: the org API and the public documents.

``GET /orgs/{slug}/did.json`` is where did:web resolution of ``did:web:<host>:orgs:<slug>``
lands (did:web §3.2). It lists retired keys too, so it changes only on a rotation or a new key:
the ETag is a digest of the document, ``max-age`` is short so a rotation is seen within
minutes, and ``If-None-Match`` answers 304.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import issuers

router = APIRouter(tags=["issuers"])
public_router = APIRouter(tags=["public"])

DID_MEDIA_TYPE: Final = "application/did+json"
LD_MEDIA_TYPE: Final = "application/ld+json"
#: short enough that a rotation is picked up quickly; revalidation is cheap (304)
CACHE_CONTROL: Final = "public, max-age=300, must-revalidate"

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
Slug = Annotated[str, Path(max_length=64, description="The organisation's slug.")]
Algorithm = Literal["Ed25519", "P-256", "RSA", "EdDSA", "ES256", "RS256"]


class KeyOut(BaseModel):
    """A public key; the private half never leaves the key store."""

    verification_method: str = Field(description="The DID URL credentials name in their proof.")
    algorithm: str = Field(description="JOSE name: EdDSA, ES256 or RS256.")
    key_type: str = Field(description="Ed25519, P-256 or RSA.")
    status: Literal["active", "retired"] = Field(
        description="Retired keys sign nothing new but still verify what they signed."
    )
    public_key_jwk: dict[str, str]
    public_key_multibase: str | None
    created_at: datetime
    retired_at: datetime | None


class KeyRequest(BaseModel):
    algorithm: Algorithm = Field(
        default="Ed25519",
        description="Ed25519 signs Data Integrity proofs; P-256 and RSA sign VC-JWTs.",
    )


def _key(key: issuers.KeyInfo) -> KeyOut:
    return KeyOut(
        verification_method=key.verification_method,
        algorithm=key.algorithm,
        key_type=key.key_type,
        status="active" if key.status == "active" else "retired",
        public_key_jwk=dict(key.public_key_jwk),
        public_key_multibase=key.public_key_multibase,
        created_at=key.created_at,
        retired_at=key.retired_at,
    )


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == etag
        for tag in if_none_match.split(",")
    )


def _cacheable(request: Request, document: dict[str, Any], media_type: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


_JSON_OBJECT: Final = {"schema": {"type": "object"}}

# --- public documents ----------------------------------------------------------------------


@public_router.get(
    "/orgs/{slug}/did.json",
    summary="An issuer's DID document (did:web)",
    responses={
        200: {
            "description": "Every key of the issuer, retired ones included.",
            "content": {DID_MEDIA_TYPE: _JSON_OBJECT},
        },
        304: {"description": "Not modified since the ETag sent in If-None-Match."},
    },
)
def did_document(slug: Slug, request: Request, platform: PlatformDep) -> Response:
    return _cacheable(request, issuers.public_did_document(platform, slug), DID_MEDIA_TYPE)


@public_router.get(
    "/orgs/{slug}/profile",
    summary="An issuer's OB 3.0 Profile",
    responses={
        200: {"description": "The issuer Profile.", "content": {LD_MEDIA_TYPE: _JSON_OBJECT}},
        304: {"description": "Not modified since the ETag sent in If-None-Match."},
    },
)
def public_profile(slug: Slug, request: Request, platform: PlatformDep) -> Response:
    return _cacheable(request, issuers.public_profile(platform, slug), LD_MEDIA_TYPE)


# --- the organisation API ------------------------------------------------------------------


@router.get("/orgs/{org_id}/profile", summary="Get the issuer profile")
def get_profile(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> dict[str, Any]:
    return issuers.get_profile(platform, actor, org_id)


@router.put("/orgs/{org_id}/profile", summary="Replace the issuer profile")
def put_profile(
    org_id: OrgId, body: issuers.ProfileFields, actor: CurrentActor, platform: PlatformDep
) -> dict[str, Any]:
    """Members left out are cleared; a missing ``name`` keeps the organisation's name."""
    return issuers.update_profile(platform, actor, org_id=org_id, fields=body)


@router.get("/orgs/{org_id}/keys", summary="List public keys", response_model=list[KeyOut])
def list_keys(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> list[KeyOut]:
    return [_key(k) for k in issuers.list_keys(platform, actor, org_id)]


@router.post("/orgs/{org_id}/keys", summary="Create a key", status_code=201, response_model=KeyOut)
def create_key(
    org_id: OrgId, body: KeyRequest, actor: CurrentActor, platform: PlatformDep
) -> KeyOut:
    """One active key per algorithm; a second is a 409 (rotate instead)."""
    return _key(issuers.create_key(platform, actor, org_id=org_id, algorithm=body.algorithm))


@router.post("/orgs/{org_id}/keys/rotate", summary="Rotate a key", response_model=KeyOut)
def rotate_key(
    org_id: OrgId, body: KeyRequest, actor: CurrentActor, platform: PlatformDep
) -> KeyOut:
    """Retires the active key of the algorithm and returns its successor."""
    return _key(issuers.rotate_key(platform, actor, org_id=org_id, algorithm=body.algorithm))
