"""Pathways tables (migration 0013): stacked credentials, their requirement trees and awards.

A pathway is one of its organisation's achievements (the stacked credential) with a
requirement tree over achievements (``merito.domain.pathways``). ``pathway_constituents``
indexes the tree's achievements, so an issued credential finds the pathways it may complete.
An award is unique per pathway and learner: that constraint makes auto-award exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, JsonDocument, utcnow

__all__ = [
    "AWARD_STATUSES",
    "PATHWAY_STATUSES",
    "REVOCATION_POLICIES",
    "PathwayAwardRow",
    "PathwayConstituentRow",
    "PathwayRow",
]

PATHWAY_STATUSES: Final = ("draft", "published", "archived")
REVOCATION_POLICIES: Final = ("flag", "revoke")
#: awarded; flagged: a constituent was revoked and the pathway is no longer satisfied;
#: revoked: the stacked credential was revoked
AWARD_STATUSES: Final = ("awarded", "flagged", "revoked")


class PathwayRow(Base):
    __tablename__ = "pathways"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="status"),
        CheckConstraint("revocation_policy IN ('flag', 'revoke')", name="revocation_policy"),
        Index(None, "org_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    #: the stacked credential: one of the organisation's achievements, one pathway each
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: the requirement tree (``merito.domain.pathways.requirement_json``)
    requirement: Mapped[dict[str, Any]]
    revocation_policy: Mapped[str] = mapped_column(String(16), default="flag")
    #: organisation ids whose achievements the tree may name, besides this organisation's
    trusted_issuers: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]


class PathwayConstituentRow(Base):
    """One achievement a pathway's tree names (kept in step with ``requirement``)."""

    __tablename__ = "pathway_constituents"

    pathway_id: Mapped[str] = mapped_column(
        ForeignKey("pathways.id", ondelete="CASCADE"), primary_key=True
    )
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PathwayAwardRow(Base):
    """A pathway credential awarded to a learner, with the constituents it rests on."""

    __tablename__ = "pathway_awards"
    __table_args__ = (
        UniqueConstraint("pathway_id", "user_id"),
        CheckConstraint("status IN ('awarded', 'flagged', 'revoked')", name="status"),
        Index(None, "org_id", "awarded_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pathway_id: Mapped[str] = mapped_column(ForeignKey("pathways.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_row_id: Mapped[str] = mapped_column(
        ForeignKey("credentials.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="awarded")
    #: [{credential_row_id, credential_id, achievement_id}] used as evidence
    constituents: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: why the award needs attention (a constituent revoked), and when
    attention: Mapped[str | None] = mapped_column(Text)
    attention_at: Mapped[datetime | None]
