"""W3C vc-di-eddsa test vectors reproduced byte for byte.

Fixtures: tests/fixtures/w3c-vc-di-eddsa/TestVectors/ (w3c/vc-di-eddsa @ abb673eb9df6):
keyPair.json, unsigned.json, eddsa-rdfc-2022/*, eddsa-rdfc-2022/employ/*, eddsa-jcs-2022/*,
Ed25519Signature2020/*, proof-set-chain/*.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from merito.formats.jcs import canonicalize
from merito.formats.multibase import encode_multibase
from merito.proofs import data_integrity
from merito.proofs.cryptosuites import default_registry
from merito.proofs.keys import PrivateKey, Signer, private_key_from_multibase
from merito.proofs.resolution import VerificationMethodResolver

VECTORS = Path(__file__).parents[1] / "fixtures" / "w3c-vc-di-eddsa" / "TestVectors"
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


def _json(path: str) -> Any:
    return json.loads((VECTORS / path).read_text())


def _text(path: str) -> str:
    return (VECTORS / path).read_text()


def _key() -> PrivateKey:
    pair = _json("keyPair.json")
    key = private_key_from_multibase(pair["privateKeyMultibase"])
    assert key.public_key.to_multibase() == pair["publicKeyMultibase"]
    return key


def _signer(key: PrivateKey) -> Signer:
    mb = key.public_key.to_multibase()
    return Signer(key, f"did:key:{mb}#{mb}")


# (folder, file suffix, proof type, cryptosuite, unsigned document, extra context)
SUITES = [
    ("eddsa-rdfc-2022", "DataInt", "DataIntegrityProof", "eddsa-rdfc-2022"),
    ("eddsa-jcs-2022", "JCS", "DataIntegrityProof", "eddsa-jcs-2022"),
    ("Ed25519Signature2020", "EdSig", "Ed25519Signature2020", None),
]


def _unsigned_for(folder: str) -> dict[str, Any]:
    unsigned: dict[str, Any] = _json("unsigned.json")
    if folder == "Ed25519Signature2020":
        # The published signedEdSig.json adds the Ed25519Signature2020 context.
        unsigned["@context"] = _json("Ed25519Signature2020/signedEdSig.json")["@context"]
    return unsigned


@pytest.mark.parametrize(("folder", "suffix", "proof_type", "suite_name"), SUITES)
def test_every_intermediate_value_matches(
    folder: str, suffix: str, proof_type: str, suite_name: str | None
) -> None:
    suite = default_registry().get(proof_type, suite_name)
    assert suite is not None
    unsigned = _unsigned_for(folder)
    proof_config: dict[str, Any] = _json(f"{folder}/proofConfig{suffix}.json")
    options = {k: v for k, v in proof_config.items() if k != "@context"}

    canonical_document = suite.transform(unsigned, options)
    canonical_config = suite.proof_configuration(options, document=unsigned)
    assert canonical_document.decode() == _text(f"{folder}/canonDoc{suffix}.txt")
    assert canonical_config.decode() == _text(f"{folder}/proofCanon{suffix}.txt")
    assert hashlib.sha256(canonical_document).hexdigest() == _text(f"{folder}/docHash{suffix}.txt")
    assert hashlib.sha256(canonical_config).hexdigest() == _text(f"{folder}/proofHash{suffix}.txt")
    combined = suite.hash(canonical_document, canonical_config)
    assert combined.hex() == _text(f"{folder}/combinedHash{suffix}.txt")
    signature = suite.serialize(combined, _key())
    assert signature.hex() == _text(f"{folder}/sigHex{suffix}.txt")
    assert suite.encode_proof_value(signature) == _text(f"{folder}/sigBTC58{suffix}.txt")


@pytest.mark.parametrize(("folder", "suffix", "proof_type", "suite_name"), SUITES)
def test_sign_reproduces_the_signed_document(
    folder: str, suffix: str, proof_type: str, suite_name: str | None
) -> None:
    unsigned = _unsigned_for(folder)
    before = copy.deepcopy(unsigned)
    signed = data_integrity.sign(
        unsigned,
        signer=_signer(_key()),
        cryptosuite=suite_name or "",
        proof_type=proof_type,
        created=CREATED,
    )
    assert signed == _json(f"{folder}/signed{suffix}.json")
    assert unsigned == before  # never mutates its input


@pytest.mark.parametrize(("folder", "suffix", "proof_type", "suite_name"), SUITES)
def test_published_signed_document_verifies(
    folder: str, suffix: str, proof_type: str, suite_name: str | None
) -> None:
    signed = _json(f"{folder}/signed{suffix}.json")
    [result] = data_integrity.verify(signed, resolver=VerificationMethodResolver())
    assert result.verified, result.message
    assert result.type == proof_type
    assert result.cryptosuite == suite_name
    assert result.controller == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    assert result.problem is None


def test_jcs_canonical_document_is_rfc8785() -> None:
    # eddsa-jcs-2022/canonDocJCS.txt is the JCS form of unsigned.json.
    assert canonicalize(_json("unsigned.json")).decode() == _text("eddsa-jcs-2022/canonDocJCS.txt")


def test_employment_vector_from_published_canonical_forms() -> None:
    """rdfc 'employ' vector: hashing, signature and proofValue from the published N-Quads.

    Its context https://w3id.org/citizenship/v4rc1 is not bundled, so canonicalization itself
    cannot run offline; verifying the signed document reports that plainly.
    """
    folder = "eddsa-rdfc-2022/employ"
    suite = default_registry().get("DataIntegrityProof", "eddsa-rdfc-2022")
    assert suite is not None
    canonical_document = _text(f"{folder}/canonDocDataInt.txt").encode()
    canonical_config = _text(f"{folder}/proofCanonDataInt.txt").encode()
    assert hashlib.sha256(canonical_document).hexdigest() == _text(f"{folder}/docHashDataInt.txt")
    assert hashlib.sha256(canonical_config).hexdigest() == _text(f"{folder}/proofHashDataInt.txt")
    combined = suite.hash(canonical_document, canonical_config)
    assert combined.hex() == _text(f"{folder}/combinedHashDataInt.txt")
    signature = suite.serialize(combined, _key())
    assert signature.hex() == _text(f"{folder}/sigHexDataInt.txt")
    assert encode_multibase(signature) == _text(f"{folder}/sigBTC58DataInt.txt")
    assert _json(f"{folder}/signedDataInt.json")["proof"]["proofValue"] == encode_multibase(
        signature
    )

    [result] = data_integrity.verify(
        _json(f"{folder}/signedDataInt.json"), resolver=VerificationMethodResolver()
    )
    assert not result.verified
    assert result.problem == "PROOF_TRANSFORMATION_ERROR"
    assert "citizenship/v4rc1" in result.message


@pytest.mark.parametrize(
    ("path", "count"),
    [
        ("proof-set-chain/signedProofSet1.json", 1),
        ("proof-set-chain/signedProofSet2.json", 2),
        ("proof-set-chain/signedProofChain1.json", 3),
        ("proof-set-chain/signedProofChain2.json", 4),
    ],
)
def test_proof_sets_and_chains_verify(path: str, count: int) -> None:
    results = data_integrity.verify(_json(path), resolver=VerificationMethodResolver())
    assert len(results) == count
    assert all(r.verified for r in results), [r.message for r in results]


def _pairs() -> dict[str, PrivateKey]:
    pairs = _json("proof-set-chain/multiKeyPairs.json")
    return {name: private_key_from_multibase(p["privateKeyMultibase"]) for name, p in pairs.items()}


def test_proof_set_and_chain_are_reproduced() -> None:
    keys = _pairs()
    unsigned = _json("proof-set-chain/unsigned.json")
    configs = [_json(f"proof-set-chain/proofSetConfig{i}.json") for i in (1, 2)]
    document = unsigned
    for config, name in zip(configs, ("keyPair1", "keyPair2"), strict=True):
        document = data_integrity.sign(
            document,
            signer=_signer(keys[name]),
            created=datetime.fromisoformat(config["created"]),
            proof_id=config["id"],
        )
    assert document == _json("proof-set-chain/signedProofSet2.json")

    for i, name in ((1, "keyPair3"), (2, "keyPair4")):
        config = _json(f"proof-set-chain/proofChainConfig{i}.json")
        document = data_integrity.sign(
            document,
            signer=_signer(keys[name]),
            created=datetime.fromisoformat(config["created"]),
            proof_id=config.get("id"),
            previous_proof=config["previousProof"],
        )
        assert document == _json(f"proof-set-chain/signedProofChain{i}.json")


def test_chain_with_a_missing_previous_proof_fails() -> None:
    document = _json("proof-set-chain/signedProofChain2.json")
    document["proof"] = [p for p in document["proof"] if p.get("id") != document["proof"][2]["id"]]
    results = data_integrity.verify(document, resolver=VerificationMethodResolver())
    assert [r.verified for r in results] == [True, True, False]
    assert results[2].problem == "PROOF_VERIFICATION_ERROR"
    assert "previousProof" in results[2].message
