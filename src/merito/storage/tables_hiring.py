"""Hiring: roles, requirements, discoverability, saved searches (migration 0012)."""

from __future__ import annotations

__all__: list[str] = []
