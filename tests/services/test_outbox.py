"""The outbox worker on SQLite and PostgreSQL: delivery, back-off, dead letters, leases,
concurrent workers, topics without a handler, and the admin's view and retry."""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import select

from merito.errors import Conflict, DeliveryError, InvalidInput, NotFound, PermissionDenied
from merito.net.mailer import MemoryMailer
from merito.services import outbox
from merito.services.outbox import HandlerRegistry, RetryPolicy, claim_due, deliver_due
from merito.services.platform import Platform, enqueue
from merito.storage import create_engine_for, session_factory
from merito.storage.tables import AuditLogRow, OutboxRow

Seed = Callable[..., SeededOrg]


def email_payload(n: int = 1, to: str = "learner@example.org") -> dict[str, Any]:
    return {
        "to": to,
        "subject": f"Your badge #{n}",
        "text": "Claim it at https://merito.test/claim/abc",
        "html": "<p>Claim it</p>",
        "headers": {"X-Merito-Org": "academy"},
        "idempotency_key": f"email-{n}",
    }


def put(
    platform: Platform,
    org_id: str | None,
    *,
    topic: str = "email.credential_issued",
    key: str = "email-1",
    payload: Mapping[str, Any] | None = None,
) -> int:
    with platform.transaction() as session:
        enqueue(
            session,
            topic=topic,
            payload=payload if payload is not None else email_payload(),
            idempotency_key=key,
            org_id=org_id,
            available_at=platform.clock.now(),
        )
    with platform.reading() as session:
        found = session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))
    assert found is not None
    return found


def row(platform: Platform, message_id: int) -> OutboxRow:
    with platform.reading() as session:
        found = session.get(OutboxRow, message_id)
    assert found is not None
    return found


def test_an_email_is_delivered_once_with_its_idempotency_key(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id)
    stats = deliver_due(platform, worker_id="w1")
    assert (stats.claimed, stats.delivered) == (1, 1)
    [sent] = mailer.sent
    assert sent.to == "learner@example.org"
    assert sent.headers == {"X-Merito-Org": "academy"}
    assert mailer.messages[0]["Merito-Idempotency-Key"] == "email-1"
    stored = row(platform, message_id)
    assert stored.delivered_at == clock.now()
    assert (stored.attempts, stored.claimed_by, stored.claimed_until) == (1, None, None)
    assert deliver_due(platform, worker_id="w1").claimed == 0
    assert len(mailer.sent) == 1


