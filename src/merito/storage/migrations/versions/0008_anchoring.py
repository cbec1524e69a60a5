"""Anchoring: tree roots written to an Ethereum-compatible chain and their confirmations.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out in full (not imported from merito.storage.tables), as in 0001.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "chain_anchors",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("leaf_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(length=42), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("gas", sa.BigInteger(), nullable=True),
        sa.Column("gas_price", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("replaced_tx_hashes", _JSON, nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("confirmations", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchor_uri", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("checks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'submitted', 'confirmed', 'failed')",
            name=op.f("ck_chain_anchors_status"),
        ),
        sa.CheckConstraint(
            "confirmations >= 0", name=op.f("ck_chain_anchors_confirmations_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_anchors")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_chain_anchors_batch_id")),
        sa.UniqueConstraint(
            "chain_id", "sender", "nonce", name=op.f("uq_chain_anchors_chain_id_sender_nonce")
        ),
    )
    op.create_index(op.f("ix_chain_anchors_tx_hash"), "chain_anchors", ["tx_hash"])
    op.create_index(
        op.f("ix_chain_anchors_status_updated_at"), "chain_anchors", ["status", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_chain_anchors_status_updated_at"), table_name="chain_anchors")
    op.drop_index(op.f("ix_chain_anchors_tx_hash"), table_name="chain_anchors")
    op.drop_table("chain_anchors")
