"""Pathways: stacked credentials, their requirement trees and awards.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "pathways",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requirement", _JSON, nullable=False),
        sa.Column("revocation_policy", sa.String(length=16), nullable=False),
        sa.Column("trusted_issuers", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("published_at", _TS, nullable=True),
        sa.Column("archived_at", _TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'archived')", name=op.f("ck_pathways_status")
        ),
        sa.CheckConstraint(
            "revocation_policy IN ('flag', 'revoke')", name=op.f("ck_pathways_revocation_policy")
        ),
        _fk("pathways", "org_id", "organisations"),
        _fk("pathways", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathways")),
        sa.UniqueConstraint("achievement_id", name=op.f("uq_pathways_achievement_id")),
    )
    op.create_index(op.f("ix_pathways_org_id_status"), "pathways", ["org_id", "status"])

    op.create_table(
        "pathway_constituents",
        sa.Column("pathway_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        _fk("pathway_constituents", "pathway_id", "pathways"),
        _fk("pathway_constituents", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint(
            "pathway_id", "achievement_id", name=op.f("pk_pathway_constituents")
        ),
    )
    op.create_index(
        op.f("ix_pathway_constituents_achievement_id"), "pathway_constituents", ["achievement_id"]
    )

    op.create_table(
        "pathway_awards",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pathway_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("credential_row_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("constituents", _JSON, nullable=False),
        sa.Column("awarded_at", _TS, nullable=False),
        sa.Column("attention", sa.Text(), nullable=True),
        sa.Column("attention_at", _TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('awarded', 'flagged', 'revoked')", name=op.f("ck_pathway_awards_status")
        ),
        _fk("pathway_awards", "pathway_id", "pathways"),
        _fk("pathway_awards", "org_id", "organisations"),
        _fk("pathway_awards", "user_id", "users"),
        _fk("pathway_awards", "credential_row_id", "credentials"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathway_awards")),
        sa.UniqueConstraint(
            "pathway_id", "user_id", name=op.f("uq_pathway_awards_pathway_id_user_id")
        ),
        sa.UniqueConstraint("credential_row_id", name=op.f("uq_pathway_awards_credential_row_id")),
    )
    op.create_index(
        op.f("ix_pathway_awards_org_id_awarded_at"), "pathway_awards", ["org_id", "awarded_at"]
    )
    op.create_index(op.f("ix_pathway_awards_user_id"), "pathway_awards", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pathway_awards_user_id"), table_name="pathway_awards")
    op.drop_index(op.f("ix_pathway_awards_org_id_awarded_at"), table_name="pathway_awards")
    op.drop_table("pathway_awards")
    op.drop_index(op.f("ix_pathway_constituents_achievement_id"), table_name="pathway_constituents")
    op.drop_table("pathway_constituents")
    op.drop_index(op.f("ix_pathways_org_id_status"), table_name="pathways")
    op.drop_table("pathways")
