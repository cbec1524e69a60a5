"""The OAuth 2.0 server through HTTP on both databases: RFC 8414 metadata, RFC 7591
registration, the authorization endpoint's pages and redirects, the token endpoint's grants
and RFC 6749 §5.2 errors, RFC 7009 revocation and an organisation's machine clients."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asgi_client import ApiClient
from oauth_flow import (
    ALL_OB3,
    REDIRECT,
    Harness,
    authorize_params,
    basic,
    bearer,
    consent_token,
    get_code,
    make_harness,
    pkce,
    query_of,
    redeem,
    register,
    registration,
    seed_user,
    tokens_for,
)
from sqlalchemy import select

from merito import bootstrap
from merito.api.app import create_app
from merito.api.auth import SESSION_COOKIE
from merito.config import Settings
from merito.services import accounts, oauth
from merito.services.platform import Actor
from merito.storage.tables import AuditLogRow

READ = oauth.SCOPE_CREDENTIAL_READONLY


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(database_url, tmp_path)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)


def test_metadata_advertises_every_endpoint(harness: Harness) -> None:
    response = harness.client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == "https://merito.test"
    assert metadata["authorization_endpoint"] == "https://merito.test/oauth/authorize"
    assert metadata["token_endpoint"] == "https://merito.test/oauth/token"
    assert metadata["registration_endpoint"] == "https://merito.test/oauth/register"
    assert metadata["revocation_endpoint"] == "https://merito.test/oauth/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


def test_registration_follows_rfc_7591(harness: Harness) -> None:
    response = harness.client.post("/oauth/register", json=registration())
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert {"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at"} <= (
        body.keys()
    )
    for key, value in registration().items():
        assert body[key] == value, key
    bad = harness.client.post(
        "/oauth/register", json=registration(redirect_uris=["http://evil.example/cb"])
    )
    assert_oauth_error(bad, 400, "invalid_redirect_uri")
    bad = harness.client.post("/oauth/register", json=registration(policy_uri=None))
    assert_oauth_error(bad, 400, "invalid_client_metadata")
    bad = harness.client.post(
        "/oauth/register", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_oauth_error(bad, 400, "invalid_client_metadata")
    bad = harness.client.post("/oauth/register", content=b"[]", headers={"content-type": "text/x"})
    assert_oauth_error(bad, 400, "invalid_client_metadata")


def test_the_authorization_code_flow_with_pkce(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    registered = register(harness.client)
    verifier, challenge = pkce()
    params = authorize_params(registered, challenge, scope=f"{READ} offline_access")

    # not logged in: a login form that comes back to this very request
    page = harness.client.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'action="/oauth/login"' in page.text
    assert 'name="next" value="/oauth/authorize?' in page.text

    # logged in: the consent page names the client and each scope in plain words
    cookie = {"cookie": f"{SESSION_COOKIE}={harness.login(user_id)}"}
    page = harness.client.get("/oauth/authorize", params=params, headers=cookie)
    assert page.status_code == 200
    assert "Example Client Application" in page.text
    assert oauth.OB3_SCOPES[READ] in page.text
    assert (
        "form-action 'self' https://wallet.example.org" in page.headers["content-security-policy"]
    )
    token = consent_token(page)
    decided = harness.client.post(
        "/oauth/authorize/decision",
        data={"consent_token": token, "decision": "approve"},
        headers=cookie,
    )
    assert decided.status_code == 303
    query = query_of(decided.headers["location"])
    assert query["state"] == "st-1"
    assert query["scope"] == f"{READ} offline_access"

    response = redeem(harness, registered, query["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == f"{READ} offline_access"
    assert tokens["access_token"].startswith("mat_")

    # refresh (rotating), then the old refresh token is dead
    refreshed = harness.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(registered),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]

    # revoke the new access token: the OB 3.0 API no longer takes it
    new_access = refreshed.json()["access_token"]
    api = harness.client.get("/ims/ob/v3p0/credentials", headers=bearer(refreshed.json()))
    assert api.status_code == 200
    revoked = harness.client.post(
        "/oauth/revoke",
        data={"token": new_access, "token_type_hint": "access_token"},
        headers=basic(registered),
    )
    assert revoked.status_code == 200
    api = harness.client.get("/ims/ob/v3p0/credentials", headers=bearer(refreshed.json()))
    assert api.status_code == 401
    # the consent token was single use
    again = harness.client.post(
        "/oauth/authorize/decision",
        data={"consent_token": token, "decision": "approve"},
        headers=cookie,
    )
    assert again.status_code == 400
    with harness.platform.reading() as session:
        actions = set(session.scalars(select(AuditLogRow.action)))
    assert {
        "oauth.client.register",
        "oauth.consent.approve",
        "oauth.token.issue",
        "oauth.token.refresh",
        "oauth.token.revoke",
    } <= actions


def test_denying_sends_access_denied(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    registered = register(harness.client)
    _, challenge = pkce()
    cookie = {"cookie": f"{SESSION_COOKIE}={harness.login(user_id)}"}
    page = harness.client.get(
        "/oauth/authorize",
        params=authorize_params(registered, challenge, scope=READ),
        headers=cookie,
    )
    decided = harness.client.post(
        "/oauth/authorize/decision",
        data={"consent_token": consent_token(page), "decision": "deny"},
        headers=cookie,
    )
    assert decided.status_code == 303
    query = query_of(decided.headers["location"])
    assert query == {
        "error": "access_denied",
        "error_description": "the user did not authorize the application",
        "state": "st-1",
    }


def test_a_forged_consent_post_does_nothing(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    cookie = {"cookie": f"{SESSION_COOKIE}={harness.login(user_id)}"}
    forged = harness.client.post(
        "/oauth/authorize/decision",
        data={"consent_token": "mar_guess", "decision": "approve"},
        headers=cookie,
    )
    assert forged.status_code == 400
    assert "location" not in forged.headers
    no_session = harness.client.post(
        "/oauth/authorize/decision", data={"consent_token": "x", "decision": "approve"}
    )
    assert no_session.status_code == 401


def test_the_client_name_is_escaped_on_the_consent_page(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    registered = register(harness.client, client_name='<script>alert("x")</script>')
    _, challenge = pkce()
    page = harness.client.get(
        "/oauth/authorize",
        params=authorize_params(registered, challenge, scope=READ),
        headers={"cookie": f"{SESSION_COOKIE}={harness.login(user_id)}"},
    )
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]


def test_plain_pkce_is_refused_with_a_redirect(harness: Harness) -> None:
    registered = register(harness.client)
    params = authorize_params(registered, "x" * 43, scope=READ)
    params["code_challenge_method"] = "plain"
    response = harness.client.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_request"
    assert query["state"] == "st-1"


def test_a_wrong_redirect_uri_is_never_followed(harness: Harness) -> None:
    registered = register(harness.client)
    _, challenge = pkce()
    params = authorize_params(registered, challenge, scope=READ)
    params["redirect_uri"] = "https://evil.example/steal"
    response = harness.client.get("/oauth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.text


def test_pkce_failure_and_code_replay(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    registered = register(harness.client)
    code, verifier = get_code(harness, registered, harness.login(user_id))
    wrong, _ = pkce()
    assert_oauth_error(redeem(harness, registered, code, wrong), 400, "invalid_grant")
    first = redeem(harness, registered, code, verifier)
    assert first.status_code == 200
    replay = redeem(harness, registered, code, verifier)
    assert_oauth_error(replay, 400, "invalid_grant")
    # the replay revoked what the code had issued
    api = harness.client.get("/ims/ob/v3p0/profile", headers=bearer(first.json()))
    assert api.status_code == 401


def test_a_wrong_redirect_uri_at_the_token_endpoint(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    registered = register(harness.client)
    code, verifier = get_code(harness, registered, harness.login(user_id))
    response = harness.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT + "/other",
            "code_verifier": verifier,
        },
        headers=basic(registered),
    )
    assert_oauth_error(response, 400, "invalid_grant")


def test_token_endpoint_errors(harness: Harness) -> None:
    registered = register(harness.client)
    wrong = "Basic " + base64.b64encode(f"{registered['client_id']}:nope".encode()).decode()
    response = harness.client.post(
        "/oauth/token", data={"grant_type": "authorization_code"}, headers={"authorization": wrong}
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
    response = harness.client.post(
        "/oauth/token", data={"grant_type": "password"}, headers=basic(registered)
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")
    response = harness.client.post(
        "/oauth/token", json={"grant_type": "authorization_code"}, headers=basic(registered)
    )
    assert_oauth_error(response, 400, "invalid_request")
    response = harness.client.post(
        "/oauth/token",
        content=b"grant_type=refresh_token&grant_type=refresh_token",
        headers={**basic(registered), "content-type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_expired_access_tokens(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id, scope=ALL_OB3)
    assert harness.client.get("/ims/ob/v3p0/profile", headers=bearer(tokens)).status_code == 200
    harness.clock.advance(hours=1)
    response = harness.client.get("/ims/ob/v3p0/profile", headers=bearer(tokens))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_client_credentials_are_bound_to_their_organisation(harness: Harness) -> None:
    admin_id, org_id = seed_user(harness.platform, role="admin")
    _, other_org = seed_user(harness.platform, role="owner")
    cookie = harness.session_headers(admin_id)
    created = harness.client.post(
        f"/api/v1/orgs/{org_id}/oauth-clients",
        json={"client_name": "HR sync", "scopes": ["integrations:manage", "org:read"]},
        headers=cookie,
    )
    assert created.status_code == 201, created.text
    machine = created.json()
    assert machine["grant_types"] == ["client_credentials"]
    assert machine["token_endpoint"] == "https://merito.test/oauth/token"
    response = harness.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(machine)
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert "refresh_token" not in tokens
    listed = harness.client.get(f"/api/v1/orgs/{org_id}/oauth-clients", headers=bearer(tokens))
    assert listed.status_code == 200
    assert [c["client_id"] for c in listed.json()["clients"]] == [machine["client_id"]]
    assert all(c["client_secret"] is None for c in listed.json()["clients"])
    other = harness.client.get(f"/api/v1/orgs/{other_org}/oauth-clients", headers=bearer(tokens))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    # no user behind it: the OB 3.0 API has no resource owner for this token
    ob3 = harness.client.get("/ims/ob/v3p0/credentials", headers=bearer(tokens))
    assert ob3.status_code == 403
    # a viewer cannot register machine clients
    viewer_id, viewer_org = seed_user(harness.platform, role="viewer")
    denied = harness.client.post(
        f"/api/v1/orgs/{viewer_org}/oauth-clients",
        json={"client_name": "x", "scopes": ["org:read"]},
        headers=harness.session_headers(viewer_id),
    )
    assert denied.status_code == 403
    bad = harness.client.post(
        f"/api/v1/orgs/{org_id}/oauth-clients",
        json={"client_name": "x", "scopes": ["root"]},
        headers=cookie,
    )
    assert bad.status_code == 422


def test_the_login_form_never_redirects_elsewhere(harness: Harness) -> None:
    for next_url in ("https://evil.example/", "//evil.example/oauth/authorize?x", "/admin"):
        response = harness.client.post(
            "/oauth/login",
            data={"email": "a@example.org", "password": "pw", "next": next_url},
        )
        assert response.status_code == 400
        assert "location" not in response.headers
    # a wrong password (or a server without password login yet) shows the form again
    response = harness.client.post(
        "/oauth/login",
        data={"email": "nobody@example.org", "password": "pw", "next": "/oauth/authorize?a=b"},
    )
    assert response.status_code in (400, 401)
    assert "location" not in response.headers
    assert 'name="next" value="/oauth/authorize?a=b"' in response.text


def test_a_user_revokes_an_application(harness: Harness) -> None:
    user_id, _ = seed_user(harness.platform)
    _, tokens = tokens_for(harness, user_id)
    cookie = harness.session_headers(user_id)
    listed = harness.client.get("/api/v1/me/oauth-grants", headers=cookie)
    assert listed.status_code == 200, listed.text
    [grant] = listed.json()["grants"]
    assert grant["client_name"] == "Example Client Application"
    revoked = harness.client.request(
        "DELETE", f"/api/v1/me/oauth-grants/{grant['grant_id']}", headers=cookie
    )
    assert revoked.status_code == 204
    assert harness.client.get("/ims/ob/v3p0/profile", headers=bearer(tokens)).status_code == 401
    again = harness.client.request(
        "DELETE", f"/api/v1/me/oauth-grants/{grant['grant_id']}", headers=cookie
    )
    assert again.status_code == 204  # its tokens are still the user's: revoking is idempotent
    stranger_id, _ = seed_user(harness.platform)
    stranger = harness.session_headers(stranger_id)
    not_theirs = harness.client.request(
        "DELETE", f"/api/v1/me/oauth-grants/{grant['grant_id']}", headers=stranger
    )
    assert not_theirs.status_code == 404
    assert not_theirs.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [{"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}, {"origin": "null"}],
)
def test_forms_posted_from_another_site_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    for path in ("/oauth/login", "/oauth/authorize/decision"):
        response = harness.client.post(
            path, data={"next": "/oauth/authorize?a=b", "consent_token": "x"}, headers=headers
        )
        assert response.status_code == 403
        assert "location" not in response.headers
    same = harness.client.post(
        "/oauth/login",
        data={"email": "a@example.org", "password": "pw", "next": "/oauth/authorize?a=b"},
        headers={"origin": "https://merito.test", "sec-fetch-site": "same-origin"},
    )
    assert same.status_code in (400, 401)  # checked, not refused as cross-site


def test_the_whole_flow_with_real_accounts(database_url: str, tmp_path: Path) -> None:
    """No stand-ins: a registered account logs in through the login form, its session cookie
    drives the consent, and Merito API routes take the access token through
    accounts.resolve_actor."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="44" * 32,
        base_url="https://merito.test",
    )
    platform = bootstrap.platform(settings)
    try:
        client = ApiClient(create_app(settings=settings, platform=platform))
        password = "correct horse battery staple"
        user = accounts.register(platform, email="ada@example.org", password=password, ip=None)
        owner = Actor(kind="user", id=user.id, user_id=user.id)
        org = accounts.create_organisation(platform, owner, slug="ada-academy", name="Ada")
        registered = register(client)
        verifier, challenge = pkce()
        params = authorize_params(registered, challenge, scope=READ)
        page = client.get("/oauth/authorize", params=params)
        found = re.search(r'name="next" value="([^"]+)"', page.text)
        assert found is not None, page.text
        next_url = html.unescape(found[1])
        wrong = client.post(
            "/oauth/login", data={"email": user.email, "password": "nope", "next": next_url}
        )
        assert wrong.status_code == 401
        logged_in = client.post(
            "/oauth/login", data={"email": user.email, "password": password, "next": next_url}
        )
        assert logged_in.status_code == 303, logged_in.text
        assert logged_in.headers["location"] == next_url
        set_cookie = logged_in.headers["set-cookie"]
        assert "HttpOnly" in set_cookie
        assert "Secure" in set_cookie
        cookie = {"cookie": set_cookie.split(";", 1)[0]}
        consent = client.get(next_url, headers=cookie)
        assert consent.status_code == 200
        decided = client.post(
            "/oauth/authorize/decision",
            data={"consent_token": consent_token(consent), "decision": "approve"},
            headers=cookie,
        )
        assert decided.status_code == 303
        code = query_of(decided.headers["location"])["code"]
        tokens = client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            headers=basic(registered),
        ).json()
        listed = client.get("/ims/ob/v3p0/credentials", headers=bearer(tokens))
        assert listed.status_code == 200
        # through accounts.resolve_actor: the token is recognised, but an OB 3.0 scope is no
        # Merito permission
        refused = client.get(f"/api/v1/orgs/{org.id}/oauth-clients", headers=bearer(tokens))
        assert refused.status_code == 403, refused.text
        grants = client.get("/api/v1/me/oauth-grants", headers=cookie)
        assert [g["client_id"] for g in grants.json()["grants"]] == [registered["client_id"]]
    finally:
        platform.sessions.kw["bind"].dispose()
