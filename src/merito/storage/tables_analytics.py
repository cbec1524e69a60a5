"""Analytics tables (migration 0018).

verification and sharing events for the issuer dashboard.
"""

from __future__ import annotations

__all__: list[str] = []