def test_a_message_waits_for_its_available_at(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org()
    with platform.transaction() as session:
        enqueue(
            session,
            topic="email.x",
            payload=email_payload(),
            idempotency_key="later",
            org_id=org.org_id,
            available_at=clock.now() + timedelta(minutes=10),
        )
    assert deliver_due(platform, worker_id="w").claimed == 0
    clock.advance(minutes=10)
    assert deliver_due(platform, worker_id="w").delivered == 1


def test_transient_failures_back_off_exponentially_with_jitter(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id)
    policy = RetryPolicy(max_attempts=10, jitter=0.25)
    rng = random.Random(7)
    for attempt, nominal in ((1, 30), (2, 60), (3, 120)):
        mailer.fail_next(DeliveryError("421 try later", transient=True, smtp_code=421))
        failed_at = clock.now()
        stats = deliver_due(platform, worker_id="w", policy=policy, rng=rng)
        assert stats.retried == 1
        stored = row(platform, message_id)
        assert stored.attempts == attempt
        assert stored.last_error == f"attempt {attempt}: 421 try later"
        wait = stored.available_at - failed_at
        # jitter shortens the wait by at most a quarter, never lengthens it
        assert timedelta(seconds=0.75 * nominal) <= wait <= timedelta(seconds=nominal)
        clock.instant = stored.available_at - timedelta(microseconds=1)
        assert deliver_due(platform, worker_id="w", policy=policy).claimed == 0
        clock.instant = stored.available_at
    assert deliver_due(platform, worker_id="w", policy=policy).delivered == 1
    assert row(platform, message_id).attempts == 4
    assert len(mailer.sent) == 1


def test_the_back_off_is_capped() -> None:
    policy = RetryPolicy()
    assert policy.nominal_delay(1) == timedelta(seconds=30)
    assert policy.nominal_delay(7) == timedelta(seconds=30 * 64)
    assert policy.nominal_delay(8) == timedelta(hours=1)  # 30 s x 128 is past the cap
    assert policy.nominal_delay(500) == timedelta(hours=1)
    with pytest.raises(InvalidInput):
        RetryPolicy(max_attempts=0)


def test_too_many_transient_failures_make_a_dead_letter(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id)
    policy = RetryPolicy(max_attempts=3)
    for _ in range(3):
        mailer.fail_next(DeliveryError("connection refused", transient=True))
        deliver_due(platform, worker_id="w", policy=policy)
        clock.advance(hours=2)
    stored = row(platform, message_id)
    assert stored.dead_at is not None
    assert stored.delivered_at is None
    assert (stored.attempts, stored.last_error) == (3, "attempt 3: connection refused")
    assert deliver_due(platform, worker_id="w", policy=policy).claimed == 0
    assert mailer.sent == []


def test_a_permanent_failure_is_dead_at_once(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id)
    mailer.fail_next(DeliveryError("550 no such user", transient=False, smtp_code=550))
    assert deliver_due(platform, worker_id="w").dead == 1
    stored = row(platform, message_id)
    assert stored.dead_at is not None
    assert stored.attempts == 1
    assert stored.last_error == "attempt 1: 550 no such user"


@pytest.mark.parametrize(
    "payload",
    [
        {"subject": "s", "text": "t", "idempotency_key": "k"},  # no recipient
        {**email_payload(), "to": "two@example.org, three@example.org"},
        {**email_payload(), "headers": {"Bcc": "spy@example.org"}},
    ],
)
def test_an_invalid_email_payload_is_dead_at_once(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, payload: dict[str, Any]
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id, payload=payload)
    assert deliver_due(platform, worker_id="w").dead == 1
    assert row(platform, message_id).last_error is not None
    assert mailer.sent == []


def test_a_crashing_handler_is_retried_and_logged(
    platform: Platform, seed_org: Seed, caplog: pytest.LogCaptureFixture
) -> None:
    org = seed_org()
    handlers = HandlerRegistry()

    def broken(platform: Platform, payload: Mapping[str, Any]) -> None:
        raise RuntimeError("bug")

    handlers.register("email.*", broken)
    message_id = put(platform, org.org_id)
    with caplog.at_level(logging.ERROR, logger="merito.outbox"):
        assert deliver_due(platform, worker_id="w", handlers=handlers).retried == 1
    assert row(platform, message_id).last_error == "attempt 1: RuntimeError: bug"
    assert "handler crashed" in caplog.text


def test_topics_without_a_handler_stay_pending_untouched(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer
) -> None:
    org = seed_org()
    webhook = put(platform, org.org_id, topic="sms.credential_issued", key="sms", payload={})
    leaf = put(platform, org.org_id, topic="ledger.leaf", key="leaf", payload={"h": "00"})
    # a topic that merely starts like a handled one is not handled
    lookalike = put(platform, org.org_id, topic="emailer.x", key="lookalike", payload={})
    put(platform, org.org_id)
    stats = deliver_due(platform, worker_id="w")
    assert (stats.claimed, stats.delivered) == (1, 1)
    assert outbox.unhandled_topics(platform) == {
        "sms.credential_issued": 1,
        "ledger.leaf": 1,
        "emailer.x": 1,
    }
    for message_id in (webhook, leaf, lookalike):
        stored = row(platform, message_id)
        assert (stored.attempts, stored.claimed_by, stored.delivered_at, stored.dead_at) == (
            0,
            None,
            None,
            None,
        )


def test_an_expired_lease_is_reclaimed(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org()
    message_id = put(platform, org.org_id)
    lease = timedelta(minutes=5)
    # a worker claims the message and dies before sending it
    [claimed] = claim_due(platform, worker_id="crashed", lease=lease)
    assert claimed.id == message_id
    assert claimed.attempts == 1
    assert deliver_due(platform, worker_id="w2", lease=lease).claimed == 0
    clock.advance(minutes=4, seconds=59)
    assert deliver_due(platform, worker_id="w2", lease=lease).claimed == 0
    clock.advance(seconds=1)
    assert deliver_due(platform, worker_id="w2", lease=lease).delivered == 1
    assert row(platform, message_id).attempts == 2
    assert len(mailer.sent) == 1
    # the dead worker's late report must not undo the delivery
    outbox._settle_retry(platform, claimed, worker_id="crashed", error="late", retry_at=clock.now())
    stored = row(platform, message_id)
    assert stored.delivered_at is not None
    assert stored.last_error is None


def test_a_stop_request_hands_claimed_messages_back(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer
) -> None:
    org = seed_org()
    ids = [put(platform, org.org_id, key=f"k{n}", payload=email_payload(n)) for n in range(3)]
    stop = threading.Event()
    stop.set()
    stats = deliver_due(platform, worker_id="w", stop=stop)
    assert (stats.claimed, stats.released, stats.delivered) == (3, 3, 0)
    for message_id in ids:
        stored = row(platform, message_id)
        assert (stored.attempts, stored.claimed_by) == (0, None)
    assert deliver_due(platform, worker_id="w").delivered == 3


def test_a_lease_running_short_is_not_used(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    """A slow batch hands back what it could not start safely inside its lease."""
    org = seed_org()
    for n in range(3):
        put(platform, org.org_id, key=f"k{n}", payload=email_payload(n))
    handlers = HandlerRegistry()

    def slow(platform: Platform, payload: Mapping[str, Any]) -> None:
        clock.advance(minutes=3)

    handlers.register("email.*", slow)
    stats = deliver_due(platform, worker_id="w", handlers=handlers, lease=timedelta(minutes=5))
    # a message starts only with >= 20% (1 minute) of the lease left: the second starts at
    # minute 3 (2 left), the third would start at minute 6, past the lease: handed back
    assert (stats.delivered, stats.released) == (2, 1)


def test_two_concurrent_workers_never_deliver_a_message_twice(
    platform: Platform, seed_org: Seed
) -> None:
    org = seed_org()
    total = 40
    for n in range(total):
        put(platform, org.org_id, key=f"k{n}", payload=email_payload(n))
    delivered: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()
    handlers = HandlerRegistry()
    local = threading.local()

    def record(platform: Platform, payload: Mapping[str, Any]) -> None:
        time.sleep(0.002)  # let the other worker run while this one "sends"
        with lock:
            delivered[payload["idempotency_key"]] += 1
            by_worker[local.name] += 1

    handlers.register("email.*", record)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        local.name = name
        try:
            start.wait()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with lock:
                    if sum(delivered.values()) >= total:
                        return
                deliver_due(platform, worker_id=name, limit=3, handlers=handlers)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []
    assert len(delivered) == total
    assert set(delivered.values()) == {1}
    with platform.reading() as session:
        rows = session.scalars(select(OutboxRow)).all()
    assert all(r.delivered_at is not None and r.attempts == 1 for r in rows)


def test_run_worker_delivers_logs_unhandled_topics_and_stops(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, caplog: pytest.LogCaptureFixture
) -> None:
    org = seed_org()
    put(platform, org.org_id)
    put(platform, org.org_id, topic="sms.credential_issued", key="sms", payload={})
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="merito.outbox"):
        thread = threading.Thread(
            target=outbox.run_worker,
            args=(platform,),
            kwargs={"stop": stop, "poll_interval": 0.05, "worker_id": "loop"},
        )
        thread.start()
        deadline = time.monotonic() + 20
        while not mailer.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(mailer.sent) == 1
    assert "topic sms.credential_issued: no handler registered, left pending" in caplog.text
    assert "worker stopped worker=loop" in caplog.text


def test_the_registry_prefers_exact_topics_and_longer_prefixes() -> None:
    handlers = HandlerRegistry()

    def a(platform: Platform, payload: Mapping[str, Any]) -> None: ...
    def b(platform: Platform, payload: Mapping[str, Any]) -> None: ...
    def c(platform: Platform, payload: Mapping[str, Any]) -> None: ...

    handlers.register("email.*", a)
    handlers.register("email.digest.*", b)
    handlers.register("email.digest.weekly", c)
    assert handlers.handler_for("email.credential_issued") is a
    assert handlers.handler_for("email.digest.daily") is b
    assert handlers.handler_for("email.digest.weekly") is c
    assert handlers.handler_for("webhook.x") is None
    for bad in ("", "*", ".*", "a*b", "email.*.x"):
        with pytest.raises(InvalidInput):
            handlers.register(bad, a)


# --- admin visibility -------------------------------------------------------------------------


def test_admins_list_and_retry_dead_letters(
    platform: Platform, seed_org: Seed, mailer: MemoryMailer, clock: MovableClock
) -> None:
    org = seed_org(role="admin")
    dead = put(platform, org.org_id, key="dead")
    mailer.fail_next(DeliveryError("550 mailbox unavailable", transient=False, smtp_code=550))
    deliver_due(platform, worker_id="w")
    pending = put(platform, org.org_id, topic="sms.x", key="pending", payload={})
    delivered = put(platform, org.org_id, key="ok", payload=email_payload(2))
    deliver_due(platform, worker_id="w")

    def ids(state: outbox.DeliveryState) -> list[int]:
        views = outbox.list_deliveries(platform, org.actor, org_id=org.org_id, state=state)
        return [v.id for v in views]

    assert (ids("dead"), ids("pending"), ids("delivered")) == ([dead], [pending], [delivered])
    [view] = outbox.list_deliveries(platform, org.actor, org_id=org.org_id)
    assert view.state == "dead"
    assert view.last_error == "attempt 1: 550 mailbox unavailable"

    clock.advance(minutes=1)
    retried = outbox.retry_delivery(platform, org.actor, org_id=org.org_id, delivery_id=dead)
    assert (retried.state, retried.attempts, retried.available_at) == ("pending", 0, clock.now())
    assert deliver_due(platform, worker_id="w").delivered == 1
    assert outbox.get_delivery(platform, org.actor, org_id=org.org_id, delivery_id=dead).state == (
        "delivered"
    )
    with platform.reading() as session:
        entry = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "delivery.retry")
        ).one()
    assert (entry.org_id, entry.target, entry.actor) == (
        org.org_id,
        f"outbox:{dead}",
        org.actor.audit_name,
    )
    assert entry.details["state"] == "dead"
    with pytest.raises(Conflict):
        outbox.retry_delivery(platform, org.actor, org_id=org.org_id, delivery_id=delivered)


