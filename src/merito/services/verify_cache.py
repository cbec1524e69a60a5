"""In-process caches that make public verification cheap without making it stale.

Three things a verification of one of this platform's credentials used to redo on every
request, and what is kept of them here (each per process, bounded, thread-safe):

- ``ProofResultCache``: outcomes of signature checks (RDF canonicalization dominates them),
  injected into the core as ``data_integrity.ProofCache``. Its key is a digest of the parsed
  document, the proof and the *resolved* key, so a tampered document or a rotated key is a
  miss. Status, validity, issuer and trust checks are not cached: they run on every request.
- ``status_list_body``: the stored signed status list as bytes, checked against the list's
  version (one small read) on every use, so a revocation shows on the next request.
- ``hosted_did_document``: the DID document of an issuer this platform hosts, checked against
  the ids of the organisation's keys (one small read) on every use, so a new key shows at once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from merito.proofs.data_integrity import SignatureCheck
from merito.services import issuers, status_lists
from merito.services.platform import Platform, database_errors
from merito.storage.tables import IssuerKeyRow, OrganisationRow, StatusListRow

__all__ = [
    "LruCache",
    "ProofResultCache",
    "PublishedBody",
    "cached_status_list_body",
    "hosted_did_document",
    "shared_proof_cache",
    "status_list_body",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: status lists and hosted DID documents kept per process (a few hundred bytes to a few KB each)
_DOCUMENT_ENTRIES: Final = 1024


class LruCache(Generic[K, V]):
    """At most ``entries`` values, the least recently used dropped first; thread-safe (the API
    verifies in a thread pool)."""

    def __init__(self, entries: int) -> None:
        if entries < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.entries = entries
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


class ProofResultCache(LruCache[bytes, SignatureCheck]):
    """Signature-check outcomes by ``data_integrity`` cache key (a ``ProofCache``)."""


_shared_lock = threading.Lock()
_shared: ProofResultCache | None = None


def shared_proof_cache(entries: int) -> ProofResultCache | None:
    """This process's proof cache of ``entries`` (``Settings.verify_cache_entries``; 0: None,
    no caching). One per process, so every verifier built from the settings shares it."""
    global _shared  # one per process, built on first use
    if entries <= 0:
        return None
    with _shared_lock:
        if _shared is None or _shared.entries != entries:
            _shared = ProofResultCache(entries)
        return _shared


# --- status lists ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedBody:
    """A signed status list as served: its version (the ETag) and its JSON bytes."""

    list_id: str
    version: int
    body: bytes

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def document(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


#: built once and run on a Core connection (not the ORM): building and
#: ORM-processing a statement costs more than SQLite running it
_LIST_VERSION: Final = select(StatusListRow.version, StatusListRow.signed_version).where(
    StatusListRow.id == bindparam("list_id")
)
_status_bodies: LruCache[tuple[str, str], PublishedBody] = LruCache(_DOCUMENT_ENTRIES)


@contextmanager
def reads(platform: Platform) -> Iterator[Connection]:
    """One pooled connection, in autocommit, for all of one verification's few reads: on
    PostgreSQL a checkout is a ping, and a transaction a BEGIN and a ROLLBACK, around each
    query. The reads are independent (each answer is consistent on its own)."""
    engine: Engine = platform.sessions.kw["bind"]
    with database_errors(), engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def _reading(platform: Platform, connection: Connection | None) -> Iterator[Connection]:
    if connection is not None:
        with database_errors():
            yield connection
        return
    with reads(platform) as fresh:
        yield fresh


def cached_status_list_body(
    platform: Platform, list_id: str, *, connection: Connection | None = None
) -> PublishedBody | None:
    """The signed status list ``list_id`` from this process's cache when its version is still
    the stored one (one read of two integers), else None (``status_list_body`` gets it)."""
    with _reading(platform, connection) as reading:
        row = reading.execute(_LIST_VERSION, {"list_id": list_id}).one_or_none()
    if row is None or row.signed_version != row.version:
        return None
    cached = _status_bodies.get((platform.base_url, list_id))
    return cached if cached is not None and cached.version == row.version else None


def status_list_body(
    platform: Platform, list_id: str, *, connection: Connection | None = None
) -> PublishedBody:
    """The signed status list ``list_id`` as bytes: ``cached_status_list_body``, else
    ``status_lists.published`` (which signs a changed list), cached. NotFound for an unknown
    list."""
    cached = cached_status_list_body(platform, list_id, connection=connection)
    if cached is not None:
        return cached
    key = (platform.base_url, list_id)
    published = status_lists.published(platform, list_id)  # NotFound when there is none
    body = PublishedBody(
        list_id, published.version, json.dumps(published.document, ensure_ascii=False).encode()
    )
    _status_bodies.put(key, body)
    return body


# --- hosted DID documents --------------------------------------------------------------------

_ORG_KEYS: Final = (
    select(OrganisationRow.id, IssuerKeyRow.id)
    .outerjoin(IssuerKeyRow, IssuerKeyRow.org_id == OrganisationRow.id)
    .where(OrganisationRow.slug == bindparam("slug"))
)
_did_documents: LruCache[tuple[str, str], tuple[tuple[str, ...], dict[str, Any]]] = LruCache(
    _DOCUMENT_ENTRIES
)


def hosted_did_document(
    platform: Platform, slug: str, *, connection: Connection | None = None
) -> dict[str, Any]:
    """``issuers.public_did_document(platform, slug)``, kept while the organisation's keys are
    the same ones (keys are added on rotation and never change or go away; retired ones stay in
    the document). NotFound for an unknown organisation. Callers must not change the result."""
    with _reading(platform, connection) as reading:
        rows = reading.execute(_ORG_KEYS, {"slug": slug}).all()
    key = (platform.base_url, slug)
    if rows:
        fingerprint = (rows[0][0], *sorted(str(r[1]) for r in rows))
        cached = _did_documents.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    document = issuers.public_did_document(platform, slug)  # NotFound when there is none
    if rows:
        _did_documents.put(key, (fingerprint, document))
    return document
