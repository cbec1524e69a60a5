"""Hiring: roles, requirements, discoverability, saved searches, ranking records (migration 0012).

Skills are referenced by their taxonomy URI (an ESCO skill URI), the key credentials align to
(OB 3.0 Alignment.targetUrl): a requirement stays meaningful when the taxonomy is re-imported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "CONSENT_SCOPES",
    "ROLE_STATUSES",
    "CandidateRankingRow",
    "DiscoverabilityRow",
    "HiringRoleRow",
    "RoleRequirementRow",
    "SavedSearchRow",
]

ROLE_STATUSES: Final = ("open", "closed")
CONSENT_SCOPES: Final = ("public", "org")


class HiringRoleRow(Base):
    """A role an organisation hires for."""

    __tablename__ = "hiring_roles"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index(None, "org_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: the ESCO occupation the requirements were prefilled from, if any
    occupation_uri: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoleRequirementRow(Base):
    """One skill a role asks for: required or optional, its weight and minimum level."""

    __tablename__ = "hiring_role_requirements"
    __table_args__ = (
        UniqueConstraint("role_id", "skill_uri"),
        CheckConstraint("weight > 0 AND weight <= 100", name="weight_range"),
        CheckConstraint("min_level >= 0 AND min_level <= 1", name="min_level_range"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("hiring_roles.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    skill_uri: Mapped[str] = mapped_column(String(500))
    skill_label: Mapped[str] = mapped_column(String(300), default="")
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    min_level: Mapped[float] = mapped_column(Float, default=0.0)
    position: Mapped[int] = mapped_column(Integer, default=0)


class DiscoverabilityRow(Base):
    """A learner's consent to be found: by every employer (public) or by one organisation."""

    __tablename__ = "discoverability_consents"
    __table_args__ = (
        CheckConstraint("scope IN ('public', 'org')", name="scope"),
        CheckConstraint(
            "(scope = 'public' AND org_id IS NULL) OR (scope = 'org' AND org_id IS NOT NULL)",
            name="scope_org",
        ),
        # NULL org ids never collide in a unique constraint: one public consent per user
        Index(
            "uq_discoverability_consents_one_public",
            "user_id",
            unique=True,
            sqlite_where=text("scope = 'public'"),
            postgresql_where=text("scope = 'public'"),
        ),
        UniqueConstraint("user_id", "org_id"),
        Index(None, "org_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedSearchRow(Base):
    """A ranking an organisation runs again: a role and its filters."""

    __tablename__ = "hiring_saved_searches"
    __table_args__ = (Index(None, "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    role_id: Mapped[str] = mapped_column(ForeignKey("hiring_roles.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: {"require_all": bool, "min_score": float, "limit": int}
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CandidateRankingRow(Base):
    """That a learner appeared in a role's ranking: so they can see the same explanation."""

    __tablename__ = "hiring_candidate_rankings"
    __table_args__ = (UniqueConstraint("role_id", "user_id"), Index(None, "user_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    role_id: Mapped[str] = mapped_column(ForeignKey("hiring_roles.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer)
    ranked_at: Mapped[datetime] = mapped_column(default=utcnow)
