"""Applications with evidence (learner), the assessors' review queue, claim codes (studio) and
claiming by code.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
