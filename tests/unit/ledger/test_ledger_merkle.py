"""RFC 9162 §2.1 Merkle tree: known answers from transparency-dev/merkle, edge cases, properties."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    root_of_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads(
    (
        Path(__file__).parents[2] / "fixtures/transparency-dev-merkle/rfc6962-vectors.json"
    ).read_text()
)
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaf_inputs"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["root_hashes"]]


def _hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally: recursion on the largest power of two below n."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_mth(leaves[:k]) + _reference_mth(leaves[k:])
    ).digest()


# --- known answers -----------------------------------------------------------------------


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_transparency_dev_vectors(size: int) -> None:
    tree = MerkleTree.from_leaves(LEAVES)
    assert root_of(LEAVES[:size]) == ROOTS[size]
    assert tree.root_at(size) == ROOTS[size]
    assert CompactRange().extend(leaf_hash(x) for x in LEAVES[:size]).root == ROOTS[size]


def test_node_hashes_match_transparency_dev_vectors() -> None:
    tree = MerkleTree.from_leaves(LEAVES)
    for depth, level in enumerate(VECTORS["node_hashes"]):
        for index, expected in enumerate(level):
            start = index << depth
            assert tree._subtree(start, start + (1 << depth)).hex() == expected


@pytest.mark.parametrize("vector", VECTORS["inclusion_proofs"], ids=lambda v: str(v)[:40])
def test_inclusion_proofs_match_transparency_dev_vectors(vector: dict[str, object]) -> None:
    index, size = int(vector["leaf_index"]), int(vector["tree_size"])  # type: ignore[call-overload]
    expected = _hashes(vector["proof"])  # type: ignore[arg-type]
    tree = MerkleTree.from_leaves(LEAVES)
    assert tree.inclusion_proof(index, size) == expected
    assert MerkleTree.from_leaves(LEAVES[:size]).inclusion_proof(index) == expected
    assert verify_inclusion(
        leaf_hash=leaf_hash(LEAVES[index]),
        leaf_index=index,
        tree_size=size,
        proof=expected,
        root=ROOTS[size],
    )


@pytest.mark.parametrize("vector", VECTORS["consistency_proofs"], ids=lambda v: str(v)[:40])
def test_consistency_proofs_match_transparency_dev_vectors(vector: dict[str, object]) -> None:
    first, second = int(vector["first_size"]), int(vector["second_size"])  # type: ignore[call-overload]
    expected = _hashes(vector["proof"])  # type: ignore[arg-type]
    assert MerkleTree.from_leaves(LEAVES).consistency_proof(first, second) == expected
    assert consistency_proof([leaf_hash(x) for x in LEAVES[:second]], first) == expected
    assert verify_consistency(
        first_size=first,
        second_size=second,
        first_root=ROOTS[first],
        second_root=ROOTS[second],
        proof=expected,
    )


# --- RFC 9162 edge cases -----------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == root_of_leaf_hashes([]) == MerkleTree([]).root == CompactRange().root


def test_single_leaf_root_is_its_leaf_hash_and_its_proof_is_empty() -> None:
    tree = MerkleTree.from_leaves([b"data"])
    assert tree.root == leaf_hash(b"data") == hashlib.sha256(b"\x00data").digest()
    assert tree.inclusion_proof(0) == []
    assert verify_inclusion(
        leaf_hash=tree.root, leaf_index=0, tree_size=1, proof=[], root=tree.root
    )
    assert not verify_inclusion(leaf_hash=tree.root, leaf_index=0, tree_size=1, proof=[], root=b"")


@pytest.mark.parametrize("exponent", range(0, 11))
def test_powers_of_two(exponent: int) -> None:
    n = 1 << exponent
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    tree = MerkleTree.from_leaves(leaves)
    assert tree.root == _reference_mth(leaves)
    assert all(len(tree.inclusion_proof(i)) == exponent for i in (0, n // 2, n - 1))
    assert CompactRange().extend(leaf_hash(x) for x in leaves).peaks == (tree.root,)


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    # a two-leaf tree's root is not the leaf hash of the concatenated children
    assert node_hash(a, b) != leaf_hash(a + b)
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()


def test_verify_inclusion_rejects_impossible_positions() -> None:
    some = hashlib.sha256(b"x").digest()
    for index, size in ((0, 0), (1, 0), (2, 1), (-1, 4)):
        assert not verify_inclusion(
            leaf_hash=some, leaf_index=index, tree_size=size, proof=[], root=some
        )
    assert (
        root_from_inclusion_proof(leaf_hash=b"short", leaf_index=0, tree_size=1, proof=[]) is None
    )


def test_verify_consistency_boundary_cases() -> None:
    r1, r2 = hashlib.sha256(b"1").digest(), hashlib.sha256(b"2").digest()
    assert verify_consistency(first_size=0, second_size=0, first_root=r1, second_root=r1, proof=[])
    assert verify_consistency(first_size=0, second_size=5, first_root=r1, second_root=r2, proof=[])
    assert verify_consistency(first_size=3, second_size=3, first_root=r2, second_root=r2, proof=[])
    assert not verify_consistency(
        first_size=3, second_size=3, first_root=r1, second_root=r2, proof=[]
    )
    assert not verify_consistency(
        first_size=3, second_size=3, first_root=r1, second_root=r1, proof=[EMPTY_ROOT]
    )
    assert not verify_consistency(
        first_size=0, second_size=1, first_root=r1, second_root=r1, proof=[EMPTY_ROOT]
    )
    assert not verify_consistency(
        first_size=2, second_size=1, first_root=r1, second_root=r2, proof=[]
    )
    assert not verify_consistency(
        first_size=1, second_size=2, first_root=r1, second_root=r2, proof=[]
    )
    assert not verify_consistency(
        first_size=1, second_size=2, first_root=r1, second_root=r2, proof=[b"short"]
    )


def test_generation_refuses_out_of_range_requests() -> None:
    tree = MerkleTree.from_leaves([b"a", b"b", b"c"])
    with pytest.raises(InvalidInput) as e:
        tree.inclusion_proof(3)
    assert e.value.property == "leaf_index"
    with pytest.raises(InvalidInput):
        tree.inclusion_proof(0, 4)
    with pytest.raises(InvalidInput) as e:
        tree.consistency_proof(4)
    assert e.value.property == "first_size"
    with pytest.raises(InvalidInput):
        MerkleTree([b"not 32 bytes"])
    with pytest.raises(InvalidInput):
        CompactRange(size=3, peaks=(EMPTY_ROOT,))
    with pytest.raises(InvalidInput):
        CompactRange().extend([b"short"])


def test_inclusion_proof_function_matches_the_tree() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(13)]
    assert inclusion_proof(hashes, 7) == MerkleTree(hashes).inclusion_proof(7)


# --- properties ----------------------------------------------------------------------------


def _flip(value: bytes, bit: int) -> bytes:
    i = bit % (len(value) * 8)
    return value[: i // 8] + bytes([value[i // 8] ^ (1 << (i % 8))]) + value[i // 8 + 1 :]


leaf_lists = st.lists(st.binary(min_size=0, max_size=12), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists)
def test_root_equals_the_rfc_recursion(leaves: list[bytes]) -> None:
    tree = MerkleTree.from_leaves(leaves)
    assert tree.root == root_of(leaves) == _reference_mth(leaves)
    compact = CompactRange()
    for i, leaf in enumerate(leaves):
        compact = compact.extend([leaf_hash(leaf)])
        assert compact.root == tree.root_at(i + 1)


@settings(max_examples=30, deadline=None)
@given(leaves=leaf_lists, bit=st.integers(0, 255))
def test_every_inclusion_proof_verifies_and_any_bit_flip_fails(
    leaves: list[bytes], bit: int
) -> None:
    """For a tree of n leaves and every size m <= n, every leaf's proof; then mutations."""
    tree = MerkleTree.from_leaves(leaves)
    for m in range(1, tree.size + 1):
        root = tree.root_at(m)
        for i in range(m):
            proof = tree.inclusion_proof(i, m)
            h = tree.leaf_hash(i)
            assert verify_inclusion(leaf_hash=h, leaf_index=i, tree_size=m, proof=proof, root=root)
            assert not verify_inclusion(
                leaf_hash=_flip(h, bit), leaf_index=i, tree_size=m, proof=proof, root=root
            )
            assert not verify_inclusion(
                leaf_hash=h, leaf_index=i, tree_size=m, proof=proof, root=_flip(root, bit)
            )
            for j in range(len(proof)):
                bad = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
                assert not verify_inclusion(
                    leaf_hash=h, leaf_index=i, tree_size=m, proof=bad, root=root
                )
            if proof:
                assert not verify_inclusion(
                    leaf_hash=h, leaf_index=i, tree_size=m, proof=proof[:-1], root=root
                )
            assert not verify_inclusion(
                leaf_hash=h, leaf_index=i, tree_size=m, proof=[*proof, root], root=root
            )
            if m > 1:  # the same proof does not vouch for another position
                other = (i + 1) % m
                assert (
                    not verify_inclusion(
                        leaf_hash=h, leaf_index=other, tree_size=m, proof=proof, root=root
                    )
                    or tree.leaf_hash(other) == h
                )


