"""RFC 9162 §2.1 Merkle Tree Hash, compact ranges, inclusion and consistency proofs (pure).

The tree is Certificate Transparency's: SHA-256, leaves hashed as ``SHA-256(0x00 || d)`` and
interior nodes as ``SHA-256(0x01 || left || right)`` (§2.1.1), so a leaf can never pass for a
node (second-preimage resistance). ``MTH(D[n])`` splits at ``k``, the largest power of two
smaller than ``n``; the same tree is obtained bottom-up by pairing the nodes of each level and
promoting an unpaired last node unchanged, which is how :class:`MerkleTree` stores its levels.

Generation works on leaf *hashes* (what a log stores); verification follows §2.1.3.2 and
§2.1.4.2 step by step and never raises: a malformed proof (wrong sizes, a hash that is not
32 bytes) simply does not verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from merito.errors import InvalidInput

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "inclusion_proofs_of_appended",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_of",
    "root_of_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
#: §2.1.1: the hash of an empty list is the hash of an empty string
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
# Copying a hasher that has already absorbed the one-byte prefix is cheaper than building a
# new one from ``prefix + data`` (measured in benchmarks/merkle.py).
_LEAF_PREFIXED: Final = hashlib.sha256(b"\x00")
_NODE_PREFIXED: Final = hashlib.sha256(b"\x01")


def leaf_hash(data: bytes) -> bytes:
    """``MTH({d}) = SHA-256(0x00 || d)`` (§2.1.1)."""
    h = _LEAF_PREFIXED.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)`` (§2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


def _leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    copy = _LEAF_PREFIXED.copy
    out: list[bytes] = []
    append = out.append
    for data in leaves:
        h = copy()
        h.update(data)
        append(h.digest())
    return out


def _next_level(level: list[bytes]) -> list[bytes]:
    """One level up: pair neighbours, promote an unpaired last node unchanged."""
    sha = _sha256
    pairs = iter(level)
    up = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
    if len(level) & 1:
        up.append(level[-1])
    return up


def _check_hash(value: bytes, prop: str) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidInput(f"{prop} must be a {HASH_SIZE}-byte SHA-256 hash", property=prop)


def root_of_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a tree whose leaf hashes are given (already ``0x00``-prefixed)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def root_of(leaves: Iterable[bytes]) -> bytes:
    """``MTH(D[n])`` of the leaf inputs ``leaves`` (§2.1.1)."""
    level = _leaf_hashes(leaves)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _largest_power_of_two_below(n: int) -> int:
    """``k``: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An in-memory tree over leaf hashes: every level kept, so proofs cost O(log n).

    ``levels[0]`` are the leaf hashes; ``levels[j][i]`` is the hash of the subtree of
    ``2**j`` leaves starting at ``i * 2**j`` when that subtree is complete (an unpaired last
    node is promoted, so the last entry of a level may stand for an incomplete subtree).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise InvalidInput(
                    f"leaf_hashes[{i}] must be a {HASH_SIZE}-byte hash", property="leaf_hashes"
                )
        level = list(leaf_hashes)
        levels = [level]
        while len(level) > 1:
            level = _next_level(level)
            levels.append(level)
        self._levels = levels

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append leaf hashes, rehashing only the right edge of each level."""
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                raise InvalidInput(
                    f"leaf_hashes must be {HASH_SIZE}-byte hashes", property="leaf_hashes"
                )
        if not leaf_hashes:
            return
        levels = self._levels
        changed = len(levels[0])  # the first index whose subtree hash may change
        levels[0].extend(leaf_hashes)
        depth = 0
        while len(levels[depth]) > 1:
            parent = changed >> 1
            if depth + 1 == len(levels):
                levels.append([])
            above = levels[depth + 1]
            del above[parent:]
            # from an even index, so pairs line up; a new unpaired last node is promoted
            above.extend(_next_level(levels[depth][parent << 1 :]))
            changed = parent
            depth += 1

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MerkleTree:
        """A tree over the leaf inputs (each hashed with the 0x00 prefix)."""
        return cls(_leaf_hashes(leaves))

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise InvalidInput(
                f"leaf_index {index} is outside a tree of size {self.size}", property="leaf_index"
            )
        return self._levels[0][index]

    def _subtree(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a range the RFC recursion produces (start aligned)."""
        size = end - start
        if size == 1:
            return self._levels[0][start]
        if size & (size - 1) == 0 and start % size == 0:
            depth = size.bit_length() - 1
            return self._levels[depth][start >> depth]
        k = _largest_power_of_two_below(size)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def root_at(self, tree_size: int) -> bytes:
        """The root the tree had when it held its first ``tree_size`` leaves."""
        self._check_size(tree_size, "tree_size")
        return self._subtree(0, tree_size) if tree_size else EMPTY_ROOT

    def _check_size(self, tree_size: int, prop: str) -> None:
        if not 0 <= tree_size <= self.size:
            raise InvalidInput(
                f"{prop} {tree_size} is outside 0..{self.size}, the sizes this tree had",
                property=prop,
            )

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        """``PATH(m, D[n])`` (§2.1.3.1), leaf to root, for leaf ``m`` in the first ``n`` leaves."""
        n = self.size if tree_size is None else tree_size
        self._check_size(n, "tree_size")
        if not 0 <= leaf_index < n:
            raise InvalidInput(
                f"leaf_index {leaf_index} is outside a tree of size {n}", property="leaf_index"
            )
        if n == self.size:
            # The whole tree: walk the stored levels (a sibling past the end is a promotion).
            path: list[bytes] = []
            append = path.append
            index = leaf_index
            for level in self._levels[:-1]:
                sibling = index ^ 1
                if sibling < len(level):
                    append(level[sibling])
                index >>= 1
            return path
        return self._path(leaf_index, 0, n)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        size = end - start
        if size == 1:
            return []
        k = _largest_power_of_two_below(size)
        if m < k:
            return [*self._path(m, start, start + k), self._subtree(start + k, end)]
        return [*self._path(m - k, start + k, end), self._subtree(start, start + k)]

    def consistency_proof(self, first_size: int, second_size: int | None = None) -> list[bytes]:
        """``PROOF(m, D[n])`` (§2.1.4.1); empty when ``m`` is 0 or equals ``n``."""
        n = self.size if second_size is None else second_size
        self._check_size(n, "second_size")
        if not 0 <= first_size <= n:
            raise InvalidInput(
                f"first_size {first_size} must be between 0 and second_size {n}",
                property="first_size",
            )
        if first_size in (0, n):
            return []
        return self._subproof(first_size, 0, n, complete=True)

    def _subproof(self, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
        size = end - start
        if m == size:
            return [] if complete else [self._subtree(start, end)]
        k = _largest_power_of_two_below(size)
        if m <= k:
            head = self._subproof(m, start, start + k, complete=complete)
            return [*head, self._subtree(start + k, end)]
        head = self._subproof(m - k, start + k, end, complete=False)
        return [*head, self._subtree(start, start + k)]


def inclusion_proof(leaf_hashes: Sequence[bytes], leaf_index: int) -> list[bytes]:
    """The inclusion proof of ``leaf_hashes[leaf_index]`` in the tree of all ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).inclusion_proof(leaf_index)


def consistency_proof(leaf_hashes: Sequence[bytes], first_size: int) -> list[bytes]:
    """The consistency proof from the first ``first_size`` leaves to all of ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).consistency_proof(first_size)


