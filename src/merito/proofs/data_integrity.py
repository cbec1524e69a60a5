"""The generic Data Integrity engine (VC Data Integrity 1.0 §4): add and verify proofs.

``sign`` returns a new document with one more proof (Add Proof §4.2, proof sets and chains
§4.3); ``verify`` checks every proof (Verify Proof §4.4, Verify Proof Sets and Chains §4.5)
and returns one ``ProofResult`` per proof. It never raises: a malformed proof, an unknown
cryptosuite, an unresolvable key or an unbundled context is a failed result carrying the
Data Integrity problem code and a message that names the property. Suites come from a
``CryptosuiteRegistry`` keyed by (proof type, cryptosuite).

``verify`` may be given a ``ProofCache`` (a port: the store lives outside the core): the
expensive, deterministic step (transformation, hashing, signature check) is then looked up by
a digest of the whole document, the proof, the suite and the *resolved* key, so a changed
document or a rotated or replaced key never meets an earlier outcome. Key resolution and the
purpose, challenge and domain checks run on every call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from merito.errors import InvalidCredential, MeritoError, ProofError
from merito.proofs.cryptosuites import (
    Cryptosuite,
    CryptosuiteRegistry,
    check_datetime,
    default_registry,
)
from merito.proofs.keys import Signer
from merito.proofs.resolution import VerificationMethod, VerificationMethodResolver

__all__ = ["ProofCache", "ProofResult", "SignatureCheck", "format_datetime", "sign", "verify"]

_UNSUPPORTED: Final = "UNSUPPORTED_PROOF"
_CACHE_DOMAIN: Final = b"merito/proof-cache/v1\x00"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of the deterministic part of checking one proof: the signature holds
    (``problem`` None), or the ProofError it raised (problem, message, property)."""

    problem: str | None = None
    message: str = ""
    property: str | None = None


class ProofCache(Protocol):
    """Outcomes of signature checks by digest (``verify``'s cache key); bounded by its owner."""

    def get(self, key: bytes) -> SignatureCheck | None: ...

    def put(self, key: bytes, outcome: SignatureCheck) -> None: ...


@dataclass(frozen=True, slots=True)
class ProofResult:
    """The outcome of checking one proof."""

    verified: bool
    type: str | None
    cryptosuite: str | None
    verification_method: str | None
    controller: str | None
    proof_purpose: str | None
    problem: str | None
    message: str


def format_datetime(value: datetime) -> str:
    """An XML Schema dateTimeStamp in UTC: ``2024-01-02T03:04:05Z`` (fraction only if set)."""
    if value.tzinfo is None:
        raise InvalidCredential("datetime must be timezone-aware", property="created")
    value = value.astimezone(UTC)
    spec = "seconds" if value.microsecond == 0 else "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _proofs_of(document: Mapping[str, Any]) -> list[Any]:
    proof = document.get("proof")
    if proof is None:
        return []
    return list(proof) if isinstance(proof, list) else [proof]


def _without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def _matching_proofs(previous: Any, all_proofs: list[Any], *, problem: str) -> list[dict[str, Any]]:
    """The proofs named by ``previousProof`` (§4.3 step 4, §4.5 step 3)."""
    ids = [previous] if isinstance(previous, str) else previous
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ProofError(
            "proof 'previousProof' must be a proof id string or a list of them",
            problem="MALFORMED_PROOF_ERROR",
            property="previousProof",
        )
    by_id = {p.get("id"): p for p in all_proofs if isinstance(p, dict)}
    matching = []
    for proof_id in ids:
        found = by_id.get(proof_id)
        if found is None:
            raise ProofError(
                f"proof 'previousProof' names {proof_id!r}, which is not in the proof set",
                problem=problem,
                property="previousProof",
            )
        matching.append(found)
    return matching


