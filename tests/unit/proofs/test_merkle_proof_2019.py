"""MerkleProof2019: batch receipts, the proofValue codec, malformed input, a signed credential."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput, ProofError
from merito.formats.multibase import b58encode
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.merkle_proof_2019 import (
    CRYPTOSUITE,
    MerkleProof2019,
    attach_proof,
    batch_proofs,
    blockcerts_root,
    create_proof,
    decode_proof_value,
    encode_proof_value,
    root_from_path,
    target_hash,
    verify_proof,
)
from merito.proofs.resolution import VerificationMethodResolver

FIXTURES = Path(__file__).parents[2] / "fixtures"
CREATED = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MOCK = "blink:mocknet:This has not been issued on a blockchain and is for testing only"
ETH = "blink:eth:sepolia:0x" + "ab" * 32


def _digest(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(4, "big")).digest()


def _merkletools_root(leaves: list[bytes]) -> bytes:
    """chainpoint merkletools (cert-issuer): pair, concatenate, SHA-256; promote a solo node."""
    level = leaves
    while len(level) > 1:
        solo = level[-1] if len(level) % 2 else None
        even = level[: len(level) - (1 if solo is not None else 0)]
        level = [hashlib.sha256(even[i] + even[i + 1]).digest() for i in range(0, len(even), 2)]
        if solo is not None:
            level.append(solo)
    return level[0]


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 80), data=st.data())
def test_every_receipt_of_a_batch_leads_to_the_anchored_root(n: int, data: st.DataObject) -> None:
    targets = [_digest(i) for i in range(n)]
    receipts = batch_proofs(targets, anchors=[ETH])
    root = blockcerts_root(targets)
    assert root == _merkletools_root(targets)
    bit = data.draw(st.integers(0, 255), label="bit")
    for target, receipt in zip(targets, receipts, strict=True):
        assert receipt.merkle_root == root
        assert root_from_path(target, receipt.path) == root
        assert decode_proof_value(encode_proof_value(receipt)) == receipt
        flipped = bytearray(target)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert root_from_path(bytes(flipped), receipt.path) != root
        for j, (side, sibling) in enumerate(receipt.path):
            bad = bytearray(sibling)
            bad[bit // 8] ^= 1 << (bit % 8)
            path = [*receipt.path[:j], (side, bytes(bad)), *receipt.path[j + 1 :]]
            assert root_from_path(target, path) != root


def test_a_batch_of_one_has_an_empty_path_and_its_target_as_root() -> None:
    (receipt,) = batch_proofs([_digest(7)], anchors=[MOCK])
    assert receipt.path == ()
    assert receipt.merkle_root == receipt.target_hash == _digest(7)


def test_anchor_uris_round_trip_including_a_local_chain_id() -> None:
    for anchor in (
        ETH,
        MOCK,
        "blink:btc:testnet:" + "cd" * 32,
        "blink:eth:31337:0x" + "01" * 32,
        "blink:base:sepolia:" + "ef" * 32,
    ):
        receipt = MerkleProof2019(target_hash=_digest(1), merkle_root=_digest(1), anchors=(anchor,))
        assert decode_proof_value(encode_proof_value(receipt)).anchors == (anchor,)
    for bad in ("blink:xrp:mainnet:00", "blink:eth:nowhere:0x00", "urn:eth:1:0x", "blink:eth:1"):
        with pytest.raises(InvalidInput) as e:
            MerkleProof2019(target_hash=_digest(1), merkle_root=_digest(1), anchors=(bad,))
        assert e.value.property == "anchors"


def _value(pairs: Any) -> str:
    return "z" + b58encode(cbor2.dumps(pairs))


@pytest.mark.parametrize(
    "proof_value",
    [
        "",
        "not multibase",
        "u" + "A" * 20,
        "z0OIl",  # not base58btc
        _value({"not": "a list"}),
        _value([[9, b""]]),
        _value([[0, cbor2.dumps("ab" * 32)]]),  # no targetHash
        _value([[0, b"\xff"], [1, cbor2.dumps("ab" * 32)]]),  # not CBOR inside
        _value([[0, cbor2.dumps(5)], [1, cbor2.dumps("ab" * 32)]]),  # not a hash
        _value([[0, cbor2.dumps("ab" * 31)], [1, cbor2.dumps("ab" * 32)]]),  # short
        _value([[3, [[2, cbor2.dumps("ab" * 32)]]], [0, cbor2.dumps("ab" * 32)]]),  # bad side
        _value([[2, [[[0, 77]]]], [0, cbor2.dumps("ab" * 32)], [1, cbor2.dumps("ab" * 32)]]),
        "z" + "2" * 70_000,
    ],
)
def test_malformed_proof_values_are_proof_errors(proof_value: str) -> None:
    with pytest.raises(ProofError) as e:
        decode_proof_value(proof_value)
    assert e.value.problem == "MALFORMED_PROOF_ERROR"


def _credential() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (FIXTURES / "w3c-vc-di-eddsa/TestVectors/unsigned.json").read_text()
    )
    return document


def test_create_proof_shape() -> None:
    (receipt,) = batch_proofs([_digest(1)], anchors=[ETH])
    proof = create_proof(
        receipt,
        verification_method="https://merito.test/log#key-1",
        created=CREATED,
        proof_id="urn:x",
    )
    assert proof == {
        "id": "urn:x",
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": "assertionMethod",
        "created": "2026-12-02T12:00:00Z",
        "proofValue": encode_proof_value(receipt),
        "verificationMethod": "https://merito.test/log#key-1",
    }
    with pytest.raises(InvalidInput):
        create_proof(receipt, verification_method="x", created=datetime(2026, 1, 1))


def test_an_eddsa_signed_credential_anchored_in_a_batch_verifies_both_proofs() -> None:
    key = generate_key("Ed25519", seed=bytes(range(32)))
    did = "did:key:" + key.public_key.to_multibase()
    signer = Signer(key=key, verification_method=f"{did}#{key.public_key.to_multibase()}")
    credentials = []
    for i in range(5):
        unsigned = _credential()
        unsigned["id"] = f"urn:uuid:00000000-0000-0000-0000-00000000000{i}"
        credentials.append(data_integrity.sign(unsigned, signer=signer, created=CREATED))
    # the log's leaf: SHA-256 of the canonical credential without proofs
    targets = [target_hash(c) for c in credentials]
    receipts = batch_proofs(targets, anchors=[ETH])
    anchored = [
        attach_proof(c, r, verification_method="https://merito.test/log#key-1", created=CREATED)
        for c, r in zip(credentials, receipts, strict=True)
    ]
    for document in anchored:
        merkle, eddsa = document["proof"]
        assert merkle["cryptosuite"] == CRYPTOSUITE
        assert eddsa["cryptosuite"] == "eddsa-rdfc-2022"
        result = verify_proof(document, merkle)
        assert result.verified, result.error
        assert result.merkle_root == blockcerts_root(targets)
        assert result.anchors == (ETH,)
        results = data_integrity.verify(
            {**document, "proof": [eddsa]}, resolver=VerificationMethodResolver()
        )
        assert all(r.verified for r in results)

    tampered = copy.deepcopy(anchored[2])
    tampered["credentialSubject"]["alumniOf"] = "Another School"
    result = verify_proof(tampered, tampered["proof"][0])
    assert not result.verified
    assert result.error is not None
    assert result.error.property == "targetHash"

    # a receipt moved to another credential of the same batch fails too
    swapped = {**anchored[0], "proof": [anchored[1]["proof"][0]]}
    assert not verify_proof(swapped, swapped["proof"][0]).verified


def test_verify_proof_reports_bad_input_as_data() -> None:
    document = _credential()
    assert not verify_proof(document, {"type": "DataIntegrityProof"}).verified
    result = verify_proof(
        document,
        {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE, "proofValue": "zzz"},
    )
    assert not result.verified
    assert result.error is not None
    assert result.error.problem == "MALFORMED_PROOF_ERROR"
    undefined = {  # VC 1.1 has no @vocab: the extra term would be dropped, so it is refused
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject"},
        "notInAnyContext": 1,
    }
    (receipt,) = batch_proofs([_digest(0)], anchors=[MOCK])
    proof = create_proof(receipt, verification_method="x", created=CREATED)
    result = verify_proof(undefined, proof)
    assert not result.verified
    assert result.error is not None
    assert "canonicalized" in result.error.message
    # a wrong path with the right target hash
    good_hash = target_hash(document)
    forged = MerkleProof2019(
        target_hash=good_hash, merkle_root=_digest(9), path=(("right", _digest(8)),)
    )
    result = verify_proof(document, create_proof(forged, verification_method="x", created=CREATED))
    assert result.error is not None
    assert result.error.property == "path"


def test_json_form_validation() -> None:
    good = {"targetHash": "ab" * 32, "merkleRoot": "cd" * 32, "path": [{"left": "ef" * 32}]}
    assert MerkleProof2019.from_json(good).path == (("left", bytes.fromhex("ef" * 32)),)
    for bad in (
        {**good, "targetHash": "AB" * 32},
        {**good, "path": [{"up": "ef" * 32}]},
        {**good, "path": [{"left": "ef" * 32, "right": "ef" * 32}]},
        {**good, "anchors": "blink:mocknet:x"},
    ):
        with pytest.raises(InvalidInput):
            MerkleProof2019.from_json(bad)
    with pytest.raises(InvalidInput):
        batch_proofs([], anchors=[])
    with pytest.raises(InvalidInput):
        batch_proofs([b"short"], anchors=[])
