"""did:key test vectors (w3c-ccg/did-method-key @ f5abee840c31).

Fixtures: tests/fixtures/did-key/test-vectors/ed25519-x25519.json and nist-curves.json.
The vectors' documents use the 2018-2021 key types; Merito resolves to Multikey, so the
comparison is on what must not change: DIDs, verification method ids, key bytes, and
the verification relationships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from merito.errors import InvalidInput, ProofError
from merito.formats.did_key import parse_did_key, resolve_did_key
from merito.formats.multibase import b58decode
from merito.proofs.keys import (
    Ed25519PublicKey,
    P256PrivateKey,
    P256PublicKey,
    generate_key,
    private_key_from_jwk,
    public_key_from_multibase,
)
from merito.proofs.resolution import VerificationMethodResolver

FIXTURES = Path(__file__).parents[1] / "fixtures" / "did-key" / "test-vectors"
ED25519 = json.loads((FIXTURES / "ed25519-x25519.json").read_text())
NIST = json.loads((FIXTURES / "nist-curves.json").read_text())
RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
)


@pytest.mark.parametrize("did", sorted(ED25519))
def test_ed25519_vectors(did: str) -> None:
    vector: dict[str, Any] = ED25519[did]
    expected_vm = vector["didDocument"]["verificationMethod"][0]
    # The DID is derived from the seed.
    key = generate_key("Ed25519", seed=bytes.fromhex(vector["seed"]))
    assert f"did:key:{key.public_key.to_multibase()}" == did
    # Resolution: same id, same key bytes, same relationships.
    document = resolve_did_key(did)
    [vm] = document["verificationMethod"]
    assert vm["id"] == expected_vm["id"]
    assert vm["controller"] == did
    assert vm["type"] == "Multikey"
    public = public_key_from_multibase(vm["publicKeyMultibase"])
    assert isinstance(public, Ed25519PublicKey)
    if "publicKeyBase58" in expected_vm:
        assert public.raw == b58decode(expected_vm["publicKeyBase58"])
    else:  # one vector publishes its key as a JsonWebKey2020
        assert public.to_jwk() == expected_vm["publicKeyJwk"]
    for relationship in RELATIONSHIPS:
        assert document[relationship] == vector["didDocument"][relationship]
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    method = VerificationMethodResolver().resolve(expected_vm["id"])
    assert method.public_key == public
    assert method.relationships == frozenset(RELATIONSHIPS)


P256_JWK = sorted(
    did
    for did, v in NIST.items()
    if v["verificationMethod"].get("publicKeyJwk", {}).get("crv") == "P-256"
)


@pytest.mark.parametrize("did", P256_JWK)
def test_p256_jwk_vectors(did: str) -> None:
    vector = NIST[did]["verificationMethod"]
    parsed = parse_did_key(did)
    assert parsed.key_type == "P-256"
    public = public_key_from_multibase(parsed.public_key_multibase)
    assert isinstance(public, P256PublicKey)
    assert public.to_jwk() == vector["publicKeyJwk"]
    # The private JWK gives back the same did:key.
    private = private_key_from_jwk(vector["privateKeyJwk"])
    assert f"did:key:{private.public_key.to_multibase()}" == did
    [vm] = resolve_did_key(did)["verificationMethod"]
    assert vm["id"] == did + vector["id"]


def test_p256_base58_vector() -> None:
    did = "did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb"
    vector = NIST[did]["verificationMethod"]
    parsed = parse_did_key(did)
    assert parsed.raw == b58decode(vector["publicKeyBase58"])
    from cryptography.hazmat.primitives.asymmetric import ec

    scalar = int.from_bytes(b58decode(vector["privateKeyBase58"]), "big")
    private = P256PrivateKey(ec.derive_private_key(scalar, ec.SECP256R1()))
    assert f"did:key:{private.public_key.to_multibase()}" == did
    assert VerificationMethodResolver().resolve(vector["id"]).controller == did


@pytest.mark.parametrize(
    "did", sorted(d for d in NIST if not d.startswith("did:key:zDn")), ids=lambda d: d[:20]
)
def test_other_nist_curves_are_refused_clearly(did: str) -> None:
    with pytest.raises(InvalidInput, match="multicodec"):
        parse_did_key(did)
    with pytest.raises(ProofError) as excinfo:
        VerificationMethodResolver().resolve(f"{did}#{did.removeprefix('did:key:')}")
    assert excinfo.value.problem == "INVALID_VERIFICATION_METHOD_URL"
