"""The Data Integrity engine: sign, verify, tampering, malformed input (data_integrity)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merito.errors import InvalidCredential, ProofError
from merito.formats.did_key import create_did_key
from merito.proofs import data_integrity
from merito.proofs.cryptosuites import CryptosuiteRegistry, default_registry
from merito.proofs.data_integrity import ProofResult, format_datetime
from merito.proofs.eddsa_jcs_2022 import EddsaJcs2022
from merito.proofs.keys import PrivateKey, Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver

FIXTURE = (
    Path(__file__).parents[2]
    / "fixtures/ob3-examples/spec-test-vectors/obv3p0/unsigned-credential.extracted.json"
)
CREDENTIAL: dict[str, Any] = json.loads(FIXTURE.read_text())
CREATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
RESOLVER = VerificationMethodResolver()


def _did_key_signer(key: PrivateKey) -> Signer:
    mb = key.public_key.to_multibase()
    return Signer(key, f"{create_did_key(mb)}#{mb}")


SIGNER = _did_key_signer(generate_key("Ed25519", seed=b"\x11" * 32))
OTHER = _did_key_signer(generate_key("Ed25519", seed=b"\x22" * 32))
SUITES = ["eddsa-rdfc-2022", "eddsa-jcs-2022"]


def _sign(document: dict[str, Any], suite: str = "eddsa-jcs-2022", **kw: Any) -> dict[str, Any]:
    return data_integrity.sign(
        document, signer=kw.pop("signer", SIGNER), cryptosuite=suite, created=CREATED, **kw
    )


def _only(results: list[ProofResult]) -> ProofResult:
    assert len(results) == 1
    return results[0]


@pytest.mark.parametrize("suite", SUITES)
def test_round_trip(suite: str) -> None:
    original = copy.deepcopy(CREDENTIAL)
    signed = _sign(CREDENTIAL, suite)
    assert original == CREDENTIAL
    assert "proof" not in CREDENTIAL
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == suite
    assert proof["created"] == "2024-05-01T12:00:00Z"
    assert proof["proofValue"].startswith("z")
    assert ("@context" in proof) == (suite == "eddsa-jcs-2022")
    snapshot = copy.deepcopy(signed)
    result = _only(data_integrity.verify(signed, resolver=RESOLVER))
    assert signed == snapshot  # verify never mutates either
    assert result == ProofResult(
        verified=True,
        type="DataIntegrityProof",
        cryptosuite=suite,
        verification_method=SIGNER.verification_method,
        controller=SIGNER.controller,
        proof_purpose="assertionMethod",
        problem=None,
        message=result.message,
    )


def test_ed25519_signature_2020_round_trip_with_did_web() -> None:
    did = "did:web:issuer.example"
    key = generate_key("Ed25519", seed=b"\x33" * 32)
    vm = {
        "id": f"{did}#key-1",
        "type": "Ed25519VerificationKey2020",
        "controller": did,
        "publicKeyMultibase": key.public_key.to_multibase(),
    }
    resolver = VerificationMethodResolver(
        documents={did: {"id": did, "verificationMethod": [vm], "assertionMethod": ["#key-1"]}}
    )
    document = {
        **CREDENTIAL,
        "@context": [*CREDENTIAL["@context"], "https://w3id.org/security/suites/ed25519-2020/v1"],
    }
    signed = data_integrity.sign(
        document,
        signer=Signer(key, f"{did}#key-1"),
        proof_type="Ed25519Signature2020",
        created=CREATED,
    )
    assert "cryptosuite" not in signed["proof"]
    result = _only(data_integrity.verify(signed, resolver=resolver))
    assert result.verified, result.message
    assert (result.type, result.cryptosuite, result.controller) == (
        "Ed25519Signature2020",
        None,
        did,
    )


@pytest.mark.parametrize("algorithm", ["P-256", "RSA"])
def test_eddsa_suites_refuse_other_key_types(algorithm: str) -> None:
    signer = Signer(generate_key(algorithm), "did:web:example.com#k")
    for suite in SUITES:
        with pytest.raises(ProofError) as excinfo:
            _sign(CREDENTIAL, suite, signer=signer)
        assert excinfo.value.problem == "PROOF_GENERATION_ERROR"


def test_sign_refuses_bad_input() -> None:
    with pytest.raises(ProofError, match="unsupported cryptosuite"):
        _sign(CREDENTIAL, "ecdsa-rdfc-2019")
    with pytest.raises(InvalidCredential):
        data_integrity.sign([], signer=SIGNER, created=CREATED)  # type: ignore[arg-type]
    with pytest.raises(InvalidCredential, match="timezone"):
        data_integrity.sign(CREDENTIAL, signer=SIGNER, created=datetime(2024, 1, 1))
    with pytest.raises(ProofError, match="previousProof"):
        _sign(CREDENTIAL, previous_proof="urn:uuid:missing")


def test_format_datetime() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 1, 1, 2, 0, tzinfo=plus2)) == "2024-01-01T00:00:00Z"
    assert format_datetime(datetime(2024, 1, 1, 0, 0, 0, 5, tzinfo=UTC)) == (
        "2024-01-01T00:00:00.000005Z"
    )


@pytest.mark.parametrize("suite", SUITES)
def test_proof_sets(suite: str) -> None:
    once = _sign(CREDENTIAL, suite)
    twice = _sign(once, suite, signer=OTHER, proof_id="urn:uuid:second")
    thrice = _sign(twice, suite, previous_proof="urn:uuid:second")
    assert isinstance(once["proof"], dict)
    assert len(twice["proof"]) == 2
    assert len(thrice["proof"]) == 3
    assert once["proof"] == twice["proof"][0] == thrice["proof"][0]
    results = data_integrity.verify(thrice, resolver=RESOLVER)
    assert [r.verified for r in results] == [True, True, True]
    assert [r.controller for r in results] == [
        SIGNER.controller,
        OTHER.controller,
        SIGNER.controller,
    ]


def test_mixed_suites_in_one_proof_set() -> None:
    # An rdfc proof and a jcs proof by different keys over the same document, then a chain
    # link of the other suite: each proof verifies on its own terms (VC DI §4.5).
    rdfc = _sign(CREDENTIAL, "eddsa-rdfc-2022", proof_id="urn:uuid:rdfc")
    both = _sign(rdfc, "eddsa-jcs-2022", signer=OTHER, proof_id="urn:uuid:jcs")
    chained = _sign(both, "eddsa-rdfc-2022", signer=OTHER, previous_proof="urn:uuid:jcs")
    results = data_integrity.verify(chained, resolver=RESOLVER)
    assert [(r.verified, r.cryptosuite) for r in results] == [
        (True, "eddsa-rdfc-2022"),
        (True, "eddsa-jcs-2022"),
        (True, "eddsa-rdfc-2022"),
    ]
    tampered = copy.deepcopy(chained)
    tampered["credentialSubject"]["id"] = "did:example:mallory"
    assert [r.verified for r in data_integrity.verify(tampered, resolver=RESOLVER)] == [
        False,
        False,
        False,
    ]
    swapped = copy.deepcopy(chained)
    swapped["proof"][0]["cryptosuite"] = "eddsa-jcs-2022"  # same signature, other suite
    outcome = data_integrity.verify(swapped, resolver=RESOLVER)
    assert [r.verified for r in outcome] == [False, True, True]
    assert outcome[0].problem == "PROOF_VERIFICATION_ERROR"


def test_challenge_and_domain() -> None:
    signed = _sign(
        CREDENTIAL, proof_purpose="authentication", challenge="abc", domain="example.org"
    )
    ok = data_integrity.verify(
        signed,
        resolver=RESOLVER,
        expected_purpose="authentication",
        challenge="abc",
        domain="example.org",
    )
    assert _only(ok).verified
    checks = [
        ({"challenge": "xyz"}, "INVALID_CHALLENGE_ERROR"),
        ({"domain": "evil.example"}, "INVALID_DOMAIN_ERROR"),
        ({"expected_purpose": "assertionMethod"}, "MISMATCHED_PROOF_PURPOSE_ERROR"),
    ]
    for options, problem in checks:
        kwargs: dict[str, Any] = {"expected_purpose": "authentication", **options}
        result = _only(data_integrity.verify(signed, resolver=RESOLVER, **kwargs))
        assert (result.verified, result.problem) == (False, problem)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copied


SIGNED_JCS = _sign(CREDENTIAL, "eddsa-jcs-2022")
JCS_LEAVES = [path for path, _ in _leaves(SIGNED_JCS)]
_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats()


@pytest.mark.parametrize("path", JCS_LEAVES, ids=lambda p: ".".join(map(str, p)))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(new=_scalars)
def test_changing_any_leaf_breaks_a_jcs_proof(path: tuple[Any, ...], new: Any) -> None:
    old = _leaves_value(SIGNED_JCS, path)
    if new == old and type(new) is type(old):
        return
    tampered = _replace(SIGNED_JCS, path, new)
    result = _only(data_integrity.verify(tampered, resolver=RESOLVER))
    assert not result.verified
    assert result.problem is not None
    assert result.message


def _leaves_value(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


SIGNED_RDFC = _sign(CREDENTIAL, "eddsa-rdfc-2022")


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("name",),
        ("validFrom",),
        ("issuer", "id"),
        ("issuer", "name"),
        ("credentialSubject", "id"),
        ("credentialSubject", "achievement", "name"),
        ("credentialSubject", "achievement", "criteria", "narrative"),
        ("proof", "created"),
        ("proof", "verificationMethod"),
        ("proof", "proofValue"),
    ],
)
def test_changing_mapped_values_breaks_an_rdfc_proof(path: tuple[Any, ...]) -> None:
    old = _leaves_value(SIGNED_RDFC, path)
    new = {"created": "2024-05-01T12:00:01Z", "validFrom": "2010-01-02T00:00:00Z"}.get(
        path[-1], f"{old}x" if not old.startswith("z") else OTHER.verification_method
    )
    if path[-1] == "proofValue":
        new = SIGNED_JCS["proof"]["proofValue"]
    tampered = _replace(SIGNED_RDFC, path, new)
    result = _only(data_integrity.verify(tampered, resolver=RESOLVER))
    assert not result.verified


def test_wrong_key_fails() -> None:
    tampered = _replace(SIGNED_JCS, ("proof", "verificationMethod"), OTHER.verification_method)
    result = _only(data_integrity.verify(tampered, resolver=RESOLVER))
    assert result.problem == "PROOF_VERIFICATION_ERROR"
    assert "proofValue" in result.message


def _proof_with(**changes: Any) -> dict[str, Any]:
    proof = {**SIGNED_JCS["proof"], **changes}
    return {**SIGNED_JCS, "proof": {k: v for k, v in proof.items() if v is not _DROP}}


_DROP = object()


@pytest.mark.parametrize(
    ("document", "problem", "mentions"),
    [
        (_proof_with(cryptosuite="ecdsa-jcs-2019"), "UNSUPPORTED_PROOF", "ecdsa-jcs-2019"),
        (
            _proof_with(type="MerkleProof2019", cryptosuite=_DROP),
            "UNSUPPORTED_PROOF",
            "MerkleProof2019",
        ),
        (_proof_with(type=_DROP), "MALFORMED_PROOF_ERROR", "type"),
        (_proof_with(type=7), "MALFORMED_PROOF_ERROR", "type"),
        (_proof_with(cryptosuite=["x"]), "MALFORMED_PROOF_ERROR", "cryptosuite"),
        (_proof_with(proofValue=_DROP), "MALFORMED_PROOF_ERROR", "proofValue"),
        (_proof_with(proofValue="uAAAA"), "MALFORMED_PROOF_ERROR", "proofValue"),
        (_proof_with(proofValue="z0OIl"), "MALFORMED_PROOF_ERROR", "proofValue"),
        (_proof_with(proofValue="z2222"), "MALFORMED_PROOF_ERROR", "proofValue"),
        (_proof_with(verificationMethod=_DROP), "MALFORMED_PROOF_ERROR", "verificationMethod"),
        (
            _proof_with(verificationMethod={"id": "x"}),
            "MALFORMED_PROOF_ERROR",
            "verificationMethod",
        ),
        (_proof_with(proofPurpose=_DROP), "MALFORMED_PROOF_ERROR", "proofPurpose"),
        (
            _proof_with(proofPurpose="authentication"),
            "MISMATCHED_PROOF_PURPOSE_ERROR",
            "proofPurpose",
        ),
        (_proof_with(created="yesterday"), "INVALID_PROOF_DATETIME", "created"),
        (_proof_with(expires="soon"), "MALFORMED_PROOF_ERROR", "expires"),
        (_proof_with(previousProof=5), "MALFORMED_PROOF_ERROR", "previousProof"),
        (_proof_with(previousProof="urn:x"), "PROOF_VERIFICATION_ERROR", "previousProof"),
        (
            _proof_with(verificationMethod="did:web:example.com#k"),
            "INVALID_CONTROLLER_DOCUMENT",
            "offline",
        ),
        (
            _proof_with(verificationMethod="did:example:1#k"),
            "INVALID_VERIFICATION_METHOD_URL",
            "did:example",
        ),
        (
            _proof_with(**{"@context": ["https://other.example"]}),
            "PROOF_VERIFICATION_ERROR",
            "@context",
        ),
        ({**SIGNED_JCS, "proof": "not an object"}, "MALFORMED_PROOF_ERROR", "proof"),
        ({**SIGNED_JCS, "proof": [None]}, "MALFORMED_PROOF_ERROR", "proof"),
        (
            {k: v for k, v in SIGNED_JCS.items() if k != "proof"},
            "PROOF_VERIFICATION_ERROR",
            "proof",
        ),
        ({**SIGNED_JCS, "proof": []}, "PROOF_VERIFICATION_ERROR", "proof"),
        ({**SIGNED_JCS, "n": float("nan")}, "PROOF_TRANSFORMATION_ERROR", "JCS"),
    ],
)
def test_malformed_proofs_fail_with_a_problem_code(
    document: dict[str, Any], problem: str, mentions: str
) -> None:
    result = _only(data_integrity.verify(document, resolver=RESOLVER))
    assert not result.verified
    assert result.problem == problem
    assert mentions in result.message


def test_p256_key_cannot_verify_an_eddsa_proof() -> None:
    p256 = generate_key("P-256", seed=b"p")
    mb = p256.public_key.to_multibase()
    document = _proof_with(verificationMethod=f"did:key:{mb}#{mb}")
    result = _only(data_integrity.verify(document, resolver=RESOLVER))
    assert (result.verified, result.problem) == (False, "PROOF_VERIFICATION_ERROR")
    assert "P-256" in result.message


def test_unbundled_context_fails_plainly() -> None:
    document = {**CREDENTIAL, "@context": [*CREDENTIAL["@context"], "https://evil.example/ctx"]}
    signed = _sign(CREDENTIAL, "eddsa-rdfc-2022")
    tampered = {**signed, "@context": document["@context"]}
    result = _only(data_integrity.verify(tampered, resolver=RESOLVER))
    assert result.problem == "PROOF_TRANSFORMATION_ERROR"
    assert "https://evil.example/ctx" in result.message
    with pytest.raises(ProofError) as excinfo:
        _sign(document, "eddsa-rdfc-2022")
    assert excinfo.value.problem == "PROOF_TRANSFORMATION_ERROR"


def test_not_a_document() -> None:
    for value in (None, [], "x", 3):
        result = _only(data_integrity.verify(value, resolver=RESOLVER))  # type: ignore[arg-type]
        assert (result.verified, result.problem) == (False, "PROOF_VERIFICATION_ERROR")


_json = st.recursive(
    _scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
)
_proof_keys = st.sampled_from(
    [
        "type",
        "cryptosuite",
        "proofValue",
        "verificationMethod",
        "proofPurpose",
        "created",
        "previousProof",
        "@context",
        "challenge",
        "domain",
        "expires",
        "id",
    ]
)


@settings(max_examples=300, deadline=None)
@given(proof=st.dictionaries(_proof_keys, _json) | _json)
def test_verify_never_raises_on_arbitrary_proofs(proof: Any) -> None:
    results = data_integrity.verify({**SIGNED_JCS, "proof": proof}, resolver=RESOLVER)
    assert results
    assert all(isinstance(r, ProofResult) and not r.verified and r.problem for r in results)


@settings(max_examples=200, deadline=None)
@given(document=st.dictionaries(st.text(max_size=8), _json, max_size=6))
def test_verify_never_raises_on_arbitrary_documents(document: dict[str, Any]) -> None:
    document["proof"] = SIGNED_JCS["proof"]
    results = data_integrity.verify(document, resolver=RESOLVER)
    assert len(results) == 1
    assert not results[0].verified


class _Counting(EddsaJcs2022):
    """A suite under another name: the engine uses whatever the registry holds."""

    name = "counting-jcs-2099"  # type: ignore[assignment]
    calls = 0

    def transform(self, document: Any, options: Any, *, verifying: bool = False) -> bytes:
        type(self).calls += 1
        return b"constant"


def test_new_suites_plug_in_through_the_registry() -> None:
    registry = CryptosuiteRegistry([_Counting()])
    signed = data_integrity.sign(
        CREDENTIAL,
        signer=SIGNER,
        cryptosuite="counting-jcs-2099",
        created=CREATED,
        registry=registry,
    )
    assert _only(data_integrity.verify(signed, resolver=RESOLVER, registry=registry)).verified
    assert _Counting.calls == 2
    # the default registry does not know it
    assert _only(data_integrity.verify(signed, resolver=RESOLVER)).problem == "UNSUPPORTED_PROOF"
    assert "counting-jcs-2099" not in default_registry().names()
