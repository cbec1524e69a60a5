"""Bundled, hash-pinned JSON-LD contexts and the offline document loader.

The loader serves only the contexts shipped in this folder; any other URL raises
DocumentLoaderError. No remote context is ever fetched (brief: security by default).
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from merito.domain.ports import RemoteDocument
from merito.errors import DocumentLoaderError

_PACKAGE = "merito.formats.contexts"

# Well-known context URLs, named for readability at call sites.
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
OB_V3P0 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_V2P0 = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
STATUS_LIST_V1 = "https://www.w3.org/ns/credentials/status/v1"


@cache
def _manifest() -> dict[str, dict[str, str]]:
    raw = resources.files(_PACKAGE).joinpath("manifest.json").read_bytes()
    manifest: dict[str, dict[str, str]] = json.loads(raw)
    return manifest


def bundled_urls() -> frozenset[str]:
    """Every context URL the loader can serve."""
    return frozenset(_manifest())


@cache
def _load(url: str) -> Any:
    entry = _manifest().get(url)
    if entry is None:
        raise DocumentLoaderError(
            f"JSON-LD context {url!r} is not bundled with Merito; "
            "remote contexts are never fetched",
            property="@context",
        )
    data = resources.files(_PACKAGE).joinpath(entry["path"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise DocumentLoaderError(f"bundled context {url!r} does not match its pinned SHA-256")
    return json.loads(data)


def context_document(url: str) -> Any:
    """The parsed context document for ``url`` (a private copy: callers may mutate it)."""
    return copy.deepcopy(_load(url))


def load_document(url: str) -> RemoteDocument:
    """Offline document loader (JSON-LD 1.1 API §9.4.3) over the bundled contexts."""
    return RemoteDocument(document_url=url, document=context_document(url))


def pyld_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same loader in the shape pyld expects."""
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": context_document(url),
    }
