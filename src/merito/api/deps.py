"""FastAPI dependencies shared by the routers: the platform and the settings of this app."""

from __future__ import annotations

import threading

from fastapi import Request

from merito import bootstrap
from merito.config import Settings
from merito.services.platform import Platform

_lock = threading.Lock()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_platform(request: Request) -> Platform:
    """The app's Platform, built from its settings on first use (one per process)."""
    state = request.app.state
    if state.platform is None:
        with _lock:
            if state.platform is None:
                state.platform = bootstrap.platform(state.settings)
    platform: Platform = state.platform
    return platform
