"""Sharing API: the learner's portfolio, collections, share links, presentations, downloads,
CLR export and their data; the public portfolio (``/p/{handle}``) and share links (``/s/{token}``);
and ``POST /api/v1/verify/presentation``.

Everything under ``/me`` is the signed-in learner's own (a session, not an API key: machine
credentials have no wallet); another learner's item, collection or link answers 404.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.api.routers.verify import read_body
from merito.formats.json_depth import too_deep
from merito.services import certificates, presentations, privacy, sharing
from merito.verification import VerifyOptions
from merito.verification.presentations import presentation_summary, verify_presentation

router = APIRouter(tags=["sharing"])
public_router = APIRouter(tags=["sharing"])

ItemId = Annotated[str, Path(max_length=36, description="The wallet item's id.")]
CollectionId = Annotated[str, Path(max_length=36, description="The collection's id.")]
LinkId = Annotated[str, Path(max_length=36, description="The share link's id.")]


# --- schemas ---------------------------------------------------------------------------------


class PortfolioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str | None = Field(default=None, max_length=64, examples=["ada-lovelace"])
    enabled: bool | None = Field(default=None, description="Show the public page /p/{handle}.")
    display_name: str | None = Field(default=None, max_length=200)
    headline: str | None = Field(default=None, max_length=300)


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    public: bool = False
    item_ids: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list, max_length=sharing.MAX_COLLECTION_ITEMS
    )


class CollectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    public: bool | None = None


class ShareLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["item", "collection", "portfolio"]
    item_id: str | None = Field(default=None, max_length=36)
    collection_id: str | None = Field(default=None, max_length=36)
    expires_at: AwareDatetime | None = None
    label: str | None = Field(default=None, max_length=200)


class PresentationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[Annotated[str, Field(max_length=36)]] = Field(
        min_length=1, max_length=presentations.MAX_PRESENTED
    )
    challenge: str | None = Field(
        default=None,
        max_length=500,
        description="The verifier's nonce: proves the presentation was made for this request.",
    )
    domain: str | None = Field(
        default=None, max_length=500, description="The verifier's domain (the audience)."
    )
    cryptosuite: Literal["eddsa-jcs-2022", "eddsa-rdfc-2022"] = "eddsa-jcs-2022"


class ClrIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[Annotated[str, Field(max_length=36)]] | None = Field(
        default=None, max_length=1000, description="Omit to include every Open Badges credential."
    )


class DeleteAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm_email: str = Field(
        min_length=3, max_length=320, description="Your account's email, to confirm."
    )


class CollectionList(BaseModel):
    collections: list[sharing.Collection]


class ShareLinkList(BaseModel):
    share_links: list[sharing.ShareLink]


# --- the learner's own -------------------------------------------------------------------------


@router.get("/me/portfolio", response_model=sharing.PortfolioSettings, summary="My portfolio")
def get_portfolio(actor: CurrentActor, platform: PlatformDep) -> sharing.PortfolioSettings:
    return sharing.get_portfolio_settings(platform, actor)


@router.put(
    "/me/portfolio", response_model=sharing.PortfolioSettings, summary="Set up my portfolio"
)
def put_portfolio(
    body: PortfolioIn, actor: CurrentActor, platform: PlatformDep
) -> sharing.PortfolioSettings:
    """Sets the handle, name and headline; ``enabled`` turns the public page on or off.

    Only items marked public (and public collections) are ever shown on it."""
    return sharing.update_portfolio(
        platform,
        actor,
        handle=body.handle,
        enabled=body.enabled,
        display_name=body.display_name,
        headline=body.headline,
    )


@router.get(
    "/me/portfolio/preview",
    response_model=sharing.PublicPortfolio,
    summary="What my public page shows",
)
def preview(actor: CurrentActor, platform: PlatformDep) -> sharing.PublicPortfolio:
    """Exactly what visitors see (or will see once the page is enabled)."""
    return sharing.preview_portfolio(platform, actor)


@router.get(
    "/me/wallet/items/{item_id}/linkedin",
    response_model=sharing.LinkedInLinks,
    summary="LinkedIn 'Add to profile' and share links",
)
def linkedin(item_id: ItemId, actor: CurrentActor, platform: PlatformDep) -> sharing.LinkedInLinks:
    return sharing.linkedin_links(platform, actor, item_id)


def _download(download: certificates.Download) -> Response:
    return Response(
        content=download.data,
        media_type=download.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/me/wallet/items/{item_id}/baked",
    summary="Download the badge image with the credential baked in",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
def baked(
    item_id: ItemId,
    actor: CurrentActor,
    platform: PlatformDep,
    kind: Annotated[Literal["png", "svg"] | None, Query(description="PNG or SVG")] = None,
) -> Response:
    return _download(certificates.baked_image(platform, actor, item_id, kind=kind))


@router.get(
    "/me/wallet/items/{item_id}/certificate",
    summary="Download a printable PDF certificate (the credential attached)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def certificate(item_id: ItemId, actor: CurrentActor, platform: PlatformDep) -> Response:
    return _download(certificates.certificate_pdf(platform, actor, item_id))


@router.get("/me/collections", response_model=CollectionList, summary="My collections")
def list_collections(actor: CurrentActor, platform: PlatformDep) -> CollectionList:
    return CollectionList(collections=sharing.list_collections(platform, actor))


@router.post(
    "/me/collections",
    status_code=201,
    response_model=sharing.Collection,
    summary="Create a collection",
)
def create_collection(
    body: CollectionIn, actor: CurrentActor, platform: PlatformDep
) -> sharing.Collection:
    return sharing.create_collection(
        platform,
        actor,
        name=body.name,
        description=body.description,
        public=body.public,
        item_ids=body.item_ids,
    )


@router.get(
    "/me/collections/{collection_id}", response_model=sharing.Collection, summary="A collection"
)
def get_collection(
    collection_id: CollectionId, actor: CurrentActor, platform: PlatformDep
) -> sharing.Collection:
    return sharing.get_collection(platform, actor, collection_id)


@router.patch(
    "/me/collections/{collection_id}",
    response_model=sharing.Collection,
    summary="Rename, describe or publish a collection",
)
def patch_collection(
    collection_id: CollectionId, body: CollectionPatch, actor: CurrentActor, platform: PlatformDep
) -> sharing.Collection:
    return sharing.update_collection(
        platform,
        actor,
        collection_id=collection_id,
        name=body.name,
        description=body.description,
        public=body.public,
    )


@router.delete("/me/collections/{collection_id}", status_code=204, summary="Delete a collection")
def delete_collection(
    collection_id: CollectionId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    """The items stay in the wallet; links to the collection stop working."""
    sharing.delete_collection(platform, actor, collection_id)
    return Response(status_code=204)


@router.put(
    "/me/collections/{collection_id}/items/{item_id}",
    response_model=sharing.Collection,
    summary="Add an item to a collection",
)
def add_item(
    collection_id: CollectionId, item_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> sharing.Collection:
    return sharing.add_to_collection(platform, actor, collection_id=collection_id, item_id=item_id)


@router.delete(
    "/me/collections/{collection_id}/items/{item_id}",
    response_model=sharing.Collection,
    summary="Remove an item from a collection",
)
def remove_item(
    collection_id: CollectionId, item_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> sharing.Collection:
    return sharing.remove_from_collection(
        platform, actor, collection_id=collection_id, item_id=item_id
    )


@router.get("/me/share-links", response_model=ShareLinkList, summary="My share links")
def list_links(actor: CurrentActor, platform: PlatformDep) -> ShareLinkList:
    """Every link with its view count; the URLs are not shown again (only hashes are kept)."""
    return ShareLinkList(share_links=sharing.list_share_links(platform, actor))


@router.post(
    "/me/share-links",
    status_code=201,
    response_model=sharing.ShareLink,
    summary="Create a share link",
)
def create_link(body: ShareLinkIn, actor: CurrentActor, platform: PlatformDep) -> sharing.ShareLink:
    """A link to an item, a collection or the portfolio; ``url`` is shown only in this answer."""
    return sharing.create_share_link(
        platform,
        actor,
        target=body.target,
        item_id=body.item_id,
        collection_id=body.collection_id,
        expires_at=body.expires_at,
        label=body.label,
    )


@router.delete(
    "/me/share-links/{link_id}", response_model=sharing.ShareLink, summary="Revoke a share link"
)
def revoke_link(link_id: LinkId, actor: CurrentActor, platform: PlatformDep) -> sharing.ShareLink:
    return sharing.revoke_share_link(platform, actor, link_id)


@router.get(
    "/me/holder-key", response_model=presentations.HolderKey, summary="My holder DID (did:key)"
)
def holder_key(actor: CurrentActor, platform: PlatformDep) -> presentations.HolderKey:
    """The DID that signs your presentations (made on first use). Give it to an issuer to
    receive credentials bound to it."""
    return presentations.holder_key(platform, actor)


@router.post(
    "/me/presentations",
    summary="Sign a Verifiable Presentation of my credentials",
    response_class=JSONResponse,
    responses={200: {"content": {"application/vp+ld+json": {}}}},
)
def create_presentation(
    body: PresentationIn, actor: CurrentActor, platform: PlatformDep
) -> JSONResponse:
    """A VC 2.0 presentation signed by your holder key for the verifier's challenge and domain."""
    vp = presentations.create_presentation(
        platform,
        actor,
        item_ids=body.item_ids,
        challenge=body.challenge,
        domain=body.domain,
        cryptosuite=body.cryptosuite,
    )
    return JSONResponse(vp)


