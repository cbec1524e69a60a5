"""Workforce: employees, skills inventory, gaps, demand analytics, sponsorships."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["workforce"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["workforce"])
