"""The API's one error mapping: every error becomes RFC 9457 problem JSON.

    MeritoError              -> its status (``STATUS_BY_ERROR``), type ``urn:merito:problem:<code>``
    RequestValidationError   -> 422, with an ``errors`` list naming each offending property
    HTTPException (404, 405) -> its status, type ``about:blank`` (RFC 9457 §4.2.1)
    anything else            -> 500, a generic body; the traceback is only logged server-side

Problem members (RFC 9457 §3.1): ``type``, ``title``, ``status``, ``detail``, ``instance``.
``instance`` is the request path, or for a 500 an occurrence id (``urn:uuid:...``) that is
also in the server log, so an operator can find the traceback a user reports.
"""

from __future__ import annotations

import http
import json
import logging
import math
import uuid
from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merito.errors import (
    AnchorError,
    Conflict,
    DatabaseUnavailable,
    DeliveryError,
    DocumentLoaderError,
    FetchError,
    InvalidInput,
    MeritoError,
    NotFound,
    PermissionDenied,
    ProofError,
    RateLimited,
    StorageError,
    Unauthenticated,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "STATUS_BY_ERROR",
    "InternalErrorMiddleware",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
#: Problem types Merito defines are URNs: stable identifiers, never fetched (RFC 9457 §3.1.1).
PROBLEM_TYPE_PREFIX: Final = "urn:merito:problem:"

log = logging.getLogger("merito.api")

#: Most specific first: the first class an error is an instance of gives its status.
STATUS_BY_ERROR: Final[tuple[tuple[type[MeritoError], int], ...]] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (RateLimited, 429),
    # the database is down, restarting, locked or full: nothing was written, retry later
    (DatabaseUnavailable, 503),
    (ProofError, 422),
    (DocumentLoaderError, 422),
    # a fetch is of a URL the caller's document named (status list, did:web): refusing it (SSRF
    # guard, size, time) is an answer about that input, not a server fault
    (FetchError, 422),
    # the mailer is our infrastructure: the client may retry later
    (DeliveryError, 503),
    # the chain is our infrastructure too: unreachable now, perhaps not later
    (AnchorError, 503),
    # the evidence file store (disk, S3) is infrastructure too
    (StorageError, 503),
)


def status_for(error: MeritoError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


#: RFC 9110 §15 names where Python's HTTPStatus still has the RFC 7231 ones
_TITLES: Final = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(
    *,
    status: int,
    detail: str,
    instance: str,
    type_: str = "about:blank",
    title: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extensions)
    return body


def problem_response(
    *,
    status: int,
    detail: str,
    instance: str,
    type_: str = "about:blank",
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An ``application/problem+json`` response (RFC 9457 §3)."""
    body = problem_body(
        status=status, detail=detail, instance=instance, type_=type_, title=title, **extensions
    )
    return Response(
        content=json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


# --- MeritoError -------------------------------------------------------------------------------


def merito_problem(error: MeritoError, *, instance: str) -> Response:
    status = status_for(error)
    extensions: dict[str, Any] = {}
    if error.property is not None:
        extensions["errors"] = [{"property": error.property, "detail": error.message}]
    if isinstance(error, ProofError):
        extensions["problem"] = error.problem  # the Data Integrity code (VC DI 1.0 §3.4)
    headers: dict[str, str] = {}
    if isinstance(error, Unauthenticated):
        # RFC 9110 §11.6.1: a 401 names the scheme to use (RFC 6750 §3 for Bearer tokens)
        headers["WWW-Authenticate"] = 'Bearer realm="merito"'
    if isinstance(error, RateLimited | DatabaseUnavailable):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))  # RFC 9110 §10.2.3
    return problem_response(
        status=status,
        detail=error.message,
        instance=instance,
        type_=PROBLEM_TYPE_PREFIX + error.code,
        title=error.code.replace("-", " ").capitalize(),
        headers=headers or None,
        **extensions,
    )


async def _on_merito_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, MeritoError):  # registered for MeritoError only
        raise exc
    return merito_problem(exc, instance=request.url.path)


# --- request validation ------------------------------------------------------------------------


def _json_pointer(path: Sequence[Any]) -> str:
    """RFC 6901 pointer, the form RFC 9457 §3's own ``errors`` example uses."""
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "#/" + "/".join(parts)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """One entry per pydantic error: where (``in``), which property, and what is wrong."""
    out: list[dict[str, Any]] = []
    for error in errors:
        loc = list(error.get("loc", ())) if isinstance(error, dict) else []
        where = str(loc[0]) if loc else "body"
        path = loc[1:]
        entry: dict[str, Any] = {
            "in": where,
            "property": ".".join(str(p) for p in path) or where,
            "detail": str(error.get("msg", "is invalid")) if isinstance(error, dict) else "",
        }
        if where == "body":
            entry["pointer"] = _json_pointer(path)
        out.append(entry)
    return out


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = validation_errors(exc.errors())
    names = ", ".join(repr(e["property"]) for e in errors[:5])
    return problem_response(
        status=422,
        detail=f"The request is not valid: check {names}." if names else "The request is invalid.",
        instance=request.url.path,
        type_=PROBLEM_TYPE_PREFIX + "invalid-request",
        title="Invalid request",
        errors=errors,
    )


# --- HTTP errors (routing, size, media type) ---------------------------------------------------


def _http_detail(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"There is nothing at {request.url.path}."
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        tail = f"; use {allowed}" if allowed else ""
        return f"{request.url.path} does not accept {request.method}{tail}."
    return str(exc.detail)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    return problem_response(
        status=exc.status_code,
        detail=_http_detail(request, exc),
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Registers the handlers; unexpected exceptions are :class:`InternalErrorMiddleware`'s."""
    app.add_exception_handler(MeritoError, _on_merito_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_exception)


# --- unexpected exceptions ---------------------------------------------------------------------


class InternalErrorMiddleware:
    """Turns an unexpected exception into a bare 500 problem and logs the traceback.

    The body says nothing about the cause (no exception type, message or traceback: they can
    reveal paths, queries or secrets); the log line carries the same occurrence id as the
    body's ``instance``. Written as plain ASGI, not ``BaseHTTPMiddleware``, so streaming
    bodies and background tasks are untouched. When the response had already started, the
    exception is re-raised for the server to close the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            if started:
                raise
            occurrence = f"urn:uuid:{uuid.uuid4()}"
            log.exception(
                "unhandled error on %s %s (%s)", scope.get("method"), scope.get("path"), occurrence
            )
            response = problem_response(
                status=500,
                detail="Merito could not complete this request. "
                "The error was logged; quote the instance id when reporting it.",
                instance=occurrence,
            )
            await response(scope, receive, send)
