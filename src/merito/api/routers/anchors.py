"""``GET /log/v1/anchors``: the sealed batches' Ethereum anchors, public like the log itself.

Each anchor names its batch, the Blockcerts root it commits to, the chain transaction and how
deep it is. What the node answered on failure (``last_error``) is left to operators
(``merito log anchors``): it says nothing about a credential.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from merito.api.auth import PlatformDep
from merito.services import anchoring

router = APIRouter(prefix="/log/v1", tags=["transparency log"])


def _json(anchor: anchoring.ChainAnchor) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": anchor.id,
        "batch_id": anchor.batch_id,
        "merkle_root": anchor.merkle_root,
        "tree_size": anchor.tree_size,
        "leaf_count": anchor.leaf_count,
        "status": anchor.status,
        "chain_id": anchor.chain_id,
        "transaction": anchor.tx_hash,
        "block_number": anchor.block_number,
        "confirmations": anchor.confirmations,
        "anchor": anchor.anchor_uri,
        "created_at": iso(anchor.created_at),
        "submitted_at": iso(anchor.submitted_at),
        "confirmed_at": iso(anchor.confirmed_at),
    }


@router.get("/anchors", summary="Chain anchors of sealed batches, newest first")
def list_anchors(
    platform: PlatformDep,
    batch_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, description="page: ids below this one")] = None,
) -> JSONResponse:
    anchors = anchoring.list_anchors(
        platform, batch_id=batch_id, status=status, limit=limit, before_id=before
    )
    body = {
        "items": [_json(a) for a in anchors],
        "next_before": anchors[-1].id if len(anchors) == limit else None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})
