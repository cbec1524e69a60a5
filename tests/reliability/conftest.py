"""Reliability-test fixtures: every platform a test built is closed after it (no pooled
PostgreSQL connection outlives its test, so none is reported as a ResourceWarning)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_support import close_all


@pytest.fixture(autouse=True)
def _close_platforms() -> Iterator[None]:
    yield
    close_all()
