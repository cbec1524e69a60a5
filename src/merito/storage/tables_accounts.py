"""Accounts and machine access: web sessions, API keys, OAuth 2.0 clients and tokens (0002)."""

from __future__ import annotations

from merito.storage.tables import Base

__all__ = ["Base"]
