"""Access control, generated from ``app.routes``: without credentials, every tenant-scoped route
(``{org_id}`` in its path) and every user-scoped one (``/api/v1/me/...``), on every method, is a
401 problem, whatever the ids and the body; a forged or revoked API key too, and another
tenant's key never gets a 2xx. Login never adopts a planted session id, and the issuer's private
key appears in no API response and no log line. The per-role matrix (owner, admin,
issuer_staff, assessor, viewer, scoped keys) is test_reliability_roles.py.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from reliability_support import ApiClient, platform_for, settings_for

from merito.api.app import create_app
from merito.proofs.keys import private_key_to_jwk
from merito.services import accounts, catalog
from merito.services.platform import Actor, Permission

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _protected(app: object) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        path = route.path
        if not path or not ("{org_id}" in path or path.startswith("/api/v1/me/")):
            continue
        for method in sorted(set(route.methods or ()) & set(METHODS)):
            found.append((method, path))
    return found


def _fill(path: str, org_id: str) -> str:
    path = path.replace("{org_id}", org_id)
    return re.sub(r"{\w+(?::[^}]*)?}", lambda _: str(uuid.uuid4()), path)


def test_every_protected_route_refuses_the_anonymous_and_bad_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'merito.db'}"
    platform = platform_for(url, tmp_path)
    system = Actor.system("test")
    made = {}
    for name in ("a", "b"):
        user = accounts.create_user(
            platform, system, email=f"{name}@example.org", password="a long passphrase"
        )
        actor = Actor(kind="user", id=user.id, user_id=user.id)
        org = accounts.create_organisation(platform, actor, slug=f"org-{name}", name=name)
        made[name] = (actor, org.id)
    actor_b, org_b = made["b"]
    revoked = accounts.create_api_key(
        platform, actor_b, org_id=org_b, name="old", scopes=[Permission.ORG_READ.value]
    )
    accounts.revoke_api_key(platform, actor_b, org_id=org_b, key_id=revoked.key.id)
    other = accounts.create_api_key(
        platform, made["a"][0], org_id=made["a"][1], name="a", scopes=[Permission.ORG_READ.value]
    ).secret
    app = create_app(settings=settings_for(url, tmp_path), platform=platform)
    client = ApiClient(app)
    routes = _protected(app)
    assert len(routes) > 50, "the sweep found too few routes: is the app complete?"
    problems: list[str] = []
    for method, path in routes:
        target = _fill(path, org_b)
        for label, headers in (
            ("anonymous", {}),
            ("forged key", {"Authorization": "Bearer mk_forged_not_a_key"}),
            ("revoked key", {"Authorization": f"Bearer {revoked.secret}"}),
        ):
            response = client.request(method, target, json={}, headers=headers)
            if response.status_code != 401:
                problems.append(f"{label}: {method} {path} -> {response.status_code}")
            elif not response.headers["content-type"].startswith("application/problem+json"):
                problems.append(f"{label}: {method} {path} -> 401 without problem JSON")
        if "{org_id}" in path:
            # another tenant's valid key: B's resources do not exist for it
            response = client.request(
                method, target, json={}, headers={"Authorization": f"Bearer {other}"}
            )
            if response.status_code in range(200, 300):
                problems.append(f"A's key: {method} {path} -> {response.status_code} on B")
    assert not problems, "\n".join(problems)


def test_login_replaces_any_session_id_and_keys_never_leak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'merito.db'}"
    platform = platform_for(url, tmp_path)
    password = "a long passphrase"
    user = accounts.create_user(
        platform, Actor.system("t"), email="o@example.org", password=password
    )
    actor = Actor(kind="user", id=user.id, user_id=user.id)
    org = accounts.create_organisation(platform, actor, slug="keys", name="Keys")
    fields = {"name": "Keys", "description": "Kept.", "criteria": {"narrative": "Passed."}}
    view = catalog.create_achievement(platform, actor, org_id=org.id, fields=fields)
    catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=view.id)
    client = ApiClient(create_app(settings=settings_for(url, tmp_path), platform=platform))
    # session fixation: a session id planted before login is never adopted, and each login
    # gets a new one
    planted = "attacker-chosen-session-id"
    tokens = []
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/login",
            json={"email": "o@example.org", "password": password},
            headers={"Cookie": f"merito_session={planted}"},
        )
        assert response.status_code == 200, response.text
        tokens.append(response.cookies["merito_session"])
    assert planted not in tokens
    assert tokens[0] != tokens[1]
    fixed = {"Cookie": f"merito_session={planted}"}
    assert client.get("/api/v1/auth/me", headers=fixed).status_code == 401
    # the issuer's private key: in no API response and no log line
    everything = [p.value for p in Permission if p is not Permission.ORG_DELETE]
    secret = accounts.create_api_key(
        platform, actor, org_id=org.id, name="k", scopes=everything
    ).secret
    auth = {"Authorization": f"Bearer {secret}"}
    keystore = platform.keystore
    forms: set[str] = set()

    def remember_active_keys() -> None:
        for key in keystore.public_keys(org.id):  # type: ignore[attr-defined]
            if key.status == "active":
                signer = keystore.signer(org.id, key.verification_method)  # type: ignore[attr-defined]
                d = private_key_to_jwk(signer.key)["d"]
                raw = base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))
                forms.update({d, raw.hex(), base64.b64encode(raw).decode()})

    bodies = [
        client.post(
            f"/api/v1/orgs/{org.id}/credentials",
            json={"achievement_id": view.id, "recipient": "l@example.org"},
            headers=auth,
        ).text,
        client.get(f"/api/v1/orgs/{org.id}/keys", headers=auth).text,
    ]
    remember_active_keys()  # the key that signed the credential
    rotated = client.post(f"/api/v1/orgs/{org.id}/keys/rotate", json={}, headers=auth)
    assert rotated.status_code == 200, rotated.text
    bodies.append(rotated.text)
    bodies.append(client.get("/orgs/keys/did.json").text)
    remember_active_keys()  # and its successor
    assert len(forms) == 6, "two keys, three spellings each"
    leaked = [form[:6] for form in forms for text in [*bodies, caplog.text] if form in text]
    assert not leaked, f"private key material found: {leaked}"
