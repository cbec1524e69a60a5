"""Ethereum anchoring: one transaction per sealed batch, followed to its confirmations.

The ledger's sealer enqueues ``anchor.ethereum`` ({batch_id, merkle_root, tree_size,
leaf_count}) in the transaction that seals a batch. The outbox worker runs:

1. :func:`anchor_batch`: make (and sign) the transaction carrying the batch's root, **record**
   its hash, nonce and raw bytes together with the first ``anchor.ethereum.confirm`` poll,
   *then* broadcast it. A crash after the broadcast finds the recorded transaction again
   (same hash): a redelivery never pays for a second one. A redelivered message for a batch
   that already has a transaction does nothing: the poll chain owns it from then on.
2. :func:`confirm_anchor` (every ``poll_interval``): the node knows the transaction and it has
   the configured confirmations -> the batch's Blink URI is written into every credential's
   MerkleProof2019 proof (``merito.services.ledger.record_batch_anchor``) in the transaction
   that marks the anchor confirmed. Not deep enough yet -> the next poll is enqueued. The node
   has never heard of it (a crash before the broadcast, a dropped or reorganised-away
   transaction) -> the same signed bytes are broadcast again, or, if another transaction of
   the sender took the nonce meanwhile, a new one is signed.
   Still unmined after ``stuck_after`` -> replaced (same nonce, gas price +1/8); the replaced
   hashes are looked for on every poll, so whichever one is mined is the anchor.

An RPC failure raises ``DeliveryError(transient=True)``: the outbox retries that message with
exponential back-off and jitter. Issuance never waits for any of this: credentials are
issued and sealed in the log (the offline anchor) whether or not a chain is reachable.
Nonces are unique per (chain, sender) in ``chain_anchors``: two workers that picked the same
pending nonce cannot both record it; the second signs again with the next.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from merito.errors import AnchorError, Conflict, DeliveryError, InvalidInput
from merito.services.platform import Actor, Platform, audit, enqueue, new_id
from merito.storage.tables import OutboxRow
from merito.storage.tables_anchoring import CHAIN_ANCHOR_STATUSES, ChainAnchorRow

if TYPE_CHECKING:
    from merito.anchors.ethereum import EthereumAnchor, PreparedTransaction

__all__ = [
    "ANCHOR_TOPIC",
    "CONFIRM_TOPIC",
    "ChainAnchor",
    "EthereumAnchoring",
    "RecordAnchor",
    "anchor_batch",
    "anchoring_for",
    "confirm_anchor",
    "ethereum_extras",
    "list_anchors",
    "resume_anchors",
]

log = logging.getLogger("merito.anchoring")

ANCHOR_TOPIC: Final = "anchor.ethereum"
CONFIRM_TOPIC: Final = "anchor.ethereum.confirm"
_EXTRA: Final = "ethereum_anchoring"
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
#: how often one delivery re-signs after losing a nonce race before leaving it to the back-off
_NONCE_RACES: Final = 3
_MAX_ERROR_CHARS: Final = 2000

#: ``merito.services.ledger.record_batch_anchor``: adds a Blink URI to a batch's proofs
RecordAnchor = Callable[..., int]


@dataclass(frozen=True, kw_only=True)
class EthereumAnchoring:
    """What bootstrap configured: the chain adapter, the chain it must be, the poll pace."""

    anchor: EthereumAnchor
    chain_id: int | None = None
    poll_interval: timedelta = timedelta(seconds=15)
    #: a transaction still not mined this long after it was sent is replaced (same nonce,
    #: gas price up by 1/8 at least: what nodes require of a replacement)
    stuck_after: timedelta = timedelta(minutes=10)


def ethereum_extras(
    anchor: EthereumAnchor | None,
    *,
    chain_id: int | None = None,
    poll_interval: float = 15.0,
    stuck_after: float = 600.0,
) -> dict[str, Any]:
    """``Platform.extras`` entries for an anchor (none when no chain is configured)."""
    if anchor is None:
        return {}
    if poll_interval <= 0 or stuck_after <= 0:
        raise InvalidInput(
            "poll_interval and stuck_after must be positive", property="poll_interval"
        )
    return {
        _EXTRA: EthereumAnchoring(
            anchor=anchor,
            chain_id=chain_id,
            poll_interval=timedelta(seconds=poll_interval),
            stuck_after=timedelta(seconds=stuck_after),
        )
    }


def anchoring_for(platform: Platform) -> EthereumAnchoring | None:
    found = platform.extras.get(_EXTRA)
    return found if isinstance(found, EthereumAnchoring) else None


# --- the outbox handlers ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Batch:
    batch_id: str
    merkle_root: str
    tree_size: int
    leaf_count: int


def _batch(payload: Mapping[str, Any]) -> _Batch:
    try:
        batch = _Batch(
            batch_id=payload["batch_id"],
            merkle_root=payload["merkle_root"],
            tree_size=payload["tree_size"],
            leaf_count=payload["leaf_count"],
        )
    except KeyError as e:
        raise DeliveryError(f"anchor payload lacks {e.args[0]!r}", transient=False) from e
    if (
        not isinstance(batch.batch_id, str)
        or not 0 < len(batch.batch_id) <= 64
        or not isinstance(batch.merkle_root, str)
        or not _HEX64.fullmatch(batch.merkle_root)
        or not isinstance(batch.tree_size, int)
        or not isinstance(batch.leaf_count, int)
        or batch.leaf_count < 1
        or batch.tree_size < batch.leaf_count
    ):
        raise DeliveryError(
            "anchor payload: batch_id (text), merkle_root (64 lowercase hex), "
            "tree_size >= leaf_count >= 1",
            transient=False,
        )
    return batch


def _configured(platform: Platform) -> EthereumAnchoring:
    found = anchoring_for(platform)
    if found is None:
        # the message waits (bounded by the outbox's attempts) for a worker that has a chain
        raise DeliveryError(
            "no Ethereum node is configured in this worker (MERITO_ETHEREUM_RPC_URL)",
            transient=True,
        )
    return found


def _row(session: Session, batch_id: str) -> ChainAnchorRow | None:
    return session.scalar(select(ChainAnchorRow).where(ChainAnchorRow.batch_id == batch_id))


def _record_default() -> RecordAnchor:
    from merito.services.ledger import record_batch_anchor  # the ledger imports the outbox

    return record_batch_anchor


def anchor_batch(platform: Platform, payload: Mapping[str, Any]) -> None:
    """Handler for ``anchor.ethereum``: at most one live transaction per batch (module doc)."""
    batch = _batch(payload)
    eth = _configured(platform)
    now = platform.clock.now()
    with platform.transaction() as session:
        row = _row(session, batch.batch_id)
        if row is None:
            row = ChainAnchorRow(
                batch_id=batch.batch_id,
                merkle_root=batch.merkle_root,
                tree_size=batch.tree_size,
                leaf_count=batch.leaf_count,
                status="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        elif row.merkle_root != batch.merkle_root:
            raise DeliveryError(
                f"batch {batch.batch_id} is already anchored with another merkle_root",
                transient=False,
            )
        session.flush()
        row_id, status, nonce = row.id, row.status, row.nonce
    if status != "pending" or nonce is not None:
        return  # a transaction exists: the confirmation polls take it from here
    root = bytes.fromhex(batch.merkle_root)
    with _as_delivery(platform, row_id):
        _sign_and_send(platform, eth, row_id=row_id, root=root, expect_pending=True)


def confirm_anchor(
    platform: Platform, payload: Mapping[str, Any], *, record: RecordAnchor | None = None
) -> None:
    """Handler for ``anchor.ethereum.confirm``: one poll of a batch's transaction."""
    batch_id, check = payload.get("batch_id"), payload.get("check")
    if not isinstance(batch_id, str) or not isinstance(check, int):
        raise DeliveryError("confirm payload: batch_id (text) and check (int)", transient=False)
    eth = _configured(platform)
    with platform.reading() as session:
        row = _row(session, batch_id)
        if row is None or row.status != "submitted" or row.checks != check:
            return  # a stale poll (redelivered, or superseded by a newer one)
        row_id, tx_hash, nonce = row.id, row.tx_hash, row.nonce
        root = bytes.fromhex(row.merkle_root)
        prepared = _prepared(row)
        replaced = [h for h in row.replaced_tx_hashes or [] if isinstance(h, str)]
        stuck = row.submitted_at is not None and (
            platform.clock.now() - row.submitted_at >= eth.stuck_after
        )
    with _as_delivery(platform, row_id):
        anchor = eth.anchor
        chain_id = _check_chain(eth)
        if prepared is not None and prepared.chain_id != chain_id:
            # another chain knows nothing of it: re-signing there would anchor twice
            raise AnchorError(
                f"batch {batch_id} was anchored on chain {prepared.chain_id}; the node now "
                f"serves chain {chain_id}",
                transient=False,
                property="ethereum_chain_id",
            )
        if tx_hash is None and prepared is not None:  # unlocked account, reply lost
            tx_hash = anchor.find_sent(prepared, root)
            if tx_hash is not None:
                _set_hash(platform, row_id, tx_hash)
        receipt = anchor.observe(tx_hash) if tx_hash is not None else None
        if (receipt is None or receipt.block_number is None) and replaced:
            # a transaction this one replaced may be the one the chain took
            for earlier in replaced:
                found = anchor.observe(earlier)
                if found is not None and found.block_number is not None:
                    _set_hash(platform, row_id, earlier)
                    receipt, tx_hash = found, earlier
                    break
        # only a locally signed transaction can be re-signed with the same nonce
        replaceable = (
            prepared if stuck and prepared is not None and prepared.raw is not None else None
        )
        if receipt is not None and receipt.block_number is None and replaceable is not None:
            _replace(platform, eth, row_id=row_id, root=root, stuck=replaceable)
            _next_poll(platform, row_id=row_id, batch_id=batch_id, check=check, eth=eth)
            return
        if receipt is None:
            # never broadcast (a crash), dropped by the node, or reorganised away
            if nonce is not None and prepared is not None and not anchor.nonce_used(nonce):
                if replaceable is not None:  # dropped at its price, likely: pay more now
                    _replace(platform, eth, row_id=row_id, root=root, stuck=replaceable)
                    _next_poll(platform, row_id=row_id, batch_id=batch_id, check=check, eth=eth)
                    return
                try:
                    sent = anchor.broadcast(prepared, root)
                except AnchorError as e:
                    if e.property != "nonce":
                        raise
                    _sign_and_send(platform, eth, row_id=row_id, root=root, expect_pending=False)
                else:
                    if sent != tx_hash:
                        _set_hash(platform, row_id, sent)
                    log.info("anchoring: re-broadcast %s for batch %s", sent, batch_id)
            else:  # another transaction of the sender spent the nonce
                _sign_and_send(platform, eth, row_id=row_id, root=root, expect_pending=False)
            _next_poll(platform, row_id=row_id, batch_id=batch_id, check=check, eth=eth)
            return
        if receipt.root != root:
            _fail(platform, row_id, f"transaction {receipt.transaction_id} carries another root")
            raise DeliveryError(
                f"transaction {receipt.transaction_id} does not carry batch {batch_id}'s root",
                transient=False,
            )
        if receipt.block_number is None or receipt.confirmations < anchor.confirmations:
            _next_poll(
                platform,
                row_id=row_id,
                batch_id=batch_id,
                check=check,
                eth=eth,
                block_number=receipt.block_number,
                confirmations=receipt.confirmations,
            )
            return
        _confirm(
            platform,
            row_id=row_id,
            batch_id=batch_id,
            check=check,
            anchor_uri=receipt.anchor_uri,
            block_number=receipt.block_number,
            confirmations=receipt.confirmations,
            record=record or _record_default(),
        )


