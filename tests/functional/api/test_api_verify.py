"""POST /api/v1/verify end to end: credentials in every envelope, and hostile bodies."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.config import Settings

VERIFY = "/api/v1/verify"
PROBLEM = "application/problem+json"


def post(client: ApiClient, body: bytes | str, content_type: str | None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    data = body.encode() if isinstance(body, str) else body
    return client.post(VERIFY, content=data, headers=headers)


def checks_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return {c["id"]: c["outcome"] for c in response.json()["checks"]}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("content_type", ["application/json", "application/vc+ld+json"])
def test_a_signed_credential_verifies(
    client: ApiClient, signed_credential: dict[str, Any], content_type: str
) -> None:
    response = post(client, json.dumps(signed_credential), content_type)
    report = response.json()
    assert report["verified"] is True, report["summary"]
    assert report["format"] == "ob-3.0"
    assert report["envelope"] == "embedded"
    assert report["issuer"] == signed_credential["issuer"]["id"]
    checks = checks_of(response)
    assert checks["proof"] == "pass"
    # offline by default: no fetcher, so nothing is fetched and there is no status to check
    assert "fail" not in checks.values()


def test_a_tampered_credential_is_a_200_saying_not_verified(
    client: ApiClient, signed_credential: dict[str, Any]
) -> None:
    forged = copy.deepcopy(signed_credential)
    forged["credentialSubject"]["achievement"]["name"] = "Something harder"
    response = post(client, json.dumps(forged), "application/json")
    checks = checks_of(response)
    assert response.json()["verified"] is False
    assert checks["proof"] == "fail"


@pytest.mark.parametrize("content_type", ["application/vc+jwt", "application/jwt", "text/plain"])
def test_a_vc_jwt_body_verifies(client: ApiClient, signed_jwt: str, content_type: str) -> None:
    response = post(client, signed_jwt, content_type)
    report = response.json()
    assert report["verified"] is True, report["summary"]
    assert report["envelope"] == "jwt"


def test_a_tampered_vc_jwt_does_not_verify(client: ApiClient, signed_jwt: str) -> None:
    header, payload, signature = signed_jwt.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    response = post(client, f"{header}.{payload}.{flipped}", "application/vc+jwt")
    assert response.json()["verified"] is False
    assert checks_of(response)["proof"] == "fail"


def test_a_wrapped_credential_verifies(
    client: ApiClient, signed_credential: dict[str, Any], signed_jwt: str
) -> None:
    for inner in (signed_credential, signed_jwt):
        response = post(client, json.dumps({"credential": inner}), "application/json")
        assert response.json()["verified"] is True, response.json()["summary"]


def test_a_wrapper_with_a_duplicate_key_is_reported_by_the_parse_check(
    client: ApiClient, signed_credential: dict[str, Any]
) -> None:
    text = json.dumps({"credential": signed_credential})
    body = text[:-1] + ', "credential": {}}'
    checks = checks_of(post(client, body, "application/json"))
    assert checks["parse"] == "fail"


def test_a_wrapped_tampered_credential_does_not_verify(
    client: ApiClient, signed_credential: dict[str, Any]
) -> None:
    forged = copy.deepcopy(signed_credential)
    forged["validFrom"] = "2020-01-01T00:00:00Z"
    response = post(client, json.dumps({"credential": forged}), "application/json")
    assert response.json()["verified"] is False


@pytest.mark.parametrize(
    "content_type", [None, "image/png", "application/xml", "multipart/form-data; boundary=x"]
)
def test_a_wrong_content_type_is_415(client: ApiClient, content_type: str | None) -> None:
    body = assert_problem(post(client, b"{}", content_type), 415)
    assert "application/vc+jwt" in body["detail"]
    assert body["instance"] == VERIFY


def test_an_empty_body_is_422_naming_the_body(client: ApiClient) -> None:
    body = assert_problem(post(client, b"", "application/json"), 422)
    assert body["errors"][0]["property"] == "body"
    assert "no body" in body["errors"][0]["detail"]


def test_a_2_mb_body_is_413(client: ApiClient) -> None:
    body = assert_problem(post(client, b" " * 2_000_000, "application/json"), 413)
    assert "1,000,000-byte limit" in body["detail"]


def test_the_size_limit_comes_from_the_settings(signed_credential: dict[str, Any]) -> None:
    small = ApiClient(create_app(settings=Settings(max_document_bytes=100)))
    assert_problem(post(small, json.dumps(signed_credential), "application/json"), 413)
    assert post(small, b"{}", "application/json").status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", os.urandom(4096)),
        ("application/json", b"\xff\xfe\x00{\x00}"),
        ("text/plain", os.urandom(1024)),
        ("application/vc+jwt", b"a.b.c"),
        ("application/vc+jwt", b"eyJ.eyJ.!!"),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b'"just a string"'),
        ("application/json", b'{"@context": NaN}'),
        ("application/json", b'{"a": 1, "a": 2}'),
        ("application/json", b'{"credential": 42}'),
        ("application/json", b'{"credential": "\\ud800"}'),
        ("application/json", b'{"credential": {"x": "\\udfff"}}'),
        ("application/json", b"   \n  "),
        ("application/json", b"\x00" * 100),
    ],
)
def test_garbage_is_a_report_never_a_server_error(
    client: ApiClient, content_type: str, body: bytes
) -> None:
    response = post(client, body, content_type)
    report = response.json()
    assert report["verified"] is False
    assert report["checks"][0]["id"] == "parse" or report["checks"][1]["outcome"] == "fail"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"credential": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"credential": ' + b"[" * 500 + b"]" * 500 + b"}",
    ],
)
def test_deeply_nested_json_fails_the_parse_check(client: ApiClient, body: bytes) -> None:
    checks = checks_of(post(client, body, "application/json"))
    assert checks["parse"] == "fail"


def test_the_injected_options_factory_is_used(signed_credential: dict[str, Any]) -> None:
    class FixedClock:
        def now(self) -> datetime:
            return datetime(2030, 6, 1, tzinfo=UTC)

    settings = Settings()
    app = create_app(
        settings=settings,
        verify_options_factory=lambda: bootstrap.verify_options(settings, clock=FixedClock()),
    )
    report = post(ApiClient(app), json.dumps(signed_credential), "application/json").json()
    assert report["checked_at"] == "2030-06-01T00:00:00Z"


@pytest.mark.anyio
async def test_an_oversized_stream_is_refused_before_it_is_all_read() -> None:
    """No Content-Length (chunked): the app stops reading just past the limit."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 64 x 64 KiB = 4 MiB on offer
            sent += 1
            yield b" " * 65_536

    app = create_app(settings=Settings(max_document_bytes=200_000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://merito.test") as client:
        response = await client.post(
            VERIFY, content=chunks(), headers={"content-type": "application/json"}
        )
    assert_problem(response, 413)
    assert sent <= 5  # 200,000 bytes is the 4th chunk; at most one more was pulled


@pytest.mark.anyio
async def test_a_declared_oversized_body_is_refused_unread() -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        sent += 1
        yield b"{}"

    app = create_app(settings=Settings(max_document_bytes=1_000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://merito.test") as client:
        response = await client.post(
            VERIFY,
            content=chunks(),
            headers={"content-type": "application/json", "content-length": "5000"},
        )
    assert_problem(response, 413)
    assert sent == 0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
