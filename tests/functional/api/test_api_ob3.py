"""The 1EdTech OB 3.0 API (§6) through HTTP on both databases, with tokens from the real
authorization code flow: discovery, getCredentials paging, upsertCredential (JSON and
VC-JWT, verified), getProfile/putProfile, scopes, and Imsx_StatusInfo errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from oauth_flow import ALL_OB3, Harness, bearer, make_harness, seed_user, tokens_for

from merito.services import issuing, keyfiles, oauth

CREDENTIALS = "/ims/ob/v3p0/credentials"
ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/oauth",
    "type": ["Achievement"],
    "name": "OAuth 2.0 in practice",
    "description": "Implements the authorization code grant with PKCE.",
    "criteria": {"narrative": "Passed the assessment."},
}
ISSUED_AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
PROFILE = "/ims/ob/v3p0/profile"


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(database_url, tmp_path)


def issue(number: int, proof_format: str = "eddsa-rdfc-2022") -> issuing.IssuedCredential:
    signer = keyfiles.new_signer("ed25519", seed=bytes(range(32)))
    return issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=signer,
        issued_at=ISSUED_AT.replace(day=number),
        issuer_name="API Test Academy",
        proof_format=proof_format,
        credential_id=f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
    )


@pytest.fixture(scope="module")
def credentials() -> list[dict[str, Any]]:
    return [issue(n).document for n in range(1, 6)]


@pytest.fixture(scope="module")
def jwt_credential() -> str:
    token = issue(9, "vc-jwt").jwt
    assert token is not None
    return token


def assert_status_info(response: httpx.Response, status: int, minor: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert isinstance(body["imsx_description"], str)
    [field] = body["imsx_codeMinor"]["imsx_codeMinorField"]
    assert field["imsx_codeMinorFieldName"]
    if minor is not None:
        assert field["imsx_codeMinorFieldValue"] == minor


def upsert(harness: Harness, tokens: dict[str, Any], credential: Any) -> httpx.Response:
    if isinstance(credential, str):
        return harness.client.post(
            CREDENTIALS,
            content=credential.encode(),
            headers={**bearer(tokens), "content-type": "text/plain"},
        )
    return harness.client.post(CREDENTIALS, json=credential, headers=bearer(tokens))


def test_discovery_is_public_and_describes_the_oauth_flow(harness: Harness) -> None:
    response = harness.client.get("/ims/ob/v3p0/discovery")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.0")
    assert document["info"]["x-imssf-privacyPolicyUrl"] == "https://merito.test/privacy"
    assert document["info"]["termsOfService"] == "https://merito.test/terms"
    assert document["servers"][0]["url"] == "https://merito.test/ims/ob/v3p0"
    scheme = document["components"]["securitySchemes"]["OAuth2ACG"]
    assert scheme["type"] == "oauth2"
    assert scheme["x-imssf-registrationUrl"] == "https://merito.test/oauth/register"
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://merito.test/oauth/authorize"
    assert flow["tokenUrl"] == flow["refreshUrl"] == "https://merito.test/oauth/token"
    assert set(flow["scopes"]) == set(oauth.OB3_SCOPES)
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert operations == {
        "getCredentials",
        "upsertCredential",
        "getProfile",
        "putProfile",
        "getServiceDescription",
    }
    # the registration URL it advertises works
    registered = harness.client.post(
        scheme["x-imssf-registrationUrl"].removeprefix("https://merito.test"), json={}
    )
    assert registered.status_code == 400


def test_upsert_then_get_credentials_with_paging(
    harness: Harness, credentials: list[dict[str, Any]], jwt_credential: str
) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id)
    for credential in credentials:
        created = upsert(harness, tokens, credential)
        assert created.status_code == 201, created.text
        assert created.json() == credential
    created = upsert(harness, tokens, jwt_credential)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("text/plain")
    assert created.text == jwt_credential
    # the same credential again replaces it: 200
    replaced = upsert(harness, tokens, credentials[0])
    assert replaced.status_code == 200
    assert upsert(harness, tokens, jwt_credential).status_code == 200

    page = harness.client.get(CREDENTIALS, params={"limit": 2, "offset": 2}, headers=bearer(tokens))
    assert page.status_code == 200, page.text
    assert page.headers["x-total-count"] == "6"
    links = page.headers["link"]
    assert '<https://merito.test/ims/ob/v3p0/credentials?limit=2&offset=4>; rel="next"' in links
    assert '<https://merito.test/ims/ob/v3p0/credentials?limit=2&offset=4>; rel="last"' in links
    assert '<https://merito.test/ims/ob/v3p0/credentials?limit=2&offset=0>; rel="first"' in links
    assert '<https://merito.test/ims/ob/v3p0/credentials?limit=2&offset=0>; rel="prev"' in links
    body = page.json()
    assert [c["id"] for c in body["credential"]] == [credentials[2]["id"], credentials[3]["id"]]
    assert body["compactJwsStrings"] == []

    last = harness.client.get(CREDENTIALS, params={"limit": 2, "offset": 4}, headers=bearer(tokens))
    assert 'rel="next"' not in last.headers["link"]
    assert last.json()["compactJwsStrings"] == [jwt_credential]
    assert [c["id"] for c in last.json()["credential"]] == [credentials[4]["id"]]

    everything = harness.client.get(CREDENTIALS, headers=bearer(tokens))
    assert everything.headers["x-total-count"] == "6"
    assert len(everything.json()["credential"]) == 5
    assert 'rel="prev"' not in everything.headers["link"]

    since = harness.client.get(
        CREDENTIALS, params={"since": "2025-01-03T12:00:00Z"}, headers=bearer(tokens)
    )
    assert since.headers["x-total-count"] == "3"  # issued on the 4th, 5th and 9th

    # another user sees none of it
    other_id, _ = seed_user(harness.platform)
    _, other_tokens = tokens_for(harness, other_id)
    theirs = harness.client.get(CREDENTIALS, headers=bearer(other_tokens))
    assert theirs.headers["x-total-count"] == "0"
    assert theirs.json() == {"compactJwsStrings": [], "credential": []}


def test_invalid_credentials_are_refused(
    harness: Harness, credentials: list[dict[str, Any]], jwt_credential: str
) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id)
    tampered = copy.deepcopy(credentials[0])
    tampered["credentialSubject"]["id"] = "did:example:mallory"
    assert_status_info(upsert(harness, tokens, tampered), 400, "invalid_data")
    head, payload, signature = jwt_credential.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert_status_info(upsert(harness, tokens, forged), 400)
    assert_status_info(upsert(harness, tokens, "not a jws"), 400)
    assert_status_info(upsert(harness, tokens, {"@context": []}), 400)
    duplicate = b'{"id": "a", "id": "b"}'
    response = harness.client.post(
        CREDENTIALS,
        content=duplicate,
        headers={**bearer(tokens), "content-type": "application/json"},
    )
    assert_status_info(response, 400)
    response = harness.client.post(
        CREDENTIALS, content=b"<x/>", headers={**bearer(tokens), "content-type": "application/xml"}
    )
    assert_status_info(response, 415)
    listed = harness.client.get(CREDENTIALS, headers=bearer(tokens))
    assert listed.headers["x-total-count"] == "0"


def test_scopes_are_enforced(harness: Harness, credentials: list[dict[str, Any]]) -> None:
    user_id, _ = seed_user(harness.platform)
    _, readonly = tokens_for(harness, user_id, scope=oauth.SCOPE_CREDENTIAL_READONLY)
    response = upsert(harness, readonly, credentials[0])
    assert_status_info(response, 403, "forbidden")
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert oauth.SCOPE_CREDENTIAL_UPSERT in challenge
    assert harness.client.get(CREDENTIALS, headers=bearer(readonly)).status_code == 200
    assert_status_info(harness.client.get(PROFILE, headers=bearer(readonly)), 403)
    profile_only = tokens_for(harness, user_id, scope=oauth.SCOPE_PROFILE_READONLY)[1]
    assert_status_info(harness.client.get(CREDENTIALS, headers=bearer(profile_only)), 403)
    response = harness.client.request(
        "PUT",
        PROFILE,
        json={"id": "https://example.org/me", "type": "Profile"},
        headers=bearer(profile_only),
    )
    assert_status_info(response, 403)


def test_requests_without_a_valid_token(harness: Harness) -> None:
    for headers in ({}, {"authorization": "Basic abc"}, {"authorization": "Bearer mat_nope"}):
        response = harness.client.get(CREDENTIALS, headers=headers)
        assert_status_info(response, 401, "unauthorizedrequest")
        assert response.headers["www-authenticate"].startswith("Bearer")
    # an API key (or any token that is not an OAuth access token) is not accepted here
    assert_status_info(
        harness.client.get(PROFILE, headers={"authorization": "Bearer mk_other"}), 401
    )


def test_bad_paging_parameters(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id)
    for params in (
        {"limit": "0"},
        {"limit": "-1"},
        {"offset": "x"},
        {"since": "yesterday"},
        {"since": "2025-01-01T00:00:00"},
    ):
        response = harness.client.get(CREDENTIALS, params=params, headers=bearer(tokens))
        assert_status_info(response, 400, "invalid_query_parameter")


def test_get_and_put_profile(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id, scope=ALL_OB3)
    response = harness.client.get(PROFILE, headers=bearer(tokens))
    assert response.status_code == 200
    profile = response.json()
    assert profile["id"] == f"urn:uuid:{user_id}"
    assert profile["type"] == ["Profile"]
    updated = {
        "@context": ["https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "type": "Profile",
        "id": "https://example.edu/issuers/565049",
        "name": "Example University",
        "phone": "111-222-3333",
    }
    response = harness.client.request("PUT", PROFILE, json=updated, headers=bearer(tokens))
    assert response.status_code == 200, response.text
    assert response.json() == updated
    assert harness.client.get(PROFILE, headers=bearer(tokens)).json() == updated
    for bad in ({"type": "Profile"}, {"id": "x", "type": "Achievement"}, [1], {"id": 5}):
        response = harness.client.request("PUT", PROFILE, json=bad, headers=bearer(tokens))
        assert_status_info(response, 400)
    response = harness.client.request(
        "PUT",
        PROFILE,
        content=json.dumps(updated),
        headers={**bearer(tokens), "content-type": "text/csv"},
    )
    assert_status_info(response, 415)


def test_undefined_methods_answer_405_in_the_spec_format(harness: Harness) -> None:
    response = harness.client.request("DELETE", CREDENTIALS)
    assert_status_info(response, 405, "not_allowed")
    assert response.headers["allow"] == "GET, POST"
    assert_status_info(harness.client.post(PROFILE), 405)
    assert_status_info(harness.client.request("PUT", "/ims/ob/v3p0/discovery"), 405)
