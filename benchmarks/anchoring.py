"""Ethereum anchoring: one transaction per sealed batch, and what the outbox path costs.

Run: .venv/bin/python benchmarks/anchoring.py [--batches N] [--leaves L]
Prints, on an in-process chain (eth-tester / py-evm) and a SQLite file:
- the gas of one anchor transaction for batches of 1 and L leaves: at most 22,280 whatever
  the batch size (the 32-byte root under Prague's EIP-7623 calldata floor, 21,000 + 10 x 4
  tokens per non-zero byte), and per credential;
- the floor: N roots written and confirmed with ``EthereumAnchor.anchor`` alone (sign, send,
  one receipt poll), per second;
- the service path: N sealed batches through the outbox (``anchor.ethereum`` records then
  broadcasts, ``anchor.ethereum.confirm`` polls and records the anchor), per second, and its
  ratio to the floor (the database's share: a row, a recorded transaction, a poll message).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from web3 import EthereumTesterProvider, Web3

from merito.anchors.ethereum import EthereumAnchor, RetryPolicy
from merito.net.mailer import MemoryMailer
from merito.proofs.merkle_proof_2019 import blockcerts_root
from merito.services import anchoring
from merito.services.outbox import HandlerRegistry, deliver_due
from merito.services.platform import Platform, enqueue
from merito.storage import KeyStore, create_engine_for, migrate, session_factory

DEAD = "0x000000000000000000000000000000000000dEaD"
KEY = "0x" + "00" * 31 + "01"


class Clock:
    def __init__(self) -> None:
        self.instant = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.instant


def _anchor(w3: Web3) -> EthereumAnchor:
    return EthereumAnchor(
        w3, to_address=DEAD, private_key=KEY, retry=RetryPolicy(retries=1, backoff=0)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--leaves", type=int, default=2000)
    args = parser.parse_args()

    w3 = Web3(EthereumTesterProvider())
    anchor = _anchor(w3)
    gas = {}
    for size in (1, args.leaves):
        root = blockcerts_root([i.to_bytes(32, "big") for i in range(1, size + 1)])
        receipt = anchor.anchor(root)
        gas[size] = w3.eth.get_transaction_receipt(receipt.transaction_id)["gasUsed"]  # type: ignore[arg-type]
    print(
        f"gas per anchor: {gas[1]:,} (1 leaf), {gas[args.leaves]:,} ({args.leaves:,} leaves) "
        f"= {gas[args.leaves] / args.leaves:.1f} gas per credential"
    )

    roots = [i.to_bytes(32, "big") for i in range(1, args.batches + 1)]
    started = time.perf_counter()
    for root in roots:
        anchor.anchor(root)
    floor = args.batches / (time.perf_counter() - started)
    print(f"floor: EthereumAnchor.anchor alone: {floor:,.1f} batches/s")

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        sessions = session_factory(engine)
        clock = Clock()
        platform = Platform(
            sessions=sessions,
            keystore=KeyStore(sessions, bytes(32), clock=clock),
            clock=clock,
            mailer=MemoryMailer(),
            base_url="https://merito.bench",
        )
        platform = dataclasses.replace(
            platform, extras=anchoring.ethereum_extras(_anchor(w3), poll_interval=1)
        )
        handlers = HandlerRegistry()
        handlers.register(anchoring.ANCHOR_TOPIC, anchoring.anchor_batch)
        handlers.register(
            anchoring.CONFIRM_TOPIC,
            lambda p, payload: anchoring.confirm_anchor(p, payload, record=lambda s, **k: 0),
        )
        with platform.transaction() as session:
            for n, root in enumerate(roots):
                enqueue(
                    session,
                    topic=anchoring.ANCHOR_TOPIC,
                    payload={
                        "batch_id": f"b{n}",
                        "merkle_root": root.hex(),
                        "tree_size": args.leaves * (n + 1),
                        "leaf_count": args.leaves,
                    },
                    idempotency_key=f"anchor.ethereum:b{n}",
                    org_id=None,
                    available_at=clock.now(),
                )
        rng = random.Random(0)
        started = time.perf_counter()
        deliver_due(platform, worker_id="bench", limit=args.batches, handlers=handlers, rng=rng)
        clock.instant += timedelta(seconds=1)
        deliver_due(platform, worker_id="bench", limit=args.batches, handlers=handlers, rng=rng)
        elapsed = time.perf_counter() - started
        confirmed = anchoring.list_anchors(platform, status="confirmed", limit=500)
        engine.dispose()
    assert len(confirmed) == args.batches, len(confirmed)
    service = args.batches / elapsed
    print(
        f"service: {args.batches} batches sealed -> sent -> confirmed through the outbox: "
        f"{service:,.1f} batches/s = {service / floor:.2f}x the floor"
    )


if __name__ == "__main__":
    main()
