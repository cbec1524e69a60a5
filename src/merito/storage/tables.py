"""The platform's tables (SQLAlchemy 2 typed declarative), portable across SQLite and PostgreSQL.

Every row that belongs to a tenant carries ``org_id``: tenant isolation filters on it. Closed
vocabularies are strings guarded by CHECK constraints (no database ENUM types to migrate).
Timestamps are stored in UTC and always read back timezone-aware. Constraint names follow one
convention so that ``merito.storage.db.integrity_as_conflict`` can name the offending property.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AchievementRow",
    "AchievementVersionRow",
    "AuditLogRow",
    "Base",
    "CredentialRow",
    "IssuerKeyRow",
    "MembershipRow",
    "OrganisationRow",
    "OutboxRow",
    "StatusListRow",
    "UserRow",
]

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORG_KINDS: Final = ("issuer", "employer")
ROLES: Final = ("owner", "admin", "issuer_staff", "viewer", "assessor")
KEY_STATUSES: Final = ("active", "retired")
ACHIEVEMENT_STATUSES: Final = ("draft", "published", "archived")
STATUS_PURPOSES: Final = ("revocation", "suspension")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
#: documents kept as written and never queried inside (issued credentials, audit details,
#: outbox payloads): JSON text on every database. JSONB would reorder an issued credential's
#: keys (shortest first: ``id`` before ``@context``) and convert every one on write, a fifth
#: of PostgreSQL's time in bulk issuance (migration 0021).
JsonVerbatim = JSON()
#: 64-bit autoincrement keys for the append-only tables (SQLite only autoincrements INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JsonDocument}  # noqa: RUF012


class OrganisationRow(Base):
    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(_one_of("kind", ORG_KINDS), name="kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # catalogue (migration 0003)
    #: the issuer's OB 3.0 Profile fields beyond id and name (url, email, phone, description,
    #: image, address), validated by ``merito.services.issuers``
    profile: Mapped[dict[str, Any] | None]


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IssuerKeyRow(Base):
    """A signing key: public JWK in clear, private JWK sealed by ``merito.storage.keystore``."""

    __tablename__ = "issuer_keys"
    __table_args__ = (
        UniqueConstraint("org_id", "verification_method"),
        CheckConstraint(_one_of("status", KEY_STATUSES), name="status"),
        CheckConstraint("length(nonce) = 12", name="nonce_length"),
        # at most one active key per organisation and algorithm (migration 0003): rotation
        # retires before it creates; Ed25519 for Data Integrity beside P-256/RSA for VC-JWT
        Index(
            "uq_issuer_keys_one_active",
            "org_id",
            "algorithm",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    verification_method: Mapped[str] = mapped_column(String(500))
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    #: which master key sealed the private key (a fingerprint, not the key)
    master_key_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class AchievementRow(Base):
    __tablename__ = "achievements"
    __table_args__ = (
        CheckConstraint(_one_of("status", ACHIEVEMENT_STATUSES), name="status"),
        Index(None, "org_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    current_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # catalogue (migration 0003)
    #: the name of the draft, else of the published version (lists, search)
    name: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    #: the editable OB 3.0 document (NULL: no pending changes to the published version)
    draft_document: Mapped[dict[str, Any] | None]
    #: Merito metadata of the draft (evidence requirements, hours, price): not in OB 3.0
    draft_metadata: Mapped[dict[str, Any] | None]
    #: Merito metadata of the published version
    published_metadata: Mapped[dict[str, Any] | None]
    published_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]


class AchievementVersionRow(Base):
    """An immutable published (or draft) Achievement document; credentials point at one."""

    __tablename__ = "achievement_versions"
    __table_args__ = (
        UniqueConstraint("achievement_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    achievement_id: Mapped[str] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusListRow(Base):
    """A Bitstring Status List (W3C Bitstring Status List v1.0 §2): raw bits, uncompressed."""

    __tablename__ = "status_lists"
    __table_args__ = (
        CheckConstraint(_one_of("purpose", STATUS_PURPOSES), name="purpose"),
        # §6.1: at least 131,072 entries is the privacy floor; the service picks the size
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("next_index >= 0 AND next_index <= size", name="next_index_in_range"),
        Index(None, "org_id", "purpose"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(500), unique=True)
    bitstring: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    #: bumped on every change: optimistic concurrency and the published list's ETag
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: the signed BitstringStatusListCredential of ``signed_version`` (re-signed on change)
    signed_document: Mapped[dict[str, Any] | None]
    signed_version: Mapped[int | None] = mapped_column(Integer)


class CredentialRow(Base):
    """An issued credential, exactly as signed, with its status entry and lifecycle state."""

    __tablename__ = "credentials"
    __table_args__ = (
        # NULL keys never collide (both databases): issuing without a key is allowed
        UniqueConstraint("org_id", "idempotency_key"),
        UniqueConstraint("status_list_id", "status_list_index"),
        CheckConstraint("status_list_index >= 0", name="status_list_index_non_negative"),
        Index(None, "org_id", "issued_at"),
        Index(None, "org_id", "recipient"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    #: the credential's ``id`` URI (VC 2.0 §4.4)
    credential_id: Mapped[str] = mapped_column(String(500), unique=True)
    achievement_version_id: Mapped[str] = mapped_column(
        ForeignKey("achievement_versions.id"), index=True
    )
    #: the recipient identifier as issued (email, DID, URL), normalised by the service
    recipient: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict[str, Any]] = mapped_column(JsonVerbatim)
    status_list_id: Mapped[str | None] = mapped_column(ForeignKey("status_lists.id"))
    status_list_index: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    #: eddsa-rdfc-2022, eddsa-jcs-2022 or vc-jwt (``jwt`` then holds the compact JWT as issued)
    proof_format: Mapped[str] = mapped_column(
        String(32), default="eddsa-rdfc-2022", server_default=text("'eddsa-rdfc-2022'")
    )
    jwt: Mapped[str | None] = mapped_column(Text)
    valid_until: Mapped[datetime | None]
    #: the credential that re-issued (renewed) this one
    replaced_by_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"))


class AuditLogRow(Base):
    """Who did what, to what, when: append-only (the migration adds triggers refusing changes)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "org_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: a user id, an API client id, or "system"
    actor: Mapped[str] = mapped_column(String(200))
    #: NULL for platform-wide actions; no cascade: history outlives what it describes
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JsonVerbatim, default=dict)


class OutboxRow(Base):
    """Work due after a commit (emails, webhooks, anchoring), written in the same transaction."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # the worker's poll: undelivered messages that are due
        Index(None, "delivered_at", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonVerbatim)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    # delivery (migration 0006): a worker's lease on the message, and the dead-letter mark
    #: the worker holding the message until ``claimed_until`` (a crashed one's lease expires)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    #: set when the worker gave up (permanent error or too many attempts); NULL: still live
    dead_at: Mapped[datetime | None]
