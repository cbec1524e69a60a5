"""Fixtures for the API tests: an app with fixed settings and signed credentials to verify."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from asgi_client import ApiClient

from merito.api.app import create_app
from merito.config import Settings
from merito.services import issuing, keyfiles

ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/api-testing",
    "type": ["Achievement"],
    "name": "API testing",
    "description": "Writes property-based tests against an OpenAPI document.",
    "criteria": {"narrative": "Passed the assessment."},
}
ISSUED_AT = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(max_document_bytes=1_000_000, max_json_depth=64)


@pytest.fixture(scope="module")
def client(settings: Settings) -> ApiClient:
    return ApiClient(create_app(settings=settings))


def _issue(proof_format: str) -> issuing.IssuedCredential:
    signer = keyfiles.new_signer("ed25519", seed=bytes(range(32)))
    return issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=signer,
        issued_at=ISSUED_AT,
        issuer_name="API Test Academy",
        proof_format=proof_format,
    )


@pytest.fixture(scope="module")
def signed_credential() -> dict[str, Any]:
    return _issue("eddsa-rdfc-2022").document


@pytest.fixture(scope="module")
def signed_jwt() -> str:
    token = _issue("vc-jwt").jwt
    assert token is not None
    return token
