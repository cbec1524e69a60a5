"""``POST /verify``: a credential in, the verification report out (200 whether valid or not).

The body is read in chunks and refused with 413 as soon as it passes the configured size
(``Settings.max_document_bytes``), before it is all in memory. Everything else about the
document (syntax, nesting, duplicate keys, NaN, encoding) is the pipeline's ``parse`` check:
a bad credential is a report saying why, never an HTTP error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.api.deps import get_platform
from merito.api.schemas import VerificationReportOut
from merito.domain.verification import VerificationReport
from merito.formats.json_depth import too_deep
from merito.services import analytics, platform_verification, verify_cache, verifying
from merito.services.platform import Platform
from merito.verification import VerifyOptions
from merito.verification.presentations import (
    is_presentation,
    presentation_summary,
    verify_presentation,
)

router = APIRouter(tags=["verify"])

#: JSON credentials (VC 2.0 §6.1 registers application/vc; VC-JOSE-COSE keeps the older names)
JSON_TYPES: Final = frozenset(
    {"application/json", "application/vc", "application/vc+ld+json", "application/ld+json"}
)
#: a compact VC-JWT (VC-JOSE-COSE §3.1.1 application/vc+jwt; RFC 7519 application/jwt)
TEXT_TYPES: Final = frozenset({"application/vc+jwt", "application/jwt", "text/plain"})

#: documents up to this size that need no fetch are verified on the event loop (a few ms of
#: CPU at most); larger ones, or those that need the network, in the thread pool
INLINE_BYTES: Final = 16 * 1024

_CREDENTIAL_SCHEMA: Final = {
    "type": "object",
    "description": "A JSON-LD credential with an embedded proof (Open Badges 3.0, CLR 2.0, VC 2.0 "
    "or 1.1), or a wrapper object whose only member is `credential`: that credential, or a "
    "compact VC-JWT string.",
}
_JWT_SCHEMA: Final = {"type": "string", "description": "A compact VC-JWT."}

REQUEST_BODY: Final = {
    "required": True,
    "content": {
        **{media: {"schema": _CREDENTIAL_SCHEMA} for media in sorted(JSON_TYPES)},
        **{media: {"schema": _JWT_SCHEMA} for media in sorted(TEXT_TYPES)},
    },
}


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over the {limit:,}-byte limit.")


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def unwrap(body: bytes) -> str | bytes:
    """The document to verify: the ``credential`` of a ``{"credential": ...}`` wrapper, else
    the body untouched.

    The wrapper is only recognised when it is strict JSON (UTF-8, unique keys, no NaN); any
    doubt leaves the raw body to the pipeline, whose ``parse`` check names the problem.
    """
    if too_deep(body):  # json.loads's C recursion could overflow the stack; parse names it
        return body
    try:
        value = json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return body
    if not (isinstance(value, dict) and value.keys() == {"credential"}):
        return body
    inner = value["credential"]
    if isinstance(inner, str):
        return inner
    try:
        # re-serialized, so the pipeline checks the credential as text (depth, surrogates...)
        return json.dumps(inner, ensure_ascii=False)
    except (ValueError, RecursionError):
        return body


def _verify_as_platform(
    platform: Platform, base: VerifyOptions, document: str | bytes, issuer: str | None
) -> VerificationReport:
    with verify_cache.reads(platform) as connection:  # one checkout for the few reads
        options = platform_verification.options_for(
            platform, base, issuer=issuer, connection=connection
        )
        return verifying.verify_document(document, options)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@router.post(
    "/verify",
    summary="Verify a credential",
    response_model=VerificationReportOut,
    responses={
        413: {"description": "The body is over the size limit."},
        415: {"description": "The body's media type is not a credential type."},
        422: {"description": "The request has no body."},
    },
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def verify_credential(request: Request) -> Response:
    """Runs every check and returns the report: ``verified`` is the verdict, ``checks`` say why.

    Credentials of this platform's issuers verify from its own records (DID documents, status
    lists); anything else needs the server's guarded fetcher, without which its status lists
    are reported as not checked (a warning).
    """
    media_type = _media_type(request)
    if media_type not in JSON_TYPES and media_type not in TEXT_TYPES:
        accepted = ", ".join(sorted(JSON_TYPES | TEXT_TYPES))
        shown = media_type or "none"
        raise HTTPException(415, f"Content-Type {shown!r} is not accepted; send one of {accepted}.")
    settings = request.app.state.settings
    body = await read_body(request, limit=settings.max_document_bytes)
    if not body:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the request has no body: send a credential"}]
        )
    document = unwrap(body) if media_type in JSON_TYPES else body
    factory: Callable[[], VerifyOptions] = request.app.state.verify_options_factory
    platform = get_platform(request)
    # this platform's own issuers, status lists and credentials are known without a fetch
    # (its did:web documents are not reachable offline); other URLs go through its fetcher
    base = factory()
    if len(document) <= INLINE_BYTES:
        # small and needing only this platform's records: on the event loop (bounded CPU, a
        # few small reads), where threads would contend with it for the GIL under load
        report = platform_verification.verify_from_own_records(platform, document, base)
    else:
        report = None
    if report is None:
        # a fetch from another site may wait, a big document may compute long: off the loop
        report = await run_in_threadpool(
            _verify_as_platform,
            platform,
            base,
            document,
            platform_verification.claimed_issuer(document),
        )
    if is_presentation(report):
        # a VP sent here is checked as one (no challenge or domain: those checks warn);
        # POST /verify/presentation takes the verifier's challenge and domain
        # the claimed issuer above is the holder: its credentials resolve as they always have
        report = await run_in_threadpool(verify_presentation, document, options=base)
        out = report.to_dict()
        out["summary"] = presentation_summary(report)
        return Response(content=json.dumps(out, ensure_ascii=False), media_type="application/json")
    # the issuer's dashboard counts verifications of its credentials (in memory: no I/O here)
    analytics.record_verification(platform, report)
    return Response(content=report.to_json(), media_type="application/json")
