"""Analytics: the issuer dashboard's series and CSV export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["analytics"])
