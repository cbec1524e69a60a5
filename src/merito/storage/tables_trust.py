"""Trust tables (migration 0016).

Endorsements (OB 3.0 EndorsementCredentials issued by an organisation, with their status-list
position) and the requests that lead to them; trust registries a verifying organisation
imported; the listings of Merito's own registry and the signed documents Merito publishes
(its registry, its DID Configuration); and the per-(achievement, verifier organisation)
verification counter behind the aggregate quality signals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "ENDORSEMENT_SUBJECT_KINDS",
    "REQUEST_STATUSES",
    "AchievementVerificationRow",
    "EndorsementRequestRow",
    "EndorsementRow",
    "TrustListingRow",
    "TrustPublicationRow",
    "TrustRegistryRow",
]

ENDORSEMENT_SUBJECT_KINDS: Final = ("achievement", "profile")
REQUEST_STATUSES: Final = ("pending", "accepted", "declined", "withdrawn")
REGISTRY_SOURCES: Final = ("upload", "url")
LISTING_STATUSES: Final = ("active", "removed")


class EndorsementRequestRow(Base):
    """Organisation ``requester_org_id`` asks ``endorser_org_id`` to endorse its achievement
    (or its profile); the endorser accepts (an endorsement is issued) or declines."""

    __tablename__ = "endorsement_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'withdrawn')", name="status"
        ),
        CheckConstraint("subject_kind IN ('achievement', 'profile')", name="subject_kind"),
        Index(None, "endorser_org_id", "status"),
        Index(None, "requester_org_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requester_org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    endorser_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(16))
    achievement_id: Mapped[str | None] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE")
    )
    #: the endorsed Achievement's URL or Profile's DID
    subject_id: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decline_reason: Mapped[str | None] = mapped_column(Text)
    endorsement_id: Mapped[str | None] = mapped_column(String(36))
    requested_by: Mapped[str] = mapped_column(String(120))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class EndorsementRow(Base):
    """An EndorsementCredential ``org_id`` issued, exactly as signed."""

    __tablename__ = "endorsements"
    __table_args__ = (
        CheckConstraint("subject_kind IN ('achievement', 'profile')", name="subject_kind"),
        Index(None, "subject_id"),
        Index(None, "org_id", "issued_at"),
        Index(None, "subject_org_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: the endorser
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(500))
    #: the endorsed organisation when it is on this platform
    subject_org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    achievement_id: Mapped[str | None] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE")
    )
    request_id: Mapped[str | None] = mapped_column(String(36))
    comment: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column()
    status_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id", ondelete="CASCADE"))
    status_index: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(Text)


class TrustRegistryRow(Base):
    """A trust registry an organisation imported (uploaded, or fetched from ``url``), as
    signed by its publisher; ``publisher`` is pinned at import (a refresh signed by another
    key is refused)."""

    __tablename__ = "trust_registries"
    __table_args__ = (
        CheckConstraint("source IN ('upload', 'url')", name="source"),
        UniqueConstraint("org_id", "registry_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    #: the registry's own ``id``
    registry_id: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(500))
    publisher: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048))
    document: Mapped[dict[str, Any]] = mapped_column()
    entries: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    refresh_after: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrustListingRow(Base):
    """An issuer in Merito's own registry. No foreign key: a deleted organisation stays
    listed as removed (verifiers must learn it is gone)."""

    __tablename__ = "trust_listings"
    __table_args__ = (CheckConstraint("status IN ('active', 'removed')", name="status"),)

    org_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    did: Mapped[str] = mapped_column(String(500), unique=True)
    profile_url: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    since: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    #: a platform administrator removed it (a sync never lists it again by itself)
    manual: Mapped[bool] = mapped_column(default=False)


class TrustPublicationRow(Base):
    """A document Merito signs and serves (``registry``, ``did-configuration``): re-signed
    only when ``digest`` (of what it says) changes. The ``registry`` row also holds the
    publisher's sealed Ed25519 seed (its did:key signs the registry)."""

    __tablename__ = "trust_publications"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict[str, Any]] = mapped_column()
    sealed_key: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AchievementVerificationRow(Base):
    """How often members of one organisation verified credentials of one achievement
    (one upsert per verification by a logged-in member; nothing for anonymous ones)."""

    __tablename__ = "achievement_verifications"

    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True
    )
    verifier_org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
