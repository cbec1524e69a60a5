"""Employer hiring: roles, ranked candidates with explanations, saved searches; the learner's
learning path; the issuer analytics dashboard.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
