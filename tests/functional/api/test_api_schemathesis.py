"""Property tests generated from the app's own OpenAPI document (schemathesis, in-process).

For every operation and every documented request media type, schemathesis generates requests
and checks that none gets a 5xx, and that each response's status, media type and body match
what the document declares (so every error really is the documented problem JSON).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from merito.api.app import create_app
from merito.config import Settings


@schemathesis.serializer(
    "application/vc+jwt", "application/jwt", "text/plain", "application/x-ndjson"
)
def _as_text(ctx: Any, value: Any) -> bytes:
    """A string as its UTF-8 bytes (lone surrogates kept); negative cases' non-strings as JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


@schemathesis.serializer("application/vc")
def _as_json(ctx: Any, value: Any) -> bytes:
    """VC 2.0's own media type (§6.1) is JSON-LD."""
    return json.dumps(value).encode()


# the platform routes need a database: a throwaway SQLite file, never ./var
_DATA_DIR = Path(tempfile.mkdtemp(prefix="merito-schemathesis-"))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(settings=Settings(data_dir=_DATA_DIR))
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
