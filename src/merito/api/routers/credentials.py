"""Issued credentials: the organisation API (issue, bulk, list, revoke, suspend, re-issue) and
the public credential URL (JSON for machines, a minimal HTML page for people)."""

from __future__ import annotations

import html
import io
import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.api.routers.verify import read_body
from merito.errors import InvalidInput
from merito.services import credentials
from merito.services.credentials import CredentialRecord, PublicCredential

router = APIRouter(tags=["credentials"])
public_router = APIRouter(tags=["public"])

#: the largest bulk body the API takes; bigger files go through `merito credentials issue-bulk`
MAX_BULK_BYTES: Final = 10 * 1024 * 1024
CSV_TYPES: Final = frozenset({"text/csv", "application/csv"})
JSONL_TYPES: Final = frozenset(
    {"application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/ndjson"}
)
JSON_TYPES: Final = ("application/json", "application/ld+json", "application/vc+ld+json")
ProofFormatIn = Literal["eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt"]
StateIn = Literal["active", "suspended", "revoked", "expired"]


# --- schemas --------------------------------------------------------------------------------------


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: str = Field(min_length=1, max_length=36)
    recipient: str = Field(
        min_length=1, max_length=500, description="Email address (hashed in the credential) or DID."
    )
    proof_format: ProofFormatIn = "eddsa-rdfc-2022"
    valid_until: AwareDatetime | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    notify: bool = True
    status_purpose: Literal["revocation", "suspension"] = Field(
        default="revocation",
        description="The status entry's purpose: 'suspension' makes the credential suspendable.",
    )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class OptionalReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_until: AwareDatetime | None = None


class CredentialOut(BaseModel):
    id: str
    url: str
    credential_id: str
    achievement_id: str
    achievement_version: int
    recipient: str
    proof_format: str
    state: StateIn
    issued_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    replaced_by_id: str | None
    status_list_credential: str | None
    status_list_index: int | None
    status_purpose: str | None
    idempotency_key: str | None
    credential: dict[str, Any] | str = Field(
        description="The credential as issued: a JSON document, or a compact VC-JWT string."
    )

    @classmethod
    def of(cls, record: CredentialRecord, *, status_url: str | None) -> CredentialOut:
        return cls(
            id=record.id,
            url=record.url,
            credential_id=record.credential_id,
            achievement_id=record.achievement_id,
            achievement_version=record.achievement_version,
            recipient=record.recipient,
            proof_format=record.proof_format,
            state=record.state,
            issued_at=record.issued_at,
            valid_until=record.valid_until,
            revoked_at=record.revoked_at,
            revocation_reason=record.revocation_reason,
            replaced_by_id=record.replaced_by_id,
            status_list_credential=status_url,
            status_list_index=record.status_list_index,
            status_purpose=record.status_purpose,
            idempotency_key=record.idempotency_key,
            credential=record.serialized,
        )


class CredentialPageOut(BaseModel):
    items: list[CredentialOut]
    total: int
    limit: int
    offset: int


class RejectedRowOut(BaseModel):
    row: int
    reason: str | None
    property: str | None


class BulkReportOut(BaseModel):
    job_key: str
    rows: int
    issued: int
    duplicates: int
    rejected: list[RejectedRowOut]


def _out(record: CredentialRecord) -> CredentialOut:
    status = record.document.get("credentialStatus")
    url = status.get("statusListCredential") if isinstance(status, dict) else None
    return CredentialOut.of(record, status_url=url if isinstance(url, str) else None)


# --- the organisation API -------------------------------------------------------------------------

_BASE = "/orgs/{org_id}/credentials"


