"""Issuer catalogue: issuer profiles, did:web, images, achievement metadata (migration 0003)."""

from __future__ import annotations

from merito.storage.tables import Base

__all__ = ["Base"]
