"""Trust: endorsements, endorsement requests, trust registries and their entries.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "endorsement_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requester_org_id", sa.String(length=36), nullable=False),
        sa.Column("endorser_org_id", sa.String(length=36), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("achievement_id", sa.String(length=36), nullable=True),
        sa.Column("subject_id", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("endorsement_id", sa.String(length=36), nullable=True),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'withdrawn')",
            name=op.f("ck_endorsement_requests_status"),
        ),
        sa.CheckConstraint(
            "subject_kind IN ('achievement', 'profile')",
            name=op.f("ck_endorsement_requests_subject_kind"),
        ),
        _fk("endorsement_requests", "requester_org_id", "organisations"),
        _fk("endorsement_requests", "endorser_org_id", "organisations"),
        _fk("endorsement_requests", "achievement_id", "achievements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsement_requests")),
    )
    op.create_index(
        op.f("ix_endorsement_requests_endorser_org_id_status"),
        "endorsement_requests",
        ["endorser_org_id", "status"],
    )
    op.create_index(
        op.f("ix_endorsement_requests_requester_org_id_status"),
        "endorsement_requests",
        ["requester_org_id", "status"],
    )

    op.create_table(
        "endorsements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=500), nullable=False),
        sa.Column("subject_org_id", sa.String(length=36), nullable=True),
        sa.Column("achievement_id", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("status_list_id", sa.String(length=36), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "subject_kind IN ('achievement', 'profile')", name=op.f("ck_endorsements_subject_kind")
        ),
        _fk("endorsements", "org_id", "organisations"),
        _fk("endorsements", "subject_org_id", "organisations"),
        _fk("endorsements", "achievement_id", "achievements"),
        _fk("endorsements", "status_list_id", "status_lists"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsements")),
    )
    op.create_index(op.f("ix_endorsements_subject_id"), "endorsements", ["subject_id"])
    op.create_index(
        op.f("ix_endorsements_org_id_issued_at"), "endorsements", ["org_id", "issued_at"]
    )
    op.create_index(op.f("ix_endorsements_subject_org_id"), "endorsements", ["subject_org_id"])

    op.create_table(
        "trust_registries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("registry_id", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("publisher", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("fetched_at", _TS, nullable=False),
        sa.Column("refresh_after", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("source IN ('upload', 'url')", name=op.f("ck_trust_registries_source")),
        _fk("trust_registries", "org_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_registries")),
        sa.UniqueConstraint(
            "org_id", "registry_id", name=op.f("uq_trust_registries_org_id_registry_id")
        ),
    )

    op.create_table(
        "trust_listings",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("did", sa.String(length=500), nullable=False),
        sa.Column("profile_url", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", _TS, nullable=False),
        sa.Column("removed_at", _TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'removed')", name=op.f("ck_trust_listings_status")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_trust_listings")),
        sa.UniqueConstraint("did", name=op.f("uq_trust_listings_did")),
    )

    op.create_table(
        "trust_publications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=True),
        sa.Column("signed_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_publications")),
    )

    op.create_table(
        "achievement_verifications",
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("verifier_org_id", sa.String(length=36), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", _TS, nullable=False),
        sa.Column("last_at", _TS, nullable=False),
        _fk("achievement_verifications", "achievement_id", "achievements"),
        _fk("achievement_verifications", "verifier_org_id", "organisations"),
        sa.PrimaryKeyConstraint(
            "achievement_id", "verifier_org_id", name=op.f("pk_achievement_verifications")
        ),
    )


def downgrade() -> None:
    op.drop_table("achievement_verifications")
    op.drop_table("trust_publications")
    op.drop_table("trust_listings")
    op.drop_table("trust_registries")
    op.drop_index(op.f("ix_endorsements_subject_org_id"), table_name="endorsements")
    op.drop_index(op.f("ix_endorsements_org_id_issued_at"), table_name="endorsements")
    op.drop_index(op.f("ix_endorsements_subject_id"), table_name="endorsements")
    op.drop_table("endorsements")
    op.drop_index(
        op.f("ix_endorsement_requests_requester_org_id_status"), table_name="endorsement_requests"
    )
    op.drop_index(
        op.f("ix_endorsement_requests_endorser_org_id_status"), table_name="endorsement_requests"
    )
    op.drop_table("endorsement_requests")
