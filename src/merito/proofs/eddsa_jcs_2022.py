"""eddsa-jcs-2022 (vc-di-eddsa §3.3): JCS canonicalization, SHA-256, Ed25519, base58btc.

Trap (§3.3.1 Create Proof step 2, §3.3.5 Proof Configuration): the proof and the proof
configuration carry the document's ``@context``; when verifying, the document's ``@context``
must start with the proof's, which then replaces it (§3.3.2 Verify Proof step 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from merito.errors import InvalidInput, ProofError
from merito.formats.jcs import canonicalize
from merito.proofs.cryptosuites import EddsaSuiteSteps

__all__ = ["EddsaJcs2022"]


def _jcs(value: Mapping[str, Any], what: str) -> bytes:
    try:
        return canonicalize(value)
    except InvalidInput as e:
        raise ProofError(
            f"cannot canonicalize the {what} with JCS: {e.message}",
            problem="PROOF_TRANSFORMATION_ERROR",
        ) from e


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class EddsaJcs2022(EddsaSuiteSteps):
    """The eddsa-jcs-2022 cryptosuite."""

    name: ClassVar[str | None] = "eddsa-jcs-2022"
    proof_type: ClassVar[str] = "DataIntegrityProof"

    def create_proof_options(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> dict[str, Any]:
        proof = dict(options)
        if "@context" in document:
            proof["@context"] = document["@context"]
        return proof

    def prepare_verification(
        self, unsecured_document: dict[str, Any], proof_options: Mapping[str, Any]
    ) -> dict[str, Any]:
        if "@context" not in proof_options:
            return unsecured_document
        proof_context = _as_list(proof_options["@context"])
        document_context = _as_list(unsecured_document.get("@context"))
        if document_context[: len(proof_context)] != proof_context:
            raise ProofError(
                "the document's '@context' does not start with the proof's '@context'",
                problem="PROOF_VERIFICATION_ERROR",
                property="@context",
            )
        return {**unsecured_document, "@context": proof_options["@context"]}

    def proof_configuration(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> bytes:
        # vc-di-eddsa §3.3.5 Proof Configuration.
        return _jcs(self._proof_config(options, document=document), "proof configuration")

    def transform(
        self, document: Mapping[str, Any], options: Mapping[str, Any], *, verifying: bool = False
    ) -> bytes:
        # vc-di-eddsa §3.3.3 Transformation.
        self._check_options(options, "PROOF_TRANSFORMATION_ERROR")
        return _jcs(document, "document")
