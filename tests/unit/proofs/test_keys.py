"""Keys: sign/verify, JWK and Multikey import/export, seeds (merito.proofs.keys)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as CryptoEd
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from merito.errors import InvalidKey
from merito.proofs.keys import (
    Ed25519PublicKey,
    P256PublicKey,
    PrivateKey,
    PublicKey,
    RsaPrivateKey,
    Signer,
    generate_key,
    private_key_from_jwk,
    private_key_from_multibase,
    private_key_to_jwk,
    public_key_from_jwk,
    public_key_from_multibase,
)

ED = generate_key("Ed25519", seed=b"\x07" * 32)
P256 = generate_key("P-256", seed=b"p256 test seed")
RSA = generate_key("RS256")
ALL = [ED, P256, RSA]


@pytest.mark.parametrize("key", ALL, ids=lambda k: k.algorithm)
def test_sign_verify_round_trip(key: PrivateKey) -> None:
    signature = key.sign(b"message")
    assert isinstance(key.public_key, PublicKey)
    assert key.public_key.verify(b"message", signature)
    assert not key.public_key.verify(b"messagE", signature)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not key.public_key.verify(b"message", tampered)


@pytest.mark.parametrize("key", ALL, ids=lambda k: k.algorithm)
@given(signature=st.binary(max_size=300))
def test_verify_never_raises(key: PrivateKey, signature: bytes) -> None:
    assert key.public_key.verify(b"message", signature) is False


def test_algorithms_and_key_types() -> None:
    assert [(k.algorithm, k.public_key.key_type) for k in ALL] == [
        ("EdDSA", "Ed25519"),
        ("ES256", "P-256"),
        ("RS256", "RSA"),
    ]


@pytest.mark.parametrize("key", ALL, ids=lambda k: k.algorithm)
def test_jwk_round_trips(key: PrivateKey) -> None:
    public_jwk = key.public_key.to_jwk()
    assert "d" not in public_jwk
    assert public_key_from_jwk(public_jwk) == key.public_key
    private_jwk = private_key_to_jwk(key)
    restored = private_key_from_jwk(private_jwk)
    assert restored.public_key == key.public_key
    assert key.public_key.verify(b"m", restored.sign(b"m"))


def test_multibase_round_trips_and_rsa_has_none() -> None:
    for key in (ED, P256):
        text = key.public_key.to_multibase()
        assert public_key_from_multibase(text) == key.public_key
    assert ED.public_key.to_multibase().startswith("z6Mk")
    assert P256.public_key.to_multibase().startswith("zDn")
    with pytest.raises(InvalidKey):
        RSA.public_key.to_multibase()


def test_seeds_are_deterministic_and_rsa_refuses_them() -> None:
    assert generate_key("EdDSA", seed=b"\x07" * 32).public_key == ED.public_key
    assert generate_key("ES256", seed=b"p256 test seed").public_key == P256.public_key
    assert generate_key("Ed25519").public_key != generate_key("Ed25519").public_key
    with pytest.raises(InvalidKey):
        generate_key("RSA", seed=b"x")
    with pytest.raises(InvalidKey):
        generate_key("Ed25519", seed=b"short")
    with pytest.raises(InvalidKey, match="unsupported key algorithm"):
        generate_key("secp256k1")


def test_interop_with_cryptography() -> None:
    # Ed25519: a signature from `cryptography` verifies with ours, and the reverse.
    theirs = CryptoEd.from_private_bytes(b"\x07" * 32)
    assert ED.public_key.verify(b"m", theirs.sign(b"m"))
    theirs.public_key().verify(ED.sign(b"m"), b"m")
    # P-256: DER from `cryptography` converted to JOSE r||s verifies with ours.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(ec_key.sign(b"m", ec.ECDSA(hashes.SHA256())))
    ours = P256PublicKey(ec_key.public_key())
    assert ours.verify(b"m", r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    # and our r||s converts to DER that `cryptography` accepts.
    raw = P256.sign(b"m")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert isinstance(P256.public_key, P256PublicKey)
    P256.public_key._key.verify(der, b"m", ec.ECDSA(hashes.SHA256()))
    # RSA PKCS#1 v1.5
    assert isinstance(RSA, RsaPrivateKey)
    RSA.public_key._key.verify(RSA.sign(b"m"), b"m", padding.PKCS1v15(), hashes.SHA256())


def test_small_rsa_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(InvalidKey, match="2048"):
        RsaPrivateKey(small)


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "not base64!"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    ],
)
def test_bad_jwks_raise_invalid_key(jwk: dict[str, str]) -> None:
    with pytest.raises(InvalidKey):
        public_key_from_jwk(jwk)


def test_private_jwk_must_match_its_public_part() -> None:
    jwk = private_key_to_jwk(ED)
    jwk["x"] = generate_key("Ed25519").public_key.to_jwk()["x"]
    with pytest.raises(InvalidKey, match="does not match"):
        private_key_from_jwk(jwk)


@pytest.mark.parametrize("text", ["z", "x123", "z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc"])
def test_bad_multibase_keys(text: str) -> None:
    with pytest.raises(InvalidKey):
        public_key_from_multibase(text)
    with pytest.raises(InvalidKey):
        private_key_from_multibase(text)


def test_private_material_is_not_in_reprs() -> None:
    secret = private_key_to_jwk(ED)["d"]
    for key in ALL:
        assert "d=" not in repr(key)
    assert secret not in repr(ED)
    assert isinstance(ED.public_key, Ed25519PublicKey)
    assert repr(ED.public_key).startswith("Ed25519PublicKey(z6Mk")


def test_signer_controller() -> None:
    signer = Signer(ED, "did:web:example.com#key-1")
    assert signer.controller == "did:web:example.com"
    assert signer.algorithm == "EdDSA"
    assert Signer(ED, "did:key:z6Mk").controller == "did:key:z6Mk"
