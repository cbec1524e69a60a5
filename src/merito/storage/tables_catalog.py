"""Issuer catalogue tables: badge and profile images, stored by content (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = ["IMAGE_MEDIA_TYPES", "Base", "ImageRow"]

IMAGE_MEDIA_TYPES: Final = ("image/png", "image/svg+xml")


class ImageRow(Base):
    """An uploaded or generated image, addressed by the SHA-256 of its bytes.

    Each organisation keeps its own row (tenant rows carry ``org_id``); two organisations
    uploading the same bytes store them twice, so neither can learn what the other holds.
    The public URL ``/images/{sha256}`` serves any row with that digest: the bytes are the same.
    """

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("org_id", "sha256"),
        CheckConstraint("media_type IN ('image/png', 'image/svg+xml')", name="media_type"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        CheckConstraint("size >= 0", name="size_non_negative"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    #: lower-case hex SHA-256 of ``data``
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    #: True for a badge Merito drew (``generate_badge_svg``), False for an upload
    generated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
