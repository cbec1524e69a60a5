"""Wallet: the credentials a learner holds, claimed from Merito or imported (migration 0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = ["WALLET_SOURCES", "WALLET_VISIBILITIES", "WalletItemRow"]

WALLET_SOURCES: Final = ("claimed", "imported")
WALLET_VISIBILITIES: Final = ("private", "public")


class WalletItemRow(Base):
    """One credential in a learner's wallet, as received, with its latest verification report.

    ``content_hash`` (hex SHA-256 of the received bytes or canonical JSON) makes a re-import of
    the same credential a no-op; ``credential_row_id`` links a credential Merito issued itself
    (kept NULL when the issuer deletes it: the learner keeps their copy).
    """

    __tablename__ = "wallet_items"
    __table_args__ = (
        UniqueConstraint("user_id", "content_hash"),
        CheckConstraint(
            "source IN ('claimed', 'imported')",
            name="source",
        ),
        CheckConstraint("visibility IN ('private', 'public')", name="visibility"),
        Index(None, "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    credential_row_id: Mapped[str | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    #: ob3 (JSON-LD), vc-jwt, vc1.1, ob2-hosted, ob2-signed, blockcerts-v2, blockcerts-v3
    format: Mapped[str] = mapped_column(String(32))
    #: the credential as JSON (a JWT's decoded payload; an OB 2.0 assertion with its badge/issuer)
    document: Mapped[dict[str, Any]]
    #: the exact text received when it was not plain JSON (compact JWT or JWS)
    raw: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[str | None] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(300))
    issuer_id: Mapped[str | None] = mapped_column(String(500))
    issuer_name: Mapped[str | None] = mapped_column(String(300))
    #: the last VerificationReport as JSON, its verdict (valid, invalid, indeterminate) and time
    verification: Mapped[dict[str, Any] | None]
    verdict: Mapped[str | None] = mapped_column(String(16))
    verified_at: Mapped[datetime | None]
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