@router.post(
    "/me/clr",
    summary="Export my record as a signed CLR 2.0 credential",
    response_class=JSONResponse,
    responses={200: {"content": {"application/vc+ld+json": {}}}},
)
def export_clr(body: ClrIn, actor: CurrentActor, platform: PlatformDep) -> JSONResponse:
    """A ``ClrCredential`` of your Open Badges credentials, issued by your holder DID."""
    return JSONResponse(presentations.export_clr(platform, actor, item_ids=body.item_ids))


@router.get("/me/export", summary="Download all my data (JSON)", response_class=JSONResponse)
def export_data(actor: CurrentActor, platform: PlatformDep) -> JSONResponse:
    return JSONResponse(
        privacy.export_my_data(platform, actor),
        headers={
            "Content-Disposition": 'attachment; filename="merito-export.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/me/delete-account", status_code=204, summary="Delete my account and data")
def delete_account(body: DeleteAccountIn, actor: CurrentActor, platform: PlatformDep) -> Response:
    """Removes your account, wallet, portfolio, links and keys. Issuers keep what they issued
    (and can still revoke it)."""
    privacy.delete_account(platform, actor, confirm_email=body.confirm_email)
    return Response(status_code=204)


# --- public ----------------------------------------------------------------------------------

_NOINDEX = {"X-Robots-Tag": "noindex", "Cache-Control": "no-store"}


def _wants_html(accept: str) -> bool:
    """True when the client prefers text/html to JSON (a browser); machines get JSON."""
    best_html = best_json = 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media in ("application/json", "*/*"):
            best_json = max(best_json, q)
    return best_html > best_json


def _page(request: Request, name: str) -> Any:
    """The web's renderer for this address when the pages are installed and a browser asks."""
    renderer = getattr(request.app.state, name, None)
    if renderer is not None and _wants_html(request.headers.get("accept", "")):
        return renderer
    return None


_HTML_TOO: Final = {
    200: {
        "content": {"text/html": {"schema": {"type": "string"}}},
        "description": "JSON, or an HTML page for people when the web pages are installed.",
    }
}


@public_router.get(
    "/p/{handle}",
    response_model=sharing.PublicPortfolio,
    summary="A learner's public portfolio",
    responses=_HTML_TOO,  # type: ignore[arg-type]
)
def public_portfolio(
    handle: Annotated[str, Path(max_length=64)], request: Request, platform: PlatformDep
) -> Any:
    """Only what the learner made public; 404 when the portfolio is not enabled."""
    page = _page(request, "portfolio_page")
    if page is not None:
        return page(request, handle)
    return sharing.public_portfolio(platform, handle)


@public_router.get(
    "/s/{token}",
    response_model=sharing.SharedView,
    summary="What a share link shows",
    responses=_HTML_TOO,  # type: ignore[arg-type]
)
def shared(
    token: Annotated[str, Path(max_length=200)],
    request: Request,
    platform: PlatformDep,
    response: Response,
) -> Any:
    """Counts the view. An unknown, expired or revoked link is 404."""
    page = _page(request, "share_page")
    if page is not None:
        return page(request, token)
    response.headers.update(_NOINDEX)
    return sharing.resolve_share_link(platform, token)


# --- verifying a presentation -------------------------------------------------------------------


_VP_BODY: Final = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["presentation"],
                "properties": {
                    "presentation": {"type": "object", "description": "The signed VP."},
                    "challenge": {"type": "string", "maxLength": 500},
                    "domain": {"type": "string", "maxLength": 500},
                },
            }
        }
    },
}