def test_full_tree_proofs_equal_the_rfc_path_of_every_prefix() -> None:
    tree = MerkleTree.from_leaves([bytes([i]) for i in range(37)])
    for m in range(1, 38):
        prefix = MerkleTree.from_leaves([bytes([i]) for i in range(m)])
        for i in range(m):
            assert tree.inclusion_proof(i, m) == prefix.inclusion_proof(i)


@settings(max_examples=40, deadline=None)
@given(leaves=leaf_lists, bit=st.integers(0, 255))
def test_consistency_proofs_between_all_sizes_verify(leaves: list[bytes], bit: int) -> None:
    tree = MerkleTree.from_leaves(leaves)
    n = tree.size
    for second in range(n + 1):
        second_root = tree.root_at(second)
        for first in range(second + 1):
            proof = tree.consistency_proof(first, second)
            first_root = tree.root_at(first)
            assert verify_consistency(
                first_size=first,
                second_size=second,
                first_root=first_root,
                second_root=second_root,
                proof=proof,
            ), (first, second)
            if 0 < first < second:
                assert proof
                assert not verify_consistency(
                    first_size=first,
                    second_size=second,
                    first_root=_flip(first_root, bit),
                    second_root=second_root,
                    proof=proof,
                )
                assert not verify_consistency(
                    first_size=first,
                    second_size=second,
                    first_root=first_root,
                    second_root=_flip(second_root, bit),
                    proof=proof,
                )
                j = bit % len(proof)
                bad = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
                assert not verify_consistency(
                    first_size=first,
                    second_size=second,
                    first_root=first_root,
                    second_root=second_root,
                    proof=bad,
                )


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(min_size=1, max_size=8), min_size=2, max_size=40, unique=True),
       data=st.data())  # fmt: skip
