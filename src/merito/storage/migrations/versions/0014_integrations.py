"""Integrations: inbound webhooks and xAPI rules, LTI 1.3 platforms, outgoing webhook subscriptions
and deliveries.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Written out in full (not imported from merito.storage.tables), as in 0001.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("previous_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("previous_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("previous_key_id", sa.String(length=32), nullable=True),
        sa.Column("previous_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("secret_key_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_inbound_endpoints_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_endpoints")),
    )
    op.create_index(
        op.f("ix_inbound_endpoints_org_id"), "inbound_endpoints", ["org_id"], unique=False
    )
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("deployment_ids", _JSON, nullable=False),
        sa.Column("auth_login_url", sa.String(length=2000), nullable=False),
        sa.Column("jwks_url", sa.String(length=2000), nullable=True),
        sa.Column("jwks", _JSON, nullable=True),
        sa.Column("jwks_cache", _JSON, nullable=True),
        sa.Column("jwks_fetched_at", _TS, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_lti_platforms_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_lti_platforms_issuer_client_id")),
    )
    op.create_index(op.f("ix_lti_platforms_org_id"), "lti_platforms", ["org_id"], unique=False)
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("events", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("secret_key_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_webhook_subscriptions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_org_id"), "webhook_subscriptions", ["org_id"], unique=False
    )
    op.create_table(
        "xapi_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_xapi_clients_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_clients")),
        sa.UniqueConstraint("key", name=op.f("uq_xapi_clients_key")),
    )
    op.create_index(op.f("ix_xapi_clients_org_id"), "xapi_clients", ["org_id"], unique=False)
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credential_ids", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'awarded', 'unmatched', 'failed')",
            name=op.f("ck_inbound_events_status"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["inbound_endpoints.id"],
            name=op.f("fk_inbound_events_endpoint_id_inbound_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_inbound_events_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name=op.f("uq_inbound_events_endpoint_id_event_id")
        ),
    )
    op.create_index(op.f("ix_inbound_events_org_id"), "inbound_events", ["org_id"], unique=False)
    op.create_table(
        "integration_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=True),
        sa.Column("trigger", sa.String(length=500), nullable=False),
        sa.Column("activity_id", sa.String(length=2000), nullable=True),
        sa.Column("min_score", sa.Float(), nullable=True),
        sa.Column("achievement_id", sa.String(length=36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "source IN ('webhook', 'xapi', 'lti')", name=op.f("ck_integration_rules_source")
        ),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.id"],
            name=op.f("fk_integration_rules_achievement_id_achievements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_integration_rules_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_rules")),
    )
    op.create_index(
        op.f("ix_integration_rules_org_id_source_trigger"),
        "integration_rules",
        ["org_id", "source", "trigger"],
        unique=False,
    )
    op.create_table(
        "lti_launches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("platform_id", sa.String(length=36), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("deployment_id", sa.String(length=500), nullable=False),
        sa.Column("resource_link_id", sa.String(length=500), nullable=False),
        sa.Column("context_id", sa.String(length=500), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("roles", _JSON, nullable=False),
        sa.Column("instructor", sa.Boolean(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", _TS, nullable=True),
        sa.Column("credential_ids", _JSON, nullable=False),
        sa.Column("launched_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_lti_launches_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_launches_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_launches")),
        sa.UniqueConstraint("platform_id", "nonce", name=op.f("uq_lti_launches_platform_id_nonce")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_lti_launches_token_sha256")),
    )
    op.create_index(op.f("ix_lti_launches_org_id"), "lti_launches", ["org_id"], unique=False)
    op.create_table(
        "lti_logins",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=36), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("target_link_uri", sa.String(length=2000), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_logins_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_lti_logins")),
        sa.UniqueConstraint("nonce", name=op.f("uq_lti_logins_nonce")),
    )
    op.create_index(op.f("ix_lti_logins_platform_id"), "lti_logins", ["platform_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("outbox_key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_webhook_deliveries_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id",
            "event_id",
            name=op.f("uq_webhook_deliveries_subscription_id_event_id"),
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_org_id_created_at"),
        "webhook_deliveries",
        ["org_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "xapi_statements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("verb", sa.String(length=2000), nullable=False),
        sa.Column("activity_id", sa.String(length=2000), nullable=False),
        sa.Column("actor", sa.String(length=2000), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("statement", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("credential_ids", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("stored_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'awarded', 'unmatched', 'failed')",
            name=op.f("ck_xapi_statements_status"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["xapi_clients.id"],
            name=op.f("fk_xapi_statements_client_id_xapi_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_xapi_statements_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_statements")),
        sa.UniqueConstraint(
            "org_id", "statement_id", name=op.f("uq_xapi_statements_org_id_statement_id")
        ),
    )
    op.create_index(
        op.f("ix_xapi_statements_client_id"), "xapi_statements", ["client_id"], unique=False
    )
    op.create_table(
        "webhook_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("attempted_at", _TS, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_webhook_attempts_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("xapi_statements")
    op.drop_table("webhook_deliveries")
    op.drop_table("lti_logins")
    op.drop_table("lti_launches")
    op.drop_table("integration_rules")
    op.drop_table("inbound_events")
    op.drop_table("xapi_clients")
    op.drop_table("webhook_subscriptions")
    op.drop_table("lti_platforms")
    op.drop_table("inbound_endpoints")
