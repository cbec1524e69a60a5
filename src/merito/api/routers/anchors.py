"""``GET /log/v1/anchors``: the sealed batches' Ethereum anchors, public like the log itself.

Each anchor names its batch, the Blockcerts root it commits to, the chain transaction and how
deep it is. What the node answered on failure (``last_error``) is left to operators
(``merito log anchors``): it says nothing about a credential.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from merito.api.auth import PlatformDep
from merito.services import anchoring

router = APIRouter(prefix="/log/v1", tags=["transparency log"])

AnchorStatus = Literal["pending", "submitted", "confirmed", "failed"]


class AnchorOut(BaseModel):
    """One sealed batch's anchor on an Ethereum-compatible chain."""

    id: int
    batch_id: str
    merkle_root: str = Field(description="Hex Blockcerts root of the batch: the tx's data.")
    tree_size: int = Field(description="The log's size once this batch was sealed.")
    leaf_count: int = Field(description="Credentials in the batch (one transaction for all).")
    status: AnchorStatus = Field(
        description="pending (no transaction yet), submitted, confirmed, or failed."
    )
    chain_id: int | None
    transaction: str | None = Field(description="0x hash of the anchor transaction.")
    block_number: int | None
    confirmations: int
    anchor: str | None = Field(
        description="The Blink URI written into the batch's proofs once confirmed."
    )
    created_at: datetime
    submitted_at: datetime | None
    confirmed_at: datetime | None


class AnchorPage(BaseModel):
    items: list[AnchorOut]
    next_before: int | None = Field(
        description="Pass as ?before= for the next (older) page; null on the last page."
    )


def _out(anchor: anchoring.ChainAnchor) -> AnchorOut:
    return AnchorOut(
        id=anchor.id,
        batch_id=anchor.batch_id,
        merkle_root=anchor.merkle_root,
        tree_size=anchor.tree_size,
        leaf_count=anchor.leaf_count,
        status=anchor.status,
        chain_id=anchor.chain_id,
        transaction=anchor.tx_hash,
        block_number=anchor.block_number,
        confirmations=anchor.confirmations,
        anchor=anchor.anchor_uri,
        created_at=anchor.created_at,
        submitted_at=anchor.submitted_at,
        confirmed_at=anchor.confirmed_at,
    )


@router.get(
    "/anchors",
    response_model=AnchorPage,
    summary="Chain anchors of sealed batches, newest first",
)
def list_anchors(
    platform: PlatformDep,
    response: Response,
    batch_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[AnchorStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Page: ids below this one.")
    ] = None,
) -> AnchorPage:
    anchors = anchoring.list_anchors(
        platform, batch_id=batch_id, status=status, limit=limit, before_id=before
    )
    response.headers["Cache-Control"] = "no-cache"
    return AnchorPage(
        items=[_out(a) for a in anchors],
        next_before=anchors[-1].id if len(anchors) == limit else None,
    )
