"""Helpers for the reliability tests: fresh databases, platforms, verifying every credential."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
from sqlalchemy import select

from merito import bootstrap
from merito.config import Settings
from merito.domain.ports import FetchResponse
from merito.errors import FetchError
from merito.net.mailer import MemoryMailer
from merito.services import ledger, platform_verification, status_lists
from merito.services.platform import Platform
from merito.storage.tables import CredentialRow
from merito.verification import VerifyOptions

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
MASTER_KEY = bytes(range(100, 132))
PASSPHRASE = "correct horse battery staple"


def settings_for(url: str, data_dir: Path, *, master_key: bytes | None = MASTER_KEY) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        master_key=master_key.hex() if master_key is not None else None,
        base_url="https://merito.test",
    )


#: every platform the helpers built; conftest.py disposes their engines after each test
OPENED: list[Platform] = []


def platform_for(url: str, data_dir: Path, **kwargs: Any) -> Platform:
    platform = bootstrap.platform(settings_for(url, data_dir), mailer_=MemoryMailer(), **kwargs)
    OPENED.append(platform)
    return platform


def close_all() -> None:
    """Dispose of the engines of every platform built so far (their pooled connections)."""
    while OPENED:
        OPENED.pop().sessions.kw["bind"].dispose()


@contextmanager
def fresh_postgres(base_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``base_url``; dropped afterwards."""
    name = f"{base_url.rsplit('/', 1)[1]}_r{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class StatusFetcher:
    """Serves the platform's status lists as its /status/{id} route does; nothing else."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        prefix = self.platform.url("/status/")
        if not url.startswith(prefix):
            raise FetchError(f"nothing is served at {url}")
        document = status_lists.published(self.platform, url.removeprefix(prefix)).document
        body = json.dumps(document).encode()
        return FetchResponse(status=200, body=body, content_type="application/vc+ld+json", url=url)


@dataclass(frozen=True)
class Verdicts:
    """credential id -> verified?; and the log's newest head."""

    verified: dict[str, bool]
    head: tuple[int, bytes, bytes]


def verdicts(platform: Platform, settings: Settings) -> Verdicts:
    """Verify every stored credential as the platform would (status lists and the log's
    anchoring receipt included)."""
    base = VerifyOptions(
        fetcher=StatusFetcher(platform),
        clock=platform.clock,
        anchor_checker=bootstrap.log_anchor_checker(settings),
    )
    with platform.reading() as session:
        rows = session.execute(select(CredentialRow.id, CredentialRow.document, CredentialRow.jwt))
        stored = [(r.id, r.jwt or json.dumps(r.document)) for r in rows]
    results = {
        row_id: platform_verification.verify_as_platform(platform, text, base).verified
        for row_id, text in stored
    }
    sth = ledger.latest_head(platform)
    return Verdicts(results, (sth.tree_size, sth.root_hash, sth.signature))


class ApiClient:
    """The app in-process through httpx's ASGI transport, called synchronously."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://merito.test") as c:
                response = await c.request(method, url, **kwargs)
                await response.aread()
                return response

        return anyio.run(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)