# --- steps -----------------------------------------------------------------------------------


@contextmanager
def _as_delivery(platform: Platform, row_id: int) -> Iterator[None]:
    """AnchorError -> DeliveryError (same transience), the reason kept on the anchor row."""
    try:
        yield
    except AnchorError as error:
        _note_error(platform, row_id, error.message)
        if not error.transient:
            _fail(platform, row_id, error.message)
        raise DeliveryError(error.message, transient=error.transient) from error


def _check_chain(eth: EthereumAnchoring) -> int:
    chain_id = eth.anchor.chain_id()
    if eth.chain_id is not None and chain_id != eth.chain_id:
        raise AnchorError(
            f"the node serves chain {chain_id}, not the configured {eth.chain_id}",
            transient=False,
            property="ethereum_chain_id",
        )
    return chain_id


def _prepared(row: ChainAnchorRow) -> PreparedTransaction | None:
    if row.nonce is None or row.chain_id is None or row.sender is None:
        return None
    from merito.anchors.ethereum import PreparedTransaction

    return PreparedTransaction(
        chain_id=row.chain_id,
        sender=row.sender,
        nonce=row.nonce,
        gas=row.gas or 0,
        gas_price=row.gas_price or 0,
        start_block=row.start_block or 0,
        tx_hash=row.tx_hash,
        raw=row.raw_tx,
    )


