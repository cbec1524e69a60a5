"""The Cryptosuite protocol (VC Data Integrity 1.0 §3) and the registry of suites by name.

A cryptosuite is named by the spec's algorithm steps (vc-di-eddsa §3.2 / §3.3): proof
configuration, transformation, hashing, proof serialization and proof verification. The
generic engine (``data_integrity``) orchestrates them; adding a suite means writing one module
and registering an instance, never touching the engine. Suites are keyed by
``(proof type, cryptosuite)``; legacy suites without a ``cryptosuite`` use ``None``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from merito.errors import InvalidInput, ProofError
from merito.formats.multibase import decode_multibase, encode_multibase
from merito.proofs.keys import PrivateKey, PublicKey

__all__ = [
    "Cryptosuite",
    "CryptosuiteRegistry",
    "EddsaSuiteSteps",
    "check_datetime",
    "default_registry",
]

# XML Schema 1.1 dateTime (the lexical form VC DI requires for created/expires).
_DATETIME: Final = re.compile(
    r"^-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?$"
)


def check_datetime(value: Any, prop: str, *, problem: str = "INVALID_PROOF_DATETIME") -> None:
    """Raise ProofError unless ``value`` is an XML Schema dateTime string."""
    if not isinstance(value, str) or _DATETIME.match(value) is None:
        raise ProofError(
            f"proof {prop!r} must be an XML Schema dateTime string, got {value!r}",
            problem=problem,
            property=prop,
        )


@runtime_checkable
class Cryptosuite(Protocol):
    """One Data Integrity cryptosuite, as the spec's steps."""

    @property
    def name(self) -> str | None:
        """The ``cryptosuite`` value (None for legacy proof types such as Ed25519Signature2020)."""
        ...

    @property
    def proof_type(self) -> str:
        """The proof ``type`` (``DataIntegrityProof`` for modern suites)."""
        ...

    @property
    def key_types(self) -> frozenset[str]:
        """Key types (``Ed25519``, ``P-256``...) this suite signs and verifies with."""
        ...

    def create_proof_options(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The proof object to embed, before ``proofValue`` (Create Proof, steps 1-2)."""
        ...

    def prepare_verification(
        self, unsecured_document: dict[str, Any], proof_options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Suite-specific checks before verifying (Verify Proof, e.g. jcs step 4)."""
        ...

    def proof_configuration(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> bytes:
        """Proof Configuration: the canonical proof configuration bytes."""
        ...

    def transform(
        self, document: Mapping[str, Any], options: Mapping[str, Any], *, verifying: bool = False
    ) -> bytes:
        """Transformation: the canonical bytes of the unsecured document.

        ``verifying`` lets a suite accept, for compatibility, input it would never sign.
        """
        ...

    def hash(self, transformed_data: bytes, proof_config: bytes) -> bytes:
        """Hashing: the bytes that get signed."""
        ...

    def serialize(self, hash_data: bytes, key: PrivateKey) -> bytes:
        """Proof Serialization: the signature bytes."""
        ...

    def verify(self, hash_data: bytes, proof_bytes: bytes, key: PublicKey) -> bool:
        """Proof Verification: True when the signature holds."""
        ...

    def encode_proof_value(self, proof_bytes: bytes) -> str:
        """``proofValue`` text for the signature bytes."""
        ...

    def decode_proof_value(self, proof_value: str) -> bytes:
        """Signature bytes from ``proofValue``; raises ProofError MALFORMED_PROOF_ERROR."""
        ...


class EddsaSuiteSteps:
    """The steps vc-di-eddsa suites share: option checks, the proof configuration document,
    SHA-256 hashing, Ed25519 and the base58btc proofValue. A suite adds its canonicalization."""

    key_types: frozenset[str] = frozenset({"Ed25519"})
    name: ClassVar[str | None]
    proof_type: ClassVar[str]

    def _check_options(self, options: Mapping[str, Any], problem: str) -> None:
        if options.get("type") != self.proof_type or options.get("cryptosuite") != self.name:
            expected = f"type {self.proof_type!r}" + (
                f" and cryptosuite {self.name!r}" if self.name else ""
            )
            raise ProofError(
                f"proof options must have {expected}",
                problem=problem,
                property="cryptosuite" if self.name else "type",
            )

    def _proof_config(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> dict[str, Any]:
        """vc-di-eddsa §3.2.5 / §3.3.5 Proof Configuration, before canonicalization: the
        proof options without ``proofValue``, with the document's ``@context``."""
        self._check_options(options, "INVALID_PROOF_CONFIGURATION")
        config = {k: v for k, v in options.items() if k != "proofValue"}
        if "created" in config:
            check_datetime(config["created"], "created")
        if "@context" in document:
            config["@context"] = document["@context"]
        return config

    def hash(self, transformed_data: bytes, proof_config: bytes) -> bytes:
        # vc-di-eddsa §3.2.4 / §3.3.4: SHA-256(proofConfig) || SHA-256(transformedDocument).
        return hashlib.sha256(proof_config).digest() + hashlib.sha256(transformed_data).digest()

    def serialize(self, hash_data: bytes, key: PrivateKey) -> bytes:
        return key.sign(hash_data)

    def verify(self, hash_data: bytes, proof_bytes: bytes, key: PublicKey) -> bool:
        return key.verify(hash_data, proof_bytes)

    def encode_proof_value(self, proof_bytes: bytes) -> str:
        return encode_multibase(proof_bytes, base="z")

    def decode_proof_value(self, proof_value: str) -> bytes:
        if not isinstance(proof_value, str) or not proof_value.startswith("z"):
            raise ProofError(
                "proof 'proofValue' must be a base58btc multibase string (starting with 'z')",
                problem="MALFORMED_PROOF_ERROR",
                property="proofValue",
            )
        try:
            raw = decode_multibase(proof_value)
        except InvalidInput as e:
            raise ProofError(
                f"proof 'proofValue' is not valid base58btc: {e.message}",
                problem="MALFORMED_PROOF_ERROR",
                property="proofValue",
            ) from e
        if len(raw) != 64:
            raise ProofError(
                f"proof 'proofValue' must decode to a 64-byte Ed25519 signature, got {len(raw)}",
                problem="MALFORMED_PROOF_ERROR",
                property="proofValue",
            )
        return raw

    def prepare_verification(
        self, unsecured_document: dict[str, Any], proof_options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return unsecured_document


class CryptosuiteRegistry:
    """Cryptosuites by ``(proof type, cryptosuite name)``."""

    __slots__ = ("_suites",)

    def __init__(self, suites: Iterable[Cryptosuite] = ()) -> None:
        self._suites: dict[tuple[str, str | None], Cryptosuite] = {}
        for suite in suites:
            self.register(suite)

    def register(self, suite: Cryptosuite) -> None:
        """Add ``suite``; a later registration for the same key replaces the earlier one."""
        self._suites[(suite.proof_type, suite.name)] = suite

    def get(self, proof_type: str, cryptosuite: str | None) -> Cryptosuite | None:
        """The suite for this proof ``type`` and ``cryptosuite``, or None."""
        return self._suites.get((proof_type, cryptosuite))

    def names(self) -> list[str]:
        """Human-readable names of every registered suite, for messages."""
        return sorted(name or proof_type for proof_type, name in self._suites)


@cache
def default_registry() -> CryptosuiteRegistry:
    """The built-in suites: eddsa-rdfc-2022, eddsa-jcs-2022 and Ed25519Signature2020."""
    # Imported here: the suite modules import this one.
    from merito.proofs.eddsa_jcs_2022 import EddsaJcs2022
    from merito.proofs.eddsa_rdfc_2022 import Ed25519Signature2020, EddsaRdfc2022

    return CryptosuiteRegistry([EddsaRdfc2022(), EddsaJcs2022(), Ed25519Signature2020()])
