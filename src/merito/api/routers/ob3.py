"""The 1EdTech Open Badges 3.0 REST API (§6) under ``/ims/ob/v3p0``.

``GET /discovery`` (public), ``GET|POST /credentials``, ``GET|PUT /profile`` with an OAuth 2.0
access token of the authorization code grant carrying the operation's scope (§6.2.1). Errors
are the spec's ``Imsx_StatusInfo`` JSON, not problem JSON, and the routes are described by the
discovery document (an OpenAPI 3.0 document of its own), not by Merito's /openapi.json.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from merito.api.auth import PlatformDep
from merito.api.routers.oauth import AUTHORIZE_PATH, REGISTER_PATH, TOKEN_PATH
from merito.errors import (
    InvalidInput,
    MeritoError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from merito.services import oauth, ob3_host
from merito.services.platform import Actor, Platform

__all__ = ["OB3_PREFIX", "discovery_document", "router"]

OB3_PREFIX: Final = "/ims/ob/v3p0"
_JSON_TYPES: Final = frozenset(
    {"application/json", "application/ld+json", "application/vc+ld+json", "application/vc"}
)
_SCOPE_OF: Final = {
    "getCredentials": oauth.SCOPE_CREDENTIAL_READONLY,
    "upsertCredential": oauth.SCOPE_CREDENTIAL_UPSERT,
    "getProfile": oauth.SCOPE_PROFILE_READONLY,
    "putProfile": oauth.SCOPE_PROFILE_UPDATE,
}
#: status -> Imsx_CodeMinorFieldValue (OB 3.0 §B "Imsx_CodeMinorFieldValue" vocabulary)
_CODE_MINOR: Final = {
    400: "invalid_data",
    401: "unauthorizedrequest",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    413: "invalid_data",
    415: "not_acceptable",
    500: "internal_server_error",
}

router = APIRouter(prefix=OB3_PREFIX, tags=["ob3"], include_in_schema=False)


# --- Imsx_StatusInfo ---------------------------------------------------------------------


def status_info(status: int, description: str, *, code_minor: str | None = None) -> dict[str, Any]:
    """An ``Imsx_StatusInfo`` (OB 3.0 §B): codeMajor failure, severity error, a code minor."""
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {
                    # "the identity of the system that has produced the code minor status"
                    "imsx_codeMinorFieldName": "merito",
                    "imsx_codeMinorFieldValue": code_minor or _CODE_MINOR.get(status, "unknown"),
                }
            ]
        },
    }


def _failure(
    status: int,
    description: str,
    *,
    code_minor: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_info(status, description, code_minor=code_minor),
        status_code=status,
        headers=dict(headers or {}),
    )


def _bearer_challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    """RFC 6750 §3 ``WWW-Authenticate: Bearer`` with its error attributes."""
    value = 'Bearer realm="merito"'
    if error is not None:
        value += f', error="{error}"'
    if scope is not None:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


def _error_response(error: MeritoError, operation: str) -> JSONResponse:
    if isinstance(error, Unauthenticated):
        return _failure(401, error.message, headers=_bearer_challenge("invalid_token"))
    if isinstance(error, PermissionDenied):
        scope = _SCOPE_OF[operation]
        return _failure(403, error.message, headers=_bearer_challenge("insufficient_scope", scope))
    if isinstance(error, NotFound):
        return _failure(404, error.message)
    if isinstance(error, InvalidInput):
        return _failure(400, error.message)
    return _failure(400, error.message)


def _token_actor(platform: Platform, request: Request) -> Actor:
    """The OAuth access token's Actor; Unauthenticated without a valid one (§7.1.3)."""
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthenticated("send 'Authorization: Bearer <access token>'")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    ip = request.client.host if request.client else None
    actor = oauth.resolve_access_token(platform, value.strip(), ip=ip)
    if actor is None:
        raise Unauthenticated("the Open Badges API takes an OAuth 2.0 access token")
    return actor


async def _run(
    platform: Platform, request: Request, operation: str, call: Callable[[Actor], Response]
) -> Response:
    def work() -> Response:
        return call(_token_actor(platform, request))

    try:
        return await run_in_threadpool(work)
    except MeritoError as e:
        return _error_response(e, operation)


