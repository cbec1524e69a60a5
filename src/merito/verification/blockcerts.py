"""Blockcerts v2 (MerkleProof2017) and v3 (MerkleProof2019) verification -> ``VerificationReport``.

What is checked offline: the certificate's own hash (the target hash, over its canonical
N-Quads), the receipt's path up to the Merkle root, the validity dates. What is not: whether
that root really sits in the named Bitcoin/Ethereum transaction, and the issuer key the
transaction was sent from — Merito has no access to those chains. The ``anchored`` check says
so as a ``warning`` ("not checked (offline)"): an honest indeterminate, neither valid nor
failed. Never raises for a bad certificate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from merito.domain.ports import Clock
from merito.domain.verification import Check, Outcome, VerificationReport
from merito.errors import InvalidCredential, MeritoError
from merito.formats import blockcerts
from merito.formats.ob2 import parse_datetime
from merito.proofs import merkle_proof_2019

__all__ = ["OFFLINE_ANCHOR", "verify_blockcerts"]

#: ``details.reason`` of the anchored warning (the wallet's verdict reads it: indeterminate)
OFFLINE_ANCHOR: Final = "not-checked-offline"

_TITLES: Final = {
    "parse": "Readable",
    "format": "Blockcerts certificate",
    "proof": "Certificate hash and Merkle proof",
    "validity": "Within its validity period",
    "anchored": "Anchored on a blockchain",
}


def _check(check_id: str, outcome: Outcome, message: str, **details: Any) -> Check:
    return Check(check_id, outcome, _TITLES[check_id], message, details)


def _anchor_text(anchor: Mapping[str, Any] | str) -> str:
    if isinstance(anchor, str):
        return anchor
    chain = anchor.get("chain") or anchor.get("type") or "a blockchain"
    source = anchor.get("sourceId")
    return f"{chain} transaction {source}" if source else str(chain)


def _date(document: Mapping[str, Any], *names: str) -> tuple[str, datetime] | None:
    for name in names:
        if document.get(name) is not None:
            return name, parse_datetime(document[name], name)
    return None


def verify_blockcerts(document: Mapping[str, Any], *, clock: Clock) -> VerificationReport:
    """Check a Blockcerts v2 or v3 certificate (see the module docstring for what is checked)."""
    now = clock.now().astimezone(UTC)
    version = blockcerts.blockcerts_version(document)
    checks: list[Check] = [_check("parse", Outcome.PASS, "The certificate was read.")]
    issuer_value = document.get("issuer")
    badge = document.get("badge")
    if isinstance(badge, Mapping):
        issuer_value = badge.get("issuer", issuer_value)
    issuer = issuer_value.get("id") if isinstance(issuer_value, Mapping) else issuer_value
    report_format = f"blockcerts-{version}" if version else "blockcerts"

    def done(*more: Check) -> VerificationReport:
        out = [*checks, *more]
        seen = {c.id for c in out}
        failed = next((c.id for c in out if c.failed), None)
        for check_id in _TITLES:
            if check_id not in seen:
                out.append(_check(check_id, Outcome.SKIPPED, f"not checked: {failed} failed"))
        return VerificationReport(
            checks=tuple(out),
            format=report_format,
            credential=dict(document),
            envelope="embedded",
            issuer=issuer if isinstance(issuer, str) else None,
            checked_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    if version is None:
        return done(
            _check("format", Outcome.FAIL, "no MerkleProof2017 signature or MerkleProof2019 proof")
        )
    checks.append(_check("format", Outcome.PASS, f"A Blockcerts {version} certificate."))

    anchors: tuple[Mapping[str, Any] | str, ...]
    if version == "v2":
        try:
            receipt = blockcerts.parse_receipt_2017(document.get("signature"))
            unsigned = {k: v for k, v in document.items() if k != "signature"}
            local = hashlib.sha256(blockcerts.canonize(unsigned).encode("utf-8")).digest()
        except MeritoError as e:
            return done(
                _check("proof", Outcome.FAIL, f"the certificate cannot be hashed: {e.message}")
            )
        if local != receipt.target_hash:
            return done(
                _check(
                    "proof",
                    Outcome.FAIL,
                    "the certificate's hash differs from its targetHash: it was changed after "
                    "it was issued",
                    reason="tampered",
                )
            )
        if (
            merkle_proof_2019.root_from_path(receipt.target_hash, receipt.path)
            != receipt.merkle_root
        ):
            return done(
                _check("proof", Outcome.FAIL, "the receipt's path does not lead to its merkleRoot")
            )
        anchors = receipt.anchors
        root = receipt.merkle_root
    else:
        proofs = document.get("proof")
        merkle = [
            p
            for p in (proofs if isinstance(proofs, list) else [proofs])
            if isinstance(p, Mapping)
            and (p.get("type") == "MerkleProof2019" or p.get("cryptosuite") == "merkle-proof-2019")
        ]
        if not merkle:
            return done(
                _check("proof", Outcome.FAIL, "the certificate has no MerkleProof2019 proof")
            )
        result = merkle_proof_2019.verify_proof(document, merkle[0], canonize=blockcerts.canonize)
        if not result.verified or result.receipt is None:
            message = result.error.message if result.error else "the Merkle proof does not verify"
            return done(_check("proof", Outcome.FAIL, message, reason="tampered"))
        anchors = result.receipt.anchors
        root = result.receipt.merkle_root
    checks.append(
        _check(
            "proof",
            Outcome.PASS,
            "The certificate's hash matches its Merkle proof, and the proof leads to the "
            "anchored root.",
            merkle_root=root.hex(),
        )
    )

    try:
        start = _date(document, "validFrom", "issuanceDate", "issuedOn")
        end = _date(document, "validUntil", "expirationDate", "expires")
    except InvalidCredential as e:
        return done(_check("validity", Outcome.FAIL, e.message))
    if start is not None and start[1] > now:
        return done(
            _check("validity", Outcome.FAIL, f"{start[0]} {start[1].isoformat()} is in the future")
        )
    if end is not None and end[1] <= now:
        return done(
            _check(
                "validity",
                Outcome.FAIL,
                f"the certificate expired on {end[1].isoformat()}",
                reason="expired",
            )
        )
    checks.append(_check("validity", Outcome.PASS, "Issued in the past and not expired."))

    where = ", ".join(_anchor_text(a) for a in anchors) or "no anchor listed"
    return done(
        _check(
            "anchored",
            Outcome.WARNING,
            f"not checked (offline): Merito cannot reach the blockchain to confirm the root "
            f"{root.hex()[:16]}... is in {where}, nor the issuer key that sent it",
            reason=OFFLINE_ANCHOR,
            anchors=[_anchor_text(a) for a in anchors],
        )
    )
