"""Ports: the Protocols through which the pure core reaches the outside world.

Every side effect is a parameter. The core never opens a socket, reads a clock or a
random source of its own; adapters (storage, anchors, bootstrap) implement these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock; the only place the core's default reads time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one instant: for tests and reproducible vectors."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


@dataclass(frozen=True)
class RemoteDocument:
    """What a JSON-LD document loader returns (JSON-LD 1.1 API §9.4.3)."""

    document_url: str
    document: Any
    context_url: str | None = None


@runtime_checkable
class DocumentLoader(Protocol):
    """Resolves a JSON-LD context URL; raises DocumentLoaderError for anything unknown."""

    def __call__(self, url: str) -> RemoteDocument: ...


@dataclass(frozen=True)
class FetchResponse:
    status: int
    body: bytes
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""


@runtime_checkable
class Fetcher(Protocol):
    """Fetches a URL (status lists, did:web documents, hosted badges).

    Implementations guard against SSRF and bound size, time and redirects; they raise
    ``merito.errors.FetchError`` with a clear message on any refusal or failure.
    """

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse: ...
