"""Delivery: the outbox worker's lease (claimed_by, claimed_until) and dead letters (dead_at).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL drops the columns in place
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dead_at")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
