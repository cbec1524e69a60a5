"""Status lists: allocate credentials' positions, flip their bits, publish the signed lists.

W3C Bitstring Status List v1.0. Each organisation has lists per purpose (``revocation``,
``suspension``) of ``Platform.status_list_size`` entries; a full list is followed by a new one.
A list is published at a stable URL, ``{base_url}/status/{list_id}``, as a
BitstringStatusListCredential signed by the issuer (eddsa-rdfc-2022). It is re-signed only when
its ``version`` changed; the signed document is kept per version in the row.

Positions are handed out in a scrambled order (an affine permutation of 0..size-1 keyed by the
list id), so neighbouring indexes do not tell a verifier which credentials were issued together
(§6.1 herd privacy). Allocation and bit flips are conditional UPDATEs (optimistic versions, and
a row lock on PostgreSQL), safe under concurrent writers on both databases.
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from merito.errors import Conflict, InvalidInput, NotFound
from merito.formats import status_list
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.services import issuers
from merito.services.platform import Platform, new_id
from merito.storage.tables import StatusListRow

__all__ = [
    "CACHE_SECONDS",
    "PURPOSES",
    "PublishedStatusList",
    "StatusSlot",
    "allocate",
    "list_url",
    "published",
    "put_back",
    "set_status",
    "status_of",
    "take_reserved",
]

PURPOSES: Final = ("revocation", "suspension")
#: how long a fetched list may be reused (Cache-Control max-age, and the list's ``ttl``)
CACHE_SECONDS: Final = 300
_MAX_ATTEMPTS: Final = 8
#: positions a process reserves at once for one-at-a-time issuance (see ``take_reserved``)
RESERVE_BLOCK: Final = 32

#: (platform, org_id) -> the issuer's Ed25519 signer; the issuers service by default
SignerLookup = Callable[[Platform, str], Signer]


@dataclass(frozen=True, slots=True)
class StatusSlot:
    """One allocated position: the credential's BitstringStatusListEntry is made from it."""

    list_id: str
    url: str
    index: int
    purpose: str

    def entry(self) -> dict[str, Any]:
        return status_list.bitstring_status_list_entry(
            status_list_credential=self.url, index=self.index, status_purpose=self.purpose
        )


@dataclass(frozen=True, slots=True)
class PublishedStatusList:
    """A signed status list credential, with the version it shows (the HTTP ETag)."""

    list_id: str
    version: int
    document: dict[str, Any]

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def list_url(platform: Platform, list_id: str) -> str:
    return platform.url(f"/status/{list_id}")


@lru_cache(maxsize=256)
def _permutation(list_id: str, size: int) -> tuple[int, int]:
    """(a, b) of the bijection n -> (a*n + b) mod size: a is coprime with size."""
    digest = hashlib.sha256(list_id.encode()).digest()
    a = int.from_bytes(digest[:8], "big") % size or 1
    while math.gcd(a, size) != 1:
        a = a % (size - 1) + 1 if size > 1 else 1
    b = int.from_bytes(digest[8:16], "big") % size
    return a, b


def position(list_id: str, size: int, n: int) -> int:
    """The index of the ``n``-th credential put on a list (a permutation of 0..size-1)."""
    a, b = _permutation(list_id, size)
    return (a * n + b) % size


