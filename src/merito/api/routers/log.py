"""``/log/v1``: the transparency log's public, Certificate Transparency-style read API.

Modelled on RFC 6962 §4 (``get-sth``, ``get-sth-consistency``, ``get-proof-by-hash``,
``get-entries``): hashes and signatures are base64, sizes are integers, and anyone may ask
(no authentication: a log is only useful if everyone can audit it). ``merito log monitor``
is a client of these routes. Bad input is problem JSON (400/404), never a 500.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from merito.api.auth import PlatformDep
from merito.ledger.log import MAX_ENTRIES_PER_REQUEST
from merito.services import ledger

router = APIRouter(prefix="/log/v1", tags=["transparency log"])

#: heads and proofs of sealed sizes never change; the latest head does
_IMMUTABLE: Final = {"Cache-Control": "public, max-age=86400, immutable"}
_FRESH: Final = {"Cache-Control": "no-cache"}
_SIZE = Annotated[int, Query(ge=0, le=2**63 - 1)]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _json(body: Any, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, headers=headers)


@router.get("/key", summary="The log's id and public key")
def log_key(platform: PlatformDep) -> JSONResponse:
    return _json(ledger.log_info(platform).to_json(), _FRESH)


@router.get("/sth", summary="The latest Signed Tree Head (RFC 6962 get-sth)")
def sth(platform: PlatformDep) -> JSONResponse:
    return _json(ledger.latest_head(platform).to_json(), _FRESH)


@router.get("/sth/{tree_size}", summary="The Signed Tree Head of one sealed size")
def sth_at(
    tree_size: Annotated[int, Path(ge=0, le=2**63 - 1)], platform: PlatformDep
) -> JSONResponse:
    return _json(ledger.tree_head(platform, tree_size).to_json(), _IMMUTABLE)


@router.get(
    "/proof-by-hash", summary="An inclusion proof by leaf hash (RFC 6962 get-proof-by-hash)"
)
def proof_by_hash(
    platform: PlatformDep,
    hash: Annotated[str, Query(max_length=100, description="leaf hash, hex or base64")],
    tree_size: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> JSONResponse:
    answer = ledger.inclusion_proof(platform, ledger.parse_hash(hash), tree_size)
    return _json(
        {
            "leaf_index": answer.leaf_index,
            "tree_size": answer.tree_size,
            "audit_path": [_b64(h) for h in answer.audit_path],
        },
        _IMMUTABLE if tree_size is not None else _FRESH,
    )


@router.get("/consistency", summary="A consistency proof (RFC 6962 get-sth-consistency)")
def consistency(
    platform: PlatformDep,
    first: _SIZE,
    second: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> JSONResponse:
    proof = ledger.consistency_proof(platform, first, second)
    return _json(
        {"consistency": [_b64(h) for h in proof]},
        _IMMUTABLE if second is not None else _FRESH,
    )


@router.get(
    "/entries",
    summary=f"Entries [start, end], at most {MAX_ENTRIES_PER_REQUEST} (RFC 6962 get-entries)",
)
def entries(platform: PlatformDep, start: _SIZE, end: _SIZE) -> JSONResponse:
    found = ledger.entries(platform, start, end)
    return _json({"entries": [{"leaf_input": _b64(e)} for e in found]}, _FRESH)


@router.get("/receipt", summary="A credential's log receipt (the VC-JWT's anchoring proof)")
def receipt(
    platform: PlatformDep, credential_id: Annotated[str, Query(min_length=1, max_length=500)]
) -> JSONResponse:
    found = ledger.credential_receipt(platform, credential_id)
    body: dict[str, Any] = {"credential_id": found.credential_id, "status": found.status}
    if found.status == "sealed" and found.head is not None:
        body.update(
            {
                "leaf_input": _b64(found.leaf_input or b""),
                "leaf_index": found.leaf_index,
                "batch_id": found.batch_id,
                "merkle_root": (found.merkle_root or b"").hex(),
                "anchors": list(found.anchors),
                "audit_path": [_b64(h) for h in found.audit_path],
                "sth": found.head.to_json(),
            }
        )
    return _json(body, _FRESH)
