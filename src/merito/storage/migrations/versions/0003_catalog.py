"""Issuer catalogue: issuer profiles, images, achievement drafts and Merito metadata.

Also widens the one-active-key rule to one active key per organisation *and algorithm*, so an
issuer can hold an Ed25519 key (Data Integrity) beside a P-256 or RSA key (VC-JWT).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("profile", _JSON, nullable=True))
    with op.batch_alter_table("achievements") as batch:
        batch.add_column(
            sa.Column("name", sa.String(length=200), server_default=sa.text("''"), nullable=False)
        )
        batch.add_column(sa.Column("draft_document", _JSON, nullable=True))
        batch.add_column(sa.Column("draft_metadata", _JSON, nullable=True))
        batch.add_column(sa.Column("published_metadata", _JSON, nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("uq_issuer_keys_one_active", table_name="issuer_keys")
    op.create_index(
        "uq_issuer_keys_one_active",
        "issuer_keys",
        ["org_id", "algorithm"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("generated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "media_type IN ('image/png', 'image/svg+xml')", name=op.f("ck_images_media_type")
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_images_sha256_length")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_images_size_non_negative")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_images_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("org_id", "sha256", name=op.f("uq_images_org_id_sha256")),
    )
    op.create_index(op.f("ix_images_sha256"), "images", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_images_sha256"), table_name="images")
    op.drop_table("images")
    # a second active key of another algorithm would break the old rule: retire all but the
    # oldest active key of each organisation before restoring it
    op.execute(
        sa.text(
            "UPDATE issuer_keys SET status = 'retired', retired_at = CURRENT_TIMESTAMP "
            "WHERE status = 'active' AND id NOT IN ("
            " SELECT id FROM (SELECT k.id, ROW_NUMBER() OVER ("
            "  PARTITION BY k.org_id ORDER BY k.created_at, k.id) AS n"
            "  FROM issuer_keys k WHERE k.status = 'active') ranked WHERE n = 1)"
        )
    )
    op.drop_index("uq_issuer_keys_one_active", table_name="issuer_keys")
    op.create_index(
        "uq_issuer_keys_one_active",
        "issuer_keys",
        ["org_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    with op.batch_alter_table("achievements") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("published_at")
        batch.drop_column("published_metadata")
        batch.drop_column("draft_metadata")
        batch.drop_column("draft_document")
        batch.drop_column("name")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("profile")
