"""An append-only transparency log over an injected store, and the monitor's checks (pure).

``TransparencyLog`` appends entries (leaf inputs, e.g. a credential's 32-byte digest), seals
the pending ones into a Signed Tree Head and answers Certificate Transparency's questions:
entries by range, inclusion proof by leaf hash, consistency proof between two sizes. It keeps
no state of its own: everything lives in a :class:`LogStore` (database tables in the platform,
:class:`MemoryLogStore` in tests), and time is a parameter.

Sealing hashes only the pending entries: the store keeps the compact range (RFC 9162 peaks)
of the latest head, so a batch of ``b`` entries costs ``~2b`` hashes whatever the log's size.

The monitor side (``check_consistency``, ``check_entries``) is what ``merito log monitor``
runs against a log it does not trust: a rewrite of history (an entry changed, dropped,
inserted or reordered, a fork, a shrinking tree, a forged head) is reported as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, Protocol, runtime_checkable

from merito.errors import Conflict, InvalidInput, NotFound
from merito.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    leaf_hash,
    root_of,
    verify_consistency,
)
from merito.ledger.sth import SignedTreeHead, sign_tree_head, timestamp_ms, verify_tree_head
from merito.proofs.keys import PrivateKey, PublicKey, Signer

__all__ = [
    "MAX_ENTRIES_PER_REQUEST",
    "InclusionProof",
    "LogStore",
    "MemoryLogStore",
    "MonitorProblem",
    "MonitorResult",
    "TransparencyLog",
    "check_consistency",
    "check_entries",
]

#: most entries one ``entries`` call returns (RFC 6962 §4.6 lets a log cap get-entries)
MAX_ENTRIES_PER_REQUEST: Final = 1000


@runtime_checkable
class LogStore(Protocol):
    """Where a log's entries and heads live. Indexes are 0-based and never reused.

    ``append`` must be atomic; ``put_head`` must store the head and its compact range
    together, and only ever with a larger ``tree_size`` than the latest (the platform's
    implementation does both in one transaction).
    """

    def entry_count(self) -> int:
        """How many entries were appended (sealed or pending)."""
        ...

    def append(self, entries: Sequence[bytes]) -> int:
        """Store ``entries`` after the last one; return the index of the first."""
        ...

    def entries(self, start: int, end: int) -> Sequence[bytes]:
        """The entries with index in ``[start, end)`` (``end <= entry_count()``)."""
        ...

    def index_of(self, leaf_hash: bytes) -> int | None:
        """The smallest index whose entry has this RFC 9162 leaf hash, or None."""
        ...

    def latest_head(self) -> tuple[SignedTreeHead, CompactRange] | None:
        """The newest head and the compact range of its tree, or None before the first seal."""
        ...

    def put_head(self, head: SignedTreeHead, compact: CompactRange) -> None:
        """Record a newly sealed head (its ``tree_size`` is larger than the latest's)."""
        ...


class MemoryLogStore:
    """A LogStore in a list: for tests, benchmarks and the reference behaviour."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []
        self.heads: list[tuple[SignedTreeHead, CompactRange]] = []
        self._index: dict[bytes, int] = {}

    def entry_count(self) -> int:
        return len(self.stored)

    def append(self, entries: Sequence[bytes]) -> int:
        first = len(self.stored)
        for offset, entry in enumerate(entries):
            self._index.setdefault(leaf_hash(entry), first + offset)
        self.stored.extend(entries)
        return first

    def entries(self, start: int, end: int) -> Sequence[bytes]:
        return self.stored[start:end]

    def index_of(self, leaf_hash: bytes) -> int | None:
        return self._index.get(leaf_hash)

    def latest_head(self) -> tuple[SignedTreeHead, CompactRange] | None:
        return self.heads[-1] if self.heads else None

    def put_head(self, head: SignedTreeHead, compact: CompactRange) -> None:
        latest = self.latest_head()
        if latest is not None and head.tree_size <= latest[0].tree_size:
            raise Conflict("a new head must grow the tree", property="tree_size")
        self.heads.append((head, compact))


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionProof:
    """Where a leaf sits in a tree of ``tree_size`` leaves, and the path that proves it."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: tuple[bytes, ...]


class TransparencyLog:
    """An RFC 9162-style log: append, seal, prove. ``key`` is needed only to seal."""

    def __init__(
        self, store: LogStore, *, log_id: str, key: PrivateKey | Signer | None = None
    ) -> None:
        self._store = store
        self.log_id = log_id
        self._key = key
        self._tree_cache: MerkleTree | None = None

    @property
    def store(self) -> LogStore:
        return self._store

    def append(self, entries: Iterable[bytes]) -> range:
        """Append ``entries`` (each non-empty bytes); return their indexes."""
        batch = list(entries)
        for i, entry in enumerate(batch):
            if not isinstance(entry, bytes | bytearray) or not entry:
                raise InvalidInput(f"entries[{i}] must be non-empty bytes", property="entries")
        first = self._store.append([bytes(e) for e in batch])
        return range(first, first + len(batch))

    def latest_head(self) -> SignedTreeHead | None:
        latest = self._store.latest_head()
        return None if latest is None else latest[0]

    def pending(self) -> int:
        """How many appended entries no head covers yet."""
        latest = self._store.latest_head()
        sealed = 0 if latest is None else latest[0].tree_size
        return self._store.entry_count() - sealed

    def seal(self, *, now: datetime, limit: int | None = None) -> SignedTreeHead:
        """Sign a head covering the pending entries (at most ``limit`` of them).

        With nothing pending the latest head is returned unchanged (a first seal of an
        empty log signs the empty tree). Only the pending entries are hashed.
        """
        if self._key is None:
            raise InvalidInput(
                "this log was opened without its key: it cannot seal", property="log_key"
            )
        latest = self._store.latest_head()
        compact = CompactRange() if latest is None else latest[1]
        end = self._store.entry_count()
        if limit is not None:
            if limit < 1:
                raise InvalidInput("limit must be at least 1", property="limit")
            end = min(end, compact.size + limit)
        if latest is not None and end == compact.size:
            return latest[0]
        batch = self._store.entries(compact.size, end)
        grown = compact.extend(leaf_hash(e) for e in batch)
        head = sign_tree_head(
            log_id=self.log_id,
            tree_size=grown.size,
            timestamp=timestamp_ms(now),
            root_hash=grown.root,
            key=self._key,
        )
        self._store.put_head(head, grown)
        return head

    def _sealed_size(self, tree_size: int | None) -> int:
        latest = self.latest_head()
        sealed = 0 if latest is None else latest.tree_size
        if tree_size is None:
            return sealed
        if not 0 <= tree_size <= sealed:
            raise InvalidInput(
                f"tree_size {tree_size} is not a sealed size of this log (0..{sealed})",
                property="tree_size",
            )
        return tree_size

    def _tree(self, size: int) -> MerkleTree:
        """A tree over at least the first ``size`` entries, extended from the cached one.

        Entries are read once per log object, so proofs cost O(log n) hashes after the
        first; a fresh object (a monitor, a restarted worker) re-reads the store.
        """
        tree = self._tree_cache
        if tree is None:
            tree = self._tree_cache = MerkleTree([])
        if tree.size < size:
            tree.extend([leaf_hash(e) for e in self._store.entries(tree.size, size)])
        return tree

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end]`` inclusive, as RFC 6962 §4.6 ``get-entries`` (capped)."""
        count = self._store.entry_count()
        if start < 0 or end < start:
            raise InvalidInput("need 0 <= start <= end", property="start")
        if start >= count:
            raise NotFound(f"no entry at index {start} (the log has {count})", property="start")
        stop = min(end + 1, count, start + MAX_ENTRIES_PER_REQUEST)
        return list(self._store.entries(start, stop))

    def inclusion_proof(self, leaf_hash: bytes, tree_size: int | None = None) -> InclusionProof:
        """RFC 6962 §4.5 ``get-proof-by-hash``: the proof for ``leaf_hash`` in a sealed tree."""
        if len(leaf_hash) != HASH_SIZE:
            raise InvalidInput(f"leaf_hash must be {HASH_SIZE} bytes", property="leaf_hash")
        size = self._sealed_size(tree_size)
        index = self._store.index_of(leaf_hash)
        if index is None or index >= size:
            raise NotFound(
                f"no entry with this leaf hash in the tree of size {size}", property="leaf_hash"
            )
        path = self._tree(size).inclusion_proof(index, size)
        return InclusionProof(
            leaf_index=index, tree_size=size, leaf_hash=leaf_hash, audit_path=tuple(path)
        )

    def consistency_proof(self, first_size: int, second_size: int | None = None) -> list[bytes]:
        """RFC 6962 §4.4 ``get-sth-consistency`` between two sealed sizes."""
        second = self._sealed_size(second_size)
        if not 0 <= first_size <= second:
            raise InvalidInput(
                f"first_size {first_size} must be between 0 and {second}", property="first_size"
            )
        return self._tree(second).consistency_proof(first_size, second)


MonitorProblem = Literal[
    "bad-signature",  # a head not signed by the log key
    "wrong-log",  # a head of another log
    "shrunk",  # the tree got smaller: entries were dropped
    "fork",  # same size, different root: history was rewritten
    "inconsistent",  # the consistency proof does not link the two heads
    "entries-mismatch",  # the entries served do not hash to the head's root
]


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """A monitor's verdict: ``ok``, or the problem found and a sentence for a human."""

    ok: bool
    problem: MonitorProblem | None = None
    detail: str = field(default="")

    @classmethod
    def fine(cls, detail: str) -> MonitorResult:
        return cls(True, None, detail)


