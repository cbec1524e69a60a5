"""Sharing: portfolios, collections, share links and their views, holder keys (migration 0010).

Every row belongs to one learner (``user_id``, cascading: deleting the account deletes them).
A share link keeps only the SHA-256 of its token, as sessions and claim links do; a holder
key's private half is sealed by ``merito.storage.keystore.KeyStore.seal``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "SHARE_TARGETS",
    "CollectionItemRow",
    "CollectionRow",
    "HolderKeyRow",
    "PortfolioRow",
    "ShareLinkRow",
]

SHARE_TARGETS: Final = ("item", "collection", "portfolio")


class PortfolioRow(Base):
    """A learner's public portfolio: off until they enable it; ``handle`` is its URL (/p/...)."""

    __tablename__ = "portfolios"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    display_name: Mapped[str | None] = mapped_column(String(200))
    headline: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CollectionRow(Base):
    """A named group of wallet items (e.g. "Data engineering"); public ones show on the page."""

    __tablename__ = "collections"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollectionItemRow(Base):
    """A wallet item in a collection, at ``position`` (a removed wallet item leaves it)."""

    __tablename__ = "collection_items"

    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    wallet_item_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class ShareLinkRow(Base):
    """A revocable link to one wallet item, a collection or the whole portfolio.

    ``target`` says which; the matching id column is set and the other is NULL (CHECK).
    """

    __tablename__ = "share_links"
    __table_args__ = (
        CheckConstraint("target IN ('item', 'collection', 'portfolio')", name="target"),
        CheckConstraint(
            "(target = 'item' AND wallet_item_id IS NOT NULL AND collection_id IS NULL)"
            " OR (target = 'collection' AND collection_id IS NOT NULL"
            " AND wallet_item_id IS NULL)"
            " OR (target = 'portfolio' AND wallet_item_id IS NULL AND collection_id IS NULL)",
            name="target_matches_ids",
        ),
        CheckConstraint("view_count >= 0", name="view_count_non_negative"),
        Index(None, "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: hex SHA-256 of the token in the URL (/s/<token>)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(16))
    wallet_item_id: Mapped[str | None] = mapped_column(
        ForeignKey("wallet_items.id", ondelete="CASCADE"), index=True
    )
    collection_id: Mapped[str | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_viewed_at: Mapped[datetime | None]


class HolderKeyRow(Base):
    """A learner's holder key (did:key): signs their presentations; private JWK sealed."""

    __tablename__ = "holder_keys"
    __table_args__ = (CheckConstraint("length(nonce) = 12", name="nonce_length"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: one holder key per learner (made on first use)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    did: Mapped[str] = mapped_column(String(200), unique=True)
    verification_method: Mapped[str] = mapped_column(String(500))
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
