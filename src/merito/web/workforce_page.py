"""Employer workforce: employees and consent, skills inventory, team gaps, demand, sponsorships."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
