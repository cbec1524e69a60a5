"""Assessment tables (migration 0015).

applications, evidence files, rubrics, reviews, claim codes.
"""

from __future__ import annotations

__all__: list[str] = []
