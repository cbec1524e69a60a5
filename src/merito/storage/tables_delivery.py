"""Delivery (0006): the outbox worker's columns live on ``OutboxRow``; this names its states.

A message is *pending* until a worker delivers it (``delivered_at``) or gives up on it
(``dead_at``, a dead letter an admin may retry). ``claimed_by``/``claimed_until`` are the
lease a worker holds while it runs the message's handler; an expired lease is reclaimed.
"""

from __future__ import annotations

from typing import Final, Literal

from sqlalchemy import ColumnElement, and_

from merito.storage.tables import Base, OutboxRow

__all__ = ["DELIVERY_STATES", "Base", "DeliveryState", "OutboxRow", "state_filter"]

DeliveryState = Literal["pending", "delivered", "dead"]
DELIVERY_STATES: Final[tuple[DeliveryState, ...]] = ("pending", "delivered", "dead")


def state_filter(state: DeliveryState) -> ColumnElement[bool]:
    """The WHERE clause selecting outbox rows in ``state``."""
    if state == "delivered":
        return OutboxRow.delivered_at.is_not(None)
    if state == "dead":
        return and_(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_not(None))
    return and_(OutboxRow.delivered_at.is_(None), OutboxRow.dead_at.is_(None))
