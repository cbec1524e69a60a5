"""Workforce tables (migration 0017).

employee links and consents, teams, org roles, sponsorships and vouchers.
"""

from __future__ import annotations

__all__: list[str] = []
