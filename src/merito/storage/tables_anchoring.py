"""Anchoring: tree roots written to an Ethereum-compatible chain (migration 0008)."""

from __future__ import annotations

__all__: list[str] = []
