"""Issuance: bulk jobs, credential formats, claims and re-issue (migration 0004)."""

from __future__ import annotations

from merito.storage.tables import Base

__all__ = ["Base"]
