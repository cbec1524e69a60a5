"""Composition root: Settings -> adapters -> the options and services the adapters use.

The CLI, API, web app and tests build what they need here, so no adapter constructs
infrastructure itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from merito.config import Settings
from merito.domain.ports import Clock, Fetcher, SystemClock
from merito.proofs.resolution import VerificationMethodResolver
from merito.verification import VerifyOptions


def verify_options(
    settings: Settings,
    *,
    documents: Mapping[str, Mapping[str, Any]] | None = None,
    fetcher: Fetcher | None = None,
    clock: Clock | None = None,
) -> VerifyOptions:
    """Verifier options: offline by default (no fetcher: status lists are not fetched)."""
    return VerifyOptions(
        clock=clock or SystemClock(),
        fetcher=fetcher,
        resolver=VerificationMethodResolver(fetcher=fetcher, documents=documents),
        max_bytes=settings.max_document_bytes,
        max_depth=settings.max_json_depth,
    )


def verify_options_factory(
    settings: Settings, *, documents: Mapping[str, Mapping[str, Any]] | None = None
) -> functools.partial[VerifyOptions]:
    """A picklable zero-argument factory, for worker processes that build their own options."""
    return functools.partial(verify_options, settings, documents=dict(documents or {}))
