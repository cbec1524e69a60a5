"""Assessment: failed claim-code lookups, counted to slow code guessing.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_code_failures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_code_failures")),
    )
    op.create_index(
        op.f("ix_claim_code_failures_ip_created_at"), "claim_code_failures", ["ip", "created_at"]
    )
    op.create_index(
        op.f("ix_claim_code_failures_email_created_at"),
        "claim_code_failures",
        ["email", "created_at"],
    )
    op.create_index(
        op.f("ix_claim_code_failures_created_at"), "claim_code_failures", ["created_at"]
    )


def downgrade() -> None:
    for index in (
        "ix_claim_code_failures_created_at",
        "ix_claim_code_failures_email_created_at",
        "ix_claim_code_failures_ip_created_at",
    ):
        op.drop_index(op.f(index), table_name="claim_code_failures")
    op.drop_table("claim_code_failures")
