"""Assessment tables (migration 0015).

What an achievement asks of applicants (rubric, decision rule, evidence limits), the learners'
applications and their evidence (files are kept by SHA-256 in an evidence store, only their
digest and metadata here), assessor assignments and reviews, and event claim codes with the
email proofs of the people claiming them.
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
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "APPLICATION_STATES",
    "EVIDENCE_KINDS",
    "REVIEW_DECISIONS",
    "ApplicationRow",
    "AssessmentConfigRow",
    "AssignmentRow",
    "ClaimCodeFailureRow",
    "ClaimCodeRow",
    "ClaimRequestRow",
    "EvidenceRow",
    "ReviewRow",
]

APPLICATION_STATES: Final = (
    "draft",
    "submitted",
    "in_review",
    "returned",
    "awarded",
    "rejected",
    "withdrawn",
)
EVIDENCE_KINDS: Final = ("file", "url", "text")
REVIEW_DECISIONS: Final = ("award", "return", "reject")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AssessmentConfigRow(Base):
    """An achievement open (or closed) for application, with how applications are assessed."""

    __tablename__ = "assessment_configs"
    __table_args__ = (
        CheckConstraint("max_file_bytes > 0", name="max_file_bytes_positive"),
        CheckConstraint("sla_hours > 0", name="sla_hours_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), unique=True
    )
    open: Mapped[bool] = mapped_column(Boolean, default=False)
    #: {"criteria": [{"key", "name", "description", "levels": [{"key", "name", ...}]}]}
    rubric: Mapped[dict[str, Any] | None]
    #: {"rule": "all_agree" | "majority" | "average_score", "reviews_required", "min_score"}
    decision_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: holders of the achievement may review too (peer review)
    peer_review: Mapped[bool] = mapped_column(Boolean, default=False)
    max_file_bytes: Mapped[int] = mapped_column(Integer)
    #: allowed media types of evidence files, comma-separated
    allowed_types: Mapped[str] = mapped_column(String(1000), default="")
    sla_hours: Mapped[int] = mapped_column(Integer, default=72)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApplicationRow(Base):
    """A learner's application for an achievement; ``state`` moves only through
    ``merito.domain.assessment.transition``."""

    __tablename__ = "assessment_applications"
    __table_args__ = (
        CheckConstraint(_one_of("state", APPLICATION_STATES), name="state"),
        CheckConstraint("round >= 1", name="round_positive"),
        Index(None, "org_id", "state", "submitted_at"),
        Index(None, "applicant_user_id", "created_at"),
        Index(None, "achievement_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    achievement_id: Mapped[str] = mapped_column(ForeignKey("achievements.id", ondelete="CASCADE"))
    applicant_user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: the applicant's email when they applied (the credential is issued to it)
    applicant_email: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    narrative: Mapped[str] = mapped_column(Text, default="")
    #: the submission round: a return for revision and a new submission start the next one
    round: Mapped[int] = mapped_column(Integer, default=1)
    #: bumped by every change: the first write of a transaction, so changes serialise
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    credential_row_id: Mapped[str | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EvidenceRow(Base):
    """One piece of evidence: a file (by SHA-256 in the evidence store), a URL or a text."""

    __tablename__ = "assessment_evidence"
    __table_args__ = (
        CheckConstraint(_one_of("kind", EVIDENCE_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'file' AND sha256 IS NOT NULL) OR (kind != 'file' AND sha256 IS NULL)",
            name="file_digest",
        ),
        CheckConstraint("size IS NULL OR size >= 0", name="size_non_negative"),
        Index(None, "application_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str] = mapped_column(
        ForeignKey("assessment_applications.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(300))
    narrative: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2048))
    #: lower-case hex SHA-256 of the file's bytes (its key in the evidence store)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssignmentRow(Base):
    """An assessor asked to review an application."""

    __tablename__ = "assessment_assignments"
    __table_args__ = (UniqueConstraint("application_id", "assessor_user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str] = mapped_column(
        ForeignKey("assessment_applications.id", ondelete="CASCADE")
    )
    assessor_user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewRow(Base):
    """One assessor's review of one submission round: scores, comment and decision."""

    __tablename__ = "assessment_reviews"
    __table_args__ = (
        # an assessor reviews a submission once
        UniqueConstraint("application_id", "round", "reviewer_user_id"),
        CheckConstraint(_one_of("decision", REVIEW_DECISIONS), name="decision"),
        Index(None, "reviewer_user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str] = mapped_column(
        ForeignKey("assessment_applications.id", ondelete="CASCADE")
    )
    round: Mapped[int] = mapped_column(Integer)
    reviewer_user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: "member" (an assessor of the organisation) or "peer" (a holder of the achievement)
    reviewer_kind: Mapped[str] = mapped_column(String(8), default="member")
    decision: Mapped[str] = mapped_column(String(8))
    #: criterion key -> level key
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimCodeRow(Base):
    """An event code: anyone with it claims the achievement after proving their email."""

    __tablename__ = "claim_codes"
    __table_args__ = (
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="uses_cap"),
        Index(None, "org_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), index=True
    )
    #: what people type or scan (shown at the event: a shared code, not a personal secret)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    #: only addresses at this domain may claim (lower case), or anyone
    allowed_domain: Mapped[str | None] = mapped_column(String(253))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimRequestRow(Base):
    """A request to claim by code: the emailed one-time token (its SHA-256) and the outcome.

    The rows also rate-limit: requests per address and per code are counted in a window.
    """

    __tablename__ = "claim_requests"
    __table_args__ = (
        Index(None, "claim_code_id", "created_at"),
        Index(None, "ip", "created_at"),
        Index(None, "claim_code_id", "email"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    claim_code_id: Mapped[str] = mapped_column(ForeignKey("claim_codes.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str] = mapped_column(String(45), default="-")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    credential_row_id: Mapped[str | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL")
    )


class ClaimCodeFailureRow(Base):
    """A failed claim-code lookup or claim (an unknown code or link): counted per address and
    per email in a window to slow guessing; rows older than the window are deleted."""

    __tablename__ = "claim_code_failures"
    __table_args__ = (
        Index(None, "ip", "created_at"),
        Index(None, "email", "created_at"),
        Index(None, "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ip: Mapped[str] = mapped_column(String(45), default="-")
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