def _new_list(session: Session, platform: Platform, *, org_id: str, purpose: str) -> StatusListRow:
    size = platform.status_list_size
    list_id = new_id()
    row = StatusListRow(
        id=list_id,
        org_id=org_id,
        purpose=purpose,
        url=list_url(platform, list_id),
        bitstring=bytes((size + 7) // 8),
        size=size,
        next_index=0,
        version=1,
    )
    session.add(row)
    session.flush()
    return row


def allocate(
    session: Session,
    platform: Platform,
    *,
    org_id: str,
    purpose: str = "revocation",
    count: int = 1,
) -> list[StatusSlot]:
    """``count`` fresh positions on the organisation's current ``purpose`` list(s), in the
    caller's transaction (a rollback gives them back). A full list is followed by a new one."""
    if purpose not in PURPOSES:
        raise InvalidInput(
            f"status purpose {purpose!r} is not one of {', '.join(PURPOSES)}",
            property="status_purpose",
        )
    slots: list[StatusSlot] = []
    remaining = count
    attempts = 0
    while remaining > 0:
        row = session.scalars(
            select(StatusListRow)
            .where(
                StatusListRow.org_id == org_id,
                StatusListRow.purpose == purpose,
                StatusListRow.next_index < StatusListRow.size,
            )
            .order_by(StatusListRow.created_at, StatusListRow.id)
            .limit(1)
            # FOR NO KEY UPDATE (PostgreSQL): only next_index changes, so this must not wait
            # for the KEY SHARE locks that credential inserts' foreign keys hold on the list
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            row = _new_list(session, platform, org_id=org_id, purpose=purpose)
        start = row.next_index
        take = min(remaining, row.size - start)
        # optimistic: another writer may have taken these positions since we read the row
        claimed = session.execute(
            update(StatusListRow)
            .where(StatusListRow.id == row.id, StatusListRow.next_index == start)
            .values(next_index=start + take)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            attempts += 1
            if attempts >= _MAX_ATTEMPTS:
                raise Conflict("the status list is busy; retry the request", property="status_list")
            continue
        slots.extend(
            StatusSlot(row.id, row.url, position(row.id, row.size, n), purpose)
            for n in range(start, start + take)
        )
        remaining -= take
    return slots


#: per process, per database (its sessionmaker): (org_id, purpose) -> reserved positions
_RESERVED: Final[weakref.WeakKeyDictionary[object, dict[tuple[str, str], deque[StatusSlot]]]] = (
    weakref.WeakKeyDictionary()
)
_reserved_lock = threading.Lock()


def take_reserved(
    platform: Platform, *, org_id: str, purpose: str, reserve: Callable[[int], list[StatusSlot]]
) -> StatusSlot:
    """One position for a credential issued on its own, from this process's reserve.

    Allocating in the issuing transaction would hold the list's row lock until that commit,
    which serialises every issuance of an organisation across all workers. So positions are
    claimed ``RESERVE_BLOCK`` at a time by ``reserve(count)``, which must commit them in a
    transaction of its own *before* the caller opens its own (a second connection held while
    one is open could exhaust the pool). A position reserved but never used (the process
    stopped) stays 0 on its list forever and is pointed at by no credential: harmless.
    """
    key = (org_id, purpose)
    with _reserved_lock:
        pool = _RESERVED.get(platform.sessions, {}).get(key)
        if pool:
            return pool.popleft()
    slots = reserve(RESERVE_BLOCK)
    put_back(platform, org_id=org_id, slots=slots[1:])
    return slots[0]


def put_back(platform: Platform, *, org_id: str, slots: Iterable[StatusSlot]) -> None:
    """Returns unused reserved positions (an issuance that failed) to this process's reserve."""
    with _reserved_lock:
        pools = _RESERVED.setdefault(platform.sessions, {})
        for slot in reversed(list(slots)):  # to the front: a returned position is next
            pools.setdefault((org_id, slot.purpose), deque()).appendleft(slot)


def set_status(session: Session, *, list_id: str, index: int, value: int) -> int:
    """Writes ``value`` at ``index`` of the list, bumping its version when the bit changes;
    returns the list's version. In the caller's transaction."""
    for _ in range(_MAX_ATTEMPTS):
        row = session.scalars(
            select(StatusListRow)
            .where(StatusListRow.id == list_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            raise NotFound(f"status list {list_id!r} not found", property="status_list")
        bits = bytearray(row.bitstring)
        status_list.set_status(bits, index, value)
        if bytes(bits) == row.bitstring:
            return row.version
        changed = session.execute(
            update(StatusListRow)
            .where(StatusListRow.id == list_id, StatusListRow.version == row.version)
            .values(bitstring=bytes(bits), version=row.version + 1)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            return row.version + 1
    raise Conflict("the status list is busy; retry the request", property="status_list")


def status_of(session: Session, *, list_id: str, index: int) -> int:
    """The bit at ``index`` of a stored list (what a verifier fetching it would read)."""
    row = session.get(StatusListRow, list_id)
    if row is None:
        raise NotFound(f"status list {list_id!r} not found", property="status_list")
    return status_list.status_at(row.bitstring, index)


def _default_signer(platform: Platform, org_id: str) -> Signer:
    return issuers.signer_for(platform, org_id)  # the issuers service owns keys and DIDs


def published(
    platform: Platform, list_id: str, *, signer_for: SignerLookup | None = None
) -> PublishedStatusList:
    """The signed BitstringStatusListCredential of a list, signed again only if it changed.

    Public: anyone may fetch a status list. Storing the signature is a cache fill, not a
    change of the list, so it is not audited.
    """
    with platform.reading() as session:
        row = session.get(StatusListRow, list_id)
        if row is None:
            raise NotFound(f"there is no status list {list_id!r}", property="list_id")
        if row.signed_version == row.version and row.signed_document is not None:
            return PublishedStatusList(row.id, row.version, row.signed_document)
        org_id, version, bits, purpose, url = (
            row.org_id,
            row.version,
            bytes(row.bitstring),
            row.purpose,
            row.url,
        )
    signer = (signer_for or _default_signer)(platform, org_id)
    document = _sign_list(
        signer, url=url, bits=bits, purpose=purpose, now=platform.clock.now().replace(microsecond=0)
    )
    with platform.transaction() as session:
        # only if nobody changed the list meanwhile (then the next fetch signs the new version)
        session.execute(
            update(StatusListRow)
            .where(StatusListRow.id == list_id, StatusListRow.version == version)
            .values(signed_document=document, signed_version=version)
            .execution_options(synchronize_session=False)
        )
    return PublishedStatusList(list_id, version, document)


def _sign_list(
    signer: Signer, *, url: str, bits: bytes, purpose: str, now: datetime
) -> dict[str, Any]:
    unsigned = status_list.bitstring_status_list_credential(
        id=url,
        issuer=signer.controller,
        encoded_list=status_list.encode_status_list(bits),
        status_purpose=purpose,
        # no validFrom: a verifier whose clock is a second behind ours would refuse a list
        # signed just now; the proof's ``created`` says when it was signed
        ttl=CACHE_SECONDS * 1000,  # §2.2: milliseconds
    )
    return data_integrity.sign(unsigned, signer=signer, cryptosuite="eddsa-rdfc-2022", created=now)
