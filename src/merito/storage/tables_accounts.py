"""Accounts and machine access: web sessions and organisation API keys (migration 0002).

Neither table stores a usable secret: a session row keeps the SHA-256 of its cookie value, an
API key row its public prefix and the SHA-256 of its secret, so a copy of the database opens
no session and calls no API.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = ["ApiKeyRow", "WebSessionRow"]


class WebSessionRow(Base):
    """A browser login: the cookie's hash, when it lapses (idle and absolute), when revoked."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: SHA-256 (hex) of the cookie value
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: bumped at most once a minute; the idle expiry counts from it
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the absolute limit, whatever the activity
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))


class ApiKeyRow(Base):
    """An organisation's API key ``mk_<prefix>_<secret>``: prefix in clear, secret hashed."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    #: the public part, unique: it finds the row in one indexed lookup
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 (hex) of the secret part
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Permission values, space separated (the OAuth ``scope`` form)
    scopes: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: bumped at most once a minute (a write per request would serialise busy clients)
    last_used_at: Mapped[datetime | None]