def _sign_and_send(
    platform: Platform,
    eth: EthereumAnchoring,
    *,
    row_id: int,
    root: bytes,
    expect_pending: bool,
) -> None:
    """Sign a transaction for the row, record it (with the first poll when new), send it."""
    chain_id = _check_chain(eth)
    anchor = eth.anchor
    for _ in range(_NONCE_RACES):
        with platform.reading() as session:
            highest = session.scalar(
                select(func.max(ChainAnchorRow.nonce)).where(
                    ChainAnchorRow.chain_id == chain_id,
                    ChainAnchorRow.sender == anchor.sender,
                    ChainAnchorRow.id != row_id,
                )
            )
        prepared = anchor.prepare(root, min_nonce=0 if highest is None else highest + 1)
        try:
            recorded = _record_prepared(
                platform, eth, row_id=row_id, prepared=prepared, expect_pending=expect_pending
            )
        except Conflict:
            continue  # another worker recorded this nonce first: take the next
        if not recorded:
            return  # another worker signed for this batch meanwhile
        try:
            sent = anchor.broadcast(prepared, root)
        except AnchorError as e:
            if e.property != "nonce":
                raise  # recorded: the next poll broadcasts the same bytes again
            expect_pending = False
            continue
        if prepared.tx_hash is None:
            _set_hash(platform, row_id, sent)
        log.info(
            "anchoring: sent %s (nonce %d) for row %d",
            sent,
            prepared.nonce,
            row_id,
            extra={"tx_hash": sent, "nonce": prepared.nonce},
        )
        return
    raise AnchorError(
        f"lost the nonce race {_NONCE_RACES} times for {anchor.sender}",
        transient=True,
        property="nonce",
    )


