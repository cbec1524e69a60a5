"""Liveness, version and the bundled JSON-LD contexts: the endpoints integrators probe first."""

from __future__ import annotations

from fastapi import APIRouter

from merito import __version__
from merito.api.schemas import ContextsOut, Health, VersionOut
from merito.formats.contexts import bundled_urls

API_VERSION = "v1"

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Health:
    """Answers while the process serves requests; it checks no dependency (liveness only)."""
    return Health(status="ok")


@router.get("/version", response_model=VersionOut, summary="Version")
async def version() -> VersionOut:
    return VersionOut(name="merito", version=__version__, api=API_VERSION)


@router.get("/contexts", response_model=ContextsOut, summary="Bundled JSON-LD contexts")
async def contexts() -> ContextsOut:
    """Every ``@context`` URL Merito knows; a credential using any other one fails verification
    (remote contexts are never fetched)."""
    return ContextsOut(contexts=sorted(bundled_urls()))
