"""Achievements (the org API: draft, edit, publish, archive, image) and their public documents.

``GET /achievements/{id}`` is the OB 3.0 document's ``id``: anyone may dereference it.
``GET /images/{sha256}`` serves an image by the digest of its bytes, so it never changes:
cached for a year as ``immutable``. An SVG is served with a CSP that forbids scripts and every
external load (``sandbox``), so a hostile file is inert even when opened directly.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import catalog

router = APIRouter(tags=["achievements"])
public_router = APIRouter(tags=["public"])

LD_MEDIA_TYPE: Final = "application/ld+json"
IMAGE_TYPES: Final = ("image/png", "image/svg+xml")
IMMUTABLE: Final = "public, max-age=31536000, immutable"
#: an SVG may style itself; it may not run or load anything (CSP3 ``sandbox`` blocks scripts)
SVG_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
PUBLIC_CACHE: Final = "public, max-age=300"

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
AchievementId = Annotated[str, Path(max_length=36, description="The achievement's id.")]


class AchievementOut(BaseModel):
    """An achievement: its published OB 3.0 document, any pending draft, and Merito metadata."""

    id: str
    url: str = Field(description="The public URL (the OB 3.0 document's id).")
    status: Literal["draft", "published", "archived"]
    name: str
    current_version: int | None = Field(description="The published version credentials embed.")
    published: dict[str, Any] | None = Field(description="The published OB 3.0 Achievement.")
    published_metadata: dict[str, Any] | None = Field(
        description="Evidence requirements, hours and price of the published version."
    )
    draft: dict[str, Any] | None = Field(description="Unpublished changes (null: none).")
    draft_metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None


def _out(view: catalog.AchievementView) -> AchievementOut:
    return AchievementOut(
        id=view.id,
        url=view.url,
        status=view.status,  # the CHECK vocabulary of the column
        name=view.name,
        current_version=view.current_version,
        published=None if view.published is None else dict(view.published),
        published_metadata=None
        if view.published_metadata is None
        else dict(view.published_metadata),
        draft=None if view.draft is None else dict(view.draft),
        draft_metadata=None if view.draft_metadata is None else dict(view.draft_metadata),
        created_at=view.created_at,
        updated_at=view.updated_at,
        published_at=view.published_at,
        archived_at=view.archived_at,
    )


# --- the organisation API ------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/achievements",
    summary="Create a draft achievement",
    status_code=201,
    response_model=AchievementOut,
)
def create_achievement(
    org_id: OrgId, body: catalog.AchievementFields, actor: CurrentActor, platform: PlatformDep
) -> AchievementOut:
    """``name``, ``description`` and ``criteria`` are required."""
    return _out(catalog.create_achievement(platform, actor, org_id=org_id, fields=body))


@router.get(
    "/orgs/{org_id}/achievements",
    summary="List achievements",
    response_model=list[AchievementOut],
)
def list_achievements(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    status: Annotated[Literal["draft", "published", "archived"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AchievementOut]:
    views = catalog.list_achievements(
        platform, actor, org_id=org_id, status=status, limit=limit, offset=offset
    )
    return [_out(v) for v in views]


@router.get(
    "/orgs/{org_id}/achievements/{achievement_id}",
    summary="Get an achievement",
    response_model=AchievementOut,
)
def get_achievement(
    org_id: OrgId, achievement_id: AchievementId, actor: CurrentActor, platform: PlatformDep
) -> AchievementOut:
    return _out(
        catalog.get_achievement(platform, actor, org_id=org_id, achievement_id=achievement_id)
    )


@router.patch(
    "/orgs/{org_id}/achievements/{achievement_id}",
    summary="Edit the draft",
    response_model=AchievementOut,
)
def update_achievement(
    org_id: OrgId,
    achievement_id: AchievementId,
    body: catalog.AchievementFields,
    actor: CurrentActor,
    platform: PlatformDep,
) -> AchievementOut:
    """Only the members sent change; ``null`` clears one. A published achievement gets a new
    draft; the published version stays the one issued until the draft is published."""
    return _out(
        catalog.update_achievement(
            platform, actor, org_id=org_id, achievement_id=achievement_id, fields=body
        )
    )


@router.post(
    "/orgs/{org_id}/achievements/{achievement_id}/publish",
    summary="Publish the draft as a new version",
    response_model=AchievementOut,
)
def publish_achievement(
    org_id: OrgId, achievement_id: AchievementId, actor: CurrentActor, platform: PlatformDep
) -> AchievementOut:
    return _out(
        catalog.publish_achievement(platform, actor, org_id=org_id, achievement_id=achievement_id)
    )


@router.post(
    "/orgs/{org_id}/achievements/{achievement_id}/archive",
    summary="Archive (stop issuing)",
    response_model=AchievementOut,
)
def archive_achievement(
    org_id: OrgId, achievement_id: AchievementId, actor: CurrentActor, platform: PlatformDep
) -> AchievementOut:
    return _out(
        catalog.archive_achievement(platform, actor, org_id=org_id, achievement_id=achievement_id)
    )


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` (never all read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the image is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the image is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_BINARY: Final = {"schema": {"type": "string", "format": "binary"}}


@router.put(
    "/orgs/{org_id}/achievements/{achievement_id}/image",
    summary="Upload the badge image (PNG or SVG)",
    response_model=AchievementOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": dict.fromkeys(IMAGE_TYPES, _BINARY),
        }
    },
    responses={413: {"description": "The image is larger than the limit (512 KB)."}},
)
async def upload_image(
    org_id: OrgId,
    achievement_id: AchievementId,
    request: Request,
    actor: CurrentActor,
    platform: PlatformDep,
    caption: Annotated[str | None, Query(max_length=500)] = None,
) -> AchievementOut:
    """The image is recognised by its content and checked (size, dimensions, no script in
    an SVG); it applies to the draft and appears with the next publication."""
    data = await _bounded_body(request, catalog.MAX_IMAGE_BYTES)
    view = await run_in_threadpool(
        lambda: catalog.upload_image(
            platform,
            actor,
            org_id=org_id,
            achievement_id=achievement_id,
            data=data,
            caption=caption,
        )
    )
    return _out(view)


@router.delete(
    "/orgs/{org_id}/achievements/{achievement_id}/image",
    summary="Remove the uploaded image (a badge is generated instead)",
    response_model=AchievementOut,
)
def remove_image(
    org_id: OrgId, achievement_id: AchievementId, actor: CurrentActor, platform: PlatformDep
) -> AchievementOut:
    return _out(catalog.remove_image(platform, actor, org_id=org_id, achievement_id=achievement_id))


# --- public documents ----------------------------------------------------------------------


@public_router.get(
    "/achievements/{achievement_id}",
    summary="A published achievement (OB 3.0)",
    responses={
        200: {
            "description": "The OB 3.0 Achievement.",
            "content": {LD_MEDIA_TYPE: {"schema": {"type": "object"}}},
        }
    },
)
def public_achievement(
    achievement_id: AchievementId,
    platform: PlatformDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    document = catalog.public_achievement(platform, achievement_id, version=version)
    # a numbered version never changes; the current one may be superseded by a publication
    cache = IMMUTABLE if version is not None else PUBLIC_CACHE
    return Response(
        content=json.dumps(document, ensure_ascii=False),
        media_type=LD_MEDIA_TYPE,
        headers={"Cache-Control": cache, "Access-Control-Allow-Origin": "*"},
    )


@public_router.get(
    "/images/{sha256}",
    summary="An image, by the SHA-256 of its bytes",
    responses={
        200: {
            "description": "The image (PNG or SVG).",
            "content": dict.fromkeys(IMAGE_TYPES, _BINARY),
        },
        304: {"description": "Not modified (the ETag is the digest)."},
    },
)
def image(
    sha256: Annotated[str, Path(max_length=64)], request: Request, platform: PlatformDep
) -> Response:
    found = catalog.get_image(platform, sha256)
    etag = f'"{found.sha256}"'
    headers = {
        "Cache-Control": IMMUTABLE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if found.media_type == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_CSP
    if request.headers.get("if-none-match") in (etag, f"W/{etag}", "*"):
        return Response(status_code=304, headers=headers)
    return Response(content=found.data, media_type=found.media_type, headers=headers)
