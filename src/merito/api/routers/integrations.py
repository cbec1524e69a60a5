"""Integrations: inbound webhooks, xAPI statements, LTI 1.3 launch, outgoing webhooks.

Under ``/api/v1/orgs/{org_id}``: the management of inbound webhook endpoints, award rules,
xAPI clients, LTI platforms, outgoing webhook subscriptions and their delivery log (permission
``integrations:manage``). At the root, the protocol endpoints learning platforms call:
``POST /webhooks/inbound/{endpoint_id}`` (Standard Webhooks signature), ``POST|GET
/xapi/statements`` (HTTP Basic per xAPI client) and ``GET|POST /lti/login`` (the OIDC login
initiation; the launch itself is a page, ``/lti/launch``, served by the web app).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.api.problems import PROBLEM_TYPE_PREFIX, merito_problem, problem_response
from merito.domain.integrations import check_xapi_version
from merito.errors import InvalidInput, MeritoError, Unauthenticated
from merito.services import integrations, lti, webhooks_out

router = APIRouter(tags=["integrations"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["integrations"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
ItemId = Annotated[str, Path(max_length=36)]
_XAPI_VERSION = "1.0.3"


class NameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class EnabledIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


# --- inbound webhook endpoints ------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/integrations/webhook-endpoints",
    summary="Create an inbound webhook endpoint",
    status_code=201,
    response_model=integrations.EndpointCreated,
)
def create_endpoint(
    org_id: OrgId, body: NameIn, actor: CurrentActor, platform: PlatformDep
) -> integrations.EndpointCreated:
    """The answer holds the signing secret (``whsec_...``) once: give it to the platform."""
    return integrations.create_endpoint(platform, actor, org_id=org_id, name=body.name)


@router.get(
    "/orgs/{org_id}/integrations/webhook-endpoints",
    summary="List inbound webhook endpoints",
    response_model=list[integrations.EndpointView],
)
def list_endpoints(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[integrations.EndpointView]:
    return integrations.list_endpoints(platform, actor, org_id=org_id)


@router.patch(
    "/orgs/{org_id}/integrations/webhook-endpoints/{endpoint_id}",
    summary="Enable or disable an inbound webhook endpoint",
    response_model=integrations.EndpointView,
)
def update_endpoint(
    org_id: OrgId, endpoint_id: ItemId, body: EnabledIn, actor: CurrentActor, platform: PlatformDep
) -> integrations.EndpointView:
    return integrations.set_endpoint_enabled(
        platform, actor, org_id=org_id, endpoint_id=endpoint_id, enabled=body.enabled
    )


@router.post(
    "/orgs/{org_id}/integrations/webhook-endpoints/{endpoint_id}/rotate-secret",
    summary="Rotate an inbound endpoint's secret",
    response_model=integrations.EndpointCreated,
)
def rotate_endpoint(
    org_id: OrgId, endpoint_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> integrations.EndpointCreated:
    """The old secret is still accepted for 24 hours, while the platform switches over."""
    return integrations.rotate_endpoint_secret(
        platform, actor, org_id=org_id, endpoint_id=endpoint_id
    )


@router.get(
    "/orgs/{org_id}/integrations/inbound-events",
    summary="List received inbound webhook events",
    response_model=list[integrations.InboundEventView],
)
def list_inbound_events(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[integrations.InboundEventView]:
    return integrations.list_events(platform, actor, org_id=org_id, limit=limit)


# --- rules ---------------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/integrations/rules",
    summary="Create an award rule",
    status_code=201,
    response_model=integrations.RuleView,
)
def create_rule(
    org_id: OrgId, body: integrations.RuleFields, actor: CurrentActor, platform: PlatformDep
) -> integrations.RuleView:
    return integrations.create_rule(platform, actor, org_id=org_id, fields=body)


@router.get(
    "/orgs/{org_id}/integrations/rules",
    summary="List award rules",
    response_model=list[integrations.RuleView],
)
def list_rules(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    source: Annotated[str | None, Query(pattern="^(webhook|xapi|lti)$")] = None,
) -> list[integrations.RuleView]:
    return integrations.list_rules(platform, actor, org_id=org_id, source=source)


@router.delete(
    "/orgs/{org_id}/integrations/rules/{rule_id}", summary="Delete an award rule", status_code=204
)
def delete_rule(
    org_id: OrgId, rule_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    integrations.delete_rule(platform, actor, org_id=org_id, rule_id=rule_id)
    return Response(status_code=204)


# --- xAPI clients --------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/integrations/xapi-clients",
    summary="Create an xAPI client",
    status_code=201,
    response_model=integrations.XapiClientCreated,
)
def create_xapi_client(
    org_id: OrgId, body: NameIn, actor: CurrentActor, platform: PlatformDep
) -> integrations.XapiClientCreated:
    """HTTP Basic credentials for ``/xapi/statements``: ``key`` and ``secret`` (shown once)."""
    return integrations.create_xapi_client(platform, actor, org_id=org_id, name=body.name)


@router.get(
    "/orgs/{org_id}/integrations/xapi-clients",
    summary="List xAPI clients",
    response_model=list[integrations.XapiClientView],
)
def list_xapi_clients(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[integrations.XapiClientView]:
    return integrations.list_xapi_clients(platform, actor, org_id=org_id)


@router.patch(
    "/orgs/{org_id}/integrations/xapi-clients/{xapi_client_id}",
    summary="Enable or disable an xAPI client",
    response_model=integrations.XapiClientView,
)
def update_xapi_client(
    org_id: OrgId,
    xapi_client_id: ItemId,
    body: EnabledIn,
    actor: CurrentActor,
    platform: PlatformDep,
) -> integrations.XapiClientView:
    return integrations.set_xapi_client_enabled(
        platform, actor, org_id=org_id, client_id=xapi_client_id, enabled=body.enabled
    )


@router.get(
    "/orgs/{org_id}/integrations/xapi-statements",
    summary="List stored xAPI statements",
    response_model=list[integrations.StatementView],
)
def list_xapi_statements(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[integrations.StatementView]:
    return integrations.list_statements(platform, actor, org_id=org_id, limit=limit)


# --- LTI platforms -------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/integrations/lti-platforms",
    summary="Register an LTI 1.3 platform",
    status_code=201,
    response_model=lti.PlatformView,
)
def register_lti_platform(
    org_id: OrgId, body: lti.PlatformFields, actor: CurrentActor, platform: PlatformDep
) -> lti.PlatformView:
    """The answer names Merito's login initiation and launch URLs for the LMS's tool setup."""
    return lti.register_platform(platform, actor, org_id=org_id, fields=body)


@router.get(
    "/orgs/{org_id}/integrations/lti-platforms",
    summary="List LTI platforms",
    response_model=list[lti.PlatformView],
)
def list_lti_platforms(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[lti.PlatformView]:
    return lti.list_platforms(platform, actor, org_id=org_id)


@router.patch(
    "/orgs/{org_id}/integrations/lti-platforms/{lti_platform_id}",
    summary="Update an LTI platform",
    response_model=lti.PlatformView,
)
def update_lti_platform(
    org_id: OrgId,
    lti_platform_id: ItemId,
    body: lti.PlatformFields,
    actor: CurrentActor,
    platform: PlatformDep,
) -> lti.PlatformView:
    return lti.update_platform(
        platform, actor, org_id=org_id, platform_id=lti_platform_id, fields=body
    )


# --- outgoing webhooks ---------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/webhooks",
    summary="Create an outgoing webhook subscription",
    status_code=201,
    response_model=webhooks_out.SubscriptionCreated,
)
def create_subscription(
    org_id: OrgId,
    body: webhooks_out.SubscriptionFields,
    actor: CurrentActor,
    platform: PlatformDep,
) -> webhooks_out.SubscriptionCreated:
    """Events: ``credential.issued``, ``credential.revoked``, ``credential.suspended``,
    ``credential.unsuspended``, ``credential.claimed``, ``pathway.awarded`` or a prefix
    (``credential.*``); none: every event. The signing secret is in the answer once."""
    return webhooks_out.create_subscription(platform, actor, org_id=org_id, fields=body)


@router.get(
    "/orgs/{org_id}/webhooks",
    summary="List outgoing webhook subscriptions",
    response_model=list[webhooks_out.SubscriptionView],
)
def list_subscriptions(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[webhooks_out.SubscriptionView]:
    return webhooks_out.list_subscriptions(platform, actor, org_id=org_id)


@router.get(
    "/orgs/{org_id}/webhooks/deliveries",
    summary="The outgoing webhook delivery log",
    response_model=list[webhooks_out.DeliveryView],
)
def list_webhook_deliveries(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    subscription_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[webhooks_out.DeliveryView]:
    return webhooks_out.list_deliveries(
        platform, actor, org_id=org_id, subscription_id=subscription_id, limit=limit
    )


@router.get(
    "/orgs/{org_id}/webhooks/deliveries/{webhook_delivery_id}",
    summary="One delivery with its attempts",
    response_model=webhooks_out.DeliveryView,
)
def get_webhook_delivery(
    org_id: OrgId, webhook_delivery_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> webhooks_out.DeliveryView:
    return webhooks_out.get_delivery(
        platform, actor, org_id=org_id, delivery_id=webhook_delivery_id
    )


@router.post(
    "/orgs/{org_id}/webhooks/deliveries/{webhook_delivery_id}/redeliver",
    summary="Send a delivery again",
    status_code=202,
    response_model=webhooks_out.DeliveryView,
)
def redeliver_webhook(
    org_id: OrgId, webhook_delivery_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> webhooks_out.DeliveryView:
    return webhooks_out.redeliver(platform, actor, org_id=org_id, delivery_id=webhook_delivery_id)


@router.patch(
    "/orgs/{org_id}/webhooks/{subscription_id}",
    summary="Update an outgoing webhook subscription",
    response_model=webhooks_out.SubscriptionView,
)
def update_subscription(
    org_id: OrgId,
    subscription_id: ItemId,
    body: webhooks_out.SubscriptionFields,
    actor: CurrentActor,
    platform: PlatformDep,
) -> webhooks_out.SubscriptionView:
    return webhooks_out.update_subscription(
        platform, actor, org_id=org_id, subscription_id=subscription_id, fields=body
    )


@router.post(
    "/orgs/{org_id}/webhooks/{subscription_id}/rotate-secret",
    summary="Rotate a subscription's signing secret",
    response_model=webhooks_out.SubscriptionCreated,
)
def rotate_subscription(
    org_id: OrgId, subscription_id: ItemId, actor: CurrentActor, platform: PlatformDep
) -> webhooks_out.SubscriptionCreated:
    return webhooks_out.rotate_subscription_secret(
        platform, actor, org_id=org_id, subscription_id=subscription_id
    )


# --- protocol endpoints --------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > integrations.MAX_EVENT_BYTES:
        raise InvalidInput(
            f"the body is larger than {integrations.MAX_EVENT_BYTES} bytes", property="body"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > integrations.MAX_EVENT_BYTES:
            raise InvalidInput(
                f"the body is larger than {integrations.MAX_EVENT_BYTES} bytes", property="body"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@public_router.post(
    "/webhooks/inbound/{endpoint_id}",
    summary="Receive a learning platform's signed event",
    response_model=integrations.InboundEventView,
)
async def receive_webhook(
    endpoint_id: ItemId, request: Request, platform: PlatformDep
) -> integrations.InboundEventView:
    """Signed the Standard Webhooks way: ``webhook-id``, ``webhook-timestamp`` (Unix seconds,
    within 5 minutes) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
    '{id}.{timestamp}.{body}'>``. The body: ``{"type": "course.completed", "data": {"learner":
    {"email": ...}, "course_id": ..., "activity_id": ..., "score": 0.9}}``. The same
    ``webhook-id`` again answers with the stored event and awards nothing more."""
    body = await _body(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(
        integrations.receive_webhook,
        platform,
        endpoint_id=endpoint_id,
        headers=headers,
        body=body,
    )


def _xapi_principal(platform: Any, authorization: str | None) -> integrations.XapiPrincipal:
    if not authorization or not authorization.lower().startswith("basic "):
        raise Unauthenticated("xAPI requests need HTTP Basic credentials", property="authorization")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise Unauthenticated(
            "the Basic credentials are not base64", property="authorization"
        ) from e
    key, _, secret = decoded.partition(":")
    return integrations.xapi_client(platform, key=key, secret=secret)


def _xapi_error(error: MeritoError, request: Request) -> Response:
    """A problem; a bad request is a 400 (xAPI 1.0.3 §7.1: not the API's usual 422)."""
    if isinstance(error, InvalidInput):
        extensions: dict[str, Any] = {}
        if error.property is not None:
            extensions["errors"] = [{"property": error.property, "detail": error.message}]
        response = problem_response(
            status=400,
            detail=error.message,
            instance=request.url.path,
            type_=PROBLEM_TYPE_PREFIX + error.code,
            title=error.code.replace("-", " ").capitalize(),
            **extensions,
        )
    else:
        response = merito_problem(error, instance=request.url.path)
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Basic realm="merito-xapi"'
    response.headers["X-Experience-API-Version"] = _XAPI_VERSION
    return response


@public_router.post("/xapi/statements", summary="Store xAPI statements (LRS subset)")
async def post_statements(
    request: Request,
    platform: PlatformDep,
    x_experience_api_version: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """One statement or an array (xAPI 1.0.3 §2.1.2); answers the array of statement ids.
    A stored id sent again with the same content is accepted (awarded once); with other
    content it is a 409."""
    try:
        check_xapi_version(x_experience_api_version)
        principal = await run_in_threadpool(_xapi_principal, platform, authorization)
        body = await _body(request)
        results = await run_in_threadpool(
            integrations.record_statements, platform, principal, body=body
        )
    except MeritoError as e:
        return _xapi_error(e, request)
    return JSONResponse(
        [r.statement_id for r in results],
        headers={"X-Experience-API-Version": _XAPI_VERSION},
    )


@public_router.get("/xapi/statements", summary="Get one stored xAPI statement")
def get_statement(
    request: Request,
    platform: PlatformDep,
    statement_id: Annotated[str, Query(alias="statementId", max_length=36)],
    x_experience_api_version: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    try:
        check_xapi_version(x_experience_api_version)
        principal = _xapi_principal(platform, authorization)
        statement = integrations.get_statement(platform, principal, statement_id=statement_id)
    except MeritoError as e:
        return _xapi_error(e, request)
    return JSONResponse(statement, headers={"X-Experience-API-Version": _XAPI_VERSION})


async def _login(request: Request, platform: Any) -> Response:
    params: dict[str, str] = dict(request.query_params.items())
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    redirect = await run_in_threadpool(lti.login, platform, params)
    return RedirectResponse(redirect.url, status_code=302)


@public_router.get("/lti/login", summary="LTI 1.3 OIDC login initiation (GET)")
async def lti_login(request: Request, platform: PlatformDep) -> Response:
    """Third-party initiated login: redirects to the platform's auth endpoint with a state and
    a nonce (each single-use, 10 minutes)."""
    return await _login(request, platform)


@public_router.post("/lti/login", summary="LTI 1.3 OIDC login initiation (POST)")
async def lti_login_post(request: Request, platform: PlatformDep) -> Response:
    """The same as the GET, with the parameters form-encoded."""
    return await _login(request, platform)
