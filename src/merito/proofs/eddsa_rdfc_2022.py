"""eddsa-rdfc-2022 (vc-di-eddsa §3.2) and the legacy Ed25519Signature2020 proof type, over RDFC-1.0.

Both canonicalize the unsecured document and the proof configuration (which takes the
document's ``@context``) with ``merito.formats.rdf.canonize``, hash each with SHA-256,
sign ``hash(proofConfig) || hash(document)`` with Ed25519 and carry the signature as a
base58btc multibase ``proofValue``. Ed25519Signature2020 differs only in its ``type`` and
the absence of ``cryptosuite`` (vc-di-eddsa Appendix, Ed25519Signature2020 test vectors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from merito.errors import DataLossError, DocumentLoaderError, InvalidCredential, ProofError
from merito.formats.rdf import canonize
from merito.proofs.cryptosuites import EddsaSuiteSteps

__all__ = ["Ed25519Signature2020", "EddsaRdfc2022"]


def _canonize(
    document: Mapping[str, Any], what: str, *, allow_relative_types: bool = False
) -> bytes:
    try:
        return canonize(dict(document), allow_relative_types=allow_relative_types).encode("utf-8")
    except DataLossError as e:
        # VC Data Integrity 1.0 §2.4: JSON-LD safe mode; never sign or accept unsigned data
        raise ProofError(
            f"cannot canonicalize the {what}: {e.message}",
            problem="DATA_LOSS_DETECTION_ERROR",
            property=e.property or "@context",
        ) from e
    except DocumentLoaderError as e:
        raise ProofError(
            f"cannot canonicalize the {what}: {e.message}",
            problem="PROOF_TRANSFORMATION_ERROR",
            property="@context",
        ) from e
    except InvalidCredential as e:
        raise ProofError(
            f"cannot canonicalize the {what}: {e.message}",
            problem="PROOF_TRANSFORMATION_ERROR",
            property=e.property or "@context",
        ) from e


class _RdfcSteps(EddsaSuiteSteps):
    proof_type: ClassVar[str]
    name: ClassVar[str | None]

    def create_proof_options(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> dict[str, Any]:
        return dict(options)

    def proof_configuration(
        self, options: Mapping[str, Any], *, document: Mapping[str, Any]
    ) -> bytes:
        # vc-di-eddsa §3.2.5 Proof Configuration.
        return _canonize(self._proof_config(options, document=document), "proof configuration")

    def transform(
        self, document: Mapping[str, Any], options: Mapping[str, Any], *, verifying: bool = False
    ) -> bytes:
        # vc-di-eddsa §3.2.3 Transformation. A relative @type is signed resolved against the
        # default base; Merito never issues one, but 1EdTech's own examples carry one
        # (credentialSchema type 1EdTechJsonSchemaValidator2019), so verification accepts it.
        self._check_options(options, "PROOF_TRANSFORMATION_ERROR")
        return _canonize(document, "document", allow_relative_types=verifying)


class EddsaRdfc2022(_RdfcSteps):
    """The eddsa-rdfc-2022 cryptosuite."""

    name: ClassVar[str | None] = "eddsa-rdfc-2022"
    proof_type: ClassVar[str] = "DataIntegrityProof"


class Ed25519Signature2020(_RdfcSteps):
    """The Ed25519Signature2020 proof type (no ``cryptosuite`` property)."""

    name: ClassVar[str | None] = None
    proof_type: ClassVar[str] = "Ed25519Signature2020"
