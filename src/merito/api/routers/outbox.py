"""Deliveries: an organisation's outgoing emails and webhooks, its dead letters, and retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import outbox

router = APIRouter(tags=["deliveries"])


class DeliveryOut(BaseModel):
    """One outbox message (its payload is not shown: it holds recipients' data)."""

    id: int
    topic: str = Field(description="What it is: email.credential_issued, webhook.*, ...")
    state: Literal["pending", "delivered", "dead"] = Field(
        description="pending (waiting or retrying), delivered, or dead (given up: retry it)."
    )
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    created_at: datetime
    available_at: datetime = Field(description="When the next attempt may start.")
    delivered_at: datetime | None
    dead_at: datetime | None
    idempotency_key: str


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_before: int | None = Field(
        description="Pass as ?before= for the next (older) page; null on the last page."
    )


def _out(delivery: outbox.Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        topic=delivery.topic,
        state=delivery.state,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        available_at=delivery.available_at,
        delivered_at=delivery.delivered_at,
        dead_at=delivery.dead_at,
        idempotency_key=delivery.idempotency_key,
    )


OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's id.")]


@router.get("/orgs/{org_id}/deliveries", response_model=DeliveryPage, summary="List deliveries")
def list_deliveries(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    state: Annotated[Literal["pending", "delivered", "dead"], Query()] = "dead",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> DeliveryPage:
    """The organisation's outbox messages in one state, newest first (needs
    ``integrations:manage``). Dead letters are what the worker gave up on."""
    items = outbox.list_deliveries(
        platform, actor, org_id=org_id, state=state, limit=limit, before_id=before
    )
    next_before = items[-1].id if len(items) == limit else None
    return DeliveryPage(items=[_out(d) for d in items], next_before=next_before)


@router.post(
    "/orgs/{org_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    summary="Retry a delivery",
)
def retry_delivery(
    org_id: OrgId, delivery_id: DeliveryId, actor: CurrentActor, platform: PlatformDep
) -> DeliveryOut:
    """Makes a dead (or waiting) message due now with a fresh attempt budget; audited.
    A delivered message answers 409: retrying it would send it twice."""
    return _out(outbox.retry_delivery(platform, actor, org_id=org_id, delivery_id=delivery_id))
