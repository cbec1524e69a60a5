"""Studio pathways editor and the learner's pathway progress."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
