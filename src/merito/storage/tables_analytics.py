"""Analytics tables (migration 0018): daily counters of events no other table records.

Issued, revoked, claimed and shared-by-link are read from the rows that record them
(credentials, credential claims, wallet items, share links). What leaves no row of its own is
counted here, per organisation, achievement, UTC day and metric: public verifications of the
organisation's credentials, and shares without a link (PDF certificate, baked badge image,
signed presentation). One row per key, incremented with an UPSERT by ``services.analytics``.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, CredentialRow
from merito.storage.tables_issuance import CredentialClaimRow

__all__ = ["COUNTED_METRICS", "AnalyticsDailyCountRow"]

# The dashboard's day ranges of revocations and claims (issued_at has its index already):
# without them each series reads every row of the organisation's credentials.
Index(None, CredentialRow.org_id, CredentialRow.revoked_at)
Index(None, CredentialClaimRow.org_id, CredentialClaimRow.claimed_at)

#: verified: a public verification; shared: a download or presentation (no share link row)
COUNTED_METRICS: Final = ("verified", "shared")


class AnalyticsDailyCountRow(Base):
    """How many times ``metric`` happened to ``achievement_id``'s credentials on ``day`` (UTC).

    The key starts with (org_id, metric, day): the dashboard reads one organisation's metric
    over a range of days.
    """

    __tablename__ = "analytics_daily_counts"
    __table_args__ = (
        CheckConstraint("metric IN ('verified', 'shared')", name="metric"),
        CheckConstraint("count >= 0", name="count_non_negative"),
    )

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    achievement_id: Mapped[str] = mapped_column(
        ForeignKey("achievements.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    count: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
