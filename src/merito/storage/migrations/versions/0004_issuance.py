"""Issuance: credential formats, expiry and re-issue links, signed status lists, claim links.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(
            sa.Column(
                "proof_format",
                sa.String(length=32),
                server_default=sa.text("'eddsa-rdfc-2022'"),
                nullable=False,
            )
        )
        batch.add_column(sa.Column("jwt", sa.Text(), nullable=True))
        batch.add_column(sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("replaced_by_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_credentials_replaced_by_id_credentials"),
            "credentials",
            ["replaced_by_id"],
            ["id"],
        )
    with op.batch_alter_table("status_lists") as batch:
        batch.add_column(sa.Column("signed_document", _JSON, nullable=True))
        batch.add_column(sa.Column("signed_version", sa.Integer(), nullable=True))
    op.create_table(
        "credential_claims",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("credential_row_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_row_id"],
            ["credentials.id"],
            name=op.f("fk_credential_claims_credential_row_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_credential_claims_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_claims")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_credential_claims_token_hash")),
    )
    op.create_index(
        op.f("ix_credential_claims_credential_row_id"),
        "credential_claims",
        ["credential_row_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_credential_claims_org_id"), "credential_claims", ["org_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credential_claims_org_id"), table_name="credential_claims")
    op.drop_index(op.f("ix_credential_claims_credential_row_id"), table_name="credential_claims")
    op.drop_table("credential_claims")
    with op.batch_alter_table("status_lists") as batch:
        batch.drop_column("signed_version")
        batch.drop_column("signed_document")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_constraint(op.f("fk_credentials_replaced_by_id_credentials"), type_="foreignkey")
        batch.drop_column("replaced_by_id")
        batch.drop_column("valid_until")
        batch.drop_column("jwt")
        batch.drop_column("proof_format")
