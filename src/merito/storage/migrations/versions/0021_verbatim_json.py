"""PostgreSQL: issued credentials, audit details and outbox payloads as JSON text, lz4-compressed.

JSONB reorders an object's keys (shortest first) and converts every document on write; these
columns are written once, read whole and never queried inside, so JSON text keeps the issued
credential exactly as signed and costs less per write. lz4 (where the server was built with it)
compresses the 3 KB documents several times faster than the default pglz. SQLite stores JSON
as text already: nothing changes there. Rows written before keep JSONB's key order.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("credentials", "document"), ("audit_log", "details"), ("outbox", "payload"))


def _has_lz4() -> bool:
    found = op.get_bind().execute(
        sa.text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    )
    return bool(found.scalar())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    lz4 = _has_lz4()
    for table, column in _COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            existing_nullable=False,
            postgresql_using=f"{column}::json",
        )
        if lz4:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
        op.alter_column(
            table,
            column,
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            existing_nullable=False,
            postgresql_using=f"{column}::jsonb",
        )
