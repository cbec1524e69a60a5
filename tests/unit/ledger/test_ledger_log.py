"""Signed tree heads, the append-only log model and the monitor's rewrite detection."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput, InvalidKey, NotFound
from merito.ledger.log import (
    MemoryLogStore,
    TransparencyLog,
    check_consistency,
    check_entries,
)
from merito.ledger.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, root_of, verify_inclusion
from merito.ledger.sth import (
    STH_CONTEXT,
    SignedTreeHead,
    sign_tree_head,
    timestamp_ms,
    tree_head_bytes,
    verify_tree_head,
)
from merito.proofs.keys import Signer, generate_key

KEY = generate_key("Ed25519", seed=bytes(range(32)))
OTHER_KEY = generate_key("Ed25519", seed=bytes(32))
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _log(store: MemoryLogStore | None = None) -> TransparencyLog:
    return TransparencyLog(store or MemoryLogStore(), log_id="merito.test/log", key=KEY)


# --- signed tree heads --------------------------------------------------------------------


def test_tree_head_bytes_layout() -> None:
    root = bytes(range(32))
    data = tree_head_bytes(log_id="log", timestamp=1_700_000_000_123, tree_size=5, root_hash=root)
    assert data == STH_CONTEXT + b"\x03log" + struct.pack(">QQ", 1_700_000_000_123, 5) + root
    assert len(STH_CONTEXT) == 15


def test_sign_and_verify_a_tree_head_and_its_json_round_trip() -> None:
    head = sign_tree_head(
        log_id="log", tree_size=2, timestamp=timestamp_ms(T0), root_hash=EMPTY_ROOT, key=KEY
    )
    assert verify_tree_head(head, KEY.public_key)
    assert not verify_tree_head(head, OTHER_KEY.public_key)
    assert head.issued_at == T0
    by_signer = sign_tree_head(
        log_id="log",
        tree_size=2,
        timestamp=timestamp_ms(T0),
        root_hash=EMPTY_ROOT,
        key=Signer(key=KEY, verification_method="did:web:merito.test#log"),
    )
    assert by_signer == head  # Ed25519 is deterministic
    parsed = SignedTreeHead.from_json(head.to_json())
    assert parsed == head
    assert head.to_json()["sha256_root_hash"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize("field", ["log_id", "tree_size", "timestamp", "root_hash"])
def test_changing_any_signed_field_breaks_the_signature(field: str) -> None:
    head = sign_tree_head(
        log_id="log", tree_size=2, timestamp=timestamp_ms(T0), root_hash=EMPTY_ROOT, key=KEY
    )
    changes = {
        "log_id": "gol",
        "tree_size": 3,
        "timestamp": head.timestamp + 1,
        "root_hash": bytes(32),
    }
    forged = SignedTreeHead(
        **{
            "log_id": head.log_id,
            "tree_size": head.tree_size,
            "timestamp": head.timestamp,
            "root_hash": head.root_hash,
            "signature": head.signature,
            field: changes[field],
        }
    )
    assert not verify_tree_head(forged, KEY.public_key)


def test_tree_head_refuses_bad_fields() -> None:
    with pytest.raises(InvalidKey):
        sign_tree_head(
            log_id="l", tree_size=0, timestamp=0, root_hash=EMPTY_ROOT, key=generate_key("P-256")
        )
    with pytest.raises(InvalidInput) as e:
        tree_head_bytes(log_id="", timestamp=0, tree_size=0, root_hash=EMPTY_ROOT)
    assert e.value.property == "log_id"
    with pytest.raises(InvalidInput) as e:
        tree_head_bytes(log_id="l", timestamp=-1, tree_size=0, root_hash=EMPTY_ROOT)
    assert e.value.property == "timestamp"
    with pytest.raises(InvalidInput) as e:
        tree_head_bytes(log_id="l", timestamp=0, tree_size=2**64, root_hash=EMPTY_ROOT)
    assert e.value.property == "tree_size"
    with pytest.raises(InvalidInput):
        timestamp_ms(datetime(2026, 1, 1))  # naive
    for bad in ({"log_id": 1}, {"log_id": "l", "tree_size": True, "timestamp": 0}):
        with pytest.raises(InvalidInput):
            SignedTreeHead.from_json(bad)
    good = sign_tree_head(log_id="l", tree_size=0, timestamp=0, root_hash=EMPTY_ROOT, key=KEY)
    with pytest.raises(InvalidInput) as e:
        SignedTreeHead.from_json({**good.to_json(), "tree_head_signature": "not base64!"})
    assert e.value.property == "tree_head_signature"


# --- the log ------------------------------------------------------------------------------


def test_seal_signs_the_pending_entries_and_proofs_verify() -> None:
    log = _log()
    first = log.seal(now=T0)
    assert first.tree_size == 0
    assert first.root_hash == EMPTY_ROOT
    indexes = log.append(bytes([i]) * 32 for i in range(5))
    assert indexes == range(0, 5)
    assert log.pending() == 5
    head = log.seal(now=T0 + timedelta(seconds=1))
    assert head.tree_size == 5
    assert log.pending() == 0
    assert head.root_hash == root_of(bytes([i]) * 32 for i in range(5))
    assert verify_tree_head(head, KEY.public_key)
    assert log.seal(now=T0 + timedelta(seconds=2)) == head  # nothing pending: same head
    proof = log.inclusion_proof(leaf_hash(bytes([3]) * 32))
    assert proof.leaf_index == 3
    assert verify_inclusion(
        leaf_hash=proof.leaf_hash,
        leaf_index=3,
        tree_size=5,
        proof=proof.audit_path,
        root=head.root_hash,
    )
    assert log.entries(1, 2) == [bytes([1]) * 32, bytes([2]) * 32]


def test_seal_with_a_limit_and_consistency_across_batches() -> None:
    log = _log()
    log.append(bytes([i]) for i in range(1, 11))
    a = log.seal(now=T0, limit=4)
    b = log.seal(now=T0, limit=4)
    c = log.seal(now=T0)
    assert (a.tree_size, b.tree_size, c.tree_size) == (4, 8, 10)
    for old, new in ((a, b), (b, c), (a, c)):
        proof = log.consistency_proof(old.tree_size, new.tree_size)
        result = check_consistency(
            previous=old, current=new, proof=proof, public_key=KEY.public_key
        )
        assert result.ok, result.detail
    assert check_entries(head=c, entries=log.entries(0, 9), public_key=KEY.public_key).ok
    # proofs at an older size still come from the grown (cached) tree
    early = log.inclusion_proof(leaf_hash(bytes([2])), tree_size=4)
    assert verify_inclusion(
        leaf_hash=early.leaf_hash,
        leaf_index=1,
        tree_size=4,
        proof=early.audit_path,
        root=a.root_hash,
    )
    log.append([b"11"])
    d = log.seal(now=T0)
    late = log.inclusion_proof(leaf_hash(b"11"))
    assert verify_inclusion(
        leaf_hash=late.leaf_hash,
        leaf_index=10,
        tree_size=11,
        proof=late.audit_path,
        root=d.root_hash,
    )


def test_log_refuses_bad_requests() -> None:
    log = _log()
    with pytest.raises(InvalidInput):
        log.append([b""])
    log.append([b"a", b"b"])
    with pytest.raises(InvalidInput):
        log.seal(now=T0, limit=0)
    log.seal(now=T0)
    with pytest.raises(NotFound):
        log.inclusion_proof(leaf_hash(b"zzz"))
    with pytest.raises(InvalidInput) as e:
        log.inclusion_proof(leaf_hash(b"a"), tree_size=3)
    assert e.value.property == "tree_size"
    with pytest.raises(InvalidInput):
        log.consistency_proof(3, 2)
    with pytest.raises(NotFound):
        log.entries(5, 9)
    with pytest.raises(InvalidInput) as e:
        TransparencyLog(log.store, log_id="x").seal(now=T0)
    assert e.value.property == "log_key"
    # an entry appended but not sealed has no proof yet
    log.append([b"c"])
    with pytest.raises(NotFound):
        log.inclusion_proof(leaf_hash(b"c"))


# --- the monitor ----------------------------------------------------------------------------


def _sealed_log(n: int) -> tuple[TransparencyLog, MemoryLogStore, SignedTreeHead]:
    store = MemoryLogStore()
    log = _log(store)
    log.append(f"credential-{i}".encode() for i in range(n))
    return log, store, log.seal(now=T0)


def _rebuild(entries: list[bytes]) -> tuple[TransparencyLog, SignedTreeHead]:
    """A dishonest operator re-creating the log from edited entries and re-signing it."""
    log = _log()
    log.append(entries)
    return log, log.seal(now=T0 + timedelta(hours=1))


def _edits(n: int) -> st.SearchStrategy[tuple[str, int, int]]:
    return st.tuples(
        st.sampled_from(["change", "drop", "reorder", "insert"]),
        st.integers(0, n - 1),
        st.integers(0, n - 1),
    )


def _apply(entries: list[bytes], edit: tuple[str, int, int]) -> list[bytes]:
    kind, i, j = edit
    out = list(entries)
    if kind == "change":
        out[i] = out[i] + b"*"
    elif kind == "drop":
        del out[i]
    elif kind == "insert":
        out.insert(i, b"forged credential")
    else:
        j = j if j != i else (i + 1) % len(out)
        out[i], out[j] = out[j], out[i]
    return out


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), data=st.data())
def test_any_rewrite_of_sealed_history_is_detected(n: int, data: st.DataObject) -> None:
    _, store, old_head = _sealed_log(n)
    edit = data.draw(_edits(n), label="edit")
    tampered = _apply(store.stored, edit)
    extra = data.draw(st.integers(0, 5), label="appended after")
    tampered += [f"later-{k}".encode() for k in range(extra)]

    # 1. the operator re-signs a whole new tree from the edited entries
    rebuilt, new_head = _rebuild(tampered)
    if new_head.tree_size >= old_head.tree_size:
        proof = rebuilt.consistency_proof(old_head.tree_size)
    else:
        proof = []
    result = check_consistency(
        previous=old_head, current=new_head, proof=proof, public_key=KEY.public_key
    )
    assert not result.ok
    assert result.problem in {"inconsistent", "shrunk", "fork"}

    # 2. the stored entries are edited in place, under the honest head
    served = tampered[: old_head.tree_size]
    audit = check_entries(head=old_head, entries=served, public_key=KEY.public_key)
    assert not audit.ok
    assert audit.problem == "entries-mismatch"


def test_entries_edited_in_place_break_the_next_consistency_proof() -> None:
    log, store, old_head = _sealed_log(10)
    store.stored[4] = b"forged"  # the database row is changed behind the log's back
    log.append([b"credential-10", b"credential-11"])
    new_head = log.seal(now=T0 + timedelta(minutes=1))  # sealed from the honest peaks
    proof = log.consistency_proof(old_head.tree_size, new_head.tree_size)
    result = check_consistency(
        previous=old_head, current=new_head, proof=proof, public_key=KEY.public_key
    )
    assert not result.ok
    assert result.problem == "inconsistent"
    assert "rewritten" in result.detail
    # and the forged entry's proof, built from what the store now serves, fails too
    served = MerkleTree([leaf_hash(e) for e in log.store.entries(0, new_head.tree_size)])
    assert not verify_inclusion(
        leaf_hash=leaf_hash(b"forged"),
        leaf_index=4,
        tree_size=new_head.tree_size,
        proof=served.inclusion_proof(4),
        root=new_head.root_hash,
    )


def test_monitor_reports_forged_foreign_forked_and_shrunk_heads() -> None:
    _, _, head = _sealed_log(4)
    forged = sign_tree_head(
        log_id=head.log_id, tree_size=5, timestamp=0, root_hash=bytes(32), key=OTHER_KEY
    )
    result = check_consistency(previous=head, current=forged, proof=[], public_key=KEY.public_key)
    assert result.problem == "bad-signature"
    foreign = sign_tree_head(log_id="other", tree_size=5, timestamp=0, root_hash=bytes(32), key=KEY)
    result = check_consistency(previous=head, current=foreign, proof=[], public_key=KEY.public_key)
    assert result.problem == "wrong-log"
    fork = sign_tree_head(
        log_id=head.log_id, tree_size=4, timestamp=0, root_hash=bytes(32), key=KEY
    )
    result = check_consistency(previous=head, current=fork, proof=[], public_key=KEY.public_key)
    assert result.problem == "fork"
    small = sign_tree_head(
        log_id=head.log_id,
        tree_size=3,
        timestamp=0,
        root_hash=MerkleTree.from_leaves([b"a"]).root,
        key=KEY,
    )
    result = check_consistency(previous=head, current=small, proof=[], public_key=KEY.public_key)
    assert result.problem == "shrunk"
    same = check_consistency(previous=head, current=head, proof=[], public_key=KEY.public_key)
    assert same.ok
    assert check_entries(head=head, entries=[], public_key=KEY.public_key).problem == (
        "entries-mismatch"
    )
    assert check_entries(head=forged, entries=[], public_key=KEY.public_key).problem == (
        "bad-signature"
    )
