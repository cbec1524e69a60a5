"""Helpers for the service tests (importable: conftest modules are not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from merito.services.platform import Actor

MASTER_KEY = bytes(range(32))
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


class MovableClock:
    """A clock the test moves by hand."""

    def __init__(self, instant: datetime = START) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def advance(self, **delta: float) -> datetime:
        self.instant += timedelta(**delta)
        return self.instant


@dataclass(frozen=True)
class SeededOrg:
    org_id: str
    slug: str
    user_id: str
    actor: Actor
