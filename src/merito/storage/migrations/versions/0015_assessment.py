"""Assessment: applications, evidence files, rubrics, reviews, claim codes.

Also teaches ``memberships.role`` the ``assessor`` role.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES_BEFORE = "role IN ('owner', 'admin', 'issuer_staff', 'viewer')"
_ROLES_AFTER = "role IN ('owner', 'admin', 'issuer_staff', 'viewer', 'assessor')"


def _fk(
    table: str, column: str, target: str, *, ondelete: str = "CASCADE"
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _roles(check: str) -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint(op.f("ck_memberships_role"), type_="check")
        batch.create_check_constraint(op.f("ck_memberships_role"), sa.text(check))


def upgrade() -> None:
    _roles(_ROLES_AFTER)

    op.create_table(
        "assessment_configs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("rubric", _JSON, nullable=True),
        sa.Column("decision_rule", _JSON, nullable=False),
        sa.Column("peer_review", sa.Boolean(), nullable=False),
        sa.Column("max_file_bytes", sa.Integer(), nullable=False),
        sa.Column("allowed_types", sa.String(length=1000), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "max_file_bytes > 0", name=op.f("ck_assessment_configs_max_file_bytes_positive")
        ),
        sa.CheckConstraint("sla_hours > 0", name=op.f("ck_assessment_configs_sla_hours_positive")),
        _fk("assessment_configs", "org_id", "organisations"),
        _fk("assessment_configs", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_configs")),
        sa.UniqueConstraint("achievement_id", name=op.f("uq_assessment_configs_achievement_id")),
    )
    op.create_index(op.f("ix_assessment_configs_org_id"), "assessment_configs", ["org_id"])

    op.create_table(
        "assessment_applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_user_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_email", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("credential_row_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'in_review', 'returned', 'awarded', 'rejected', "
            "'withdrawn')",
            name=op.f("ck_assessment_applications_state"),
        ),
        sa.CheckConstraint("round >= 1", name=op.f("ck_assessment_applications_round_positive")),
        _fk("assessment_applications", "org_id", "organisations"),
        _fk("assessment_applications", "achievement_id", "achievements"),
        _fk("assessment_applications", "applicant_user_id", "users"),
        _fk("assessment_applications", "credential_row_id", "credentials", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_applications")),
    )
    op.create_index(
        op.f("ix_assessment_applications_org_id_state_submitted_at"),
        "assessment_applications",
        ["org_id", "state", "submitted_at"],
    )
    op.create_index(
        op.f("ix_assessment_applications_applicant_user_id_created_at"),
        "assessment_applications",
        ["applicant_user_id", "created_at"],
    )
    op.create_index(
        op.f("ix_assessment_applications_achievement_id_state"),
        "assessment_applications",
        ["achievement_id", "state"],
    )

    op.create_table(
        "assessment_evidence",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('file', 'url', 'text')", name=op.f("ck_assessment_evidence_kind")
        ),
        sa.CheckConstraint(
            "(kind = 'file' AND sha256 IS NOT NULL) OR (kind != 'file' AND sha256 IS NULL)",
            name=op.f("ck_assessment_evidence_file_digest"),
        ),
        sa.CheckConstraint(
            "size IS NULL OR size >= 0", name=op.f("ck_assessment_evidence_size_non_negative")
        ),
        _fk("assessment_evidence", "org_id", "organisations"),
        _fk("assessment_evidence", "application_id", "assessment_applications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_evidence")),
    )
    op.create_index(op.f("ix_assessment_evidence_org_id"), "assessment_evidence", ["org_id"])
    op.create_index(op.f("ix_assessment_evidence_sha256"), "assessment_evidence", ["sha256"])
    op.create_index(
        op.f("ix_assessment_evidence_application_id_position"),
        "assessment_evidence",
        ["application_id", "position"],
    )

    op.create_table(
        "assessment_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("assessor_user_id", sa.String(length=36), nullable=False),
        sa.Column("assigned_at", _TS, nullable=False),
        _fk("assessment_assignments", "org_id", "organisations"),
        _fk("assessment_assignments", "application_id", "assessment_applications"),
        _fk("assessment_assignments", "assessor_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_assignments")),
        sa.UniqueConstraint(
            "application_id",
            "assessor_user_id",
            name=op.f("uq_assessment_assignments_application_id_assessor_user_id"),
        ),
    )
    op.create_index(op.f("ix_assessment_assignments_org_id"), "assessment_assignments", ["org_id"])
    op.create_index(
        op.f("ix_assessment_assignments_assessor_user_id"),
        "assessment_assignments",
        ["assessor_user_id"],
    )

    op.create_table(
        "assessment_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reviewer_user_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_kind", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("scores", _JSON, nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "decision IN ('award', 'return', 'reject')",
            name=op.f("ck_assessment_reviews_decision"),
        ),
        _fk("assessment_reviews", "org_id", "organisations"),
        _fk("assessment_reviews", "application_id", "assessment_applications"),
        _fk("assessment_reviews", "reviewer_user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_reviews")),
        sa.UniqueConstraint(
            "application_id",
            "round",
            "reviewer_user_id",
            name=op.f("uq_assessment_reviews_application_id_round_reviewer_user_id"),
        ),
    )
    op.create_index(op.f("ix_assessment_reviews_org_id"), "assessment_reviews", ["org_id"])
    op.create_index(
        op.f("ix_assessment_reviews_reviewer_user_id_created_at"),
        "assessment_reviews",
        ["reviewer_user_id", "created_at"],
    )

    op.create_table(
        "claim_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("starts_at", _TS, nullable=True),
        sa.Column("ends_at", _TS, nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("allowed_domain", sa.String(length=253), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "max_uses IS NULL OR max_uses > 0", name=op.f("ck_claim_codes_max_uses_positive")
        ),
        sa.CheckConstraint(
            "uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)",
            name=op.f("ck_claim_codes_uses_cap"),
        ),
        _fk("claim_codes", "org_id", "organisations"),
        _fk("claim_codes", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_claim_codes_code")),
    )
    op.create_index(
        op.f("ix_claim_codes_org_id_created_at"), "claim_codes", ["org_id", "created_at"]
    )
    op.create_index(op.f("ix_claim_codes_achievement_id"), "claim_codes", ["achievement_id"])

    op.create_table(
        "claim_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("claim_code_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("redeemed_at", _TS, nullable=True),
        sa.Column("credential_row_id", sa.String(length=36), nullable=True),
        _fk("claim_requests", "org_id", "organisations"),
        _fk("claim_requests", "claim_code_id", "claim_codes"),
        _fk("claim_requests", "credential_row_id", "credentials", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_claim_requests_token_hash")),
    )
    op.create_index(op.f("ix_claim_requests_org_id"), "claim_requests", ["org_id"])
    op.create_index(
        op.f("ix_claim_requests_claim_code_id_created_at"),
        "claim_requests",
        ["claim_code_id", "created_at"],
    )
    op.create_index(op.f("ix_claim_requests_ip_created_at"), "claim_requests", ["ip", "created_at"])
    op.create_index(
        op.f("ix_claim_requests_claim_code_id_email"), "claim_requests", ["claim_code_id", "email"]
    )


def downgrade() -> None:
    for index, table in (
        ("ix_claim_requests_claim_code_id_email", "claim_requests"),
        ("ix_claim_requests_ip_created_at", "claim_requests"),
        ("ix_claim_requests_claim_code_id_created_at", "claim_requests"),
        ("ix_claim_requests_org_id", "claim_requests"),
    ):
        op.drop_index(op.f(index), table_name=table)
    op.drop_table("claim_requests")
    op.drop_index(op.f("ix_claim_codes_achievement_id"), table_name="claim_codes")
    op.drop_index(op.f("ix_claim_codes_org_id_created_at"), table_name="claim_codes")
    op.drop_table("claim_codes")
    op.drop_index(
        op.f("ix_assessment_reviews_reviewer_user_id_created_at"), table_name="assessment_reviews"
    )
    op.drop_index(op.f("ix_assessment_reviews_org_id"), table_name="assessment_reviews")
    op.drop_table("assessment_reviews")
    op.drop_index(
        op.f("ix_assessment_assignments_assessor_user_id"), table_name="assessment_assignments"
    )
    op.drop_index(op.f("ix_assessment_assignments_org_id"), table_name="assessment_assignments")
    op.drop_table("assessment_assignments")
    op.drop_index(
        op.f("ix_assessment_evidence_application_id_position"), table_name="assessment_evidence"
    )
    op.drop_index(op.f("ix_assessment_evidence_sha256"), table_name="assessment_evidence")
    op.drop_index(op.f("ix_assessment_evidence_org_id"), table_name="assessment_evidence")
    op.drop_table("assessment_evidence")
    op.drop_index(
        op.f("ix_assessment_applications_achievement_id_state"),
        table_name="assessment_applications",
    )
    op.drop_index(
        op.f("ix_assessment_applications_applicant_user_id_created_at"),
        table_name="assessment_applications",
    )
    op.drop_index(
        op.f("ix_assessment_applications_org_id_state_submitted_at"),
        table_name="assessment_applications",
    )
    op.drop_table("assessment_applications")
    op.drop_index(op.f("ix_assessment_configs_org_id"), table_name="assessment_configs")
    op.drop_table("assessment_configs")
    op.execute("DELETE FROM memberships WHERE role = 'assessor'")
    _roles(_ROLES_BEFORE)
