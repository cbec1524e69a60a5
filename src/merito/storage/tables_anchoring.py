"""Anchoring: tree roots written to an Ethereum-compatible chain (migration 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, BigId, JsonDocument, utcnow

__all__ = ["CHAIN_ANCHOR_STATUSES", "ChainAnchorRow"]

#: pending: no transaction signed yet; submitted: signed (and sent) but not yet deep enough;
#: confirmed: ``confirmations`` reached and the proofs updated; failed: given up (see last_error)
CHAIN_ANCHOR_STATUSES: Final = ("pending", "submitted", "confirmed", "failed")


class ChainAnchorRow(Base):
    """One sealed batch's root on one chain: at most one live transaction per batch.

    ``tx_hash``, ``nonce`` and ``raw_tx`` are written *before* the transaction is broadcast,
    so a worker that crashes after sending finds it again (same hash) instead of paying for a
    second one; ``checks`` numbers the confirmation polls (a stale poll message is dropped).
    """

    __tablename__ = "chain_anchors"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'submitted', 'confirmed', 'failed')", name="status"),
        CheckConstraint("confirmations >= 0", name="confirmations_non_negative"),
        Index(None, "status", "updated_at"),
        # a nonce is spent once per sender and chain: two workers that picked the same one
        # cannot both record it (the second signs again with the next)
        UniqueConstraint("chain_id", "sender", "nonce"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: hex SHA-256 root of the batch's tree (what the transaction's data carries)
    merkle_root: Mapped[str] = mapped_column(String(64))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    leaf_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    sender: Mapped[str | None] = mapped_column(String(42))
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    #: gas and gas price (wei) the transaction was made with (an unlocked re-send reuses them)
    gas: Mapped[int | None] = mapped_column(BigInteger)
    gas_price: Mapped[int | None] = mapped_column(BigInteger)
    #: 0x hex; NULL until signed (an unlocked node account: until the node answers the send)
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    #: the signed transaction (0x hex), re-broadcast when the node lost it (crash, reorg)
    raw_tx: Mapped[str | None] = mapped_column(Text)
    #: earlier transactions of this batch at the same nonce, replaced by a higher gas price
    #: when stuck: any of them may still be the one mined, so polls look for them too
    replaced_tx_hashes: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    #: the head block when the transaction was made: where a lost unlocked send is looked for
    start_block: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime | None]
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    confirmations: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    confirmed_at: Mapped[datetime | None]
    #: the Blink URI written into the batch's MerkleProof2019 proofs once confirmed
    anchor_uri: Mapped[str | None] = mapped_column(String(200))
    #: transactions signed for this batch (more than one only after a lost nonce or a reorg)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