# --- discovery (§6.3) --------------------------------------------------------------------


def _scope_descriptions() -> dict[str, str]:
    return {
        oauth.SCOPE_CREDENTIAL_READONLY: "Permission to read AchievementCredentials for the "
        "authenticated entity.",
        oauth.SCOPE_CREDENTIAL_UPSERT: "Permission to create or update AchievementCredentials "
        "for the authenticated entity.",
        oauth.SCOPE_PROFILE_READONLY: "Permission to read the profile for the authenticated "
        "entity.",
        oauth.SCOPE_PROFILE_UPDATE: "Permission to update the profile for the authenticated "
        "entity.",
    }


def _responses(success: Mapping[str, Any], *statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = dict(success)
    for status in statuses:
        out[str(status)] = {"$ref": f"#/components/responses/Status{status}"}
    out["default"] = {"$ref": "#/components/responses/StatusDefault"}
    return out


def _json_content(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}}}


def discovery_document(
    platform: Platform, *, privacy_policy_url: str, terms_of_service_url: str
) -> dict[str, Any]:
    """The Service Description Document (§6.3.1, §7.1.1.1): OpenAPI 3.0 with the
    ``x-imssf-*`` extensions, the OAuth2ACG security scheme and this server's URLs."""
    credential_schema = {"$ref": "#/components/schemas/AchievementCredential"}
    paths: dict[str, Any] = {
        "/credentials": {
            "get": {
                "tags": ["OpenBadgeCredentials"],
                "summary": "Get issued OpenBadgeCredentials from the resource server for the "
                "supplied parameters and access token.",
                "operationId": "getCredentials",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "The maximum number of OpenBadgeCredentials to return "
                        "per page.",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "description": "The index of the first AchievementCredential to "
                        "return. (zero indexed)",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {
                        "name": "since",
                        "in": "query",
                        "description": "Only include OpenBadgeCredentials issued after this "
                        "timestamp.",
                        "required": False,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": _responses(
                    {
                        "200": {
                            "description": "The set of OpenBadgeCredentials that meet the "
                            "request parameters. Paging applies to the total number of "
                            "OpenBadgeCredentials in the response.",
                            "headers": {
                                "X-Total-Count": {
                                    "description": "The total number of credentials.",
                                    "schema": {"type": "integer"},
                                },
                                "Link": {
                                    "description": "RFC 8288 next, last, first, prev links.",
                                    "schema": {"type": "string"},
                                },
                            },
                            "content": _json_content(
                                "#/components/schemas/GetOpenBadgeCredentialsResponse"
                            ),
                        }
                    },
                    400,
                    401,
                    403,
                    405,
                    500,
                ),
                "security": [{"OAuth2ACG": [oauth.SCOPE_CREDENTIAL_READONLY]}],
                "x-operation-pattern": "list",
            },
            "post": {
                "tags": ["OpenBadgeCredentials"],
                "summary": "Create or replace an AchievementCredential on the resource server.",
                "operationId": "upsertCredential",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": credential_schema},
                        "text/plain": {"schema": {"$ref": "#/components/schemas/CompactJws"}},
                    },
                },
                "responses": _responses(
                    {
                        status: {
                            "description": description,
                            "content": {
                                "application/json": {"schema": credential_schema},
                                "text/plain": {
                                    "schema": {"$ref": "#/components/schemas/CompactJws"}
                                },
                            },
                        }
                        for status, description in (
                            ("200", "The AchievementCredential was successfully replaced."),
                            ("201", "The AchievementCredential was successfully created."),
                        )
                    },
                    400,
                    401,
                    403,
                    404,
                    405,
                    500,
                ),
                "security": [{"OAuth2ACG": [oauth.SCOPE_CREDENTIAL_UPSERT]}],
                "x-operation-pattern": "update",
            },
        },
        "/profile": {
            "get": {
                "tags": ["Profile"],
                "summary": "Fetch the profile from the resource server for the supplied "
                "access token.",
                "operationId": "getProfile",
                "responses": _responses(
                    {
                        "200": {
                            "description": "The matching profile.",
                            "content": _json_content("#/components/schemas/Profile"),
                        }
                    },
                    400,
                    401,
                    403,
                    404,
                    405,
                    500,
                ),
                "security": [{"OAuth2ACG": [oauth.SCOPE_PROFILE_READONLY]}],
                "x-operation-pattern": "read",
            },
            "put": {
                "tags": ["Profile"],
                "summary": "Update the profile for the authenticated entity.",
                "operationId": "putProfile",
                "requestBody": {
                    "required": True,
                    "content": _json_content("#/components/schemas/Profile"),
                },
                "responses": _responses(
                    {
                        "200": {
                            "description": "The matching profile.",
                            "content": _json_content("#/components/schemas/Profile"),
                        }
                    },
                    400,
                    401,
                    403,
                    404,
                    405,
                    500,
                ),
                "security": [{"OAuth2ACG": [oauth.SCOPE_PROFILE_UPDATE]}],
                "x-operation-pattern": "update",
            },
        },
        "/discovery": {
            "get": {
                "tags": ["Discovery"],
                "summary": "Fetch the Service Description Document from the resource server.",
                "operationId": "getServiceDescription",
                "responses": {
                    "200": {
                        "description": "The service discovery document.",
                        "content": _json_content("#/components/schemas/ServiceDescriptionDocument"),
                    },
                    "default": {"$ref": "#/components/responses/StatusDefault"},
                },
                "x-operation-pattern": "read",
            }
        },
    }
    status_ref = _json_content("#/components/schemas/Imsx_StatusInfo")
    responses = {
        f"Status{status}": {"description": description, "content": status_ref}
        for status, description in (
            (400, "The request is invalid (client error)."),
            (401, "The request lacks a valid access token."),
            (403, "The access token lacks the operation's scope."),
            (404, "No such resource."),
            (405, "The method is not allowed."),
            (500, "A catastrophic error on the server."),
        )
    }
    responses["StatusDefault"] = {
        "description": "The request was invalid or cannot be served.",
        "content": status_ref,
    }
    return {
        "openapi": "3.0.1",
        "info": {
            "title": "Merito Open Badges API",
            "description": "The 1EdTech Open Badges 3.0 API of this Merito server: the "
            "credentials and profile a user keeps here.",
            "termsOfService": terms_of_service_url,
            "version": "3.0",
            "x-imssf-image": platform.url("/static/merito-logo.png"),
            "x-imssf-privacyPolicyUrl": privacy_policy_url,
        },
        "servers": [{"url": platform.url(OB3_PREFIX), "description": "This Merito server"}],
        "tags": [
            {"name": "OpenBadgeCredentials", "description": "Exchange OpenBadgeCredentials."},
            {"name": "Profile", "description": "Exchange a Profile."},
            {"name": "Discovery", "description": "Discover this service."},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "OAuth2ACG": {
                    "type": "oauth2",
                    "description": "OAuth 2.0 Authorization Code Grant authorization",
                    "x-imssf-name": "Merito",
                    "x-imssf-privacyPolicyUrl": privacy_policy_url,
                    "x-imssf-registrationUrl": platform.url(REGISTER_PATH),
                    "x-imssf-termsOfServiceUrl": terms_of_service_url,
                    "flows": {
                        "authorizationCode": {
                            "tokenUrl": platform.url(TOKEN_PATH),
                            "authorizationUrl": platform.url(AUTHORIZE_PATH),
                            "refreshUrl": platform.url(TOKEN_PATH),
                            "scopes": _scope_descriptions(),
                        }
                    },
                }
            },
            "responses": responses,
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    credential_schema_url = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
    return {
        "AchievementCredential": {
            "type": "object",
            "description": "An Open Badges 3.0 AchievementCredential (see "
            f"{credential_schema_url}).",
            "required": ["@context", "type", "id", "issuer", "credentialSubject"],
            "additionalProperties": True,
        },
        "CompactJws": {
            "type": "string",
            "description": "A compact JWS (VC-JWT) securing an AchievementCredential.",
            "pattern": "^[-A-Za-z0-9_]*\\.[-A-Za-z0-9_]*\\.[-A-Za-z0-9_]*$",
        },
        "GetOpenBadgeCredentialsResponse": {
            "type": "object",
            "properties": {
                "credential": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/AchievementCredential"},
                },
                "compactJwsStrings": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CompactJws"},
                },
            },
            "additionalProperties": False,
        },
        "Profile": {
            "type": "object",
            "description": "An Open Badges 3.0 Profile.",
            "required": ["id", "type"],
            "properties": {
                "id": {"type": "string", "format": "uri"},
                "type": {"oneOf": [{"type": "string"}, {"type": "array"}]},
                "name": {"type": "string"},
                "email": {"type": "string"},
                "url": {"type": "string"},
                "phone": {"type": "string"},
                "description": {"type": "string"},
            },
            "additionalProperties": True,
        },
        "Imsx_StatusInfo": {
            "type": "object",
            "required": ["imsx_codeMajor", "imsx_severity"],
            "properties": {
                "imsx_codeMajor": {
                    "type": "string",
                    "enum": ["failure", "processing", "success", "unsupported"],
                },
                "imsx_severity": {"type": "string", "enum": ["error", "status", "warning"]},
                "imsx_description": {"type": "string"},
                "imsx_codeMinor": {
                    "type": "object",
                    "required": ["imsx_codeMinorField"],
                    "properties": {
                        "imsx_codeMinorField": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": [
                                    "imsx_codeMinorFieldName",
                                    "imsx_codeMinorFieldValue",
                                ],
                                "properties": {
                                    "imsx_codeMinorFieldName": {"type": "string"},
                                    "imsx_codeMinorFieldValue": {"type": "string"},
                                },
                            },
                        }
                    },
                },
            },
            "additionalProperties": False,
        },
        "ServiceDescriptionDocument": {"type": "object", "additionalProperties": True},
    }


