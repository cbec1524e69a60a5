"""Delivery: outbox dead letters and delivery attempts (0006)."""

from __future__ import annotations

from merito.storage.tables import Base

__all__ = ["Base"]
