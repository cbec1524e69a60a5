"""Inclusion proofs of appended leaves from a compact range, the log receipt codec and the
offline LogAnchorChecker (pure: no database)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.domain.verification import Outcome
from merito.errors import InvalidInput
from merito.ledger.anchoring import RECEIPT_MEMBER, LogAnchorChecker, LogReceipt, log_id_of
from merito.ledger.merkle import (
    CompactRange,
    MerkleTree,
    inclusion_proofs_of_appended,
    leaf_hash,
)
from merito.ledger.sth import sign_tree_head
from merito.proofs import merkle_proof_2019
from merito.proofs.keys import generate_key

KEY = generate_key("Ed25519", seed=bytes(32))
NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(old=st.integers(0, 70), new=st.integers(1, 70))
def test_appended_proofs_equal_the_full_trees(old: int, new: int) -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(old + new)]
    compact = CompactRange().extend(hashes[:old])
    proofs = inclusion_proofs_of_appended(compact, hashes[old:])
    tree = MerkleTree(hashes)
    assert proofs == [tree.inclusion_proof(old + i) for i in range(new)]


def _credential(n: int) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"https://merito.test/credentials/{n}",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": f"did:example:{n}"},
    }


def _sealed(count: int = 3, old: int = 5) -> list[dict[str, Any]]:
    """``count`` credentials sealed after ``old`` earlier entries, as the sealer writes them."""
    documents = [_credential(n) for n in range(count)]
    targets = [merkle_proof_2019.target_hash(d) for d in documents]
    earlier = [leaf_hash(bytes([i]) * 32) for i in range(old)]
    compact = CompactRange().extend(earlier)
    grown = compact.extend(leaf_hash(t) for t in targets)
    head = sign_tree_head(
        log_id=log_id_of(KEY.public_key),
        tree_size=grown.size,
        timestamp=1,
        root_hash=grown.root,
        key=KEY,
    )
    paths = inclusion_proofs_of_appended(compact, [leaf_hash(t) for t in targets])
    receipts = merkle_proof_2019.batch_proofs(targets, anchors=())
    out = []
    for i, document in enumerate(documents):
        sealed = merkle_proof_2019.attach_proof(
            document, receipts[i], verification_method="did:key:z#z", created=NOW
        )
        receipt = LogReceipt(
            log="https://merito.test/log/v1",
            leaf_index=old + i,
            audit_path=tuple(paths[i]),
            head=head,
        )
        sealed["proof"][RECEIPT_MEMBER] = receipt.to_json()
        out.append(sealed)
    return out


CHECKER = LogAnchorChecker(
    log_key=KEY.public_key, log_id=log_id_of(KEY.public_key), local_prefix="https://merito.test/"
)


def test_sealed_credentials_pass_and_receipts_round_trip() -> None:
    for document in _sealed():
        check = CHECKER(document)
        assert check.outcome is Outcome.PASS, check.message
        member = document["proof"][RECEIPT_MEMBER]
        assert LogReceipt.from_json(member).to_json() == member


def test_pending_local_and_skipped_foreign() -> None:
    assert CHECKER(_credential(1)).details["anchor_status"] == "pending"
    assert CHECKER(_credential(1)).outcome is Outcome.WARNING
    foreign = {**_credential(1), "id": "https://elsewhere.example/1"}
    assert CHECKER(foreign).outcome is Outcome.SKIPPED


@pytest.mark.parametrize(
    ("mutate", "prop"),
    [
        (lambda m: m.update(leafIndex=-1), "leafIndex"),
        (lambda m: m.update(auditPath="x"), "auditPath"),
        (lambda m: m.update(auditPath=["AAAA"]), "auditPath"),
        (lambda m: m["signedTreeHead"].update(log_id="other"), "log_id"),
        (lambda m: m["signedTreeHead"].update(tree_size=99), "tree_head_signature"),
        (lambda m: m.update(leafIndex=6), "auditPath"),
        (lambda m: m["auditPath"].reverse(), "auditPath"),
    ],
)
def test_any_altered_receipt_fails(mutate: Any, prop: str) -> None:
    document = copy.deepcopy(_sealed()[0])
    mutate(document["proof"][RECEIPT_MEMBER])
    check = CHECKER(document)
    assert (check.outcome, check.details["property"]) == (Outcome.FAIL, prop)


def test_a_changed_credential_fails_and_another_key_is_refused() -> None:
    document = _sealed()[1]
    changed = {**document, "validFrom": "2026-02-01T00:00:00Z"}
    assert CHECKER(changed).details["property"] == "targetHash"
    other = generate_key("Ed25519", seed=b"\x01" * 32).public_key
    stranger = LogAnchorChecker(log_key=other, log_id=log_id_of(KEY.public_key))
    assert stranger(document).outcome is Outcome.FAIL


def test_no_log_receipt_and_no_chain_is_a_warning() -> None:
    document = copy.deepcopy(_sealed()[0])
    del document["proof"][RECEIPT_MEMBER]
    check = CHECKER(document)
    assert (check.outcome, check.details["anchor_status"]) == (Outcome.WARNING, "unchecked")


def test_receipt_parsing_names_the_member() -> None:
    with pytest.raises(InvalidInput) as e:
        LogReceipt.from_json([])
    assert e.value.property == RECEIPT_MEMBER
    with pytest.raises(InvalidInput) as e:
        LogReceipt.from_json({"log": 1})
    assert e.value.property == "log"
