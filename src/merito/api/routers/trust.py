"""Trust: endorsements, trust registries, quality signals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["trust"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["trust"])
