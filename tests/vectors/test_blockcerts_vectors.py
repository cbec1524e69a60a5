"""Blockcerts MerkleProof2019 vectors: every sample certificate's proof, byte for byte.

For each certificate of cert-verifier-js's v3 fixtures: the proofValue decodes and
re-encodes to the same string (cert-issuer's encoding), the target hash equals SHA-256 of
the RDFC-1.0 N-Quads of the certificate as its proof covers it, and the path leads to the
merkle root. Contexts come from the fixtures (cert-schema), never from the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld

from merito.proofs.merkle_proof_2019 import (
    MerkleProof2019,
    decode_proof_value,
    encode_proof_value,
    root_from_path,
    verify_proof,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
BLOCKCERTS = FIXTURES / "blockcerts"
V3 = BLOCKCERTS / "cert-verifier-js/fixtures/v3"


def _url_map() -> dict[str, Path]:
    urls = {
        url: FIXTURES / "contexts" / path
        for url, path in json.loads((FIXTURES / "contexts/url-map.json").read_text()).items()
    }
    schema = BLOCKCERTS / "cert-schema"
    for version in ("3.0", "3.1", "3.2"):
        for url in (
            f"https://w3id.org/blockcerts/schema/{version}/context.json",
            f"https://w3id.org/blockcerts/v{version}",
            f"https://www.blockcerts.org/schema/{version}/context.json",
        ):
            urls[url] = schema / version / "context.json"
    urls["https://w3id.org/blockcerts/v3"] = schema / "3.0/context.json"
    urls["https://w3id.org/security/suites/merkle-2019/v1"] = (
        schema / "3.0/merkleProof2019Context.json"
    )
    urls["https://w3id.org/security/suites/chained-2021/v1"] = (
        schema / "3.1/chainedProof2021Context.json"
    )
    return urls


URLS = _url_map()


def _loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    if url not in URLS:
        raise jsonld.JsonLdError(f"not a fixture context: {url}", "loading document failed")
    return {"contextUrl": None, "documentUrl": url, "document": json.loads(URLS[url].read_text())}


def _canonize(document: dict[str, Any]) -> str:
    nquads: str = jsonld.normalize(
        document,
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader},
    )
    return nquads


def _merkle_proofs(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    document = json.loads((V3 / name).read_text())
    found = document.get("proof", [])
    proofs = found if isinstance(found, list) else [found]
    return [
        (document, p)
        for p in proofs
        if p.get("type") == "MerkleProof2019" or p.get("cryptosuite") == "merkle-proof-2019"
    ]


ALL = sorted(p.name for p in V3.glob("*.json") if _merkle_proofs(p.name))
# Certificates whose target hash we reproduce (cert-verifier-js reports them valid).
VALID = [
    "cert-rl-status-list-2021-revoked.json",
    "cert-rl-status-list-2021-suspended.json",
    "cert-rl-status-list-2021.json",
    "ethereum-sepolia-v3.json",
    "example-non-chained-proofs.json",
    "mocknet-vc-v2-credential-schema-invalid.json",
    "mocknet-vc-v2-credential-schema.json",
    "mocknet-vc-v2-credential-subject-array.json",
    "mocknet-vc-v2-data-integrity-proof-multiple-signatures-non-chained.json",
    "mocknet-vc-v2-data-integrity-proof-multiple-signatures.json",
    "mocknet-vc-v2-data-integrity-proof.json",
    "mocknet-vc-v2-invalid-date-format.json",
    "mocknet-vc-v2-name-description-multilingual.json",
    "mocknet-vc-v2-name-description.json",
    "mocknet-vc-v2-validFrom-not-yet-valid.json",
    "mocknet-vc-v2-validFrom-valid.json",
    "mocknet-vc-v2-validUntil-expired.json",
    "mocknet-verifiable-presentation-failing-credential.json",
    "mocknet-verifiable-presentation.json",
    "testnet-v3-did--verification-method-mismatch.json",
    "testnet-v3-did--verification-method-not-referenced.json",
    "testnet-v3-did.json",
]
TAMPERED = ["testnet-v3--tampered.json", "mocknet-verifiable-presentation-tampered.json"]


def test_the_fixture_set_is_what_we_expect() -> None:
    assert set(VALID) | set(TAMPERED) <= set(ALL)
    assert len(ALL) >= 30


@pytest.mark.parametrize("name", ALL)
def test_proof_value_round_trips_byte_for_byte(name: str) -> None:
    for _, proof in _merkle_proofs(name):
        receipt = decode_proof_value(proof["proofValue"])
        assert encode_proof_value(receipt) == proof["proofValue"]
        assert MerkleProof2019.from_json(receipt.to_json()) == receipt
        # the receipt itself is sound: its path leads to its root
        assert root_from_path(receipt.target_hash, receipt.path) == receipt.merkle_root


@pytest.mark.parametrize("name", VALID)
def test_target_hash_path_and_root_verify(name: str) -> None:
    for document, proof in _merkle_proofs(name):
        result = verify_proof(document, proof, canonize=_canonize)
        assert result.verified, result.error
        assert result.local_hash == result.receipt.target_hash  # type: ignore[union-attr]
        assert result.anchors


@pytest.mark.parametrize("name", TAMPERED)
def test_tampered_certificates_fail_on_the_target_hash(name: str) -> None:
    results = [verify_proof(d, p, canonize=_canonize) for d, p in _merkle_proofs(name)]
    assert not all(r.verified for r in results)
    failed = next(r for r in results if not r.verified)
    assert failed.error is not None
    assert failed.error.property == "targetHash"


def test_ethereum_anchor_of_a_sample_certificate() -> None:
    ((_, proof),) = _merkle_proofs("ethereum-sepolia-v3.json")
    receipt = decode_proof_value(proof["proofValue"])
    assert receipt.anchors == (
        "blink:eth:sepolia:0x1f615470024000c3ab532ed74c5a60b8f6c2feb6489a67be20f103831996f9ab",
    )


def test_encoded_vectors_of_both_reference_encoders() -> None:
    vectors = json.loads((BLOCKCERTS / "lds-merkle-proof-2019-encoded.json").read_text())
    expected = json.loads((BLOCKCERTS / "lds-merkle-proof-2019-py/proofValue.json").read_text())
    for vector in vectors.values():
        assert decode_proof_value(vector["proofValue"]).to_json() == expected
    # cert-issuer's (Python) encoding is the one we write
    receipt = MerkleProof2019.from_json(expected)
    assert encode_proof_value(receipt) == vectors["cert_issuer_python"]["proofValue"]
