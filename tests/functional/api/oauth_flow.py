"""Helpers for the OAuth / OB 3.0 API tests: the app over a real database, users logged in
through the accounts service, and the authorization code + PKCE flow driven through HTTP like
a client and a user would."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.api.auth import SESSION_COOKIE
from merito.config import Settings
from merito.services import accounts, oauth
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow

REDIRECT = "https://wallet.example.org/callback"
ALL_OB3 = " ".join(oauth.OB3_SCOPES)


class MovableClock:
    def __init__(self) -> None:
        self.instant = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.instant

    def advance(self, **delta: float) -> None:
        self.instant += timedelta(**delta)


PASSWORD = "correct horse battery staple"


@dataclass
class Harness:
    """The whole app over ``platform``, nothing stood in: users log in with the accounts
    service and their web session cookie is what the OAuth pages and the API see."""

    platform: Platform
    clock: MovableClock
    client: ApiClient
    logins: dict[str, accounts.LoginResult] = field(default_factory=dict)

    def _login(self, user_id: str) -> accounts.LoginResult:
        if user_id not in self.logins:
            user = accounts.get_user(self.platform, Actor(kind="user", id=user_id, user_id=user_id))
            self.logins[user_id] = accounts.login(
                self.platform, email=user.email, password=PASSWORD, ip="127.0.0.1"
            )
        return self.logins[user_id]

    def login(self, user_id: str) -> str:
        """The session cookie's value for ``user_id`` (one password login per user)."""
        return self._login(user_id).token

    def session_headers(self, user_id: str) -> dict[str, str]:
        """Cookie and CSRF header for the Merito API's mutating routes."""
        result = self._login(user_id)
        return {"cookie": f"{SESSION_COOKIE}={result.token}", "x-csrf-token": result.csrf_token}


def make_harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    clock = MovableClock()
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="22" * 32,
        base_url="https://merito.test",
    )
    platform = bootstrap.platform(settings, clock=clock)
    app = create_app(settings=settings, platform=platform)
    try:
        yield Harness(platform=platform, clock=clock, client=ApiClient(app))
    finally:
        platform.sessions.kw["bind"].dispose()


def seed_user(platform: Platform, *, role: str | None = None) -> tuple[str, str | None]:
    """A registered user (and, with ``role``, an organisation it belongs to with that role):
    (user_id, org_id)."""
    user = accounts.register(
        platform, email=f"{uuid.uuid4().hex[:12]}@example.org", password=PASSWORD, ip=None
    )
    org_id = str(uuid.uuid4()) if role else None
    if org_id is not None and role is not None:
        with platform.transaction() as session:
            session.add(OrganisationRow(id=org_id, slug=org_id[:8], name="Org", kind="issuer"))
            session.flush()
            session.add(MembershipRow(org_id=org_id, user_id=user.id, role=role))
    return user.id, org_id


def registration(**overrides: Any) -> dict[str, Any]:
    """The OB 3.0 §7.1.1.2 sample registration request, pointed at the test wallet."""
    body: dict[str, Any] = {
        "client_name": "Example Client Application",
        "client_uri": "https://wallet.example.org/",
        "logo_uri": "https://wallet.example.org/logo.png",
        "tos_uri": "https://wallet.example.org/terms",
        "policy_uri": "https://wallet.example.org/privacy",
        "software_id": "c88b6ed8-269e-448e-99be-7e2ff47167d1",
        "software_version": "v4.0.30319",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": f"{ALL_OB3} offline_access",
    }
    body.update(overrides)
    return body


def register(client: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/oauth/register", json=registration(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def basic(registered: dict[str, Any]) -> dict[str, str]:
    raw = f"{registered['client_id']}:{registered['client_secret']}".encode()
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def consent_token(page: httpx.Response) -> str:
    found = re.search(r'name="consent_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return html.unescape(found.group(1))


def authorize_params(
    registered: dict[str, Any], challenge: str, *, scope: str, state: str = "st-1"
) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": registered["client_id"],
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def get_code(
    harness: Harness, registered: dict[str, Any], cookie: str, *, scope: str = ALL_OB3
) -> tuple[str, str]:
    """Authorization request -> consent page -> Allow; returns (code, code_verifier)."""
    verifier, challenge = pkce()
    page = harness.client.get(
        "/oauth/authorize",
        params=authorize_params(registered, challenge, scope=scope),
        headers={"cookie": f"{SESSION_COOKIE}={cookie}"},
    )
    assert page.status_code == 200, page.text
    decided = harness.client.post(
        "/oauth/authorize/decision",
        data={"consent_token": consent_token(page), "decision": "approve"},
        headers={"cookie": f"{SESSION_COOKIE}={cookie}"},
    )
    assert decided.status_code == 303, decided.text
    location = decided.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert query["state"] == "st-1"
    return query["code"], verifier


def redeem(
    harness: Harness, registered: dict[str, Any], code: str, verifier: str
) -> httpx.Response:
    return harness.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers=basic(registered),
    )


def tokens_for(
    harness: Harness, user_id: str, *, scope: str = ALL_OB3
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered client and the token response for ``user_id`` with ``scope``."""
    registered = register(harness.client)
    code, verifier = get_code(harness, registered, harness.login(user_id), scope=scope)
    response = redeem(harness, registered, code, verifier)
    assert response.status_code == 200, response.text
    return registered, response.json()


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}"}
