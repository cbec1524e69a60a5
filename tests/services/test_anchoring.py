"""Ethereum anchoring through the outbox, on an in-process chain (eth-tester / py-evm), on
SQLite and PostgreSQL: one transaction per batch whatever its size, no second transaction on
redelivery or after a crash, an unreachable node retried with back-off, confirmations
tracked, a reorganised-away transaction sent again, the proofs updated once confirmed."""

from __future__ import annotations

import dataclasses
import functools
import random
import socket
from typing import Any

import pytest
import requests
from services_support import MovableClock
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from merito.anchors.ethereum import EthereumAnchor, PreparedTransaction, RetryPolicy, blink_uri
from merito.errors import InvalidInput
from merito.proofs.merkle_proof_2019 import blockcerts_root
from merito.services import anchoring
from merito.services.outbox import DeliveryStats, HandlerRegistry, deliver_due
from merito.services.outbox import RetryPolicy as OutboxPolicy
from merito.services.platform import Actor, Platform, enqueue
from merito.storage.tables import AuditLogRow, OutboxRow
from merito.storage.tables_anchoring import ChainAnchorRow

DEAD = "0x000000000000000000000000000000000000dEaD"
#: eth-tester funds the account of private key 1
KEY = "0x" + "00" * 31 + "01"
FAST = RetryPolicy(retries=2, backoff=0.0, max_backoff=0.0)
POLL = 10.0


