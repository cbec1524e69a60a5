"""The in-memory candidate index: discoverable learners' verified-skill levels, kept per process.

Rebuilding every learner's profile from their credentials is most of a ranking's cost (the
Python work per credential, not the reads). This index keeps, per database and per learner,
the skill levels last built, with the *state key* they were built from: what the learner's
evidence depends on, read cheaply on every ranking (the learner's email, each credential row's
id and whether it is active now, each wallet item's id, link, verdict and expiry). A ranking
reuses an entry only when the key read now, in the ranking's own transaction, equals the
stored one, and the entry is younger than ``MAX_AGE`` (levels decay with recency).

So correctness never depends on the cache: a credential revoked, suspended or expired by
another process (or written straight into the database) changes the key, and the learner is
rebuilt in that same request. Events only keep the memory tidy: ``hiring.on_event`` drops the
entries of the learners a credential event concerns, and a discoverability change drops the
learner (an organisation's process keeps nothing of someone who withdrew). Everything else is
rebuilt lazily, on a miss.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = ["MAX_AGE", "CandidateCache", "Entry", "cache_for", "clear"]

#: the oldest levels reused: recency halves a credential's weight in five years, so levels
#: built ten minutes ago differ from fresh ones by under 3e-6 (explanations are always fresh)
MAX_AGE: Final = timedelta(minutes=10)
_MAX_DATABASES: Final = 16


@dataclass(frozen=True, slots=True)
class Entry:
    key: Hashable
    levels: Mapping[str, float]
    built_at: datetime


class CandidateCache:
    """Learner -> (state key, skill levels, when built), for one database. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        #: a wallet item's expiry (its stored document never changes): read once
        self._item_expiry: dict[str, datetime | None] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self, keys: Mapping[str, Hashable], now: datetime
    ) -> tuple[dict[str, Mapping[str, float]], list[str]]:
        """The levels of the learners whose entry is current, and those to rebuild."""
        found: dict[str, Mapping[str, float]] = {}
        stale: list[str] = []
        with self._lock:
            for user_id, key in keys.items():
                entry = self._entries.get(user_id)
                if (
                    entry is not None
                    and entry.key == key
                    and entry.built_at <= now < entry.built_at + MAX_AGE
                ):
                    found[user_id] = entry.levels
                else:
                    stale.append(user_id)
            self.hits += len(found)
            self.misses += len(stale)
        return found, stale

    def store(self, entries: Mapping[str, Entry]) -> None:
        with self._lock:
            self._entries.update(entries)

    def invalidate(self, user_ids: Iterable[str]) -> None:
        with self._lock:
            for user_id in user_ids:
                self._entries.pop(user_id, None)

    def item_expiries(
        self, item_ids: Sequence[str]
    ) -> tuple[dict[str, datetime | None], list[str]]:
        """Known expiries of wallet items, and the ids not read yet."""
        with self._lock:
            known = {i: self._item_expiry[i] for i in item_ids if i in self._item_expiry}
        return known, [i for i in item_ids if i not in known]

    def remember_expiries(self, expiries: Mapping[str, datetime | None]) -> None:
        with self._lock:
            self._item_expiry.update(expiries)


_caches_lock = threading.Lock()
_caches: dict[str, CandidateCache] = {}


def cache_for(database: str) -> CandidateCache:
    """This process's cache of ``database`` (its engine URL)."""
    with _caches_lock:
        cache = _caches.get(database)
        if cache is None:
            while len(_caches) >= _MAX_DATABASES:  # oldest first: tests make many databases
                _caches.pop(next(iter(_caches)))
            cache = _caches[database] = CandidateCache()
        return cache


def clear() -> None:
    """Forgets every cache (tests; an operator after restoring a backup needs nothing: the
    state keys notice)."""
    with _caches_lock:
        _caches.clear()
