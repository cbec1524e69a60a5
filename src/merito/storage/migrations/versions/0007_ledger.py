"""Ledger: the transparency log's entries, signed tree heads and sealed batches.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_id", sa.String(length=255), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("peaks", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_log_heads_tree_size_non_negative")),
        sa.CheckConstraint("length(root_hash) = 32", name=op.f("ck_log_heads_root_hash_length")),
        sa.CheckConstraint("length(signature) = 64", name=op.f("ck_log_heads_signature_length")),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_log_heads")),
    )
    op.create_table(
        "log_batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("first_index", sa.BigInteger(), nullable=False),
        sa.Column("leaf_count", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("merkle_root", sa.LargeBinary(), nullable=False),
        sa.Column("anchors", _JSON, nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("leaf_count > 0", name=op.f("ck_log_batches_leaf_count_positive")),
        sa.CheckConstraint(
            "length(merkle_root) = 32", name=op.f("ck_log_batches_merkle_root_length")
        ),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["log_heads.tree_size"],
            name=op.f("fk_log_batches_tree_size_log_heads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_batches")),
        sa.UniqueConstraint("first_index", name=op.f("uq_log_batches_first_index")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_log_batches_tree_size")),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_input", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("credential_row_id", sa.String(length=36), nullable=True),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.CheckConstraint("idx >= 0", name=op.f("ck_log_entries_idx_non_negative")),
        sa.CheckConstraint("length(leaf_hash) = 32", name=op.f("ck_log_entries_leaf_hash_length")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["log_batches.id"], name=op.f("fk_log_entries_batch_id_log_batches")
        ),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("leaf_hash", name=op.f("uq_log_entries_leaf_hash")),
        sa.UniqueConstraint("credential_row_id", name=op.f("uq_log_entries_credential_row_id")),
    )
    op.create_index(op.f("ix_log_entries_batch_id"), "log_entries", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_log_entries_batch_id"), table_name="log_entries")
    op.drop_table("log_entries")
    op.drop_table("log_batches")
    op.drop_table("log_heads")
