"""Sharing: portfolios, collections, share links and their views, holder keys (migration 0010)."""

from __future__ import annotations

__all__: list[str] = []