def _check_head(head: SignedTreeHead, public_key: PublicKey, log_id: str, which: str) -> str:
    if head.log_id != log_id:
        return f"the {which} head belongs to log {head.log_id!r}, not {log_id!r}"
    if not verify_tree_head(head, public_key):
        return f"the {which} head (size {head.tree_size}) is not signed by the log key"
    return ""


def check_consistency(
    *,
    previous: SignedTreeHead,
    current: SignedTreeHead,
    proof: Sequence[bytes],
    public_key: PublicKey,
) -> MonitorResult:
    """Does ``current`` extend ``previous`` without rewriting it? (RFC 9162 §8.2 monitor)."""
    log_id = previous.log_id
    for head, which in ((previous, "previous"), (current, "current")):
        problem = _check_head(head, public_key, log_id, which)
        if problem:
            kind: MonitorProblem = "wrong-log" if head.log_id != log_id else "bad-signature"
            return MonitorResult(False, kind, problem)
    if current.tree_size < previous.tree_size:
        return MonitorResult(
            False,
            "shrunk",
            f"the tree shrank from {previous.tree_size} to {current.tree_size} entries",
        )
    if current.tree_size == previous.tree_size and current.root_hash != previous.root_hash:
        return MonitorResult(
            False,
            "fork",
            f"two different roots signed for the same size {current.tree_size}: "
            f"{previous.root_hash.hex()} and {current.root_hash.hex()}",
        )
    if not verify_consistency(
        first_size=previous.tree_size,
        second_size=current.tree_size,
        first_root=previous.root_hash,
        second_root=current.root_hash,
        proof=proof,
    ):
        return MonitorResult(
            False,
            "inconsistent",
            f"the tree of size {current.tree_size} does not extend the tree of size "
            f"{previous.tree_size}: history before entry {previous.tree_size} was rewritten",
        )
    return MonitorResult.fine(
        f"size {previous.tree_size} -> {current.tree_size}: consistent, append-only"
    )


def check_entries(
    *, head: SignedTreeHead, entries: Sequence[bytes], public_key: PublicKey
) -> MonitorResult:
    """Do the ``entries`` a log serves for ``[0, head.tree_size)`` hash to its signed root?"""
    problem = _check_head(head, public_key, head.log_id, "given")
    if problem:
        return MonitorResult(False, "bad-signature", problem)
    if len(entries) != head.tree_size:
        return MonitorResult(
            False,
            "entries-mismatch",
            f"the log served {len(entries)} entries for a head of size {head.tree_size}",
        )
    root = root_of(entries)
    if root != head.root_hash:
        return MonitorResult(
            False,
            "entries-mismatch",
            f"the entries hash to {root.hex()}, the head signed {head.root_hash.hex()}: "
            "an entry was changed, dropped, inserted or reordered",
        )
    return MonitorResult.fine(f"{head.tree_size} entries match the signed root")
