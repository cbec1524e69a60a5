"""``GET /status/{list_id}``: an issuer's signed Bitstring Status List credential, cacheable.

The list is re-signed only when it changed; its ETag is its version, so a verifier that sends
``If-None-Match`` gets ``304 Not Modified`` until a credential on it is revoked or suspended.
``max-age`` is short (a revocation shows within minutes) and ``must-revalidate`` forbids a
cache to serve a stale list.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.api.deps import get_platform
from merito.errors import InvalidInput
from merito.services import status_lists, verify_cache

router = APIRouter(tags=["public"])

MEDIA_TYPE: Final = "application/vc+ld+json"
CACHE_CONTROL: Final = f"public, max-age={status_lists.CACHE_SECONDS}, must-revalidate"


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@router.get(
    "/status/{list_id}",
    summary="A status list credential",
    responses={
        200: {
            "description": "The signed BitstringStatusListCredential.",
            "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
        },
        304: {"description": "Not modified since the ETag sent in If-None-Match."},
    },
)
async def status_list(list_id: str, request: Request) -> Response:
    if len(list_id) > 36:
        raise InvalidInput("a status list id is at most 36 characters", property="list_id")
    platform = get_platform(request)
    # the stored signed bytes, kept in the process while the list's version is unchanged: one
    # read of two integers, on the event loop (a thread hop per request cost more under load
    # than the read); a list that changed is signed again in the thread pool
    published = verify_cache.cached_status_list_body(platform, list_id)
    if published is None:
        published = await run_in_threadpool(verify_cache.status_list_body, platform, list_id)
    headers = {"ETag": published.etag, "Cache-Control": CACHE_CONTROL}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, published.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=published.body, media_type=MEDIA_TYPE, headers=headers)