@router.post(
    _BASE,
    response_model=CredentialOut,
    status_code=201,
    summary="Issue a credential",
    responses={200: {"description": "The idempotency key was used before: that credential."}},
)
def issue(
    org_id: str,
    body: IssueIn,
    actor: CurrentActor,
    platform: PlatformDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CredentialOut:
    """Issues one credential of the achievement's published version. Send an
    ``Idempotency-Key`` header (or ``idempotency_key``) to make retries safe."""
    record = credentials.issue_credential(
        platform,
        actor,
        org_id=org_id,
        achievement_id=body.achievement_id,
        recipient=body.recipient,
        proof_format=body.proof_format,
        valid_until=body.valid_until,
        evidence=body.evidence,
        idempotency_key=body.idempotency_key or idempotency_key,
        notify=body.notify,
        status_purpose=body.status_purpose,
    )
    if not record.created:
        response.status_code = 200
    return _out(record)


@router.get(_BASE, response_model=CredentialPageOut, summary="List credentials")
def list_credentials(
    org_id: str,
    actor: CurrentActor,
    platform: PlatformDep,
    state: StateIn | None = None,
    recipient: Annotated[str | None, Query(max_length=500)] = None,
    achievement_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=credentials.MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CredentialPageOut:
    page = credentials.list_credentials(
        platform,
        actor,
        org_id=org_id,
        state=state,
        recipient=recipient,
        achievement_id=achievement_id,
        limit=limit,
        offset=offset,
    )
    return CredentialPageOut(
        items=[_out(r) for r in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@router.post(
    _BASE + "/bulk",
    response_model=BulkReportOut,
    summary="Issue credentials from a CSV or JSON-lines file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
    responses={413: {"description": "Over 10 MB: use the CLI."}, 415: {"description": "Not CSV."}},
)
async def issue_bulk(
    org_id: str,
    request: Request,
    actor: CurrentActor,
    platform: PlatformDep,
    achievement_id: Annotated[str | None, Query(max_length=36)] = None,
    job_key: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    proof_format: ProofFormatIn = "eddsa-rdfc-2022",
    notify: bool = True,
) -> BulkReportOut:
    """One row per credential (CSV header: ``recipient,achievement_id[,valid_until,
    idempotency_key,evidence_url,evidence_narrative]``; JSON lines: the same keys). Bad rows
    are reported, good rows issue; the same file again (same ``job_key``, by default the
    body's SHA-256) issues nothing twice."""
    media_type = _media_type(request)
    if media_type in CSV_TYPES:
        file_format: credentials.BulkFormat = "csv"
    elif media_type in JSONL_TYPES:
        file_format = "jsonl"
    else:
        raise HTTPException(415, "Send the rows as text/csv or application/x-ndjson (JSON lines).")
    body = await read_body(request, limit=MAX_BULK_BYTES)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", property="body") from None
    report = await run_in_threadpool(
        credentials.issue_bulk,
        platform,
        actor,
        org_id=org_id,
        lines=io.StringIO(text, newline=""),
        job_key=job_key or credentials.job_key_of(body),
        file_format=file_format,
        default_achievement_id=achievement_id,
        proof_format=proof_format,
        notify=notify,
    )
    return BulkReportOut.model_validate(report.to_json())


@router.get(_BASE + "/{credential_id}", response_model=CredentialOut, summary="Get a credential")
def get_credential(
    org_id: str, credential_id: str, actor: CurrentActor, platform: PlatformDep
) -> CredentialOut:
    return _out(
        credentials.get_credential(platform, actor, org_id=org_id, credential_id=credential_id)
    )


@router.post(_BASE + "/{credential_id}/revoke", response_model=CredentialOut, summary="Revoke")
def revoke(
    org_id: str, credential_id: str, body: ReasonIn, actor: CurrentActor, platform: PlatformDep
) -> CredentialOut:
    """Revokes for good; the status list shows it at its next fetch."""
    return _out(
        credentials.revoke(
            platform, actor, org_id=org_id, credential_id=credential_id, reason=body.reason
        )
    )


@router.post(_BASE + "/{credential_id}/suspend", response_model=CredentialOut, summary="Suspend")
def suspend(
    org_id: str,
    credential_id: str,
    body: OptionalReasonIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> CredentialOut:
    return _out(
        credentials.suspend(
            platform, actor, org_id=org_id, credential_id=credential_id, reason=body.reason
        )
    )


@router.post(
    _BASE + "/{credential_id}/unsuspend", response_model=CredentialOut, summary="Unsuspend"
)
def unsuspend(
    org_id: str,
    credential_id: str,
    body: OptionalReasonIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> CredentialOut:
    return _out(
        credentials.unsuspend(
            platform, actor, org_id=org_id, credential_id=credential_id, reason=body.reason
        )
    )


@router.post(
    _BASE + "/{credential_id}/reissue",
    response_model=CredentialOut,
    status_code=201,
    summary="Re-issue (renew)",
)
def reissue(
    org_id: str, credential_id: str, body: ReissueIn, actor: CurrentActor, platform: PlatformDep
) -> CredentialOut:
    """A fresh credential of the achievement's latest published version; the old one is
    revoked as superseded and points at the new one."""
    return _out(
        credentials.reissue(
            platform,
            actor,
            org_id=org_id,
            credential_id=credential_id,
            valid_until=body.valid_until,
        )
    )


# --- the public credential URL -------------------------------------------------------------------


def _wants_html(accept: str) -> bool:
    """True when the client prefers text/html to JSON (a browser); machines get JSON."""
    best_html = best_json = 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media in (*JSON_TYPES, "application/vc+jwt", "application/jwt"):
            best_json = max(best_json, q)
    return best_html > best_json


@public_router.get(
    "/credentials/{credential_id}",
    summary="A credential's public URL",
    responses={
        200: {
            "description": "The credential (JSON-LD, or a VC-JWT), or an HTML page for people.",
            "content": {
                "application/ld+json": {"schema": {"type": "object"}},
                "application/vc+jwt": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
)
def public_credential(credential_id: str, request: Request, platform: PlatformDep) -> Response:
    """Anyone with the link gets the credential as issued; a browser gets a page saying what
    it is and whether it is still valid."""
    if len(credential_id) > 36:
        raise InvalidInput("a credential id is at most 36 characters", property="credential_id")
    page = getattr(request.app.state, "credential_page", None)
    if page is not None and _wants_html(request.headers.get("accept", "")):
        # the web pages are installed (merito.asgi): they render it, at this same address
        rendered: Response = page(request, credential_id)
        return rendered
    credential = credentials.public_credential(platform, credential_id)
    # no-cache: a revocation must show at once; noindex: a learner's credential is theirs to
    # share, not a search engine's to list
    headers = {"Vary": "Accept", "Cache-Control": "no-cache", "X-Robots-Tag": "noindex"}
    if _wants_html(request.headers.get("accept", "")):
        return Response(
            content=_page(credential), media_type="text/html; charset=utf-8", headers=headers
        )
    if credential.jwt is not None:
        return Response(content=credential.jwt, media_type="application/vc+jwt", headers=headers)
    return Response(
        content=json.dumps(credential.document, ensure_ascii=False),
        media_type="application/ld+json",
        headers=headers,
    )


_STATE_TEXT: Final = {
    "active": "Valid: issued and not revoked.",
    "suspended": "Suspended by its issuer: do not rely on it for now.",
    "revoked": "Revoked by its issuer: it is no longer valid.",
    "expired": "Expired.",
}


def _page(credential: PublicCredential) -> str:
    """Plain server-rendered HTML, every value escaped; the web app restyles it later."""
    e = html.escape
    title = credential.achievement_name or "Credential"
    rows = [
        ("Achievement", credential.achievement_name or "—"),
        ("Issued by", credential.issuer_name or credential.issuer_id or "—"),
        ("Issuer id", credential.issuer_id or "—"),
        ("Issued", credential.issued_at.strftime("%Y-%m-%d %H:%M UTC")),
        (
            "Valid until",
            credential.valid_until.strftime("%Y-%m-%d %H:%M UTC")
            if credential.valid_until
            else "no expiry",
        ),
        ("Status", _STATE_TEXT[credential.state]),
        ("Format", credential.proof_format),
    ]
    table = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    replaced = (
        f'<p>It was replaced by <a href="{e(credential.replaced_by_url)}">a newer credential</a>.'
        "</p>"
        if credential.replaced_by_url
        else ""
    )
    description = (
        f"<p>{e(credential.achievement_description)}</p>"
        if credential.achievement_description
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{e(title)}</title>
</head>
<body>
<main>
<h1>{e(title)}</h1>
{description}
<table>
{table}
</table>
{replaced}
<p>Machines get this credential as JSON from the same address
(<code>Accept: application/ld+json</code>); anyone can check it with a verifier.</p>
</main>
</body>
</html>
"""
