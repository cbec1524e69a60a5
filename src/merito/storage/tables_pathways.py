"""Pathways tables (migration 0013).

stacked credentials, their requirement trees and awards.
"""

from __future__ import annotations

__all__: list[str] = []
