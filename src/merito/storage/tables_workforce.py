"""Workforce tables (migration 0017).

An employer invites an employee (an invitation, accepted with a link), the employee's account
is then linked to the organisation (an employee row, with a team and a job role) and chooses
what the employer may see (all their verified credentials, or listed ones; counted in
aggregates only, or also shown by name). Sponsorships hand out single-use voucher codes for an
achievement; a redeemed voucher is completed when its redeemer earns the achievement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "INVITATION_STATUSES",
    "EmployeeRow",
    "InvitationRow",
    "SharedCredentialRow",
    "SponsorshipRow",
    "VoucherRow",
]

INVITATION_STATUSES: Final = ("pending", "accepted", "revoked")


class InvitationRow(Base):
    """An email invitation to link a Merito account to the organisation as an employee."""

    __tablename__ = "workforce_invitations"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'revoked')", name="status"),
        Index(None, "org_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    team: Mapped[str] = mapped_column(String(200), default="")
    job_role_id: Mapped[str | None] = mapped_column(
        ForeignKey("hiring_roles.id", ondelete="SET NULL")
    )
    #: hex SHA-256 of the accept link's token (the token itself is only in the email)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    invited_by: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]


class EmployeeRow(Base):
    """A Merito account linked to an organisation as an employee, with its sharing consent.

    ``share_all``: every credential of the employee's that verifies now counts; otherwise only
    those listed in ``workforce_shared_credentials``. ``show_individual``: the employer may
    see the shared credentials by name; otherwise they only count in k-anonymous aggregates.
    """

    __tablename__ = "workforce_employees"
    __table_args__ = (UniqueConstraint("org_id", "user_id"), Index(None, "user_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team: Mapped[str] = mapped_column(String(200), default="")
    job_role_id: Mapped[str | None] = mapped_column(
        ForeignKey("hiring_roles.id", ondelete="SET NULL")
    )
    share_all: Mapped[bool] = mapped_column(Boolean, default=False)
    show_individual: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    consent_updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SharedCredentialRow(Base):
    """One credential (by its id, the URI its skills are proven by) an employee shares."""

    __tablename__ = "workforce_shared_credentials"
    __table_args__ = (UniqueConstraint("employee_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    employee_id: Mapped[str] = mapped_column(
        ForeignKey("workforce_employees.id", ondelete="CASCADE")
    )
    credential_id: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SponsorshipRow(Base):
    """An employer pays for an achievement (of any issuer) for its employees."""

    __tablename__ = "workforce_sponsorships"
    __table_args__ = (Index(None, "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), index=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoucherRow(Base):
    """A single-use code of a sponsorship: redeemed by one employee, completed when earned."""

    __tablename__ = "workforce_vouchers"
    __table_args__ = (
        Index(None, "sponsorship_id"),
        Index(None, "redeemed_by", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sponsorship_id: Mapped[str] = mapped_column(
        ForeignKey("workforce_sponsorships.id", ondelete="CASCADE")
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    redeemed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    redeemed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    credential_row_id: Mapped[str | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL")
    )
