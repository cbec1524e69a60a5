"""Trust tables (migration 0016).

endorsements, endorsement requests, trust registries and their entries.
"""

from __future__ import annotations

__all__: list[str] = []
