"""Ledger: the transparency log's entries, signed tree heads and sealed batches (migration 0007).

The log is platform-wide and public (no ``org_id``): an entry is a credential's 32-byte digest
at a 0-based index that is never reused. ``credential_row_id`` is deliberately not a foreign
key: deleting an organisation deletes its credentials, never the log's history. A head stores
its compact range (``peaks``, 32 bytes per set bit of ``tree_size``), so sealing the next batch
hashes only that batch. A batch is the run of entries one seal appended, with the root of its
Blockcerts (MerkleProof2019) tree, which is what a chain anchor commits to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, JsonDocument, utcnow

__all__ = ["LogBatchRow", "LogEntryRow", "LogHeadRow"]


class LogHeadRow(Base):
    """A Signed Tree Head and the compact range (RFC 9162 peaks) of its tree."""

    __tablename__ = "log_heads"
    __table_args__ = (
        CheckConstraint("tree_size >= 0", name="tree_size_non_negative"),
        CheckConstraint("length(root_hash) = 32", name="root_hash_length"),
        CheckConstraint("length(signature) = 64", name="signature_length"),
    )

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_id: Mapped[str] = mapped_column(String(255))
    #: milliseconds since the Unix epoch, as signed
    timestamp: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    #: the compact range's peaks, largest first, concatenated
    peaks: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogBatchRow(Base):
    """One seal: entries ``[first_index, first_index + leaf_count)`` under one head."""

    __tablename__ = "log_batches"
    __table_args__ = (
        CheckConstraint("leaf_count > 0", name="leaf_count_positive"),
        CheckConstraint("length(merkle_root) = 32", name="merkle_root_length"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    leaf_count: Mapped[int] = mapped_column(Integer)
    #: the head this seal signed (first_index + leaf_count)
    tree_size: Mapped[int] = mapped_column(ForeignKey("log_heads.tree_size"), unique=True)
    #: root of the batch's Blockcerts tree (plain SHA-256 pairs), the MerkleProof2019 merkleRoot
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary)
    #: Blink URIs of the chain transactions that anchored ``merkle_root`` (record_batch_anchor)
    anchors: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogEntryRow(Base):
    """One log entry: ``leaf_input`` (the RFC 9162 leaf data) at ``idx``."""

    __tablename__ = "log_entries"
    __table_args__ = (
        CheckConstraint("idx >= 0", name="idx_non_negative"),
        CheckConstraint("length(leaf_hash) = 32", name="leaf_hash_length"),
    )

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: the credential's digest (32 bytes): the MerkleProof2019 target hash, or SHA-256 of a JWT
    leaf_input: Mapped[bytes] = mapped_column(LargeBinary)
    #: SHA-256(0x00 || leaf_input): what get-proof-by-hash looks up
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: credentials.id (no foreign key: the log outlives deleted credentials); unique: a
    #: credential enters the log at most once
    credential_row_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("log_batches.id"), index=True)
