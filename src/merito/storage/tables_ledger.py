"""Ledger: the transparency log's entries, signed tree heads and sealing state (migration 0007)."""

from __future__ import annotations

__all__: list[str] = []
