"""Domain events: the ``webhook.*`` outbox messages, fanned out to in-process listeners.

Issuance, revocation, claiming and pathway awards write one outbox message per event (topic
``webhook.<event>``, payload with ``"event"``, ``"org_id"`` and the event's ids) in the same
transaction as their cause. The outbox worker hands each message to ``dispatch``, which calls
every listener in order: outgoing webhook fan-out, pathway auto-award, ...

A listener must be idempotent: a message is redelivered after a crash or when a later listener
fails (the whole message is retried with back-off), so a listener that already acted must
notice and do nothing the second time (unique keys, idempotency keys).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from merito.services.platform import Platform

__all__ = ["EventListener", "dispatch", "listeners"]

EventListener = Callable[[Platform, Mapping[str, Any]], None]


@functools.cache
def listeners() -> tuple[EventListener, ...]:
    """Every area's listener, in the order they run (imported late: the areas import us)."""
    found: list[EventListener] = []
    # each area adds its own line here: `from merito.services import x; found.append(x.on_event)`
    from merito.services import pathways  # stacked credentials: auto-award, revocation policy

    found.append(pathways.on_event)
    from merito.services import webhooks_out  # outgoing webhooks: one delivery per subscription

    found.append(webhooks_out.on_event)
    from merito.services import workforce  # sponsored vouchers complete when earned

    found.append(workforce.on_event)
    from merito.services import hiring  # the in-memory candidate index drops stale learners

    found.append(hiring.on_event)
    return tuple(found)


def dispatch(platform: Platform, payload: Mapping[str, Any]) -> None:
    """The outbox handler of ``webhook.*``: runs every listener on the event."""
    for listener in listeners():
        listener(platform, payload)
