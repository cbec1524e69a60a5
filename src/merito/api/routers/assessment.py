"""Assessment: applications with evidence, rubric reviews, claim codes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["assessment"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["assessment"])
