"""VC-JWT (OB 3.0 §8.2): sign -> verify, interop, hostile tokens (merito.proofs.vc_jwt).

Fixtures: tests/fixtures/ob3-examples/validator-clr20/simple.jwt (RS256, embedded ``jwk``),
validator-ob30/simple.jwt (RS256, no key reference: cannot be verified offline).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey as CryptoEd
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.formats.did_key import create_did_key
from merito.proofs.keys import (
    P256PublicKey,
    PrivateKey,
    Signer,
    generate_key,
    public_key_from_jwk,
)
from merito.proofs.resolution import VerificationMethodResolver
from merito.proofs.vc_jwt import JwtResult, sign_jwt, verify_jwt

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ob3-examples"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
CREDENTIAL: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "http://example.edu/credentials/3732",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {"id": "did:web:example.edu", "type": ["Profile"], "name": "Example University"},
    "validFrom": "2010-01-01T00:00:00Z",
    "validUntil": "2030-01-01T00:00:00Z",
    "name": "Example University Degree",
    "credentialSubject": {
        "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
        "type": ["AchievementSubject"],
    },
}
ED = generate_key("Ed25519", seed=b"\x44" * 32)
P256 = generate_key("P-256", seed=b"jwt")
RSA = generate_key("RSA")
RSA_DID = "did:web:example.edu"
RSA_RESOLVER = VerificationMethodResolver(
    documents={
        RSA_DID: {
            "id": RSA_DID,
            "verificationMethod": [
                {
                    "id": f"{RSA_DID}#rsa",
                    "type": "JsonWebKey",
                    "controller": RSA_DID,
                    "publicKeyJwk": RSA.public_key.to_jwk(),
                }
            ],
            "assertionMethod": ["#rsa"],
        }
    }
)


def _did_key_signer(key: PrivateKey) -> Signer:
    mb = key.public_key.to_multibase()
    return Signer(key, f"{create_did_key(mb)}#{mb}")


SIGNERS = [
    (_did_key_signer(ED), VerificationMethodResolver()),
    (_did_key_signer(P256), VerificationMethodResolver()),
    (Signer(RSA, f"{RSA_DID}#rsa"), RSA_RESOLVER),
]


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


@pytest.mark.parametrize(("signer", "resolver"), SIGNERS, ids=["EdDSA", "ES256", "RS256"])
def test_round_trip(signer: Signer, resolver: VerificationMethodResolver) -> None:
    token = sign_jwt(CREDENTIAL, signer=signer, now=NOW)
    header, payload = _parts(token)
    assert header == {"alg": signer.key.algorithm, "typ": "JWT", "kid": signer.verification_method}
    # OB 3.0 §8.2 claims, as in validator-ob30/simple.jwt (+ exp from validUntil)
    assert payload == {
        "vc": CREDENTIAL,
        "iss": "did:web:example.edu",
        "nbf": 1262304000,
        "jti": "http://example.edu/credentials/3732",
        "sub": "did:example:ebfeb1f712ebc6f1c276e12ec21",
        "exp": 1893456000,
    }
    result = verify_jwt(token, resolver=resolver)
    assert result.verified, result.message
    assert result.credential == CREDENTIAL
    assert result.verification_method == signer.verification_method
    assert result.controller == signer.controller
    assert not result.self_asserted


def test_nbf_falls_back_to_now() -> None:
    credential = {k: v for k, v in CREDENTIAL.items() if k not in ("validFrom", "validUntil")}
    _, payload = _parts(sign_jwt(credential, signer=SIGNERS[0][0], now=NOW))
    assert payload["nbf"] == int(NOW.timestamp())
    assert "exp" not in payload


def test_ob3_fixture_shape_matches() -> None:
    _, payload = _parts((FIXTURES / "validator-ob30/simple.jwt").read_text().strip())
    assert set(payload) == {"vc", "iss", "nbf", "jti", "sub"}


def test_embedded_jwk_fixture_is_self_asserted() -> None:
    token = (FIXTURES / "validator-clr20/simple.jwt").read_text()
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert result.verified, result.message
    assert result.self_asserted
    assert result.controller is None
    assert "self-asserted" in result.message
    assert result.credential is not None
    assert result.credential["type"] == ["VerifiableCredential", "ClrCredential"]
    # The nested AchievementCredential JWT is signed the same way.
    inner = result.credential["credentialSubject"]["verifiableCredential"][0]
    assert verify_jwt(inner, resolver=VerificationMethodResolver()).verified


def test_fixture_without_a_key_reference_fails_plainly() -> None:
    token = (FIXTURES / "validator-ob30/simple.jwt").read_text()
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert not result.verified
    assert result.problem == "INVALID_VERIFICATION_METHOD"
    assert result.credential is not None  # decoded, for the report


def test_interop_tokens_made_with_cryptography() -> None:
    """Tokens built independently (cryptography + base64 by hand) verify."""
    claims = {"vc": CREDENTIAL, "iss": "did:web:example.edu"}
    # EdDSA
    theirs = CryptoEd.from_private_bytes(b"\x44" * 32)
    signer = SIGNERS[0][0]
    signing_input = (
        f"{_segment({'alg': 'EdDSA', 'kid': signer.verification_method})}.{_segment(claims)}"
    )
    token = (
        signing_input
        + "."
        + base64.urlsafe_b64encode(theirs.sign(signing_input.encode())).rstrip(b"=").decode()
    )
    assert verify_jwt(token, resolver=VerificationMethodResolver()).verified
    # ES256 with an embedded jwk
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = P256PublicKey(ec_key.public_key()).to_jwk()
    signing_input = f"{_segment({'alg': 'ES256', 'jwk': jwk})}.{_segment(claims)}"
    r, s = decode_dss_signature(ec_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    token = signing_input + "." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert result.verified
    assert result.self_asserted


def test_our_tokens_verify_with_cryptography() -> None:
    token = sign_jwt(CREDENTIAL, signer=SIGNERS[0][0], now=NOW)
    signing_input, _, signature = token.rpartition(".")
    theirs = CryptoEd.from_private_bytes(b"\x44" * 32).public_key()
    theirs.verify(base64.urlsafe_b64decode(signature + "=="), signing_input.encode())
    token = sign_jwt(CREDENTIAL, signer=SIGNERS[2][0], now=NOW)
    signing_input, _, signature = token.rpartition(".")
    RSA.public_key._key.verify(  # type: ignore[attr-defined]
        base64.urlsafe_b64decode(signature + "=="),
        signing_input.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_vc_jose_cose_shape_and_relative_kid() -> None:
    signer = SIGNERS[0][0]
    credential = {**CREDENTIAL, "issuer": signer.controller}
    header = {
        "alg": "EdDSA",
        "kid": "#" + signer.verification_method.split("#")[1],
        "typ": "vc+jwt",
    }
    signing_input = f"{_segment(header)}.{_segment({**credential, 'iss': signer.controller})}"
    token = (
        signing_input
        + "."
        + base64.urlsafe_b64encode(ED.sign(signing_input.encode())).rstrip(b"=").decode()
    )
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert result.verified, result.message
    assert result.verification_method == signer.verification_method
    assert result.credential is not None
    assert result.credential["iss"] == signer.controller


def test_explicit_public_key() -> None:
    token = sign_jwt(CREDENTIAL, signer=SIGNERS[2][0], now=NOW)
    result = verify_jwt(token, resolver=VerificationMethodResolver(), public_key=RSA.public_key)
    assert result.verified
    assert result.controller == RSA_DID
    wrong = verify_jwt(
        token, resolver=VerificationMethodResolver(), public_key=generate_key("RSA").public_key
    )
    assert wrong.problem == "PROOF_VERIFICATION_ERROR"


def _forge(header: dict[str, Any], payload: Any, key: PrivateKey = ED) -> str:
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    return (
        signing_input
        + "."
        + base64.urlsafe_b64encode(key.sign(signing_input.encode())).rstrip(b"=").decode()
    )


KID = SIGNERS[0][0].verification_method
GOOD = sign_jwt(CREDENTIAL, signer=SIGNERS[0][0], now=NOW)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (_forge({"alg": "none", "kid": KID}, {"vc": CREDENTIAL}), "UNSUPPORTED_PROOF"),
        (GOOD.rpartition(".")[0] + ".", "MALFORMED_PROOF_ERROR"),
        (_forge({"alg": "HS256", "kid": KID}, {"vc": CREDENTIAL}), "UNSUPPORTED_PROOF"),
        (_forge({"alg": "ES256", "kid": KID}, {"vc": CREDENTIAL}), "PROOF_VERIFICATION_ERROR"),
        (_forge({"alg": "RS256", "kid": KID}, {"vc": CREDENTIAL}), "PROOF_VERIFICATION_ERROR"),
        (
            _forge({"alg": "EdDSA", "kid": KID, "crit": ["b64"]}, {"vc": CREDENTIAL}),
            "UNSUPPORTED_PROOF",
        ),
        (_forge({"alg": "EdDSA"}, {"vc": CREDENTIAL}), "INVALID_VERIFICATION_METHOD"),
        (_forge({"alg": "EdDSA", "kid": 5}, {"vc": CREDENTIAL}), "MALFORMED_PROOF_ERROR"),
        (_forge({"alg": "EdDSA", "kid": KID}, {"vc": "text"}), "MALFORMED_PROOF_ERROR"),
        (_forge({"alg": "EdDSA", "kid": KID}, {"sub": "x"}), "MALFORMED_PROOF_ERROR"),
        (_forge({"alg": "EdDSA", "kid": KID}, [1, 2]), "MALFORMED_PROOF_ERROR"),
        (
            _forge({"alg": "EdDSA", "kid": KID}, {"vc": CREDENTIAL, "iss": "did:web:evil"}),
            "MALFORMED_PROOF_ERROR",
        ),
        (
            _forge({"alg": "EdDSA", "kid": KID}, {"vc": CREDENTIAL}, key=generate_key("Ed25519")),
            "PROOF_VERIFICATION_ERROR",
        ),
        (
            _forge({"alg": "EdDSA", "kid": "did:web:example.com#k"}, {"vc": CREDENTIAL}),
            "INVALID_CONTROLLER_DOCUMENT",
        ),
        (
            _forge(
                {"alg": "EdDSA", "jwk": {**ED.public_key.to_jwk(), "d": "AA"}}, {"vc": CREDENTIAL}
            ),
            "MALFORMED_PROOF_ERROR",
        ),
        (
            _forge({"alg": "EdDSA", "jwk": {"kty": "oct", "k": "AA"}}, {"vc": CREDENTIAL}),
            "MALFORMED_PROOF_ERROR",
        ),
        (
            _forge(
                {"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "X25519", "x": "AA"}},
                {"vc": CREDENTIAL},
            ),
            "PROOF_VERIFICATION_ERROR",
        ),
        ("a.b", "MALFORMED_PROOF_ERROR"),
        ("é.é.é", "MALFORMED_PROOF_ERROR"),
        ("!!!.???.***", "MALFORMED_PROOF_ERROR"),
        (GOOD.replace(".", ".x", 1), "MALFORMED_PROOF_ERROR"),
    ],
)
def test_bad_tokens_fail_with_a_problem(token: str, problem: str) -> None:
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert isinstance(result, JwtResult)
    assert not result.verified
    assert result.problem == problem, result.message
    assert result.message


def test_tampered_payload_fails() -> None:
    header, _payload, signature = GOOD.split(".")
    _, claims = _parts(GOOD)
    claims["vc"]["name"] = "Forged"
    result = verify_jwt(
        f"{header}.{_segment(claims)}.{signature}", resolver=VerificationMethodResolver()
    )
    assert (result.verified, result.problem) == (False, "PROOF_VERIFICATION_ERROR")


def test_kid_not_authorized_for_assertion() -> None:
    document = {
        "id": RSA_DID,
        "verificationMethod": [
            {
                "id": f"{RSA_DID}#rsa",
                "type": "JsonWebKey",
                "controller": RSA_DID,
                "publicKeyJwk": RSA.public_key.to_jwk(),
            }
        ],
        "authentication": ["#rsa"],
    }
    token = sign_jwt(CREDENTIAL, signer=SIGNERS[2][0], now=NOW)
    result = verify_jwt(token, resolver=VerificationMethodResolver(documents={RSA_DID: document}))
    assert result.problem == "INVALID_RELATIONSHIP_FOR_VERIFICATION_METHOD"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200)
    | st.from_regex(
        r"[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}", fullmatch=True
    )
)
def test_verify_never_raises(token: str) -> None:
    result = verify_jwt(token, resolver=VerificationMethodResolver())
    assert not result.verified
    assert result.problem


@settings(max_examples=200, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "jwk", "crit", "typ"]),
        st.none()
        | st.text(max_size=10)
        | st.integers()
        | st.dictionaries(st.text(max_size=4), st.text(max_size=4)),
    )
)
def test_verify_never_raises_on_odd_headers(header: dict[str, Any]) -> None:
    result = verify_jwt(_forge(header, {"vc": CREDENTIAL}), resolver=VerificationMethodResolver())
    assert not result.verified
    assert result.problem


def test_public_key_helper_accepts_the_fixture_jwk() -> None:
    token = (FIXTURES / "validator-clr20/simple.jwt").read_text()
    header, _ = _parts(token.strip())
    assert public_key_from_jwk(header["jwk"]).key_type == "RSA"
