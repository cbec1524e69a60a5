"""Sharing: portfolios, collections, share links and their views, holder keys.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "portfolios",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("headline", sa.String(length=300), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _user_fk("portfolios"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_portfolios")),
        sa.UniqueConstraint("handle", name=op.f("uq_portfolios_handle")),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _user_fk("collections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
    )
    op.create_index(
        op.f("ix_collections_user_id_created_at"), "collections", ["user_id", "created_at"]
    )
    op.create_table(
        "collection_items",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("wallet_item_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_items_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wallet_item_id"],
            ["wallet_items.id"],
            name=op.f("fk_collection_items_wallet_item_id_wallet_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "collection_id", "wallet_item_id", name=op.f("pk_collection_items")
        ),
    )
    op.create_index(
        op.f("ix_collection_items_wallet_item_id"), "collection_items", ["wallet_item_id"]
    )
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("wallet_item_id", sa.String(length=36), nullable=True),
        sa.Column("collection_id", sa.String(length=36), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("view_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_viewed_at", _TS, nullable=True),
        sa.CheckConstraint(
            "target IN ('item', 'collection', 'portfolio')", name=op.f("ck_share_links_target")
        ),
        sa.CheckConstraint(
            "(target = 'item' AND wallet_item_id IS NOT NULL AND collection_id IS NULL)"
            " OR (target = 'collection' AND collection_id IS NOT NULL"
            " AND wallet_item_id IS NULL)"
            " OR (target = 'portfolio' AND wallet_item_id IS NULL AND collection_id IS NULL)",
            name=op.f("ck_share_links_target_matches_ids"),
        ),
        sa.CheckConstraint("view_count >= 0", name=op.f("ck_share_links_view_count_non_negative")),
        _user_fk("share_links"),
        sa.ForeignKeyConstraint(
            ["wallet_item_id"],
            ["wallet_items.id"],
            name=op.f("fk_share_links_wallet_item_id_wallet_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_share_links_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_links_token_hash")),
    )
    op.create_index(
        op.f("ix_share_links_user_id_created_at"), "share_links", ["user_id", "created_at"]
    )
    op.create_index(op.f("ix_share_links_wallet_item_id"), "share_links", ["wallet_item_id"])
    op.create_index(op.f("ix_share_links_collection_id"), "share_links", ["collection_id"])
    op.create_table(
        "holder_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("did", sa.String(length=200), nullable=False),
        sa.Column("verification_method", sa.String(length=500), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", _JSON, nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("length(nonce) = 12", name=op.f("ck_holder_keys_nonce_length")),
        _user_fk("holder_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holder_keys")),
        sa.UniqueConstraint("did", name=op.f("uq_holder_keys_did")),
        sa.UniqueConstraint("user_id", name=op.f("uq_holder_keys_user_id")),
    )


def downgrade() -> None:
    op.drop_table("holder_keys")
    op.drop_index(op.f("ix_share_links_collection_id"), table_name="share_links")
    op.drop_index(op.f("ix_share_links_wallet_item_id"), table_name="share_links")
    op.drop_index(op.f("ix_share_links_user_id_created_at"), table_name="share_links")
    op.drop_table("share_links")
    op.drop_index(op.f("ix_collection_items_wallet_item_id"), table_name="collection_items")
    op.drop_table("collection_items")
    op.drop_index(op.f("ix_collections_user_id_created_at"), table_name="collections")
    op.drop_table("collections")
    op.drop_table("portfolios")