def root_from_inclusion_proof(
    *, leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes | None:
    """Steps 1-4 of §2.1.3.2: the root ``proof`` leads to, or None where it cannot lead."""
    if not 0 <= leaf_index < tree_size or len(leaf_hash) != HASH_SIZE:
        return None  # step 1
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    sha = _sha256
    for p in proof:  # step 4
        if not sn:
            return None  # 4a
        if fn & 1 or fn == sn:  # 4b
            r = sha(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1  # 4c
        sn >>= 1
    return None if sn else r  # step 5, first half


def verify_inclusion(
    *, leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf_hash`` at ``leaf_index`` under ``root``?

    The loop of :func:`root_from_inclusion_proof`, inlined: this is the verifier's hot path.
    Proof elements are not length-checked one by one: an element that is not 32 bytes
    changes the length of the hashed input, so it can only reach ``root`` through a
    SHA-256 collision.
    """
    if not 0 <= leaf_index < tree_size or len(leaf_hash) != HASH_SIZE:
        return False  # step 1
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    sha = _sha256
    for p in proof:  # step 4
        if not sn:
            return False  # 4a
        if fn & 1 or fn == sn:  # 4b
            r = sha(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1  # 4c
        sn >>= 1
    return not sn and r == root  # step 5


def verify_consistency(
    *,
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``second_root`` an append-only extension of ``first_root``?

    The RFC's algorithm covers ``0 < first < second``. The two boundary cases every client
    meets are answered as Certificate Transparency's Go verifier does: an empty first tree is
    consistent with anything (the proof must be empty), and equal sizes need an empty proof
    and equal roots. A first size larger than the second never verifies.
    """
    if first_size < 0 or second_size < first_size:
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:
        return not proof
    if not proof:  # step 1
        return False
    if any(len(c) != HASH_SIZE for c in proof):
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    sha = _sha256
    for c in path[1:]:  # step 6
        if sn == 0:
            return False  # 6a
        if fn & 1 or fn == sn:  # 6b
            fr = sha(b"\x01" + c + fr).digest()
            sr = sha(b"\x01" + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha(b"\x01" + sr + c).digest()
        fn >>= 1  # 6c
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0  # step 7


@dataclass(frozen=True, slots=True)
class CompactRange:
    """The state needed to append to a log and compute its root without its leaves.

    ``peaks`` are the roots of the perfect subtrees the first ``size`` leaves decompose into,
    largest (leftmost) first: one per set bit of ``size`` (what transparency-dev's
    ``compact.Range`` stores for the range ``[0, size)``). A log persists them beside each
    Signed Tree Head so that sealing a batch hashes only the batch.
    """

    size: int = 0
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0:
            raise InvalidInput("size must not be negative", property="size")
        if len(self.peaks) != self.size.bit_count():
            raise InvalidInput(
                f"a compact range of size {self.size} has {self.size.bit_count()} peaks, "
                f"got {len(self.peaks)}",
                property="peaks",
            )
        for peak in self.peaks:
            _check_hash(peak, "peaks")

    def extend(self, leaf_hashes: Iterable[bytes]) -> CompactRange:
        """A new range with ``leaf_hashes`` appended (each a 32-byte leaf hash)."""
        stack = list(self.peaks)
        size = self.size
        sha = _sha256
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                raise InvalidInput(
                    f"leaf_hashes must be {HASH_SIZE}-byte hashes", property="leaf_hashes"
                )
            # Merging follows the carries of ``size + 1`` in binary: each trailing one bit
            # is a perfect subtree of the same height as the new node.
            carry = size
            while carry & 1:
                h = sha(b"\x01" + stack.pop() + h).digest()
                carry >>= 1
            stack.append(h)
            size += 1
        return CompactRange(size=size, peaks=tuple(stack))

    @property
    def root(self) -> bytes:
        """``MTH`` of the first ``size`` leaves: the peaks folded right to left."""
        if not self.peaks:
            return EMPTY_ROOT
        r = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            r = node_hash(peak, r)
        return r


def inclusion_proofs_of_appended(
    compact: CompactRange, leaf_hashes: Sequence[bytes]
) -> list[list[bytes]]:
    """The inclusion proofs of ``leaf_hashes`` appended to ``compact``, in the grown tree.

    A sealer knows only the old tree's peaks and the new leaves, and that is enough: every
    sibling on the path of a new leaf is either a subtree of new leaves, a run of whole old
    peaks (an aligned subtree left of a new leaf cannot sit strictly inside one peak, since
    a peak's aligned parent block ends at or before the old size), or a mix of both. So
    proofs cost O(b log n) hashes for a batch of ``b``, without reading the old entries.
    """
    old = compact.size
    size = old + len(leaf_hashes)
    peak_at: dict[int, tuple[int, bytes]] = {}
    start = 0
    for bit in range(old.bit_length() - 1, -1, -1):
        if old >> bit & 1:
            peak_at[start] = (start + (1 << bit), compact.peaks[len(peak_at)])
            start += 1 << bit
    memo: dict[tuple[int, int], bytes] = {}
    sha = _sha256

    def subtree(a: int, b: int) -> bytes:
        key = (a, b)
        found = memo.get(key)
        if found is not None:
            return found
        if a >= old and b - a == 1:
            h = leaf_hashes[a - old]
        elif b <= old:
            run: list[bytes] = []
            at = a
            while at < b:
                end, peak = peak_at.get(at, (-1, b""))
                if end < 0 or end > b:  # pragma: no cover - excluded by the docstring's argument
                    raise InvalidInput(f"[{a}, {b}) is not a run of peaks", property="compact")
                run.append(peak)
                at = end
            h = run[-1]
            for peak in reversed(run[:-1]):
                h = sha(b"\x01" + peak + h).digest()
        else:
            k = _largest_power_of_two_below(b - a)
            h = sha(b"\x01" + subtree(a, a + k) + subtree(a + k, b)).digest()
        memo[key] = h
        return h

    proofs: list[list[bytes]] = []
    for leaf in range(old, size):
        path: list[bytes] = []
        a, b = 0, size
        while b - a > 1:
            k = _largest_power_of_two_below(b - a)
            if leaf < a + k:
                path.append(subtree(a + k, b))
                b = a + k
            else:
                path.append(subtree(a, a + k))
                a += k
        path.reverse()
        proofs.append(path)
    return proofs
