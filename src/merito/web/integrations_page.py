"""Studio integrations: inbound webhooks, xAPI rules, LTI platforms, outgoing webhooks and their
delivery log.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
