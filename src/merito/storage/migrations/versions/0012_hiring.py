"""Hiring: roles, requirements, discoverability, saved searches, ranking records.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "hiring_roles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occupation_uri", sa.String(length=500), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_hiring_roles_status")),
        _fk("hiring_roles", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hiring_roles")),
    )
    op.create_index(op.f("ix_hiring_roles_org_id_status"), "hiring_roles", ["org_id", "status"])

    op.create_table(
        "hiring_role_requirements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("skill_uri", sa.String(length=500), nullable=False),
        sa.Column("skill_label", sa.String(length=300), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("min_level", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "weight > 0 AND weight <= 100", name=op.f("ck_hiring_role_requirements_weight_range")
        ),
        sa.CheckConstraint(
            "min_level >= 0 AND min_level <= 1",
            name=op.f("ck_hiring_role_requirements_min_level_range"),
        ),
        _fk("hiring_role_requirements", "role_id", "hiring_roles"),
        _fk("hiring_role_requirements", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hiring_role_requirements")),
        sa.UniqueConstraint(
            "role_id", "skill_uri", name=op.f("uq_hiring_role_requirements_role_id_skill_uri")
        ),
    )
    op.create_index(
        op.f("ix_hiring_role_requirements_org_id"), "hiring_role_requirements", ["org_id"]
    )

    op.create_table(
        "discoverability_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "scope IN ('public', 'org')", name=op.f("ck_discoverability_consents_scope")
        ),
        sa.CheckConstraint(
            "(scope = 'public' AND org_id IS NULL) OR (scope = 'org' AND org_id IS NOT NULL)",
            name=op.f("ck_discoverability_consents_scope_org"),
        ),
        _fk("discoverability_consents", "user_id", "users"),
        _fk("discoverability_consents", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discoverability_consents")),
        sa.UniqueConstraint(
            "user_id", "org_id", name=op.f("uq_discoverability_consents_user_id_org_id")
        ),
    )
    op.create_index(
        "uq_discoverability_consents_one_public",
        "discoverability_consents",
        ["user_id"],
        unique=True,
        sqlite_where=sa.text("scope = 'public'"),
        postgresql_where=sa.text("scope = 'public'"),
    )
    op.create_index(
        op.f("ix_discoverability_consents_org_id"), "discoverability_consents", ["org_id"]
    )

    op.create_table(
        "hiring_saved_searches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filters", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        _fk("hiring_saved_searches", "org_id", "organisations"),
        _fk("hiring_saved_searches", "role_id", "hiring_roles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hiring_saved_searches")),
    )
    op.create_index(
        op.f("ix_hiring_saved_searches_org_id_created_at"),
        "hiring_saved_searches",
        ["org_id", "created_at"],
    )

    op.create_table(
        "hiring_candidate_rankings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ranked_at", _TS, nullable=False),
        _fk("hiring_candidate_rankings", "org_id", "organisations"),
        _fk("hiring_candidate_rankings", "role_id", "hiring_roles"),
        _fk("hiring_candidate_rankings", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hiring_candidate_rankings")),
        sa.UniqueConstraint(
            "role_id", "user_id", name=op.f("uq_hiring_candidate_rankings_role_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_hiring_candidate_rankings_user_id"), "hiring_candidate_rankings", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_hiring_candidate_rankings_user_id"), table_name="hiring_candidate_rankings"
    )
    op.drop_table("hiring_candidate_rankings")
    op.drop_index(
        op.f("ix_hiring_saved_searches_org_id_created_at"), table_name="hiring_saved_searches"
    )
    op.drop_table("hiring_saved_searches")
    op.drop_index(op.f("ix_discoverability_consents_org_id"), table_name="discoverability_consents")
    op.drop_index("uq_discoverability_consents_one_public", table_name="discoverability_consents")
    op.drop_table("discoverability_consents")
    op.drop_index(op.f("ix_hiring_role_requirements_org_id"), table_name="hiring_role_requirements")
    op.drop_table("hiring_role_requirements")
    op.drop_index(op.f("ix_hiring_roles_org_id_status"), table_name="hiring_roles")
    op.drop_table("hiring_roles")
