"""The FastAPI application factory: Merito's REST API under ``/api/v1``, its docs at ``/docs``.

``create_app`` wires routers, the problem mapping and the security headers; it builds no
infrastructure: settings and verifier options come from ``merito.config`` / ``merito.bootstrap``
(or from the caller, for tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from merito import __version__, bootstrap
from merito.api import docs
from merito.api.headers import SecurityHeadersMiddleware
from merito.api.problems import (
    PROBLEM_MEDIA_TYPE,
    InternalErrorMiddleware,
    install_problem_handlers,
)
from merito.api.routers import accounts as account_routes
from merito.api.routers import achievements as achievement_routes
from merito.api.routers import analytics as analytics_routes
from merito.api.routers import anchors as anchor_routes
from merito.api.routers import assessment as assessment_routes
from merito.api.routers import credentials as credential_routes
from merito.api.routers import hiring as hiring_routes
from merito.api.routers import integrations as integration_routes
from merito.api.routers import issuers as issuer_routes
from merito.api.routers import log as log_routes
from merito.api.routers import meta, verify
from merito.api.routers import oauth as oauth_routes
from merito.api.routers import ob3 as ob3_routes
from merito.api.routers import outbox as outbox_routes
from merito.api.routers import pathways as pathway_routes
from merito.api.routers import sharing as sharing_routes
from merito.api.routers import skills as skill_routes
from merito.api.routers import status as status_routes
from merito.api.routers import trust as trust_routes
from merito.api.routers import wallet as wallet_routes
from merito.api.routers import workforce as workforce_routes
from merito.api.schemas import Problem
from merito.config import Settings, load_settings
from merito.services.platform import Platform
from merito.verification import VerifyOptions

API_PREFIX: Final = "/api/v1"
_PROBLEM_REF: Final = "#/components/schemas/Problem"


def create_app(
    *,
    settings: Settings | None = None,
    verify_options_factory: Callable[[], VerifyOptions] | None = None,
    platform: Platform | None = None,
) -> FastAPI:
    """The ASGI app. ``verify_options_factory`` builds the verifier's options per request
    (default: ``bootstrap.verify_options_factory(settings)``: offline, the settings' limits).
    ``platform`` (default: built from the settings on first use) serves the platform routes."""
    settings = settings or load_settings()
    app = FastAPI(
        title="Merito API",
        version=__version__,
        description="Verifiable micro-credentials (Open Badges 3.0 / W3C VC 2.0). "
        "Every error is RFC 9457 problem JSON (application/problem+json).",
        docs_url=None,  # served by merito.api.docs, without a CDN
        redoc_url=None,
        debug=False,  # never render tracebacks into responses
    )
    app.state.settings = settings
    app.state.verify_options_factory = verify_options_factory or bootstrap.verify_options_factory(
        settings
    )
    app.state.platform = platform
    install_problem_handlers(app)
    app.include_router(meta.router, prefix=API_PREFIX)
    app.include_router(verify.router, prefix=API_PREFIX)
    app.include_router(account_routes.router, prefix=API_PREFIX)
    app.include_router(outbox_routes.router, prefix=API_PREFIX)
    app.include_router(credential_routes.router, prefix=API_PREFIX)
    app.include_router(credential_routes.public_router)
    app.include_router(status_routes.router)
    app.include_router(issuer_routes.router, prefix=API_PREFIX)
    app.include_router(issuer_routes.public_router)  # /orgs/{slug}/did.json, /profile
    app.include_router(achievement_routes.router, prefix=API_PREFIX)
    app.include_router(achievement_routes.public_router)  # /achievements/{id}, /images/{sha}
    app.include_router(oauth_routes.org_router, prefix=API_PREFIX)
    app.include_router(wallet_routes.router, prefix=API_PREFIX)  # the learner's own
    app.include_router(hiring_routes.router, prefix=API_PREFIX)
    app.include_router(skill_routes.router, prefix=API_PREFIX)  # ESCO taxonomy, org skills
    app.include_router(sharing_routes.router, prefix=API_PREFIX)
    app.include_router(sharing_routes.public_router)  # /p/{handle}, /s/{token}
    app.include_router(oauth_routes.router)  # OAuth 2.0 endpoints: RFC 8414 metadata
    app.include_router(ob3_routes.router)  # /ims/ob/v3p0: the 1EdTech OB 3.0 API
    app.include_router(log_routes.router)  # /log/v1: the transparency log (RFC 6962 style)
    app.include_router(anchor_routes.router)  # /log/v1/anchors: Ethereum anchors
    app.include_router(pathway_routes.router, prefix=API_PREFIX)
    app.include_router(pathway_routes.public_router)
    app.include_router(integration_routes.router, prefix=API_PREFIX)
    app.include_router(integration_routes.public_router)
    app.include_router(assessment_routes.router, prefix=API_PREFIX)
    app.include_router(assessment_routes.public_router)
    app.include_router(trust_routes.router, prefix=API_PREFIX)
    app.include_router(trust_routes.public_router)
    app.include_router(workforce_routes.router, prefix=API_PREFIX)
    app.include_router(workforce_routes.public_router)
    app.include_router(analytics_routes.router, prefix=API_PREFIX)
    app.include_router(analytics_routes.public_router)
    app.include_router(docs.router)
    # add_middleware prepends: the headers wrap the 500 handler, so a 500 gets them too
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, docs_prefix=docs.DOCS_PATH)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every 4xx/5xx response described as a problem (RFC 9457)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}}
            responses.setdefault(
                "4XX",
                {
                    "description": "A problem with the request (RFC 9457 problem details).",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}},
                },
            )
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
