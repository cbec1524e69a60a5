"""Skills: the taxonomy (ESCO and organisations' own skills), hierarchy, occupations (0011)."""

from __future__ import annotations

__all__: list[str] = []