def sign(
    document: dict[str, Any],
    *,
    signer: Signer,
    cryptosuite: str = "eddsa-rdfc-2022",
    created: datetime,
    proof_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
    proof_type: str = "DataIntegrityProof",
    registry: CryptosuiteRegistry | None = None,
) -> dict[str, Any]:
    """A new document with a proof added (VC DI §4.2); ``document`` is not modified.

    An existing ``proof`` turns into a proof set; ``previous_proof`` makes a proof chain
    (§4.3). Raises InvalidCredential for a document that cannot be signed and ProofError
    (PROOF_GENERATION_ERROR) when the suite or key cannot produce the proof.
    """
    if not isinstance(document, dict):
        raise InvalidCredential("the document to sign must be a JSON object")
    suite_name = None if proof_type != "DataIntegrityProof" else cryptosuite
    suite = (registry or default_registry()).get(proof_type, suite_name)
    if suite is None:
        raise ProofError(
            f"unsupported cryptosuite {cryptosuite!r} for proof type {proof_type!r}",
            problem="PROOF_GENERATION_ERROR",
            property="cryptosuite",
        )
    if signer.key.public_key.key_type not in suite.key_types:
        raise ProofError(
            f"{suite.name or suite.proof_type} cannot sign with a "
            f"{signer.key.public_key.key_type} key",
            problem="PROOF_GENERATION_ERROR",
            property="verificationMethod",
        )
    options: dict[str, Any] = {"type": proof_type}
    if proof_id is not None:
        options["id"] = proof_id
    if suite.name is not None:
        options["cryptosuite"] = suite.name
    options["created"] = format_datetime(created)
    options["verificationMethod"] = signer.verification_method
    options["proofPurpose"] = proof_purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    if previous_proof is not None:
        options["previousProof"] = previous_proof

    existing = _proofs_of(document)
    unsecured = _without_proof(document)
    if previous_proof is not None:
        unsecured["proof"] = _matching_proofs(
            previous_proof, existing, problem="PROOF_GENERATION_ERROR"
        )
    proof = suite.create_proof_options(options, document=unsecured)
    proof_config = suite.proof_configuration(proof, document=unsecured)
    transformed = suite.transform(unsecured, proof)
    signature = suite.serialize(suite.hash(transformed, proof_config), signer.key)
    proof["proofValue"] = suite.encode_proof_value(signature)

    secured = _without_proof(document)
    secured["proof"] = [*existing, proof] if existing else proof
    return secured


def _failure(
    proof: Any,
    problem: str,
    message: str,
    *,
    controller: str | None = None,
) -> ProofResult:
    get = proof.get if isinstance(proof, dict) else (lambda _key: None)

    def text(key: str) -> str | None:
        value = get(key)
        return value if isinstance(value, str) else None

    return ProofResult(
        verified=False,
        type=text("type"),
        cryptosuite=text("cryptosuite"),
        verification_method=text("verificationMethod"),
        controller=controller,
        proof_purpose=text("proofPurpose"),
        problem=problem,
        message=message,
    )


def _required_str(proof: Mapping[str, Any], prop: str) -> str:
    value = proof.get(prop)
    if not isinstance(value, str) or not value:
        raise ProofError(
            f"proof {prop!r} is missing or not a non-empty string",
            problem="MALFORMED_PROOF_ERROR",
            property=prop,
        )
    return value


def _check_proof(
    document: Mapping[str, Any],
    proof: Any,
    all_proofs: list[Any],
    *,
    resolver: VerificationMethodResolver,
    registry: CryptosuiteRegistry,
    expected_purpose: str,
    challenge: str | None,
    domain: str | None,
    cache: ProofCache | None,
) -> ProofResult:
    if not isinstance(proof, dict):
        raise ProofError(
            "each 'proof' must be a JSON object", problem="MALFORMED_PROOF_ERROR", property="proof"
        )
    proof_type = _required_str(proof, "type")
    suite_name = proof.get("cryptosuite")
    if suite_name is not None and not isinstance(suite_name, str):
        raise ProofError(
            "proof 'cryptosuite' must be a string",
            problem="MALFORMED_PROOF_ERROR",
            property="cryptosuite",
        )
    suite: Cryptosuite | None = registry.get(proof_type, suite_name)
    if suite is None:
        what = f"cryptosuite {suite_name!r}" if suite_name else f"proof type {proof_type!r}"
        raise ProofError(
            f"unsupported {what}; supported: {', '.join(registry.names())}",
            problem=_UNSUPPORTED,
            property="cryptosuite" if suite_name else "type",
        )
    vm_id = _required_str(proof, "verificationMethod")
    purpose = _required_str(proof, "proofPurpose")
    proof_value = _required_str(proof, "proofValue")
    if "created" in proof:
        check_datetime(proof["created"], "created")
    if "expires" in proof:
        check_datetime(proof["expires"], "expires", problem="MALFORMED_PROOF_ERROR")
    if purpose != expected_purpose:
        raise ProofError(
            f"proof 'proofPurpose' is {purpose!r}, expected {expected_purpose!r}",
            problem="MISMATCHED_PROOF_PURPOSE_ERROR",
            property="proofPurpose",
        )
    if challenge is not None and proof.get("challenge") != challenge:
        raise ProofError(
            "proof 'challenge' does not match the expected challenge",
            problem="INVALID_CHALLENGE_ERROR",
            property="challenge",
        )
    if domain is not None:
        proof_domain = proof.get("domain")
        domains = proof_domain if isinstance(proof_domain, list) else [proof_domain]
        if domain not in domains:
            raise ProofError(
                f"proof 'domain' {proof_domain!r} does not include {domain!r}",
                problem="INVALID_DOMAIN_ERROR",
                property="domain",
            )
    proof_bytes = suite.decode_proof_value(proof_value)
    method: VerificationMethod = resolver.resolve(vm_id)
    if purpose not in method.relationships:
        raise ProofError(
            f"verification method {vm_id!r} is not authorized for {purpose!r} by its "
            f"controller {method.controller!r}",
            problem="INVALID_RELATIONSHIP_FOR_VERIFICATION_METHOD",
            property="verificationMethod",
        )
    if method.public_key.key_type not in suite.key_types:
        raise ProofError(
            f"verification method {vm_id!r} holds a {method.public_key.key_type} key, "
            f"which {suite.name or suite.proof_type} cannot use",
            problem="PROOF_VERIFICATION_ERROR",
            property="verificationMethod",
        )

    key = _cache_key(document, proof, suite, method) if cache is not None else None
    outcome = cache.get(key) if cache is not None and key is not None else None
    if outcome is None:
        try:
            _check_signature(document, proof, all_proofs, suite, method, proof_bytes, vm_id)
            outcome = SignatureCheck()
        except ProofError as e:
            outcome = SignatureCheck(e.problem, e.message, e.property)
        if cache is not None and key is not None:
            cache.put(key, outcome)
    if outcome.problem is not None:
        raise ProofError(outcome.message, problem=outcome.problem, property=outcome.property)
    return ProofResult(
        verified=True,
        type=proof_type,
        cryptosuite=suite_name,
        verification_method=method.id,
        controller=method.controller,
        proof_purpose=purpose,
        problem=None,
        message=f"proof verified ({suite.name or proof_type}) with {method.id}",
    )


