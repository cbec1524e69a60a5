"""Access control, generated from ``app.routes``: without credentials, every tenant-scoped route
(``{org_id}`` in its path) and every user-scoped one (``/api/v1/me/...``), on every method, is a
401 problem (with WWW-Authenticate), whatever the ids and the body; and a forged, a revoked
and another tenant's API key get 401/404, never data. The per-role matrix (owner, admin,
issuer_staff, assessor, viewer, scoped keys) is not here yet (docs/reliability.md).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from fastapi.routing import iter_route_contexts
from reliability_support import ApiClient, platform_for, settings_for

from merito.api.app import create_app
from merito.services import accounts
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
