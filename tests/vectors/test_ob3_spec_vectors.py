"""1EdTech OB 3.0 / CLR 2.0 specification test vectors (eddsa-rdfc-2022).

Fixtures: tests/fixtures/ob3-examples/spec-test-vectors/obv3p0/ and clrv2p0/
(unsigned-credential.extracted.json, signed-credential.extracted.json, document-canon.txt,
proof-canon.txt; see tests/fixtures/SOURCES.md). The issuer's key is named by an https URL
(``https://example.edu/issuers/565049#z6Mk...``) whose fragment is the Multikey value; the
controller document is supplied locally through the resolver's ``documents`` map.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from merito.proofs import data_integrity
from merito.proofs.cryptosuites import default_registry
from merito.proofs.resolution import VerificationMethodResolver

VECTORS = Path(__file__).parents[1] / "fixtures" / "ob3-examples" / "spec-test-vectors"
ISSUER = "https://example.edu/issuers/565049"
KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


def _load(folder: str, name: str) -> Any:
    text = (VECTORS / folder / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def _issuer_document(*, relationships: tuple[str, ...] = ("assertionMethod",)) -> dict[str, Any]:
    vm_id = f"{ISSUER}#{KEY}"
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": ISSUER,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": ISSUER, "publicKeyMultibase": KEY}
        ],
    }
    for relationship in relationships:
        document[relationship] = [vm_id]
    return document


def _proof(signed: dict[str, Any]) -> dict[str, Any]:
    proof = signed["proof"]
    return proof[0] if isinstance(proof, list) else proof  # type: ignore[no-any-return]


@pytest.mark.parametrize("folder", ["obv3p0", "clrv2p0"])
def test_canonical_forms_match(folder: str) -> None:
    suite = default_registry().get("DataIntegrityProof", "eddsa-rdfc-2022")
    assert suite is not None
    unsigned = _load(folder, "unsigned-credential.extracted.json")
    options = dict(_proof(_load(folder, "signed-credential.extracted.json")).items())
    del options["proofValue"]
    assert suite.transform(unsigned, options).decode() == _load(folder, "document-canon.txt")
    assert suite.proof_configuration(options, document=unsigned).decode() == _load(
        folder, "proof-canon.txt"
    )


@pytest.mark.parametrize("folder", ["obv3p0", "clrv2p0"])
def test_signed_credential_verifies(folder: str) -> None:
    signed = _load(folder, "signed-credential.extracted.json")
    resolver = VerificationMethodResolver(documents={ISSUER: _issuer_document()})
    [result] = data_integrity.verify(signed, resolver=resolver)
    assert result.verified, result.message
    assert result.controller == ISSUER
    assert result.verification_method == f"{ISSUER}#{KEY}"


def test_tampered_credential_fails() -> None:
    signed = _load("obv3p0", "signed-credential.extracted.json")
    signed["credentialSubject"]["achievement"]["name"] = "Teamwork (edited)"
    resolver = VerificationMethodResolver(documents={ISSUER: _issuer_document()})
    [result] = data_integrity.verify(signed, resolver=resolver)
    assert not result.verified
    assert result.problem == "PROOF_VERIFICATION_ERROR"


def test_key_not_authorized_for_assertion_fails() -> None:
    signed = _load("obv3p0", "signed-credential.extracted.json")
    document = _issuer_document(relationships=("authentication",))
    [result] = data_integrity.verify(
        signed, resolver=VerificationMethodResolver(documents={ISSUER: document})
    )
    assert not result.verified
    assert result.problem == "INVALID_RELATIONSHIP_FOR_VERIFICATION_METHOD"


def test_without_a_fetcher_the_https_controller_cannot_be_resolved() -> None:
    signed = _load("obv3p0", "signed-credential.extracted.json")
    [result] = data_integrity.verify(signed, resolver=VerificationMethodResolver())
    assert not result.verified
    assert "offline" in result.message
