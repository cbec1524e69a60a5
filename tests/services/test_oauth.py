"""The OAuth 2.0 server's services on both databases: registration, consent, PKCE, tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import func, select

from merito.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from merito.services import oauth
from merito.services.platform import Actor, Permission, Platform, authorize
from merito.storage.tables import AuditLogRow
from merito.storage.tables_oauth import OAuthClientRow, OAuthTokenRow

REDIRECT = "https://wallet.example.org/callback"
READ = oauth.SCOPE_CREDENTIAL_READONLY
UPSERT = oauth.SCOPE_CREDENTIAL_UPSERT


def client_metadata(**overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "client_name": "Example Wallet",
        "client_uri": "https://wallet.example.org/",
        "logo_uri": "https://wallet.example.org/logo.png",
        "tos_uri": "https://wallet.example.org/terms",
        "policy_uri": "https://wallet.example.org/privacy",
        "software_id": "c88b6ed8-269e-448e-99be-7e2ff47167d1",
        "software_version": "1.0",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": f"{READ} {UPSERT} offline_access",
    }
    metadata.update(overrides)
    return {k: v for k, v in metadata.items() if v is not None}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client: oauth.RegisteredClient) -> str:
    raw = f"{client.client_id}:{client.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def authorize_code(
    platform: Platform,
    client: oauth.RegisteredClient,
    user: Actor,
    *,
    scope: str = READ,
    state: str | None = "xyz",
) -> tuple[str, str]:
    """Runs the authorization endpoint and consent; returns (code, code_verifier)."""
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if state is not None:
        params["state"] = state
    request = oauth.check_authorization_request(platform, params)
    prompt = oauth.prepare_consent(platform, user, request)
    url = oauth.decide_consent(platform, user, consent_token=prompt.consent_token, approve=True)
    assert url.startswith(REDIRECT + "?")
    query = query_of(url)
    if state is not None:
        assert query["state"] == state
    return query["code"], verifier


def redeem(
    platform: Platform, client: oauth.RegisteredClient, code: str, verifier: str
) -> dict[str, Any]:
    return oauth.exchange_token(
        platform,
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        authorization=basic(client),
    )


@pytest.fixture
def wallet(platform: Platform) -> oauth.RegisteredClient:
    return oauth.register_client(platform, client_metadata())


@pytest.fixture
def learner(seed_org: Callable[..., SeededOrg]) -> Actor:
    return seed_org(role="viewer").actor


# --- resolve_access_token ----------------------------------------------------------------


def test_a_foreign_token_format_is_not_ours(platform: Platform) -> None:
    assert oauth.resolve_access_token(platform, "mk_live_abc", ip=None) is None
    assert oauth.resolve_access_token(platform, "", ip=None) is None


def test_an_unknown_access_token_is_unauthenticated(platform: Platform) -> None:
    with pytest.raises(Unauthenticated):
        oauth.resolve_access_token(platform, oauth.ACCESS_TOKEN_PREFIX + "nope", ip=None)


def test_an_access_token_resolves_to_its_user_and_scopes(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner, scope=f"{READ} {UPSERT}")
    tokens = redeem(platform, wallet, code, verifier)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == f"{READ} {UPSERT}"
    assert tokens["refresh_token"].startswith("mrt_")
    actor = oauth.resolve_access_token(platform, tokens["access_token"], ip="192.0.2.7")
    assert actor is not None
    assert actor.kind == "oauth_token"
    assert actor.user_id == learner.user_id
    assert actor.org_id is None
    assert actor.scopes == frozenset({READ, UPSERT})
    assert actor.ip == "192.0.2.7"
    # only hashes are stored
    with platform.reading() as session:
        hashes = set(session.scalars(select(OAuthTokenRow.token_hash)))
    assert tokens["access_token"] not in hashes
    assert hashlib.sha256(tokens["access_token"].encode()).hexdigest() in hashes


def test_access_tokens_expire_after_an_hour(
    platform: Platform, clock: MovableClock, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    access = redeem(platform, wallet, code, verifier)["access_token"]
    clock.advance(minutes=59)
    assert oauth.resolve_access_token(platform, access, ip=None) is not None
    clock.advance(minutes=1)
    with pytest.raises(Unauthenticated, match="expired"):
        oauth.resolve_access_token(platform, access, ip=None)


# --- registration (RFC 7591) -------------------------------------------------------------


def test_registration_returns_the_metadata_and_stores_only_a_hash(
    platform: Platform, wallet: oauth.RegisteredClient
) -> None:
    response = wallet.registration_response()
    assert response["client_id"].startswith("mci_")
    assert response["client_secret"].startswith("mcs_")
    assert response["client_secret_expires_at"] == 0
    assert response["redirect_uris"] == [REDIRECT]
    assert response["grant_types"] == ["authorization_code", "refresh_token"]
    assert response["logo_uri"] == "https://wallet.example.org/logo.png"
    with platform.reading() as session:
        row = session.get(OAuthClientRow, wallet.client_id)
        assert row is not None
        assert wallet.client_secret not in row.secret_hash
        assert "client_secret" not in row.client_metadata
        assert session.scalar(
            select(AuditLogRow).where(AuditLogRow.action == "oauth.client.register")
        )


@pytest.mark.parametrize(
    ("overrides", "error", "prop"),
    [
        ({"redirect_uris": None}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris"),
        ({"redirect_uris": ["http://wallet.example.org/cb"]}, "invalid_redirect_uri", None),
        ({"redirect_uris": ["https://wallet.example.org/cb#frag"]}, "invalid_redirect_uri", None),
        ({"redirect_uris": ["wallet://callback"]}, "invalid_redirect_uri", None),
        ({"logo_uri": None}, "invalid_client_metadata", "logo_uri"),
        ({"client_uri": "ftp://wallet.example.org"}, "invalid_client_metadata", "client_uri"),
        ({"tos_uri": 7}, "invalid_client_metadata", "tos_uri"),
        ({"client_name": ""}, "invalid_client_metadata", "client_name"),
        ({"token_endpoint_auth_method": "none"}, "invalid_client_metadata", None),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata", "grant_types"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata", "grant_types"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({"scope": "https://example.org/admin"}, "invalid_client_metadata", "scope"),
        ({"scope": "offline_access"}, "invalid_client_metadata", "scope"),
    ],
)
def test_registration_refuses_bad_metadata(
    platform: Platform, overrides: dict[str, Any], error: str, prop: str | None
) -> None:
    metadata = client_metadata(**overrides)
    if overrides.get("redirect_uris", "") is None:
        metadata.pop("redirect_uris", None)
    for key, value in overrides.items():
        if value is None:
            metadata.pop(key, None)
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.register_client(platform, metadata)
    assert caught.value.error == error
    if prop is not None:
        assert caught.value.property == prop


def test_loopback_http_redirects_are_allowed(platform: Platform) -> None:
    uris = ["http://127.0.0.1:8765/cb", "http://localhost/cb", "http://[::1]:9/cb"]
    client = oauth.register_client(platform, client_metadata(redirect_uris=uris))
    assert client.metadata["redirect_uris"] == uris


# --- authorization endpoint ----------------------------------------------------------------


def auth_params(client: oauth.RegisteredClient, **overrides: str | None) -> dict[str, str]:
    _, challenge = pkce()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": READ,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "mci_unknown"},
        {"client_id": None},
        {"redirect_uri": "https://wallet.example.org/other"},
        {"redirect_uri": REDIRECT + "/"},
        {"redirect_uri": None},
    ],
)
def test_an_untrusted_client_or_redirect_is_never_redirected_to(
    platform: Platform, wallet: oauth.RegisteredClient, overrides: dict[str, str | None]
) -> None:
    with pytest.raises(oauth.AuthorizationRequestError) as caught:
        oauth.check_authorization_request(platform, auth_params(wallet, **overrides))
    assert caught.value.redirect_url is None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": oauth.SCOPE_PROFILE_UPDATE}, "invalid_scope"),
    ],
)
def test_other_request_errors_go_back_to_the_client_with_state(
    platform: Platform, wallet: oauth.RegisteredClient, overrides: dict[str, str | None], error: str
) -> None:
    with pytest.raises(oauth.AuthorizationRequestError) as caught:
        oauth.check_authorization_request(platform, auth_params(wallet, **overrides))
    url = caught.value.redirect_url
    assert url is not None
    assert url.startswith(REDIRECT + "?")
    query = query_of(url)
    assert query["error"] == error
    assert query["state"] == "s-1"


def test_a_repeated_parameter_is_refused(
    platform: Platform, wallet: oauth.RegisteredClient
) -> None:
    params: dict[str, Any] = dict(auth_params(wallet))
    params["scope"] = [READ, UPSERT]
    with pytest.raises(oauth.AuthorizationRequestError) as caught:
        oauth.check_authorization_request(platform, params)
    assert caught.value.error == "invalid_request"


def test_without_scope_the_registered_scopes_are_asked(
    platform: Platform, wallet: oauth.RegisteredClient
) -> None:
    request = oauth.check_authorization_request(platform, auth_params(wallet, scope=None))
    assert request.scopes == (READ, UPSERT, "offline_access")


def test_denying_redirects_with_access_denied(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    request = oauth.check_authorization_request(platform, auth_params(wallet))
    prompt = oauth.prepare_consent(platform, learner, request)
    assert prompt.scope_descriptions == ((READ, oauth.OB3_SCOPES[READ]),)
    url = oauth.decide_consent(platform, learner, consent_token=prompt.consent_token, approve=False)
    query = query_of(url)
    assert query["error"] == "access_denied"
    assert query["state"] == "s-1"
    assert "code" not in query


def test_a_consent_token_is_single_use_and_bound_to_its_user(
    platform: Platform,
    wallet: oauth.RegisteredClient,
    learner: Actor,
    seed_org: Callable[..., SeededOrg],
    clock: MovableClock,
) -> None:
    request = oauth.check_authorization_request(platform, auth_params(wallet))
    prompt = oauth.prepare_consent(platform, learner, request)
    intruder = seed_org().actor
    with pytest.raises(NotFound):
        oauth.decide_consent(platform, intruder, consent_token=prompt.consent_token, approve=True)
    oauth.decide_consent(platform, learner, consent_token=prompt.consent_token, approve=True)
    with pytest.raises(NotFound):
        oauth.decide_consent(platform, learner, consent_token=prompt.consent_token, approve=True)
    late = oauth.prepare_consent(platform, learner, request)
    clock.advance(minutes=11)
    with pytest.raises(NotFound, match="expired"):
        oauth.decide_consent(platform, learner, consent_token=late.consent_token, approve=True)
    with pytest.raises(Unauthenticated):
        oauth.prepare_consent(platform, Actor.anonymous(), request)


# --- token endpoint ------------------------------------------------------------------------


def token_error(platform: Platform, form: dict[str, str], authorization: str | None) -> str:
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.exchange_token(platform, form=form, authorization=authorization)
    return caught.value.error


def test_a_wrong_code_verifier_fails_pkce(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    other, _ = pkce()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert token_error(platform, {**form, "code_verifier": other}, basic(wallet)) == "invalid_grant"
    assert token_error(platform, form, basic(wallet)) == "invalid_request"
    # a failed attempt does not burn the code for the real client
    assert redeem(platform, wallet, code, verifier)["access_token"]


def test_a_replayed_code_fails_and_revokes_what_it_issued(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    tokens = redeem(platform, wallet, code, verifier)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    assert token_error(platform, form, basic(wallet)) == "invalid_grant"
    with pytest.raises(Unauthenticated, match="revoked"):
        oauth.resolve_access_token(platform, tokens["access_token"], ip=None)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_error(platform, refresh, basic(wallet)) == "invalid_grant"
    with platform.reading() as session:
        assert session.scalar(
            select(func.count())
            .select_from(AuditLogRow)
            .where(AuditLogRow.action == "oauth.grant.revoke")
        )


def test_the_redirect_uri_must_match_and_codes_expire(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor, clock: MovableClock
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://wallet.example.org/elsewhere",
        "code_verifier": verifier,
    }
    assert token_error(platform, form, basic(wallet)) == "invalid_grant"
    clock.advance(minutes=10)
    assert token_error(platform, {**form, "redirect_uri": REDIRECT}, basic(wallet)) == (
        "invalid_grant"
    )


def test_client_authentication(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    wrong = "Basic " + base64.b64encode(f"{wallet.client_id}:mcs_wrong".encode()).decode()
    assert token_error(platform, form, wrong) == "invalid_client"
    assert token_error(platform, form, None) == "invalid_client"
    assert token_error(platform, form, "Bearer x") == "invalid_client"
    assert token_error(platform, form, "Basic !!!") == "invalid_client"
    both = {**form, "client_id": wallet.client_id, "client_secret": wallet.client_secret}
    assert token_error(platform, both, basic(wallet)) == "invalid_request"
    # another client cannot redeem this client's code
    thief = oauth.register_client(platform, client_metadata())
    assert token_error(platform, form, basic(thief)) == "invalid_grant"
    # client_secret_post works too
    tokens = oauth.exchange_token(platform, form=both, authorization=None)
    assert tokens["access_token"].startswith("mat_")


def test_unsupported_and_missing_grant_types(
    platform: Platform, wallet: oauth.RegisteredClient
) -> None:
    assert token_error(platform, {"grant_type": "password"}, basic(wallet)) == (
        "unsupported_grant_type"
    )
    assert token_error(platform, {}, basic(wallet)) == "invalid_request"
    assert token_error(platform, {"grant_type": "client_credentials"}, basic(wallet)) == (
        "unauthorized_client"
    )


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_grant(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor, clock: MovableClock
) -> None:
    code, verifier = authorize_code(platform, wallet, learner, scope=f"{READ} {UPSERT}")
    first = redeem(platform, wallet, code, verifier)
    clock.advance(hours=2)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = oauth.exchange_token(
        platform, form={**form, "scope": READ}, authorization=basic(wallet)
    )
    assert second["scope"] == READ
    assert second["refresh_token"] != first["refresh_token"]
    actor = oauth.resolve_access_token(platform, second["access_token"], ip=None)
    assert actor is not None
    assert actor.scopes == frozenset({READ})
    widen = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    assert token_error(platform, {**widen, "scope": oauth.SCOPE_PROFILE_UPDATE}, basic(wallet)) == (
        "invalid_scope"
    )
    # the first refresh token was rotated away: presenting it again revokes everything
    assert token_error(platform, form, basic(wallet)) == "invalid_grant"
    with pytest.raises(Unauthenticated, match="revoked"):
        oauth.resolve_access_token(platform, second["access_token"], ip=None)
    assert token_error(platform, widen, basic(wallet)) == "invalid_grant"


def test_refresh_tokens_expire_after_30_days(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor, clock: MovableClock
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    tokens = redeem(platform, wallet, code, verifier)
    clock.advance(days=30)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_error(platform, form, basic(wallet)) == "invalid_grant"


# --- client credentials --------------------------------------------------------------------


def test_client_credentials_tokens_act_only_in_their_organisation(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    mine, theirs = seed_org(role="admin"), seed_org()
    machine = oauth.register_org_client(
        platform,
        mine.actor,
        org_id=mine.org_id,
        client_name="CRM sync",
        scopes=[Permission.CREDENTIALS_READ.value, Permission.INTEGRATIONS_MANAGE.value],
        token_endpoint_auth_method="client_secret_post",
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": machine.client_id,
        "client_secret": machine.client_secret,
    }
    tokens = oauth.exchange_token(platform, form=form, authorization=None)
    assert "refresh_token" not in tokens
    actor = oauth.resolve_access_token(platform, tokens["access_token"], ip=None)
    assert actor is not None
    assert actor.org_id == mine.org_id
    assert actor.user_id is None
    with platform.reading() as session:
        authorize(session, actor, mine.org_id, Permission.CREDENTIALS_READ)
        with pytest.raises(PermissionDenied):
            authorize(session, actor, mine.org_id, Permission.CREDENTIALS_ISSUE)
        with pytest.raises(NotFound):
            authorize(session, actor, theirs.org_id, Permission.CREDENTIALS_READ)
    assert [c.client_id for c in oauth.list_org_clients(platform, actor, org_id=mine.org_id)] == [
        machine.client_id
    ]
    with pytest.raises(NotFound):
        oauth.list_org_clients(platform, actor, org_id=theirs.org_id)
    # narrower scopes may be asked for, wider ones not
    narrow = oauth.exchange_token(
        platform, form={**form, "scope": "credentials:read"}, authorization=None
    )
    assert narrow["scope"] == "credentials:read"
    assert token_error(platform, {**form, "scope": "keys:manage"}, None) == "invalid_scope"
    # a machine client cannot send users through the authorization endpoint
    with pytest.raises(oauth.AuthorizationRequestError):
        oauth.check_authorization_request(platform, auth_params(machine))


def test_registering_machine_clients_needs_integrations_manage(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    viewer, other = seed_org(role="viewer"), seed_org(role="owner")
    with pytest.raises(PermissionDenied):
        oauth.register_org_client(
            platform, viewer.actor, org_id=viewer.org_id, client_name="x", scopes=["org:read"]
        )
    with pytest.raises(NotFound):
        oauth.register_org_client(
            platform, other.actor, org_id=viewer.org_id, client_name="x", scopes=["org:read"]
        )
    with pytest.raises(InvalidInput):
        oauth.register_org_client(
            platform, other.actor, org_id=other.org_id, client_name="x", scopes=["root"]
        )
    with pytest.raises(InvalidInput):
        oauth.register_org_client(
            platform, other.actor, org_id=other.org_id, client_name=" ", scopes=["org:read"]
        )


# --- revocation (RFC 7009) -----------------------------------------------------------------


def test_revoking_tokens(
    platform: Platform, wallet: oauth.RegisteredClient, learner: Actor
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    tokens = redeem(platform, wallet, code, verifier)
    oauth.revoke_token(
        platform,
        form={"token": tokens["access_token"], "token_type_hint": "access_token"},
        authorization=basic(wallet),
    )
    with pytest.raises(Unauthenticated, match="revoked"):
        oauth.resolve_access_token(platform, tokens["access_token"], ip=None)
    # unknown tokens and repeated revocations are not errors
    oauth.revoke_token(platform, form={"token": "whatever"}, authorization=basic(wallet))
    oauth.revoke_token(
        platform, form={"token": tokens["access_token"]}, authorization=basic(wallet)
    )
    # another client cannot revoke this client's tokens
    other = oauth.register_client(platform, client_metadata())
    oauth.revoke_token(
        platform, form={"token": tokens["refresh_token"]}, authorization=basic(other)
    )
    refreshed = oauth.exchange_token(
        platform,
        form={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        authorization=basic(wallet),
    )
    # revoking a refresh token revokes its grant's access tokens too
    oauth.revoke_token(
        platform, form={"token": refreshed["refresh_token"]}, authorization=basic(wallet)
    )
    with pytest.raises(Unauthenticated):
        oauth.resolve_access_token(platform, refreshed["access_token"], ip=None)
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.revoke_token(platform, form={"token": "x"}, authorization=None)
    assert caught.value.error == "invalid_client"
    # an unknown hint is ignored (RFC 7009 §2.1: the server MAY ignore it)
    oauth.revoke_token(
        platform, form={"token": "x", "token_type_hint": "id_token"}, authorization=basic(wallet)
    )


def test_server_metadata_names_every_endpoint() -> None:
    endpoints = oauth.ServerEndpoints(
        issuer="https://merito.test",
        authorization_endpoint="https://merito.test/oauth/authorize",
        token_endpoint="https://merito.test/oauth/token",
        registration_endpoint="https://merito.test/oauth/register",
        revocation_endpoint="https://merito.test/oauth/revoke",
    )
    metadata = oauth.server_metadata(endpoints)
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(oauth.OB3_SCOPES) <= set(metadata["scopes_supported"])
    assert metadata["issuer"] == "https://merito.test"


def test_users_see_and_revoke_their_grants(
    platform: Platform,
    wallet: oauth.RegisteredClient,
    learner: Actor,
    seed_org: Callable[..., SeededOrg],
) -> None:
    code, verifier = authorize_code(platform, wallet, learner)
    tokens = redeem(platform, wallet, code, verifier)
    [grant] = oauth.list_user_grants(platform, learner)
    assert (grant.client_id, grant.client_name, grant.scope) == (
        wallet.client_id,
        "Example Wallet",
        READ,
    )
    other = seed_org().actor
    assert oauth.list_user_grants(platform, other) == []
    with pytest.raises(NotFound):
        oauth.revoke_user_grant(platform, other, grant_id=grant.grant_id)
    oauth.revoke_user_grant(platform, learner, grant_id=grant.grant_id)
    assert oauth.list_user_grants(platform, learner) == []
    with pytest.raises(Unauthenticated):
        oauth.resolve_access_token(platform, tokens["access_token"], ip=None)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_error(platform, refresh, basic(wallet)) == "invalid_grant"
