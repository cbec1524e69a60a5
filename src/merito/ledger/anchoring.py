"""A credential's anchoring proof in the transparency log, and the offline ``anchored`` check.

Sealing a batch gives every credential in it a Blockcerts MerkleProof2019 proof (cryptosuite
``merkle-proof-2019``, first in the proof set) whose ``proofValue`` holds the receipt of the
batch's Blockcerts tree (the root a chain anchor commits to), and a ``transparencyLog``
member (:class:`LogReceipt`) that ties the same target hash to a Signed Tree Head:

    "transparencyLog": {
      "log": "https://merito.example/log/v1",
      "leafIndex": 41,
      "auditPath": ["<base64 32 bytes>", ...],
      "signedTreeHead": {<RFC 6962 get-sth members + log_id>}
    }

The log entry is the target hash itself (leaf hash ``SHA-256(0x00 || target)``), so a
verifier holding only the log's public key checks, offline: the document still hashes to the
target hash, the Blockcerts path leads to the merkleRoot, the head is signed by the log key,
and the RFC 9162 audit path puts the target hash in that head's tree (docs/decisions/0008).
Nothing of this member is canonicalized: the merkle proof covers the credential without
proofs, and the issuer's eddsa proof never covers another proof.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from merito.domain.verification import Check, Outcome
from merito.errors import InvalidInput
from merito.formats import rdf
from merito.ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from merito.ledger.sth import SignedTreeHead, verify_tree_head
from merito.proofs import merkle_proof_2019
from merito.proofs.keys import PublicKey
from merito.proofs.merkle_proof_2019 import MerkleProof2019, MerkleProof2019Result

__all__ = [
    "RECEIPT_MEMBER",
    "LogAnchorChecker",
    "LogReceipt",
    "anchoring_proofs",
    "log_id_of",
]

#: the proof member holding the log receipt
RECEIPT_MEMBER: Final = "transparencyLog"
_TITLE: Final = "It is anchored in a public log"
_MAX_PATH: Final = 64  # a tree of 2**64 leaves has a 64-step path


@dataclass(frozen=True, slots=True, kw_only=True)
class LogReceipt:
    """Where a target hash sits in the log: its index, the audit path and the signed head."""

    log: str
    leaf_index: int
    audit_path: tuple[bytes, ...]
    head: SignedTreeHead

    def to_json(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "leafIndex": self.leaf_index,
            "auditPath": [base64.b64encode(h).decode("ascii") for h in self.audit_path],
            "signedTreeHead": self.head.to_json(),
        }

    @classmethod
    def from_json(cls, document: Any) -> LogReceipt:
        """Parse the ``transparencyLog`` member; InvalidInput names the offending member."""
        if not isinstance(document, Mapping):
            raise InvalidInput(f"{RECEIPT_MEMBER} must be an object", property=RECEIPT_MEMBER)
        log = document.get("log")
        if not isinstance(log, str):
            raise InvalidInput("log must be a URL string", property="log")
        index = document.get("leafIndex")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidInput("leafIndex must be a non-negative integer", property="leafIndex")
        raw_path = document.get("auditPath")
        if not isinstance(raw_path, list) or len(raw_path) > _MAX_PATH:
            raise InvalidInput("auditPath must be a list of base64 hashes", property="auditPath")
        path: list[bytes] = []
        for item in raw_path:
            try:
                value = base64.b64decode(item, validate=True) if isinstance(item, str) else b""
            except (binascii.Error, ValueError):
                value = b""
            if len(value) != HASH_SIZE:
                raise InvalidInput(
                    "auditPath holds base64 32-byte hashes only", property="auditPath"
                )
            path.append(value)
        head = SignedTreeHead.from_json(document.get("signedTreeHead"))  # type: ignore[arg-type]
        return cls(log=log, leaf_index=index, audit_path=tuple(path), head=head)


def log_id_of(public_key: PublicKey) -> str:
    """Base64 SHA-256 of the raw Ed25519 public key (Certificate Transparency's LogID idea)."""
    jwk = public_key.to_jwk()
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii")


def anchoring_proofs(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The credential's merkle-proof-2019 proofs (DataIntegrityProof or legacy type)."""
    proof = credential.get("proof")
    proofs = proof if isinstance(proof, list) else [proof] if proof is not None else []
    return [
        p
        for p in proofs
        if isinstance(p, Mapping)
        and (
            p.get("type") == "MerkleProof2019"
            or (
                p.get("type") == "DataIntegrityProof"
                and p.get("cryptosuite") == merkle_proof_2019.CRYPTOSUITE
            )
        )
    ]


def _check(outcome: Outcome, message: str, **details: Any) -> Check:
    return Check(id="anchored", outcome=outcome, title=_TITLE, message=message, details=details)


#: checks ``merkleRoot`` against a chain (helper of the Ethereum back end); None: no opinion
ChainChecker = Callable[[Mapping[str, Any], MerkleProof2019Result], Check | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class LogAnchorChecker:
    """The verifier's ``anchor_checker`` for credentials anchored in a Merito log.

    ``log_key`` and ``log_id`` are pinned by the verifier (the platform's own, or a log it
    trusts): a head signed by any other key is a forgery. A credential of this platform
    (its ``id`` starts with ``local_prefix``) with no anchoring proof yet is *pending* (a
    warning: its batch is not sealed), never a failure. ``chain_checker`` adds the chain's
    verdict on the Blockcerts root when a chain is configured.
    """

    log_key: PublicKey
    log_id: str
    local_prefix: str | None = None
    canonize: Callable[[dict[str, Any]], str] = rdf.canonize
    chain_checker: ChainChecker | None = None

    def __call__(self, credential: Mapping[str, Any]) -> Check:
        proofs = anchoring_proofs(credential)
        if not proofs:
            cid = credential.get("id")
            if self.local_prefix and isinstance(cid, str) and cid.startswith(self.local_prefix):
                return _check(
                    Outcome.WARNING,
                    "Anchoring is pending: the credential was issued but its batch is not "
                    "sealed into the transparency log yet.",
                    anchor_status="pending",
                )
            return _check(
                Outcome.SKIPPED,
                "The credential carries no anchoring proof.",
                anchor_status="none",
                reason="no anchoring proof",
            )
        proof = proofs[0]
        result = merkle_proof_2019.verify_proof(credential, proof, canonize=self.canonize)
        if not result.verified or result.receipt is None:
            error = result.error
            return _check(
                Outcome.FAIL,
                "The anchoring proof does not match the credential: "
                f"{error.message if error else 'it does not verify'}.",
                anchor_status="failed",
                problem=error.problem if error else None,
                property=error.property if error else None,
            )
        chain = self.chain_checker(credential, result) if self.chain_checker else None
        member = proof.get(RECEIPT_MEMBER)
        if member is None:
            if chain is not None:
                return chain
            return _check(
                Outcome.WARNING,
                "The credential's batch root is anchored at "
                f"{', '.join(result.anchors) or 'no chain'}, which Merito did not check "
                "(no chain is configured).",
                anchor_status="unchecked",
                anchors=list(result.anchors),
            )
        return self._check_log(member, result.receipt, chain)

    def _check_log(self, member: Any, receipt: MerkleProof2019, chain: Check | None) -> Check:
        try:
            log_receipt = LogReceipt.from_json(member)
        except InvalidInput as e:
            return _check(
                Outcome.FAIL,
                f"The transparency log receipt is malformed: {e.message}.",
                anchor_status="failed",
                property=e.property,
            )
        head = log_receipt.head
        if head.log_id != self.log_id:
            return _check(
                Outcome.FAIL,
                f"The receipt names the log {head.log_id!r}, not the trusted log {self.log_id!r}.",
                anchor_status="failed",
                property="log_id",
            )
        if not verify_tree_head(head, self.log_key):
            return _check(
                Outcome.FAIL,
                "The signed tree head in the receipt is not signed by the log key: "
                "it was forged or altered.",
                anchor_status="failed",
                property="tree_head_signature",
            )
        if not verify_inclusion(
            leaf_hash=leaf_hash(receipt.target_hash),
            leaf_index=log_receipt.leaf_index,
            tree_size=head.tree_size,
            proof=log_receipt.audit_path,
            root=head.root_hash,
        ):
            return _check(
                Outcome.FAIL,
                "The audit path does not put the credential in the signed tree: "
                "the receipt was altered.",
                anchor_status="failed",
                property="auditPath",
            )
        if chain is not None and chain.outcome is Outcome.FAIL:
            return chain
        where = f"entry {log_receipt.leaf_index} of the tree of {head.tree_size}"
        details: dict[str, Any] = {
            "anchor_status": "anchored",
            "log": log_receipt.log,
            "log_id": head.log_id,
            "leaf_index": log_receipt.leaf_index,
            "tree_size": head.tree_size,
            "merkle_root": receipt.merkle_root.hex(),
            "anchors": list(receipt.anchors),
        }
        if chain is not None:
            details["chain"] = {"outcome": chain.outcome.value, "message": chain.message}
        return _check(
            Outcome.PASS,
            f"It is recorded in the transparency log {log_receipt.log} ({where}, "
            f"signed at {head.issued_at:%Y-%m-%d %H:%M:%S} UTC).",
            **details,
        )


def receipts_path(path: Sequence[bytes]) -> list[str]:
    """Base64 of each hash (the JSON form of audit paths and consistency proofs)."""
    return [base64.b64encode(h).decode("ascii") for h in path]
