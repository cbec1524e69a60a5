"""Every error is RFC 9457 problem JSON with the right status; a 500 reveals nothing."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from asgi_client import ApiClient

from merito import errors
from merito.api.app import create_app
from merito.config import Settings

MEMBERS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= MEMBERS
    assert body["status"] == status
    assert all(isinstance(body[m], str) and body[m] for m in MEMBERS - {"status"})
    return body


@pytest.fixture(scope="module")
def failing() -> ApiClient:
    """The real app plus test routes that raise (registered after the factory ran)."""
    app = create_app(settings=Settings())

    async def boom() -> None:
        raise RuntimeError("database password is hunter2 at /srv/merito/secret.py")

    def raiser(error: errors.MeritoError) -> Any:
        async def route() -> None:
            raise error

        return route

    async def typed(count: int, when: str = "now") -> dict[str, int]:
        return {"count": count}

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/typed", typed)
    for name, error in ERRORS.items():
        app.add_api_route(f"/test/error/{name}", raiser(error))
    return ApiClient(app)


ERRORS: dict[str, errors.MeritoError] = {
    "invalid-credential": errors.InvalidCredential(
        "credentialSubject is missing", property="credentialSubject"
    ),
    "invalid-key": errors.InvalidKey("not an Ed25519 key", property="key"),
    "not-found": errors.NotFound("no achievement 42"),
    "conflict": errors.Conflict("already issued"),
    "permission-denied": errors.PermissionDenied("not your organisation"),
    "proof-error": errors.ProofError("bad proofValue", problem="MALFORMED_PROOF_ERROR"),
    "document-loader": errors.DocumentLoaderError("context not bundled", property="@context"),
    "fetch-error": errors.FetchError("status list host is private"),
    "delivery-failed": errors.DeliveryError("smtp down", transient=True),
}
STATUSES = {
    "invalid-credential": 422,
    "invalid-key": 422,
    "not-found": 404,
    "conflict": 409,
    "permission-denied": 403,
    "proof-error": 422,
    "document-loader": 422,
    "fetch-error": 422,
    "delivery-failed": 503,
}


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_each_merito_error_maps_to_its_problem(failing: ApiClient, code: str) -> None:
    error = ERRORS[code]
    body = assert_problem(failing.get(f"/test/error/{code}"), STATUSES[code])
    assert body["type"] == f"urn:merito:problem:{code}"
    assert body["detail"] == error.message
    assert body["instance"] == f"/test/error/{code}"
    if error.property is not None:
        assert body["errors"] == [{"property": error.property, "detail": error.message}]
    else:
        assert "errors" not in body


def test_a_proof_error_carries_its_data_integrity_code(failing: ApiClient) -> None:
    body = assert_problem(failing.get("/test/error/proof-error"), 422)
    assert body["problem"] == "MALFORMED_PROOF_ERROR"


def test_a_validation_error_names_each_offending_property(failing: ApiClient) -> None:
    body = assert_problem(failing.get("/test/typed", params={"count": "many"}), 422)
    assert body["type"] == "urn:merito:problem:invalid-request"
    assert [(e["in"], e["property"]) for e in body["errors"]] == [("query", "count")]
    assert "'count'" in body["detail"]
    body = assert_problem(failing.get("/test/typed"), 422)
    assert body["errors"][0]["property"] == "count"


def test_an_unexpected_exception_is_a_bare_500_logged_server_side(
    failing: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="merito.api"):
        response = failing.get("/test/boom")
    body = assert_problem(response, 500)
    assert body["type"] == "about:blank"
    assert body["instance"].startswith("urn:uuid:")
    for leak in ("hunter2", "secret.py", "RuntimeError", "Traceback", "/srv"):
        assert leak not in response.text
    logged = [r for r in caplog.records if body["instance"] in r.getMessage()]
    assert logged, "the occurrence id must be in the server log"
    assert logged[0].exc_info is not None
    assert "hunter2" in str(logged[0].exc_info[1])
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_route_is_a_404_problem(client: ApiClient) -> None:
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/no-such-thing"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/api/v1/verify", "POST"), ("DELETE", "/api/v1/health", "GET")],
)
def test_a_wrong_method_is_a_405_problem(
    client: ApiClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    body = assert_problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    assert response.headers["allow"] == allowed
    assert allowed in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "content", "status"),
    [
        ("GET", "/nope", {}, b"", 404),
        ("PUT", "/api/v1/verify", {}, b"", 405),
        ("POST", "/api/v1/verify", {"content-type": "image/gif"}, b"GIF89a", 415),
        ("POST", "/api/v1/verify", {"content-type": "application/json"}, b"", 422),
        ("POST", "/api/v1/verify", {"content-type": "text/plain"}, b"x" * 1_000_001, 413),
        ("GET", "/docs/assets/secret.py", {}, b"", 404),
        ("GET", "/docs/assets/swagger-editor-bundle.js", {}, b"", 404),
    ],
)
def test_every_error_response_is_problem_json_with_security_headers(
    client: ApiClient,
    method: str,
    path: str,
    headers: dict[str, str],
    content: bytes,
    status: int,
) -> None:
    response = client.request(method, path, headers=headers, content=content)
    assert_problem(response, status)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/version", "/openapi.json", "/docs"])
def test_successful_responses_carry_the_security_headers(client: ApiClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
