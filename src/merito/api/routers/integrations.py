"""Integrations: inbound webhooks, xAPI statements, LTI 1.3 launch, outgoing webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["integrations"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["integrations"])
