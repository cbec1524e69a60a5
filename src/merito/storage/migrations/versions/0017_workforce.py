"""Workforce: invitations, employees and their sharing consent, sponsorships and vouchers.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Written out in full (not imported from merito.storage.tables), as in 0001.
_TS = sa.DateTime(timezone=True)

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "workforce_invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("job_role_id", sa.String(length=36), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=True),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'revoked')",
            name=op.f("ck_workforce_invitations_status"),
        ),
        _fk("workforce_invitations", "org_id", "organisations"),
        _fk("workforce_invitations", "job_role_id", "hiring_roles", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_workforce_invitations_token_hash")),
    )
    op.create_index(
        op.f("ix_workforce_invitations_org_id_status"),
        "workforce_invitations",
        ["org_id", "status"],
    )

    op.create_table(
        "workforce_employees",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("job_role_id", sa.String(length=36), nullable=True),
        sa.Column("share_all", sa.Boolean(), nullable=False),
        sa.Column("show_individual", sa.Boolean(), nullable=False),
        sa.Column("joined_at", _TS, nullable=False),
        sa.Column("consent_updated_at", _TS, nullable=False),
        _fk("workforce_employees", "org_id", "organisations"),
        _fk("workforce_employees", "user_id", "users"),
        _fk("workforce_employees", "job_role_id", "hiring_roles", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_employees")),
        sa.UniqueConstraint(
            "org_id", "user_id", name=op.f("uq_workforce_employees_org_id_user_id")
        ),
    )
    op.create_index(op.f("ix_workforce_employees_user_id"), "workforce_employees", ["user_id"])

    op.create_table(
        "workforce_shared_credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("employee_id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _fk("workforce_shared_credentials", "employee_id", "workforce_employees"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_shared_credentials")),
        sa.UniqueConstraint(
            "employee_id",
            "credential_id",
            name=op.f("uq_workforce_shared_credentials_employee_id_credential_id"),
        ),
    )

    op.create_table(
        "workforce_sponsorships",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        _fk("workforce_sponsorships", "org_id", "organisations"),
        _fk("workforce_sponsorships", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_sponsorships")),
    )
    op.create_index(
        op.f("ix_workforce_sponsorships_org_id_created_at"),
        "workforce_sponsorships",
        ["org_id", "created_at"],
    )
    op.create_index(
        op.f("ix_workforce_sponsorships_achievement_id"),
        "workforce_sponsorships",
        ["achievement_id"],
    )

    op.create_table(
        "workforce_vouchers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sponsorship_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("redeemed_by", sa.String(length=36), nullable=True),
        sa.Column("redeemed_at", _TS, nullable=True),
        sa.Column("completed_at", _TS, nullable=True),
        sa.Column("credential_row_id", sa.String(length=36), nullable=True),
        _fk("workforce_vouchers", "sponsorship_id", "workforce_sponsorships"),
        _fk("workforce_vouchers", "org_id", "organisations"),
        _fk("workforce_vouchers", "redeemed_by", "users", "SET NULL"),
        _fk("workforce_vouchers", "credential_row_id", "credentials", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workforce_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_workforce_vouchers_code")),
    )
    op.create_index(
        op.f("ix_workforce_vouchers_sponsorship_id"), "workforce_vouchers", ["sponsorship_id"]
    )
    op.create_index(
        op.f("ix_workforce_vouchers_redeemed_by_completed_at"),
        "workforce_vouchers",
        ["redeemed_by", "completed_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_workforce_vouchers_redeemed_by_completed_at"), table_name="workforce_vouchers"
    )
    op.drop_index(op.f("ix_workforce_vouchers_sponsorship_id"), table_name="workforce_vouchers")
    op.drop_table("workforce_vouchers")
    op.drop_index(
        op.f("ix_workforce_sponsorships_achievement_id"), table_name="workforce_sponsorships"
    )
    op.drop_index(
        op.f("ix_workforce_sponsorships_org_id_created_at"), table_name="workforce_sponsorships"
    )
    op.drop_table("workforce_sponsorships")
    op.drop_table("workforce_shared_credentials")
    op.drop_index(op.f("ix_workforce_employees_user_id"), table_name="workforce_employees")
    op.drop_table("workforce_employees")
    op.drop_index(
        op.f("ix_workforce_invitations_org_id_status"), table_name="workforce_invitations"
    )
    op.drop_table("workforce_invitations")