def test_a_rewritten_prefix_breaks_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    first = data.draw(st.integers(1, len(leaves) - 1), label="first")
    target = data.draw(st.integers(0, first - 1), label="changed")
    honest = MerkleTree.from_leaves(leaves)
    forged = list(leaves)
    forged[target] = forged[target] + b"!"
    rewritten = MerkleTree.from_leaves(forged)
    assert not verify_consistency(
        first_size=first,
        second_size=len(leaves),
        first_root=honest.root_at(first),
        second_root=rewritten.root,
        proof=rewritten.consistency_proof(first),
    )


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, cuts=st.lists(st.integers(0, 70), max_size=6))
def test_extending_a_tree_in_chunks_equals_building_it_at_once(
    leaves: list[bytes], cuts: list[int]
) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    tree = MerkleTree([])
    start = 0
    for cut in sorted(c % (len(hashes) + 1) for c in cuts):
        tree.extend(hashes[start:cut] if cut > start else [])
        start = max(start, cut)
        assert tree.size == start
        assert tree.root == root_of(leaves[:start])
    tree.extend(hashes[start:])
    whole = MerkleTree(hashes)
    assert tree._levels == whole._levels
    assert [tree.inclusion_proof(i) for i in range(tree.size)] == [
        whole.inclusion_proof(i) for i in range(whole.size)
    ]


@pytest.mark.parametrize("vector", VECTORS["inclusion_proofs"], ids=lambda v: str(v)[:40])
def test_transparency_dev_corrupted_inclusion_probes_fail(vector: dict[str, object]) -> None:
    """The probes of transparency-dev/merkle's ``corruptInclusionProof``."""
    index, size = int(vector["leaf_index"]), int(vector["tree_size"])  # type: ignore[call-overload]
    proof = _hashes(vector["proof"])  # type: ignore[arg-type]
    root, h = ROOTS[size], leaf_hash(LEAVES[index])
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (index - 1, size, root, h, proof),
        (index + 1, size, root, h, proof),
        (index ^ 2, size, root, h, proof),
        (index, size * 2, root, h, proof),
        (index, size // 2, root, h, proof),
        (index, size, root, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, h, proof),
        (index, size, some, h, proof),
        (index, size, root, h, [*proof, b""]),
        (index, size, root, h, [*proof, root]),
        (index, size, root, h, [b"", *proof]),
        (index, size, root, h, [root, *proof]),
        (index, size, root, h, proof[:-1]),
        (index, size, root, h, [proof[0], some, *proof[1:]]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, root, h, wrong))
    for leaf_index, tree_size, root_hash, leaf, path in probes:
        assert not verify_inclusion(
            leaf_hash=leaf, leaf_index=leaf_index, tree_size=tree_size, proof=path, root=root_hash
        ), (leaf_index, tree_size)
