"""The verifier's on-chain half of ``anchored``: is the proof's merkleRoot in the named tx?

The offline check (``merito.ledger.anchoring.LogAnchorChecker``) proves the credential is in
the signed log and its Blockcerts path leads to ``merkleRoot``. When an RPC URL is configured
this adds what cert-verifier-js's ``lookForTx`` does: fetch the transaction each
``blink:eth:<network>:<tx>`` anchor names and require its input to equal ``merkleRoot``,
with the configured number of confirmations. It does I/O, so it lives here and bootstrap
injects it (``LogAnchorChecker.chain_checker``); the pure pipeline never opens a socket.

A node that failed is not asked again for ``cooldown`` seconds (per node, process-wide): a
bulk verification against a dead node gets its warnings at once instead of one timeout per
credential.

Outcomes: PASS (the transaction carries the root, deep enough), FAIL (no such transaction,
or it carries something else: a forged anchor), WARNING (the node is unreachable, the
transaction is still shallow, or the anchor names another network than the node serves),
None (no Ethereum anchor: no opinion, the log check decides).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from merito.anchors.ethereum import NETWORK_NAMES, EthereumAnchor, network_chain_id
from merito.domain.verification import Check, Outcome
from merito.errors import AnchorError, InvalidInput, NotFound
from merito.formats import rdf
from merito.ledger.anchoring import anchoring_proofs
from merito.proofs import merkle_proof_2019
from merito.proofs.merkle_proof_2019 import MerkleProof2019Result

__all__ = ["ChainOnlyAnchorChecker", "EthereumChainChecker", "ethereum_anchors"]

_TITLE: Final = "It is anchored in a public log"
_PREFIX: Final = "blink:eth:"
#: node -> time.monotonic() of its last failure (shared by every checker of the process)
_FAILED_AT: dict[str, float] = {}
_FAILED_LOCK: Final = threading.Lock()


def ethereum_anchors(anchors: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """``(network, tx)`` of each ``blink:eth:<network>:<tx>`` anchor, in order."""
    found = []
    for anchor in anchors:
        if isinstance(anchor, str) and anchor.startswith(_PREFIX):
            network, _, tx = anchor[len(_PREFIX) :].partition(":")
            if network and tx:
                found.append((network, tx))
    return found


def _check(outcome: Outcome, message: str, **details: Any) -> Check:
    return Check(id="anchored", outcome=outcome, title=_TITLE, message=message, details=details)


@dataclass(frozen=True, kw_only=True)
class EthereumChainChecker:
    """A ``ChainChecker``: the chain's verdict on a verified MerkleProof2019 receipt.

    ``chain_id`` is the chain the node is configured to serve (asked of the node when None);
    ``confirmations`` comes from the anchor (MERITO_ETHEREUM_CONFIRMATIONS).
    """

    anchor: EthereumAnchor
    chain_id: int | None = None
    cooldown: float = 30.0
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __call__(
        self, credential: Mapping[str, Any], result: MerkleProof2019Result
    ) -> Check | None:
        root = result.merkle_root
        anchors = ethereum_anchors(list(result.anchors))
        if root is None or not anchors:
            return None
        with _FAILED_LOCK:
            failed_at = _FAILED_AT.get(self.anchor.node)
        if failed_at is not None and self.monotonic() - failed_at < self.cooldown:
            return _check(
                Outcome.WARNING,
                f"The Ethereum anchor was not checked: {self.anchor.node} failed "
                f"{self.monotonic() - failed_at:.0f} s ago (next try after {self.cooldown:g} s).",
                anchor_status="unchecked",
                anchors=[f"{_PREFIX}{n}:{tx}" for n, tx in anchors],
            )
        try:
            chain_id = self.chain_id or self.anchor.chain_id()
        except AnchorError as e:
            return self._unreachable(e, anchors)
        ours = [(n, tx) for n, tx in anchors if network_chain_id(n) == chain_id]
        if not ours:
            networks = ", ".join(sorted({n for n, _ in anchors}))
            return _check(
                Outcome.WARNING,
                f"The batch root is anchored on Ethereum ({networks}), but the configured "
                f"node serves {NETWORK_NAMES.get(chain_id, chain_id)}: not checked on chain.",
                anchor_status="unchecked",
                chain_id=chain_id,
            )
        network, tx = ours[0]
        try:
            receipt = self.anchor.lookup(tx)
        except InvalidInput:
            return _check(
                Outcome.FAIL,
                f"The anchor's transaction id {tx!r} is not 0x and 64 hex digits.",
                anchor_status="failed",
                property="anchors",
            )
        except NotFound:
            return _check(
                Outcome.FAIL,
                f"The chain has no (successful) transaction {tx}: the anchor is not real.",
                anchor_status="failed",
                property="anchors",
                transaction=tx,
            )
        except AnchorError as e:
            return self._unreachable(e, anchors)
        details: dict[str, Any] = {
            "network": network,
            "chain_id": chain_id,
            "transaction": receipt.transaction_id,
            "block_number": receipt.block_number,
            "confirmations": receipt.confirmations,
            "merkle_root": root.hex(),
        }
        if receipt.root != root:
            return _check(
                Outcome.FAIL,
                f"Transaction {tx} does not carry the credential's merkleRoot: "
                "the anchor was forged or belongs to another batch.",
                anchor_status="failed",
                property="merkleRoot",
                **details,
            )
        if receipt.confirmations < self.anchor.confirmations:
            return _check(
                Outcome.WARNING,
                f"Transaction {tx} carries the merkleRoot but has {receipt.confirmations} of "
                f"the {self.anchor.confirmations} confirmations required yet.",
                anchor_status="shallow",
                **details,
            )
        return _check(
            Outcome.PASS,
            f"Transaction {tx} on {network} carries the merkleRoot "
            f"(block {receipt.block_number}, {receipt.confirmations} confirmations).",
            anchor_status="anchored",
            **details,
        )

    def _unreachable(self, error: AnchorError, anchors: list[tuple[str, str]]) -> Check:
        if error.transient:
            with _FAILED_LOCK:
                _FAILED_AT[self.anchor.node] = self.monotonic()
        return _check(
            Outcome.WARNING,
            f"The Ethereum anchor could not be checked: {error.message}",
            anchor_status="unchecked",
            anchors=[f"{_PREFIX}{n}:{tx}" for n, tx in anchors],
        )


@dataclass(frozen=True, kw_only=True)
class ChainOnlyAnchorChecker:
    """The ``anchored`` check of a verifier with a chain but no log key (a verifier-only
    install): the MerkleProof2019 receipt must verify and its root be in the named
    transaction. No Ethereum anchor: skipped (nothing this verifier can check)."""

    chain: EthereumChainChecker
    canonize: Callable[[dict[str, Any]], str] = rdf.canonize

    def __call__(self, credential: Mapping[str, Any]) -> Check:
        proofs = anchoring_proofs(credential)
        if not proofs:
            return _check(
                Outcome.SKIPPED,
                "The credential carries no anchoring proof.",
                anchor_status="none",
                reason="no anchoring proof",
            )
        result = merkle_proof_2019.verify_proof(credential, proofs[0], canonize=self.canonize)
        if not result.verified:
            error = result.error
            return _check(
                Outcome.FAIL,
                "The anchoring proof does not match the credential: "
                f"{error.message if error else 'it does not verify'}.",
                anchor_status="failed",
                property=error.property if error else None,
            )
        verdict = self.chain(credential, result)
        if verdict is None:
            return _check(
                Outcome.SKIPPED,
                "The anchoring proof names no Ethereum transaction, and this verifier trusts "
                "no transparency log key: not checked.",
                anchor_status="unchecked",
                reason="no anchoring proof",
                anchors=list(result.anchors),
            )
        return verdict
