"""Helpers for the accounts API tests: the app over a real database, users and their sessions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.config import Settings
from merito.services.platform import Platform

PASSWORD = "correct horse battery"
#: small argon2id parameters: the production default costs about a second on a shared machine
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class MovableClock:
    def __init__(self) -> None:
        self.instant = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant

    def advance(self, **delta: float) -> None:
        self.instant += timedelta(**delta)


@dataclass(frozen=True)
class Session:
    """A logged-in browser: its cookie and CSRF token."""

    token: str
    csrf: str

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        headers = {"Cookie": f"merito_session={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers


@dataclass
class World:
    platform: Platform
    clock: MovableClock
    client: ApiClient

    def call(
        self,
        method: str,
        url: str,
        *,
        auth: Session | str | None = None,
        csrf: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if isinstance(auth, Session):
            headers.update(auth.headers(csrf=csrf))
        elif isinstance(auth, str):
            headers["Authorization"] = f"Bearer {auth}"
        return self.client.request(method, url, headers=headers, **kwargs)

    def register(self, email: str) -> str:
        response = self.call(
            "POST", "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        user_id: str = response.json()["id"]
        return user_id

    def login(self, email: str, *, ip: str | None = None) -> Session:
        response = self.call(
            "POST", "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return Session(token=response.cookies["merito_session"], csrf=response.json()["csrf_token"])

    def create_org(self, session: Session, slug: str) -> str:
        response = self.call(
            "POST", "/api/v1/orgs", auth=session, json={"slug": slug, "name": slug.title()}
        )
        assert response.status_code == 201, response.text
        org_id: str = response.json()["id"]
        return org_id

    def api_key(self, session: Session, org_id: str, scopes: list[str]) -> str:
        response = self.call(
            "POST",
            f"/api/v1/orgs/{org_id}/api-keys",
            auth=session,
            json={"name": "test key", "scopes": scopes},
        )
        assert response.status_code == 201, response.text
        secret: str = response.json()["secret"]
        return secret


@contextmanager
def accounts_world(database_url: str, tmp_path: Path) -> Iterator[World]:
    clock = MovableClock()
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="55" * 32,
        base_url="https://merito.test",
    )
    platform = bootstrap.platform(settings, clock=clock)
    platform = dataclasses.replace(
        platform, extras={**platform.extras, "password_hasher": FAST_HASHER}
    )
    try:
        yield World(
            platform=platform,
            clock=clock,
            client=ApiClient(create_app(settings=settings, platform=platform)),
        )
    finally:
        platform.sessions.kw["bind"].dispose()
