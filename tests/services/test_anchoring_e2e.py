"""End to end through the ledger's sealer, on SQLite and PostgreSQL: issue -> seal ->
``anchor.ethereum`` -> one transaction on eth-tester -> confirmations -> each credential's
MerkleProof2019 proof names the transaction -> the verifier, checking the chain too, says
anchored. The chain is down at first: issuance and sealing do not wait for it."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services_support import MovableClock, SeededOrg
from sqlalchemy import select
from test_anchoring import DEAD, FAST, KEY, POLL, Chain
from test_credentials import seed_achievement
from test_ledger import LOG_KEY, anchored, issue, options, stored
from web3 import Web3

from merito.anchors.ethereum import EthereumAnchor, blink_uri
from merito.anchors.ethereum_checker import EthereumChainChecker
from merito.domain.verification import Outcome
from merito.ledger.anchoring import anchoring_proofs
from merito.proofs import merkle_proof_2019
from merito.services import anchoring, ledger
from merito.services.outbox import DeliveryStats, HandlerRegistry, deliver_due
from merito.services.platform import Platform
from merito.storage.tables import OutboxRow
from merito.verification import verify


def _handlers() -> HandlerRegistry:
    handlers = HandlerRegistry()  # the real record_batch_anchor: no stand-in
    handlers.register(anchoring.ANCHOR_TOPIC, anchoring.anchor_batch)
    handlers.register(anchoring.CONFIRM_TOPIC, anchoring.confirm_anchor)
    return handlers


def test_issue_seal_anchor_confirm_verify_on_chain(
    platform: Platform, seed_org: Callable[..., SeededOrg], clock: MovableClock
) -> None:
    chain = Chain()
    w3 = Web3(chain)
    anchor = EthereumAnchor(w3, to_address=DEAD, private_key=KEY, confirmations=2, retry=FAST)
    platform = dataclasses.replace(
        platform,
        extras={"log_key": LOG_KEY, **anchoring.ethereum_extras(anchor, poll_interval=POLL)},
    )
    org = seed_org()
    achievement_id = seed_achievement(platform, org.org_id)

    chain.down = True  # the chain is unreachable: issuing and sealing go on regardless
    records = issue(platform, org, achievement_id, 3)
    policy = dataclasses.replace(
        ledger.SealPolicy(batch_size=3, batch_seconds=60), anchor_ethereum=True
    )
    sealed = ledger.seal_pending(platform, policy=policy)
    assert sealed is not None
    outcome, details, verified = anchored(platform, stored(platform, records[0]))
    assert (outcome, details["anchor_status"], verified) == (Outcome.PASS, "anchored", True)
    assert details["anchors"] == []

    # the sealer's message is due at the wall clock's now (enqueue's default)
    clock.instant = datetime.now(UTC) + timedelta(seconds=1)

    def run() -> DeliveryStats:
        return deliver_due(platform, worker_id="w", handlers=_handlers(), rng=random.Random(1))

    assert run().retried == 1
    with platform.reading() as session:
        message = session.scalars(
            select(OutboxRow).where(OutboxRow.topic == anchoring.ANCHOR_TOPIC)
        ).one()
    assert "unreachable" in (message.last_error or "")

    chain.down = False
    clock.instant = message.available_at
    before = w3.eth.block_number
    assert run().delivered == 1
    assert w3.eth.block_number == before + 1  # one transaction for the batch
    [row] = anchoring.list_anchors(platform, batch_id=sealed.batch_id)
    assert row.tx_hash is not None
    tx = w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
    assert bytes(tx["input"]) == sealed.merkle_root

    clock.advance(seconds=POLL)
    run()  # 1 confirmation of 2: the proofs are not touched yet
    proof = anchoring_proofs(stored(platform, records[0]))[0]
    assert merkle_proof_2019.decode_proof_value(proof["proofValue"]).anchors == ()
    chain.mine()
    clock.advance(seconds=POLL)
    run()
    uri = blink_uri(w3.eth.chain_id, row.tx_hash)
    [row] = anchoring.list_anchors(platform, batch_id=sealed.batch_id)
    assert (row.status, row.anchor_uri) == ("confirmed", uri)

    checker = dataclasses.replace(
        options(platform).anchor_checker,  # type: ignore[type-var]
        chain_checker=EthereumChainChecker(anchor=anchor),
    )
    for record in records:
        document = stored(platform, record)
        receipt = merkle_proof_2019.decode_proof_value(anchoring_proofs(document)[0]["proofValue"])
        assert receipt.anchors == (uri,)
        report = verify(
            document, options=dataclasses.replace(options(platform), anchor_checker=checker)
        )
        check = report.check("anchored")
        assert report.verified, report
        assert check.outcome is Outcome.PASS, check.message
        assert check.details["chain"]["outcome"] == "pass"
        assert check.details["anchors"] == [uri]
