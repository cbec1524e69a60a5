"""Integrations tables (migration 0014).

inbound webhooks and xAPI rules, LTI 1.3 platforms, outgoing webhook subscriptions and deliveries.
"""

from __future__ import annotations

__all__: list[str] = []
