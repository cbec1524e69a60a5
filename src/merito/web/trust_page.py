"""Endorsements (request/accept, issue), trust registries, and quality signals."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