def test_deliveries_are_tenant_isolated_and_need_integrations_manage(
    platform: Platform, seed_org: Seed
) -> None:
    mine, theirs = seed_org(role="owner"), seed_org(role="owner")
    their_message = put(platform, theirs.org_id, key="theirs")
    with pytest.raises(NotFound):
        outbox.list_deliveries(platform, mine.actor, org_id=theirs.org_id, state="pending")
    with pytest.raises(NotFound):
        outbox.retry_delivery(platform, mine.actor, org_id=mine.org_id, delivery_id=their_message)
    with pytest.raises(NotFound):
        outbox.get_delivery(platform, mine.actor, org_id=mine.org_id, delivery_id=their_message)
    staff = seed_org(role="issuer_staff")
    with pytest.raises(PermissionDenied):
        outbox.list_deliveries(platform, staff.actor, org_id=staff.org_id)
    with pytest.raises(InvalidInput):
        outbox.list_deliveries(platform, mine.actor, org_id=mine.org_id, limit=0)


def test_run_worker_outlives_a_database_outage(
    platform: Platform, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken_engine = create_engine_for(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    broken = dataclasses.replace(platform, sessions=session_factory(broken_engine))
    stop = threading.Event()
    with caplog.at_level(logging.ERROR, logger="merito.outbox"):
        thread = threading.Thread(
            target=outbox.run_worker,
            args=(broken,),
            kwargs={"stop": stop, "poll_interval": 0.01, "worker_id": "outage"},
        )
        thread.start()
        deadline = time.monotonic() + 10
        while "delivery round failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread.is_alive()
        stop.set()
        thread.join(10)
    broken_engine.dispose()
    assert not thread.is_alive()
    assert "delivery round failed; next try in" in caplog.text
