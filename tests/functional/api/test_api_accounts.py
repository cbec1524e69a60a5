"""The accounts API over HTTP on SQLite and PostgreSQL: sessions, CSRF, orgs, members, keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts_support import PASSWORD, World, accounts_world

from merito.services import accounts


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def _problem(response: object, status: int, code: str | None = None) -> dict[str, object]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    if code is not None:
        assert body["type"] == f"urn:merito:problem:{code}", body
    return body


def test_register_login_me_logout(world: World) -> None:
    user_id = world.register("Ada@Example.org")
    response = world.call(
        "POST", "/api/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    for attribute in ("merito_session=", "HttpOnly", "SameSite=lax", "Secure", "Path=/"):
        assert attribute.lower() in cookie.lower(), cookie
    assert response.headers["cache-control"] == "no-store"
    session = world.login("ada@example.org")
    me = world.call("GET", "/api/v1/auth/me", auth=session)
    assert me.status_code == 200
    assert me.json()["kind"] == "user"
    assert me.json()["user"]["id"] == user_id
    assert me.json()["user"]["email"] == "ada@example.org"
    refused = world.call("POST", "/api/v1/auth/logout", auth=session, csrf=False)
    _problem(refused, 403, "permission-denied")
    out = world.call("POST", "/api/v1/auth/logout", auth=session)
    assert out.status_code == 204
    assert (
        'merito_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    gone = world.call("GET", "/api/v1/auth/me", auth=session)
    body = _problem(gone, 401, "unauthenticated")
    assert "closed" in str(body["detail"])
    assert gone.headers["www-authenticate"].startswith("Bearer")


def test_register_errors_name_the_property(world: World) -> None:
    world.register("ada@example.org")
    taken = world.call(
        "POST", "/api/v1/auth/register", json={"email": "ADA@example.org", "password": PASSWORD}
    )
    assert _problem(taken, 409, "conflict")["errors"] == [
        {"property": "email", "detail": "an account with this email already exists"}
    ]
    weak = world.call(
        "POST",
        "/api/v1/auth/register",
        json={"email": "bob@example.org", "password": "aaaaaaaaaaaaaaa"},
    )
    assert _problem(weak, 422, "invalid-input")["errors"][0]["property"] == "password"  # type: ignore[index]


def test_login_does_not_tell_which_emails_exist(world: World) -> None:
    world.register("ada@example.org")
    wrong_password = world.call(
        "POST",
        "/api/v1/auth/login",
        json={"email": "ada@example.org", "password": "not the password"},
    )
    unknown_email = world.call(
        "POST", "/api/v1/auth/login", json={"email": "who@example.org", "password": PASSWORD}
    )
    first, second = _problem(wrong_password, 401), _problem(unknown_email, 401)
    assert first == second | {"instance": first["instance"]}
    assert "set-cookie" not in wrong_password.headers


def test_login_is_rate_limited(world: World) -> None:
    world.register("ada@example.org")
    body = {"email": "ada@example.org", "password": "not the password"}
    for _ in range(accounts.LOGIN_ATTEMPTS_BURST):
        assert world.call("POST", "/api/v1/auth/login", json=body).status_code == 401
    limited = world.call(
        "POST", "/api/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD}
    )
    _problem(limited, 429, "rate-limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    world.clock.advance(seconds=60)
    assert world.login("ada@example.org")


def test_session_expiry_over_http(world: World) -> None:
    world.register("ada@example.org")
    session = world.login("ada@example.org")
    world.clock.advance(days=7)
    expired = world.call("GET", "/api/v1/auth/me", auth=session)
    assert "expired" in str(_problem(expired, 401, "unauthenticated")["detail"])
    garbage = world.call("GET", "/api/v1/orgs", headers={"Cookie": "merito_session=forged"})
    _problem(garbage, 401, "unauthenticated")


def test_organisations_and_members(world: World) -> None:
    world.register("owner@example.org")
    bob_id = world.register("bob@example.org")
    owner = world.login("owner@example.org")
    bob = world.login("bob@example.org")
    org_id = world.create_org(owner, "acme")
    no_csrf = world.call("POST", "/api/v1/orgs", auth=owner, csrf=False, json={"slug": "x1"})
    _problem(no_csrf, 403, "permission-denied")
    taken = world.call("POST", "/api/v1/orgs", auth=owner, json={"slug": "acme", "name": "A"})
    _problem(taken, 409, "conflict")
    bad_slug = world.call("POST", "/api/v1/orgs", auth=owner, json={"slug": "A!", "name": "A"})
    _problem(bad_slug, 422)
    assert world.call("GET", f"/api/v1/orgs/{org_id}", auth=owner).json()["role"] == "owner"
    renamed = world.call("PATCH", f"/api/v1/orgs/{org_id}", auth=owner, json={"name": "Acme Ltd"})
    assert renamed.json()["name"] == "Acme Ltd"
    listed = world.call("GET", "/api/v1/orgs", auth=owner).json()["items"]
    assert [o["slug"] for o in listed] == ["acme"]
    _problem(world.call("GET", f"/api/v1/orgs/{org_id}", auth=bob), 404, "not-found")

    members = f"/api/v1/orgs/{org_id}/members"
    added = world.call(
        "POST", members, auth=owner, json={"email": "bob@example.org", "role": "admin"}
    )
    assert added.status_code == 201
    assert added.json()["user_id"] == bob_id
    grant = world.call(
        "PATCH", f"{members}/{bob_id}", auth=bob, json={"role": "owner"}
    )  # an admin may not grant owner, not even to itself
    _problem(grant, 403, "permission-denied")
    assert (
        world.call("PATCH", f"{members}/{bob_id}", auth=owner, json={"role": "owner"}).json()[
            "role"
        ]
        == "owner"
    )
    owner_id = world.call("GET", "/api/v1/auth/me", auth=owner).json()["user"]["id"]
    assert world.call("DELETE", f"{members}/{owner_id}", auth=bob).status_code == 204
    last = world.call("DELETE", f"{members}/{bob_id}", auth=bob)
    _problem(last, 409, "conflict")
    demote = world.call("PATCH", f"{members}/{bob_id}", auth=bob, json={"role": "viewer"})
    _problem(demote, 409, "conflict")
    assert [m["email"] for m in world.call("GET", members, auth=bob).json()["items"]] == [
        "bob@example.org"
    ]
    _problem(world.call("GET", f"/api/v1/orgs/{org_id}", auth=owner), 404)


def test_api_keys_over_http(world: World) -> None:
    world.register("owner@example.org")
    owner = world.login("owner@example.org")
    org_id = world.create_org(owner, "acme")
    keys = f"/api/v1/orgs/{org_id}/api-keys"
    unknown = world.call("POST", keys, auth=owner, json={"name": "k", "scopes": ["root"]})
    assert _problem(unknown, 422, "invalid-input")["errors"][0]["property"] == "scopes"  # type: ignore[index]
    created = world.call("POST", keys, auth=owner, json={"name": "CI", "scopes": ["org:read"]})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["secret"]
    key_id = created.json()["id"]
    assert secret.startswith("mk_")
    listed = world.call("GET", keys, auth=owner).json()["items"]
    assert [k["id"] for k in listed] == [key_id]
    assert "secret" not in listed[0]
    assert secret not in world.call("GET", keys, auth=owner).text

    me = world.call("GET", "/api/v1/auth/me", auth=secret).json()
    assert me == {"kind": "api_key", "user": None, "org_id": org_id, "scopes": ["org:read"]}
    # a key needs no CSRF token, and its scopes bound it
    assert world.call("GET", f"/api/v1/orgs/{org_id}", auth=secret).status_code == 200
    scope = world.call("PATCH", f"/api/v1/orgs/{org_id}", auth=secret, json={"name": "x"})
    assert _problem(scope, 403, "permission-denied")["errors"][0]["property"] == "scope"  # type: ignore[index]
    _problem(world.call("GET", f"/api/v1/orgs/{org_id}/audit", auth=secret), 403)
    _problem(world.call("POST", "/api/v1/orgs", auth=secret, json={"slug": "zz", "name": "Z"}), 403)

    revoked = world.call("DELETE", f"{keys}/{key_id}", auth=owner)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    dead = world.call("GET", f"/api/v1/orgs/{org_id}", auth=secret)
    assert "revoked" in str(_problem(dead, 401, "unauthenticated")["detail"])
    assert dead.headers["www-authenticate"].startswith("Bearer")
    for header in ("Bearer mk_garbage", "Basic Zm9vOmJhcg==", "Bearer mat_unknown"):
        bad = world.call("GET", "/api/v1/orgs", headers={"Authorization": header})
        _problem(bad, 401, "unauthenticated")
    _problem(world.call("DELETE", f"{keys}/00000000-0000-0000-0000-000000000000", auth=owner), 404)


def test_audit_endpoint_pages(world: World) -> None:
    world.register("owner@example.org")
    owner = world.login("owner@example.org")
    org_id = world.create_org(owner, "acme")
    for i in range(3):
        world.call("PATCH", f"/api/v1/orgs/{org_id}", auth=owner, json={"name": f"Acme {i}"})
    world.api_key(owner, org_id, ["org:read"])
    page = world.call("GET", f"/api/v1/orgs/{org_id}/audit?limit=2", auth=owner).json()
    assert [e["action"] for e in page["items"]] == ["org.create", "org.rename"]
    assert page["items"][0]["ip"] == "127.0.0.1"
    rest = world.call(
        "GET", f"/api/v1/orgs/{org_id}/audit?after={page['next_after']}", auth=owner
    ).json()
    assert [e["action"] for e in rest["items"]] == ["org.rename", "org.rename", "api_key.create"]
    assert rest["next_after"] is None
    _problem(world.call("GET", f"/api/v1/orgs/{org_id}/audit?limit=0", auth=owner), 422)


def test_unauthenticated_requests_get_401_with_www_authenticate(world: World) -> None:
    response = world.call("GET", "/api/v1/orgs")
    _problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="merito"'