def _cache_key(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    suite: Cryptosuite,
    method: VerificationMethod,
) -> bytes | None:
    """SHA-256 of everything the signature check reads: the document as parsed (key order
    kept, proofs included), the proof, the suite and the resolved public key. None when the
    document is not plain JSON (then nothing is cached)."""
    try:
        text = json.dumps(
            [
                suite.proof_type,
                suite.name,
                method.public_key.key_type,
                method.public_key.to_jwk(),
                proof,
                document,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(_CACHE_DOMAIN + text.encode("utf-8", "surrogatepass")).digest()


def _check_signature(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    all_proofs: list[Any],
    suite: Cryptosuite,
    method: VerificationMethod,
    proof_bytes: bytes,
    vm_id: str,
) -> None:
    """Transformation, hashing and the signature check (VC DI §4.4 steps 5-9); ProofError
    when the signature does not hold. Deterministic: its outcome may be cached."""
    proof_options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = _without_proof(document)
    if "previousProof" in proof:
        unsecured["proof"] = _matching_proofs(
            proof["previousProof"], all_proofs, problem="PROOF_VERIFICATION_ERROR"
        )
    unsecured = suite.prepare_verification(unsecured, proof_options)
    proof_config = suite.proof_configuration(proof_options, document=unsecured)
    transformed = suite.transform(unsecured, proof_options, verifying=True)
    if not suite.verify(suite.hash(transformed, proof_config), proof_bytes, method.public_key):
        raise ProofError(
            "proof 'proofValue' is not a valid signature of this document by "
            f"{vm_id!r}: the document or the proof was altered, or another key signed it",
            problem="PROOF_VERIFICATION_ERROR",
            property="proofValue",
        )


def verify(
    document: dict[str, Any],
    *,
    resolver: VerificationMethodResolver,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    registry: CryptosuiteRegistry | None = None,
    cache: ProofCache | None = None,
) -> list[ProofResult]:
    """Check every proof of ``document`` (VC DI §4.4, §4.5); never raises on any input.

    With ``cache``, a signature check already made of the same document, proof and resolved
    key is not made again (see the module docstring).

    The document is verified only if the list is non-empty and every result is verified;
    callers decide (e.g. require at least one proof whose controller is the issuer).
    """
    if not isinstance(document, dict):
        return [_failure(None, "PROOF_VERIFICATION_ERROR", "the document is not a JSON object")]
    proofs = _proofs_of(document)
    if not proofs:
        return [_failure(None, "PROOF_VERIFICATION_ERROR", "the document has no 'proof'")]
    suites = registry or default_registry()
    results = []
    for proof in proofs:
        try:
            result = _check_proof(
                document,
                proof,
                proofs,
                resolver=resolver,
                registry=suites,
                expected_purpose=expected_purpose,
                challenge=challenge,
                domain=domain,
                cache=cache,
            )
        except ProofError as e:
            result = _failure(proof, e.problem, e.message)
        except MeritoError as e:
            result = _failure(proof, "PROOF_VERIFICATION_ERROR", e.message)
        except RecursionError:
            result = _failure(proof, "PROOF_VERIFICATION_ERROR", "the document is too deep")
        except Exception as e:  # the promise: verification outcomes are data
            result = _failure(
                proof, "PROOF_VERIFICATION_ERROR", f"unexpected {type(e).__name__}: {e}"
            )
        results.append(result)
    return results