@router.post(
    "/verify/presentation",
    summary="Verify a Verifiable Presentation",
    openapi_extra={"requestBody": _VP_BODY},
    tags=["verify"],
)
async def verify_vp(request: Request) -> Response:
    """Checks the holder's proof, the expected ``challenge`` and ``domain``, every credential
    inside, and that credentials issued to a DID were issued to the holder. 200 whether
    valid or not: ``verified`` is the verdict."""
    settings = request.app.state.settings
    body = await read_body(request, limit=settings.max_document_bytes)
    wrapper = _wrapper(body)
    factory = request.app.state.verify_options_factory
    options: VerifyOptions = factory()
    report = await run_in_threadpool(
        verify_presentation,
        wrapper["presentation"],
        options=options,
        challenge=wrapper.get("challenge"),
        domain=wrapper.get("domain"),
    )
    out = report.to_dict()
    out["summary"] = presentation_summary(report)
    return JSONResponse(out)


def _wrapper(body: bytes) -> dict[str, Any]:
    def invalid(message: str) -> RequestValidationError:
        return RequestValidationError([{"loc": ("body",), "msg": message}])

    if not body:
        raise invalid("the request has no body: send {'presentation': ..., 'challenge': ...}")
    if too_deep(body):
        raise invalid("the body is nested too deeply")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise invalid("the body is not JSON") from None
    if not isinstance(value, dict) or "presentation" not in value:
        raise invalid("the body must be an object with a 'presentation' member")
    extra = set(value) - {"presentation", "challenge", "domain"}
    if extra:
        raise invalid(f"unknown members: {', '.join(sorted(extra))}")
    for name in ("challenge", "domain"):
        if name in value and value[name] is not None and not isinstance(value[name], str):
            raise invalid(f"{name} must be a string")
    presentation = value["presentation"]
    if isinstance(presentation, dict | str):
        # re-serialised: the pipeline reads it as text (its limits, duplicate keys, depth)
        value["presentation"] = (
            presentation if isinstance(presentation, str) else json.dumps(presentation)
        )
    else:
        raise invalid("presentation must be a JSON object")
    return value
