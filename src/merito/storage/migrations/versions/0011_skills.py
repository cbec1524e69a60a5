"""Skills: the taxonomy (ESCO and organisations' own skills), labels, hierarchy, occupations.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "skills",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("uri", sa.String(length=500), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("skill_type", sa.String(length=16), nullable=True),
        sa.Column("reuse_level", sa.String(length=24), nullable=True),
        sa.Column("preferred_label", sa.String(length=300), nullable=False),
        sa.Column("alt_labels", _JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("collections", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("kind IN ('skill', 'group')", name=op.f("ck_skills_kind")),
        sa.CheckConstraint(
            "skill_type IN ('skill', 'knowledge')", name=op.f("ck_skills_skill_type")
        ),
        sa.CheckConstraint(
            "reuse_level IN ('transversal', 'cross-sector', 'sector-specific', "
            "'occupation-specific')",
            name=op.f("ck_skills_reuse_level"),
        ),
        _fk("skills", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skills")),
    )
    op.create_index(
        "uq_skills_esco_uri",
        "skills",
        ["uri"],
        unique=True,
        sqlite_where=sa.text("org_id IS NULL"),
        postgresql_where=sa.text("org_id IS NULL"),
    )
    op.create_index(
        "uq_skills_org_uri",
        "skills",
        ["org_id", "uri"],
        unique=True,
        sqlite_where=sa.text("org_id IS NOT NULL"),
        postgresql_where=sa.text("org_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_skills_org_id_kind"), "skills", ["org_id", "kind"])

    op.create_table(
        "skill_broader",
        sa.Column("skill_id", sa.String(length=36), nullable=False),
        sa.Column("broader_id", sa.String(length=36), nullable=False),
        _fk("skill_broader", "skill_id", "skills"),
        _fk("skill_broader", "broader_id", "skills"),
        sa.PrimaryKeyConstraint("skill_id", "broader_id", name=op.f("pk_skill_broader")),
    )
    op.create_index(op.f("ix_skill_broader_broader_id"), "skill_broader", ["broader_id"])

    op.create_table(
        "skill_relations",
        sa.Column("skill_id", sa.String(length=36), nullable=False),
        sa.Column("related_skill_id", sa.String(length=36), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "relation IN ('essential', 'optional')", name=op.f("ck_skill_relations_relation")
        ),
        _fk("skill_relations", "skill_id", "skills"),
        _fk("skill_relations", "related_skill_id", "skills"),
        sa.PrimaryKeyConstraint("skill_id", "related_skill_id", name=op.f("pk_skill_relations")),
    )
    op.create_index(
        op.f("ix_skill_relations_related_skill_id"), "skill_relations", ["related_skill_id"]
    )

    op.create_table(
        "occupations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("uri", sa.String(length=500), nullable=False),
        sa.Column("preferred_label", sa.String(length=300), nullable=False),
        sa.Column("alt_labels", _JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("isco_group", sa.String(length=8), nullable=True),
        sa.Column("broader_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _fk("occupations", "broader_id", "occupations", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occupations")),
        sa.UniqueConstraint("uri", name=op.f("uq_occupations_uri")),
    )
    op.create_index(op.f("ix_occupations_isco_group"), "occupations", ["isco_group"])

    op.create_table(
        "occupation_skills",
        sa.Column("occupation_id", sa.String(length=36), nullable=False),
        sa.Column("skill_id", sa.String(length=36), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "relation IN ('essential', 'optional')", name=op.f("ck_occupation_skills_relation")
        ),
        _fk("occupation_skills", "occupation_id", "occupations"),
        _fk("occupation_skills", "skill_id", "skills"),
        sa.PrimaryKeyConstraint("occupation_id", "skill_id", name=op.f("pk_occupation_skills")),
    )
    op.create_index(op.f("ix_occupation_skills_skill_id"), "occupation_skills", ["skill_id"])

    op.create_table(
        "skill_mappings",
        sa.Column("skill_id", sa.String(length=36), nullable=False),
        sa.Column("esco_skill_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("match", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "match IN ('exact', 'close', 'broad', 'narrow', 'related')",
            name=op.f("ck_skill_mappings_match"),
        ),
        _fk("skill_mappings", "skill_id", "skills"),
        _fk("skill_mappings", "esco_skill_id", "skills"),
        _fk("skill_mappings", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("skill_id", "esco_skill_id", name=op.f("pk_skill_mappings")),
    )
    op.create_index(op.f("ix_skill_mappings_esco_skill_id"), "skill_mappings", ["esco_skill_id"])
    op.create_index(op.f("ix_skill_mappings_org_id"), "skill_mappings", ["org_id"])


def downgrade() -> None:
    op.drop_table("skill_mappings")
    op.drop_table("occupation_skills")
    op.drop_table("occupations")
    op.drop_table("skill_relations")
    op.drop_table("skill_broader")
    op.drop_index(op.f("ix_skills_org_id_kind"), table_name="skills")
    op.drop_index("uq_skills_org_uri", table_name="skills")
    op.drop_index("uq_skills_esco_uri", table_name="skills")
    op.drop_table("skills")
