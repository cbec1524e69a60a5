"""Wallet: the credentials a learner holds, claimed or imported, with their verification reports.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("credential_row_id", sa.String(length=36), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=500), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("issuer_id", sa.String(length=500), nullable=True),
        sa.Column("issuer_name", sa.String(length=300), nullable=True),
        sa.Column("verification", _JSON, nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('claimed', 'imported')", name=op.f("ck_wallet_items_source")
        ),
        sa.CheckConstraint(
            "visibility IN ('private', 'public')", name=op.f("ck_wallet_items_visibility")
        ),
        sa.ForeignKeyConstraint(
            ["credential_row_id"],
            ["credentials.id"],
            name=op.f("fk_wallet_items_credential_row_id_credentials"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wallet_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_items")),
        sa.UniqueConstraint(
            "user_id", "content_hash", name=op.f("uq_wallet_items_user_id_content_hash")
        ),
    )
    op.create_index(
        op.f("ix_wallet_items_credential_row_id"), "wallet_items", ["credential_row_id"]
    )
    op.create_index(
        op.f("ix_wallet_items_user_id_created_at"), "wallet_items", ["user_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_items_user_id_created_at"), table_name="wallet_items")
    op.drop_index(op.f("ix_wallet_items_credential_row_id"), table_name="wallet_items")
    op.drop_table("wallet_items")
