"""Analytics: daily counters of verifications and link-less shares for the issuer dashboard.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Written out in full (not imported from merito.storage.tables), as in 0001.

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "analytics_daily_counts"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("metric IN ('verified', 'shared')", name=op.f(f"ck_{_TABLE}_metric")),
        sa.CheckConstraint("count >= 0", name=op.f(f"ck_{_TABLE}_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f(f"fk_{_TABLE}_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f(f"fk_{_TABLE}_achievement_id_achievements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "metric", "day", "achievement_id", name=op.f(f"pk_{_TABLE}")
        ),
    )
    op.create_index(op.f(f"ix_{_TABLE}_achievement_id"), _TABLE, ["achievement_id"])
    # the dashboard's day ranges of revocations and claims
    op.create_index(
        op.f("ix_credentials_org_id_revoked_at"), "credentials", ["org_id", "revoked_at"]
    )
    op.create_index(
        op.f("ix_credential_claims_org_id_claimed_at"),
        "credential_claims",
        ["org_id", "claimed_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_credential_claims_org_id_claimed_at"), table_name="credential_claims")
    op.drop_index(op.f("ix_credentials_org_id_revoked_at"), table_name="credentials")
    op.drop_index(op.f(f"ix_{_TABLE}_achievement_id"), table_name=_TABLE)
    op.drop_table(_TABLE)