@router.get("/discovery")
def discovery(request: Request, platform: PlatformDep) -> JSONResponse:
    """getServiceDescription (§6.3.1): public, never behind a token."""
    settings = request.app.state.settings
    return JSONResponse(
        discovery_document(
            platform,
            privacy_policy_url=settings.privacy_policy_url or platform.url("/privacy"),
            terms_of_service_url=settings.terms_of_service_url or platform.url("/terms"),
        )
    )


# --- getCredentials (§6.2.2) ---------------------------------------------------------------


class _BadQuery(Exception):
    pass


def _query_int(request: Request, name: str) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit() or len(values[0]) > 9:
        raise _BadQuery(f"'{name}' must be given once, as a non-negative integer")
    return int(values[0])


def _query_since(request: Request) -> datetime | None:
    values = request.query_params.getlist("since")
    if not values:
        return None
    if len(values) > 1:
        raise _BadQuery("'since' must be given once")
    try:
        moment = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError as e:
        raise _BadQuery("'since' must be an ISO 8601 date-time with a time zone") from e
    if moment.tzinfo is None:
        raise _BadQuery("'since' must carry a time zone (e.g. Z)")
    return moment


def _page_links(platform: Platform, page: ob3_host.CredentialPage, since: str | None) -> str:
    """RFC 8288 links (§6.4): first and last always, next when incomplete, prev past 0."""
    base = platform.url(OB3_PREFIX + "/credentials")

    def link(offset: int, rel: str) -> str:
        query: dict[str, str] = {"limit": str(page.limit), "offset": str(offset)}
        if since is not None:
            query["since"] = since
        return f'<{base}?{urllib.parse.urlencode(query)}>; rel="{rel}"'

    last = ((page.total - 1) // page.limit) * page.limit if page.total else 0
    links = []
    if page.offset + page.limit < page.total:
        links.append(link(page.offset + page.limit, "next"))
    links.append(link(last, "last"))
    links.append(link(0, "first"))
    if page.offset > 0:
        links.append(link(max(page.offset - page.limit, 0), "prev"))
    return ", ".join(links)


@router.get("/credentials")
async def get_credentials(request: Request, platform: PlatformDep) -> Response:
    try:
        limit = _query_int(request, "limit")
        offset = _query_int(request, "offset") or 0
        since = _query_since(request)
    except _BadQuery as e:
        return _failure(400, str(e), code_minor="invalid_query_parameter")
    if limit == 0:
        return _failure(400, "'limit' must be at least 1", code_minor="invalid_query_parameter")

    def call(actor: Actor) -> Response:
        page = ob3_host.get_credentials(platform, actor, limit=limit, offset=offset, since=since)
        body = {
            "compactJwsStrings": [c.compact_jws for c in page.items if c.compact_jws],
            "credential": [dict(c.document) for c in page.items if not c.compact_jws],
        }
        headers = {
            "X-Total-Count": str(page.total),
            "Link": _page_links(platform, page, request.query_params.get("since")),
        }
        return JSONResponse(body, headers=headers)

    return await _run(platform, request, "getCredentials", call)


# --- upsertCredential (§6.2.3) --------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InvalidInput(f"the body is not a JSON {what}: {e}", property="body") from e
    if not isinstance(value, dict):
        raise InvalidInput(f"the body must be a JSON object ({what})", property="body")
    return value


@router.post("/credentials")
async def upsert_credential(request: Request, platform: PlatformDep) -> Response:
    media_type = _media_type(request)
    if media_type not in _JSON_TYPES and media_type != "text/plain":
        return _failure(
            415,
            "send an AchievementCredential as application/json, or a compact JWS as text/plain",
        )
    settings = request.app.state.settings
    body = await _body(request, settings.max_document_bytes)
    if body is None:
        return _failure(413, f"the body is over the {settings.max_document_bytes}-byte limit")
    credential: dict[str, Any] | str
    try:
        if media_type == "text/plain":
            credential = body.decode("utf-8").strip()
            if not credential or credential.count(".") != 2:
                raise InvalidInput("the body is not a compact JWS", property="body")
        else:
            credential = _json_object(body, "AchievementCredential")
    except (InvalidInput, UnicodeDecodeError) as e:
        message = e.message if isinstance(e, InvalidInput) else "the body is not UTF-8"
        return _failure(400, message)

    def call(actor: Actor) -> Response:
        # the service's verifier uses the platform's (SSRF-guarded) fetcher: a host must
        # resolve did:web issuers and check status lists of what it is asked to keep
        result = ob3_host.upsert_credential(platform, actor, credential=credential)
        status = 201 if result.created else 200
        if isinstance(credential, str):
            return Response(credential, status_code=status, media_type="text/plain")
        response_type = "application/vc+ld+json" if media_type == "application/vc+ld+json" else None
        return JSONResponse(credential, status_code=status, media_type=response_type)

    return await _run(platform, request, "upsertCredential", call)


# --- getProfile / putProfile (§6.2.4, §6.2.5) ----------------------------------------------


@router.get("/profile")
async def get_profile(request: Request, platform: PlatformDep) -> Response:
    def call(actor: Actor) -> Response:
        return JSONResponse(ob3_host.get_profile(platform, actor))

    return await _run(platform, request, "getProfile", call)


@router.put("/profile")
async def put_profile(request: Request, platform: PlatformDep) -> Response:
    if _media_type(request) not in _JSON_TYPES:
        return _failure(415, "send the Profile as application/json")
    body = await _body(request, request.app.state.settings.max_document_bytes)
    if body is None:
        return _failure(413, "the Profile is too large")
    try:
        profile = _json_object(body, "Profile")
    except InvalidInput as e:
        return _failure(400, e.message)

    def call(actor: Actor) -> Response:
        return JSONResponse(ob3_host.put_profile(platform, actor, profile))

    return await _run(platform, request, "putProfile", call)


# --- methods the spec does not define: 405 in the spec's format ----------------------------


def _not_allowed(allowed: str) -> Callable[[], Response]:
    def handler() -> Response:
        return _failure(405, f"use {allowed}", headers={"Allow": allowed})

    return handler


for _path, _allowed, _others in (
    ("/credentials", "GET, POST", ["PUT", "DELETE", "PATCH"]),
    ("/profile", "GET, PUT", ["POST", "DELETE", "PATCH"]),
    ("/discovery", "GET", ["POST", "PUT", "DELETE", "PATCH"]),
):
    router.add_api_route(_path, _not_allowed(_allowed), methods=_others)