class Chain(EthereumTesterProvider):
    """eth-tester behind a link that can go down (every request: connection refused)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if self.down:
            raise requests.exceptions.ConnectionError("connection refused")
        return super().make_request(method, params)

    def mine(self, blocks: int = 1) -> None:
        self.ethereum_tester.mine_blocks(blocks)


class Recorder:
    """Stands in for ``merito.services.ledger.record_batch_anchor`` (the ledger's side)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, session: Session, *, batch_id: str, anchor: str) -> int:
        assert isinstance(session, Session)
        self.calls.append((batch_id, anchor))
        return 1


@pytest.fixture
def chain() -> Chain:
    return Chain()


@pytest.fixture
def w3(chain: Chain) -> Web3:
    return Web3(chain)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _handlers(recorder: Recorder) -> HandlerRegistry:
    handlers = HandlerRegistry()
    handlers.register(anchoring.ANCHOR_TOPIC, anchoring.anchor_batch)
    handlers.register(
        anchoring.CONFIRM_TOPIC, functools.partial(anchoring.confirm_anchor, record=recorder)
    )
    return handlers


def _with_anchor(platform: Platform, anchor: EthereumAnchor, **options: Any) -> Platform:
    return dataclasses.replace(
        platform, extras=anchoring.ethereum_extras(anchor, poll_interval=POLL, **options)
    )


def _anchor(w3: Web3, **options: Any) -> EthereumAnchor:
    options.setdefault("retry", FAST)
    options.setdefault("confirmations", 2)
    if "from_address" not in options:
        options.setdefault("private_key", KEY)
    return EthereumAnchor(w3, to_address=DEAD, **options)


def _root(leaf_count: int) -> bytes:
    return blockcerts_root([i.to_bytes(32, "big") for i in range(leaf_count)])


def _seal(
    platform: Platform, batch_id: str, *, leaf_count: int = 3, root: bytes | None = None
) -> bytes:
    """What the ledger's sealer enqueues for a sealed batch."""
    root = root or _root(leaf_count)
    with platform.transaction() as session:
        enqueue(
            session,
            topic=anchoring.ANCHOR_TOPIC,
            payload={
                "batch_id": batch_id,
                "merkle_root": root.hex(),
                "tree_size": 100 + leaf_count,
                "leaf_count": leaf_count,
            },
            idempotency_key=f"{anchoring.ANCHOR_TOPIC}:{batch_id}",
            org_id=None,
            available_at=platform.clock.now(),
        )
    return root


def _run(platform: Platform, recorder: Recorder) -> DeliveryStats:
    return deliver_due(platform, worker_id="w", handlers=_handlers(recorder), rng=random.Random(7))


def _row(platform: Platform, batch_id: str) -> ChainAnchorRow:
    with platform.reading() as session:
        row = session.scalar(select(ChainAnchorRow).where(ChainAnchorRow.batch_id == batch_id))
        assert row is not None
        session.expunge(row)
        return row


def _sent(w3: Web3, anchor: EthereumAnchor) -> int:
    return int(w3.eth.get_transaction_count(anchor.sender, "latest"))  # type: ignore[arg-type]


def _poll(platform: Platform, recorder: Recorder, clock: MovableClock) -> DeliveryStats:
    clock.advance(seconds=POLL)
    return _run(platform, recorder)


@pytest.mark.parametrize("leaf_count", [1, 2000])
def test_one_transaction_per_batch_then_confirmations_then_the_proofs(
    platform: Platform,
    w3: Web3,
    chain: Chain,
    clock: MovableClock,
    recorder: Recorder,
    leaf_count: int,
) -> None:
    anchor = _anchor(w3)
    platform = _with_anchor(platform, anchor)
    root = _seal(platform, "batch-1", leaf_count=leaf_count)
    before, head = _sent(w3, anchor), w3.eth.block_number

    stats = _run(platform, recorder)
    assert stats.delivered == 1
    assert _sent(w3, anchor) == before + 1  # one transaction, whatever the batch size
    assert w3.eth.block_number == head + 1
    row = _row(platform, "batch-1")
    assert row.status == "submitted"
    assert row.leaf_count == leaf_count
    assert row.tx_hash is not None
    tx = w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
    assert bytes(tx["input"]) == root  # the Blockcerts way: the input is the merkle root
    assert tx["to"] == DEAD
    assert row.nonce == tx["nonce"]
    assert recorder.calls == []

    # the first poll: mined, 1 of 2 confirmations -> the next poll is queued
    stats = _poll(platform, recorder, clock)
    assert (stats.delivered, recorder.calls) == (1, [])
    row = _row(platform, "batch-1")
    assert (row.status, row.confirmations, row.checks) == ("submitted", 1, 2)
    assert row.block_number == head + 1

    chain.mine()
    _poll(platform, recorder, clock)
    row = _row(platform, "batch-1")
    assert row.status == "confirmed"
    assert row.confirmations == 2
    uri = blink_uri(w3.eth.chain_id, row.tx_hash)
    assert row.anchor_uri == uri
    assert recorder.calls == [("batch-1", uri)]
    assert _sent(w3, anchor) == before + 1

    # nothing is left to do: no more polls, no more transactions
    clock.advance(hours=2)
    chain.mine(3)
    assert _run(platform, recorder).claimed == 0
    assert recorder.calls == [("batch-1", uri)]
    [found] = anchoring.list_anchors(platform, batch_id="batch-1")
    assert (found.status, found.tx_hash, found.anchor_uri) == ("confirmed", row.tx_hash, uri)


def test_a_redelivered_message_sends_no_second_transaction(
    platform: Platform, w3: Web3, chain: Chain, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=1)
    platform = _with_anchor(platform, anchor)
    payload = {"batch_id": "b", "merkle_root": _root(5).hex(), "tree_size": 5, "leaf_count": 5}
    before = _sent(w3, anchor)
    anchoring.anchor_batch(platform, payload)
    anchoring.anchor_batch(platform, payload)  # at least once: the lease expired, say
    assert _sent(w3, anchor) == before + 1
    _poll(platform, recorder, clock)
    anchoring.anchor_batch(platform, payload)  # even after confirmation
    assert _sent(w3, anchor) == before + 1
    assert _row(platform, "b").status == "confirmed"
    assert len(recorder.calls) == 1


class CrashBeforeBroadcast(EthereumAnchor):
    """The worker dies between recording the signed transaction and sending it."""

    crashes = 1

    def broadcast(self, prepared: PreparedTransaction, root: bytes) -> str:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("worker killed")
        return super().broadcast(prepared, root)


def test_a_crash_before_the_broadcast_sends_the_recorded_transaction_later(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = CrashBeforeBroadcast(w3, to_address=DEAD, private_key=KEY, retry=FAST)
    platform = _with_anchor(platform, anchor)
    _seal(platform, "b")
    before = _sent(w3, anchor)
    stats = _run(platform, recorder)
    assert stats.retried == 1  # a crash: the outbox tries again later
    recorded = _row(platform, "b")
    assert recorded.status == "submitted"
    assert recorded.tx_hash is not None
    assert _sent(w3, anchor) == before

    # the redelivered seal message does nothing (the transaction exists); the poll sends it
    clock.advance(minutes=5)
    _run(platform, recorder)
    row = _row(platform, "b")
    assert row.tx_hash == recorded.tx_hash  # the same signed bytes, not a new transaction
    assert _sent(w3, anchor) == before + 1
    assert row.attempts == 1
    assert recorder.calls == []
    _poll(platform, recorder, clock)  # the next poll sees it mined
    assert recorder.calls == [("b", blink_uri(w3.eth.chain_id, recorded.tx_hash))]


def test_a_nonce_taken_meanwhile_is_signed_again_with_the_next(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = CrashBeforeBroadcast(w3, to_address=DEAD, private_key=KEY, retry=FAST)
    platform = _with_anchor(platform, anchor)
    root = _seal(platform, "b")
    _run(platform, recorder)  # recorded nonce n, then the crash
    lost = _row(platform, "b")
    # another wallet with the same key spends nonce n
    other = EthereumAnchor(w3, to_address=DEAD, private_key=KEY, retry=FAST)
    other.submit(bytes(32))
    clock.advance(seconds=POLL)
    _run(platform, recorder)
    row = _row(platform, "b")
    assert row.nonce == (lost.nonce or 0) + 1
    assert row.tx_hash != lost.tx_hash
    assert row.attempts == 2
    assert bytes(w3.eth.get_transaction(row.tx_hash)["input"]) == root  # type: ignore[arg-type]
    _poll(platform, recorder, clock)
    assert _row(platform, "b").status == "confirmed"
    assert recorder.calls == [("b", blink_uri(w3.eth.chain_id, row.tx_hash or ""))]


def test_two_batches_get_two_nonces(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=1)
    platform = _with_anchor(platform, anchor)
    _seal(platform, "a", root=b"\x0a" * 32)
    _seal(platform, "b", root=b"\x0b" * 32)
    _run(platform, recorder)
    a, b = _row(platform, "a"), _row(platform, "b")
    assert {a.nonce, b.nonce} == {0, 1}
    _poll(platform, recorder, clock)
    assert sorted(batch for batch, _ in recorder.calls) == ["a", "b"]


def test_an_unreachable_node_is_retried_with_back_off_until_it_is_back(
    platform: Platform, w3: Web3, chain: Chain, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=1)
    platform = _with_anchor(platform, anchor)
    chain.down = True
    _seal(platform, "b")
    waits = []
    for _ in range(3):
        stats = _run(platform, recorder)
        assert stats.retried == 1
        with platform.reading() as session:
            message = session.scalars(select(OutboxRow)).one()
        waits.append(message.available_at - clock.now())
        assert "unreachable" in (message.last_error or "")
        clock.instant = message.available_at
    assert waits[0] < waits[1] < waits[2]  # exponential, whatever the jitter
    assert _row(platform, "b").status == "pending"
    assert "unreachable" in (_row(platform, "b").last_error or "")

    chain.down = False  # the node is back
    assert _run(platform, recorder).delivered == 1
    assert _row(platform, "b").status == "submitted"
    _poll(platform, recorder, clock)
    assert _row(platform, "b").status == "confirmed"
    assert _row(platform, "b").last_error is None


def test_a_node_on_a_closed_port_is_a_transient_failure(
    platform: Platform, clock: MovableClock, recorder: Recorder
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    anchor = EthereumAnchor.connect(
        f"http://127.0.0.1:{port}/v3/secret-api-key",
        request_timeout=1,
        to_address=DEAD,
        private_key=KEY,
        retry=FAST,
    )
    platform = _with_anchor(platform, anchor)
    _seal(platform, "b")
    assert _run(platform, recorder).retried == 1
    with platform.reading() as session:
        error = session.scalars(select(OutboxRow.last_error)).one() or ""
    assert f"http://127.0.0.1:{port}" in error
    assert "secret-api-key" not in error  # a hosted node's key never reaches the outbox


def test_a_reorganised_away_transaction_is_sent_again(
    platform: Platform, w3: Web3, chain: Chain, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=2)
    platform = _with_anchor(platform, anchor)
    tester = chain.ethereum_tester
    fork = tester.take_snapshot()
    _seal(platform, "b")
    _run(platform, recorder)
    _poll(platform, recorder, clock)
    assert _row(platform, "b").confirmations == 1
    sent = _row(platform, "b").tx_hash

    tester.revert_to_snapshot(fork)  # the block holding it is no longer in the chain
    chain.mine(2)
    _poll(platform, recorder, clock)  # unknown -> the same signed transaction again
    row = _row(platform, "b")
    assert row.tx_hash == sent
    assert row.status == "submitted"
    assert w3.eth.get_transaction_receipt(sent)["status"] == 1  # type: ignore[arg-type]
    chain.mine()
    _poll(platform, recorder, clock)
    assert _row(platform, "b").status == "confirmed"
    assert len(recorder.calls) == 1


class LostReplyUnlocked(EthereumAnchor):
    """An unlocked account: the node takes the transaction, its reply is lost."""

    lost = 1

    def broadcast(self, prepared: PreparedTransaction, root: bytes) -> str:
        sent = super().broadcast(prepared, root)
        if self.lost:
            self.lost -= 1
            raise RuntimeError("reply lost")
        return sent


def test_an_unlocked_account_whose_reply_was_lost_is_found_by_its_nonce(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = LostReplyUnlocked(
        w3, to_address=DEAD, from_address=w3.eth.accounts[3], confirmations=1, retry=FAST
    )
    platform = _with_anchor(platform, anchor)
    root = _seal(platform, "b")
    before = _sent(w3, anchor)
    assert _run(platform, recorder).retried == 1
    assert _row(platform, "b").tx_hash is None  # the node never told us the hash
    clock.advance(minutes=5)
    _run(platform, recorder)
    row = _row(platform, "b")
    assert _sent(w3, anchor) == before + 1
    assert row.tx_hash is not None
    assert bytes(w3.eth.get_transaction(row.tx_hash)["input"]) == root  # type: ignore[arg-type]
    assert row.status == "confirmed"


def test_the_wrong_chain_is_a_permanent_failure(
    platform: Platform, w3: Web3, recorder: Recorder
) -> None:
    anchor = _anchor(w3)
    platform = _with_anchor(platform, anchor, chain_id=1)
    _seal(platform, "b")
    before = _sent(w3, anchor)
    assert _run(platform, recorder).dead == 1
    row = _row(platform, "b")
    assert row.status == "failed"
    assert "not the configured 1" in (row.last_error or "")
    assert _sent(w3, anchor) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"batch_id": "b", "merkle_root": "00" * 32, "tree_size": 1},
        {"batch_id": "b", "merkle_root": "zz" * 32, "tree_size": 1, "leaf_count": 1},
        {"batch_id": "b", "merkle_root": "00" * 32, "tree_size": 1, "leaf_count": 2},
        {"batch_id": 7, "merkle_root": "00" * 32, "tree_size": 1, "leaf_count": 1},
    ],
)
def test_a_malformed_payload_is_a_dead_letter(
    platform: Platform, w3: Web3, recorder: Recorder, payload: dict[str, Any]
) -> None:
    platform = _with_anchor(platform, _anchor(w3))
    with platform.transaction() as session:
        enqueue(
            session,
            topic=anchoring.ANCHOR_TOPIC,
            payload=payload,
            idempotency_key="k",
            org_id=None,
            available_at=platform.clock.now(),
        )
    assert _run(platform, recorder).dead == 1


def test_a_worker_without_a_node_leaves_the_message_for_one_that_has_one(
    platform: Platform, recorder: Recorder
) -> None:
    _seal(platform, "b")
    stats = _run(platform, recorder)
    assert stats.retried == 1
    with platform.reading() as session:
        assert "MERITO_ETHEREUM_RPC_URL" in (
            session.scalars(select(OutboxRow.last_error)).one() or ""
        )


def test_the_same_batch_with_another_root_is_refused(
    platform: Platform, w3: Web3, recorder: Recorder
) -> None:
    platform = _with_anchor(platform, _anchor(w3))
    _seal(platform, "b", root=b"\x01" * 32)
    _run(platform, recorder)
    with pytest.raises(Exception, match="another merkle_root"):
        anchoring.anchor_batch(
            platform,
            {"batch_id": "b", "merkle_root": "02" * 32, "tree_size": 3, "leaf_count": 3},
        )


def test_listing_filters_and_pages(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    platform = _with_anchor(platform, _anchor(w3, confirmations=1))
    for n in range(3):
        _seal(platform, f"b{n}", root=bytes([n + 1]) * 32)
    _run(platform, recorder)
    everything = anchoring.list_anchors(platform)
    assert [a.batch_id for a in everything] == ["b2", "b1", "b0"]
    page = anchoring.list_anchors(platform, limit=2)
    assert [a.batch_id for a in anchoring.list_anchors(platform, before_id=page[-1].id)] == ["b0"]
    assert anchoring.list_anchors(platform, status="confirmed") == []
    _poll(platform, recorder, clock)
    assert len(anchoring.list_anchors(platform, status="confirmed")) == 3
    with pytest.raises(InvalidInput):
        anchoring.list_anchors(platform, status="lost")
    with pytest.raises(InvalidInput):
        anchoring.list_anchors(platform, limit=0)


def test_an_outage_longer_than_the_attempt_budget_is_resumed_by_an_operator(
    platform: Platform, w3: Web3, chain: Chain, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=1)
    platform = _with_anchor(platform, anchor)
    operator = Actor.system("cli:ops")
    _seal(platform, "b")
    chain.down = True
    stats = deliver_due(
        platform,
        worker_id="w",
        handlers=_handlers(recorder),
        policy=OutboxPolicy(max_attempts=1),
    )
    assert stats.dead == 1  # the seal message is a dead letter: nothing drives the anchor
    assert anchoring.resume_anchors(platform, operator, batch_id="other") == []
    assert anchoring.resume_anchors(platform, operator) == ["b"]
    assert anchoring.resume_anchors(platform, operator) == []  # a live message again
    chain.down = False
    _run(platform, recorder)
    assert _row(platform, "b").status == "submitted"

    # the poll dies too; resuming a submitted anchor polls its recorded transaction
    chain.down = True
    clock.advance(seconds=POLL)
    assert (
        deliver_due(
            platform,
            worker_id="w",
            handlers=_handlers(recorder),
            policy=OutboxPolicy(max_attempts=1),
        ).dead
        == 1
    )
    chain.down = False
    sent = _row(platform, "b").tx_hash
    assert anchoring.resume_anchors(platform, operator) == ["b"]
    _run(platform, recorder)
    row = _row(platform, "b")
    assert (row.status, row.tx_hash, row.attempts) == ("confirmed", sent, 1)
    with platform.reading() as session:
        actions = session.scalars(
            select(AuditLogRow.action).where(AuditLogRow.target == "batch:b")
        ).all()
    assert actions == ["anchor.resume", "anchor.resume"]


def test_a_failed_anchor_starts_again_from_a_new_transaction(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    anchor = _anchor(w3, confirmations=1)
    _seal(platform, "b")
    assert _run(_with_anchor(platform, anchor, chain_id=1), recorder).dead == 1
    assert _row(platform, "b").status == "failed"
    fixed = _with_anchor(platform, anchor)  # the operator fixes MERITO_ETHEREUM_CHAIN_ID
    assert anchoring.resume_anchors(fixed, Actor.system("cli:ops")) == ["b"]
    _run(fixed, recorder)
    _poll(fixed, recorder, clock)
    assert _row(fixed, "b").status == "confirmed"
    assert len(recorder.calls) == 1


class RacingWorker(EthereumAnchor):
    """Read the recorded nonces before another worker committed its own: picks a taken one."""

    races = 1

    def prepare(self, root: bytes, *, min_nonce: int = 0) -> PreparedTransaction:
        if self.races:
            self.races -= 1
            return super().prepare(root)  # the node's pending count only: 0, like the other
        return super().prepare(root, min_nonce=min_nonce)


def test_two_workers_never_record_the_same_nonce(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    first = CrashBeforeBroadcast(w3, to_address=DEAD, private_key=KEY, retry=FAST)
    _seal(platform, "a", root=b"\x0a" * 32)
    _run(_with_anchor(platform, first), recorder)  # nonce 0 recorded, not yet broadcast
    assert _row(platform, "a").nonce == 0
    racing = RacingWorker(w3, to_address=DEAD, private_key=KEY, confirmations=1, retry=FAST)
    platform = _with_anchor(platform, racing)
    _seal(platform, "b", root=b"\x0b" * 32)
    clock.advance(seconds=1)
    _run(platform, recorder)
    assert racing.races == 0
    assert _row(platform, "b").nonce == 1  # the unique (chain, sender, nonce) refused 0
    for _ in range(3):
        _poll(platform, recorder, clock)
    assert sorted(batch for batch, _ in recorder.calls) == ["a", "b"]
    assert _sent(w3, racing) == 2


class OtherChain(Chain):
    """Another network: eth-tester answering chain id 4242."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_chainId":
            return {"jsonrpc": "2.0", "id": 1, "result": hex(4242)}  # type: ignore[typeddict-item]
        return super().make_request(method, params)


def test_a_node_switched_to_another_chain_mid_flight_is_a_permanent_failure(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    platform = _with_anchor(platform, _anchor(w3))
    _seal(platform, "b")
    _run(platform, recorder)
    other = Web3(OtherChain())
    switched = _with_anchor(platform, _anchor(other))
    before = _sent(other, _anchor(other))
    stats = _poll(switched, recorder, clock)
    assert stats.dead == 1
    row = _row(platform, "b")
    assert row.status == "failed"
    assert "now serves chain" in (row.last_error or "")
    assert _sent(other, _anchor(other)) == before  # nothing signed on the other chain


def test_a_poll_finds_the_mined_one_among_replaced_transactions(
    platform: Platform, w3: Web3, clock: MovableClock, recorder: Recorder
) -> None:
    platform = _with_anchor(platform, _anchor(w3, confirmations=1))
    _seal(platform, "b")
    _run(platform, recorder)
    mined = _row(platform, "b").tx_hash
    # as after a replacement whose stuck predecessor got mined first
    with platform.transaction() as session:
        row = session.scalars(select(ChainAnchorRow)).one()
        row.tx_hash = "0x" + "77" * 32
        row.replaced_tx_hashes = [mined]
    before = _sent(w3, _anchor(w3))
    _poll(platform, recorder, clock)
    row = _row(platform, "b")
    assert (row.status, row.tx_hash) == ("confirmed", mined)
    assert recorder.calls == [("b", blink_uri(w3.eth.chain_id, mined or ""))]
    assert _sent(w3, _anchor(w3)) == before  # nothing new was signed