def _replace(
    platform: Platform,
    eth: EthereumAnchoring,
    *,
    row_id: int,
    root: bytes,
    stuck: PreparedTransaction,
) -> None:
    """Replace a stuck transaction: same nonce, gas price up by at least 1/8 (+1 wei)."""
    anchor = eth.anchor
    fresh = anchor.prepare(root, nonce=stuck.nonce, min_gas_price=stuck.gas_price * 9 // 8 + 1)
    now = platform.clock.now()
    with platform.transaction() as session:
        row = session.scalar(
            select(ChainAnchorRow)
            .where(
                ChainAnchorRow.id == row_id,
                ChainAnchorRow.status == "submitted",
                ChainAnchorRow.tx_hash == stuck.tx_hash,
            )
            .with_for_update()
        )
        if row is None:
            return  # another poll replaced or confirmed it meanwhile
        row.replaced_tx_hashes = [*(row.replaced_tx_hashes or []), stuck.tx_hash]
        row.tx_hash = fresh.tx_hash
        row.raw_tx = fresh.raw
        row.gas = fresh.gas
        row.gas_price = fresh.gas_price
        row.submitted_at = now
        row.attempts += 1
        row.updated_at = now
    try:
        anchor.broadcast(fresh, root)
    except AnchorError as e:
        if e.property != "nonce":
            raise
        # the stuck one was mined meanwhile ("nonce too low"): the next poll finds it among
        # the replaced transactions
        log.info("anchoring: replacement of %s refused: %s", stuck.tx_hash, e.message)
        return
    log.info(
        "anchoring: replaced stuck %s by %s (gas price %d -> %d wei)",
        stuck.tx_hash,
        fresh.tx_hash,
        stuck.gas_price,
        fresh.gas_price,
        extra={"tx_hash": fresh.tx_hash, "replaced": stuck.tx_hash},
    )


def _record_prepared(
    platform: Platform,
    eth: EthereumAnchoring,
    *,
    row_id: int,
    prepared: PreparedTransaction,
    expect_pending: bool,
) -> bool:
    now = platform.clock.now()
    with platform.transaction() as session:
        where = [ChainAnchorRow.id == row_id]
        if expect_pending:
            where += [ChainAnchorRow.status == "pending", ChainAnchorRow.nonce.is_(None)]
        else:
            where.append(ChainAnchorRow.status == "submitted")
        row = session.scalar(select(ChainAnchorRow).where(*where).with_for_update())
        if row is None:
            return False
        row.status = "submitted"
        row.chain_id = prepared.chain_id
        row.sender = prepared.sender
        row.nonce = prepared.nonce
        row.gas = prepared.gas
        row.gas_price = prepared.gas_price
        row.start_block = prepared.start_block
        row.tx_hash = prepared.tx_hash
        row.raw_tx = prepared.raw
        row.submitted_at = now
        row.block_number = None
        row.confirmations = 0
        row.attempts += 1
        row.updated_at = now
        if expect_pending:  # the poll chain starts with the first transaction
            row.checks = 1
            _enqueue_poll(session, row.batch_id, 1, at=now + eth.poll_interval)
        session.flush()
    return True


def _enqueue_poll(session: Session, batch_id: str, check: int, *, at: datetime) -> None:
    enqueue(
        session,
        topic=CONFIRM_TOPIC,
        payload={"batch_id": batch_id, "check": check},
        idempotency_key=f"{CONFIRM_TOPIC}:{batch_id}:{check}",
        org_id=None,
        available_at=at,
    )


def _set_hash(platform: Platform, row_id: int, tx_hash: str) -> None:
    with platform.transaction() as session:
        session.execute(
            update(ChainAnchorRow)
            .where(ChainAnchorRow.id == row_id)
            .values(tx_hash=tx_hash, updated_at=platform.clock.now())
            .execution_options(synchronize_session=False)
        )


def _next_poll(
    platform: Platform,
    *,
    row_id: int,
    batch_id: str,
    check: int,
    eth: EthereumAnchoring,
    block_number: int | None = None,
    confirmations: int = 0,
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        moved = session.execute(
            update(ChainAnchorRow)
            .where(
                ChainAnchorRow.id == row_id,
                ChainAnchorRow.checks == check,
                ChainAnchorRow.status == "submitted",
            )
            .values(
                checks=check + 1,
                block_number=block_number,
                confirmations=confirmations,
                last_error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if _rowcount(moved):
            _enqueue_poll(session, batch_id, check + 1, at=now + eth.poll_interval)


def _confirm(
    platform: Platform,
    *,
    row_id: int,
    batch_id: str,
    check: int,
    anchor_uri: str,
    block_number: int,
    confirmations: int,
    record: RecordAnchor,
) -> None:
    now = platform.clock.now()
    with platform.transaction() as session:
        moved = session.execute(
            update(ChainAnchorRow)
            .where(
                ChainAnchorRow.id == row_id,
                ChainAnchorRow.checks == check,
                ChainAnchorRow.status == "submitted",
            )
            .values(
                status="confirmed",
                anchor_uri=anchor_uri,
                block_number=block_number,
                confirmations=confirmations,
                confirmed_at=now,
                last_error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if not _rowcount(moved):
            return
        updated = record(session, batch_id=batch_id, anchor=anchor_uri)
    log.info(
        "anchoring: batch %s confirmed at block %d (%s), %d proof(s) updated",
        batch_id,
        block_number,
        anchor_uri,
        updated,
        extra={"batch_id": batch_id, "anchor": anchor_uri},
    )


def _note_error(platform: Platform, row_id: int, message: str) -> None:
    with platform.transaction() as session:
        session.execute(
            update(ChainAnchorRow)
            .where(ChainAnchorRow.id == row_id)
            .values(last_error=message[:_MAX_ERROR_CHARS], updated_at=platform.clock.now())
            .execution_options(synchronize_session=False)
        )


def _fail(platform: Platform, row_id: int, message: str) -> None:
    with platform.transaction() as session:
        session.execute(
            update(ChainAnchorRow)
            .where(ChainAnchorRow.id == row_id, ChainAnchorRow.status != "confirmed")
            .values(status="failed", last_error=message[:_MAX_ERROR_CHARS])
            .execution_options(synchronize_session=False)
        )


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChainAnchor:
    """A batch's chain anchor as the public sees it (the chain's own facts, no secrets)."""

    id: int
    batch_id: str
    merkle_root: str
    tree_size: int
    leaf_count: int
    status: str
    chain_id: int | None
    tx_hash: str | None
    block_number: int | None
    confirmations: int
    anchor_uri: str | None
    attempts: int
    created_at: datetime
    submitted_at: datetime | None
    confirmed_at: datetime | None
    #: operators only (CLI): the last RPC error, node URLs already reduced to scheme://host
    last_error: str | None


def _view(row: ChainAnchorRow) -> ChainAnchor:
    return ChainAnchor(
        id=row.id,
        batch_id=row.batch_id,
        merkle_root=row.merkle_root,
        tree_size=row.tree_size,
        leaf_count=row.leaf_count,
        status=row.status,
        chain_id=row.chain_id,
        tx_hash=row.tx_hash,
        block_number=row.block_number,
        confirmations=row.confirmations,
        anchor_uri=row.anchor_uri,
        attempts=row.attempts,
        created_at=row.created_at,
        submitted_at=row.submitted_at,
        confirmed_at=row.confirmed_at,
        last_error=row.last_error,
    )


def list_anchors(
    platform: Platform,
    *,
    batch_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[ChainAnchor]:
    """Chain anchors, newest first (page with ``before_id``). Public: the log and the chain
    are public by design, so there is no actor to authorise."""
    if status is not None and status not in CHAIN_ANCHOR_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(CHAIN_ANCHOR_STATUSES)}, not {status!r}",
            property="status",
        )
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", property="limit")
    query = select(ChainAnchorRow)
    if batch_id is not None:
        query = query.where(ChainAnchorRow.batch_id == batch_id)
    if status is not None:
        query = query.where(ChainAnchorRow.status == status)
    if before_id is not None:
        query = query.where(ChainAnchorRow.id < before_id)
    with platform.reading() as session:
        rows = session.scalars(query.order_by(ChainAnchorRow.id.desc()).limit(limit)).all()
        return [_view(row) for row in rows]


# --- operators -------------------------------------------------------------------------------


def _live_messages(session: Session, batch_id: str) -> int:
    """Undelivered, not dead outbox messages still working on ``batch_id``."""
    count = session.scalar(
        select(func.count())
        .select_from(OutboxRow)
        .where(
            OutboxRow.delivered_at.is_(None),
            OutboxRow.dead_at.is_(None),
            or_(
                OutboxRow.idempotency_key == f"{ANCHOR_TOPIC}:{batch_id}",
                OutboxRow.idempotency_key.startswith(
                    f"{ANCHOR_TOPIC}:{batch_id}:", autoescape=True
                ),
                OutboxRow.idempotency_key.startswith(
                    f"{CONFIRM_TOPIC}:{batch_id}:", autoescape=True
                ),
            ),
        )
    )
    return int(count or 0)


def resume_anchors(platform: Platform, actor: Actor, *, batch_id: str | None = None) -> list[str]:
    """Restart anchors nothing is working on any more; returns their batch ids.

    An outage longer than the outbox's attempt budget dead-letters the message driving an
    anchor, which then waits for an operator (``merito log resume-anchors``): a *pending*
    anchor gets a new ``anchor.ethereum`` message, a *submitted* one a new poll (its recorded
    transaction is looked for first: nothing is paid twice), and a *failed* one (the node
    refused it: no funds, a wrong chain) starts again from a new transaction. Anchors that
    still have a live message are left alone. Audited (``anchor.resume``).
    """
    now = platform.clock.now()
    resumed: list[str] = []
    with platform.transaction() as session:
        query = select(ChainAnchorRow).where(ChainAnchorRow.status != "confirmed")
        if batch_id is not None:
            query = query.where(ChainAnchorRow.batch_id == batch_id)
        for row in session.scalars(query.order_by(ChainAnchorRow.id).with_for_update()):
            if _live_messages(session, row.batch_id):
                continue
            before = row.status
            if row.status == "failed":
                row.status = "pending"
                row.chain_id = row.sender = row.nonce = row.tx_hash = row.raw_tx = None
                row.gas = row.gas_price = row.start_block = row.block_number = None
                row.confirmations = 0
                row.replaced_tx_hashes = []
            if row.status == "pending":
                enqueue(
                    session,
                    topic=ANCHOR_TOPIC,
                    payload={
                        "batch_id": row.batch_id,
                        "merkle_root": row.merkle_root,
                        "tree_size": row.tree_size,
                        "leaf_count": row.leaf_count,
                    },
                    idempotency_key=f"{ANCHOR_TOPIC}:{row.batch_id}:resume:{new_id()}",
                    org_id=None,
                    available_at=now,
                )
            else:
                row.checks += 1
                _enqueue_poll(session, row.batch_id, row.checks, at=now)
            row.updated_at = now
            audit(
                session,
                actor,
                action="anchor.resume",
                org_id=None,
                target=f"batch:{row.batch_id}",
                at=now,
                details={"status": before, "last_error": row.last_error},
            )
            resumed.append(row.batch_id)
    return resumed
