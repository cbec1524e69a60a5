"""Pathways: stacked credentials, requirement trees, progress."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["pathways"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["pathways"])
