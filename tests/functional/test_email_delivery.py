"""End to end: an email in the outbox -> the worker loop -> SMTP -> a real server (aiosmtpd).

The platform is the one ``merito serve`` builds (``bootstrap.platform`` with SMTP settings),
on SQLite and PostgreSQL. Only the clock is ours, so back-off waits pass in an instant.
"""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from merito import bootstrap
from merito.config import Settings
from merito.services import accounts, catalog, credentials, outbox
from merito.services.platform import Actor, Platform, enqueue
from merito.storage.tables import OutboxRow

HOST = "127.0.0.1"


class Clock:
    """The test moves it; the worker thread reads it."""

    def __init__(self) -> None:
        self.instant = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.instant

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.instant += delta


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.rcpt: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(database_url: str, tmp_path: Path, port: int, clock: Clock) -> Iterator[Platform]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="00" * 32,
        smtp_host=HOST,
        smtp_port=port,
        smtp_starttls="never",
        smtp_timeout=5.0,
        mail_from="Example Academy <badges@academy.example>",
    )
    built = bootstrap.platform(settings, clock=clock)
    yield built
    built.sessions.kw["bind"].dispose()


@pytest.fixture
def worker(platform: Platform) -> Iterator[threading.Event]:
    """``run_worker`` on a thread, as ``merito serve`` runs it; stopped after the test."""
    stop = threading.Event()
    thread = threading.Thread(
        target=outbox.run_worker,
        args=(platform,),
        kwargs={"stop": stop, "poll_interval": 0.05, "worker_id": "e2e"},
    )
    thread.start()
    yield stop
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "the worker did not stop"


def enqueue_email(platform: Platform, key: str) -> None:
    with platform.transaction() as session:
        enqueue(
            session,
            topic="email.credential_issued",
            payload={
                "to": "ada@example.org",
                "subject": "You earned « Données ouvertes »",
                "text": "Claim it at https://merito.test/claim/xyz\n",
                "html": '<p><a href="https://merito.test/claim/xyz">Claim it</a></p>',
                "headers": {"Auto-Submitted": "auto-generated"},
                "idempotency_key": key,
            },
            idempotency_key=key,
            org_id=None,
            available_at=platform.clock.now(),
        )


def start_server(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=port)
    controller.start()
    return controller, inbox


def test_an_enqueued_email_reaches_the_smtp_server_with_its_idempotency_key(
    platform: Platform, port: int, worker: threading.Event
) -> None:
    controller, inbox = start_server(port)
    try:
        enqueue_email(platform, "credential-issued:c-1")
        wait_for(lambda: len(inbox.received) == 1)
    finally:
        controller.stop()
    [message] = inbox.received
    assert inbox.rcpt == [["ada@example.org"]]
    assert message["Merito-Idempotency-Key"] == "credential-issued:c-1"
    assert message["Subject"] == "You earned « Données ouvertes »"
    assert message["From"] == "Example Academy <badges@academy.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@academy.example>")
    body = message.get_body(("plain",))
    assert body is not None
    assert "https://merito.test/claim/xyz" in body.get_content()


def test_a_down_server_means_retries_then_exactly_one_delivery(
    platform: Platform, port: int, clock: Clock, worker: threading.Event
) -> None:
    enqueue_email(platform, "credential-issued:c-2")

    def attempts() -> int:
        """Attempts made and settled (a claimed message counts its attempt before it runs)."""
        with platform.reading() as session:
            row = session.scalars(select(OutboxRow)).one()
            return row.attempts if row.claimed_by is None else row.attempts - 1

    # nobody listens on the port: connection refused is transient, the worker backs off
    wait_for(lambda: attempts() == 1)
    clock.advance(timedelta(minutes=2))
    wait_for(lambda: attempts() == 2)
    time.sleep(0.3)  # several polls inside the back-off: no further attempt
    assert attempts() == 2
    controller, inbox = start_server(port)
    try:
        clock.advance(timedelta(minutes=5))
        wait_for(lambda: len(inbox.received) == 1)
        time.sleep(0.3)  # a duplicate would show up here
        clock.advance(timedelta(hours=2))
        time.sleep(0.3)
    finally:
        controller.stop()
    assert len(inbox.received) == 1
    assert inbox.received[0]["Merito-Idempotency-Key"] == "credential-issued:c-2"
    with platform.reading() as session:
        row = session.scalars(select(OutboxRow)).one()
        assert row.delivered_at is not None
        assert row.attempts == 3
        assert row.last_error is not None
        assert "unreachable" in row.last_error


def test_issuing_a_credential_emails_its_claim_link(
    database_url: str, tmp_path: Path, port: int
) -> None:
    """The whole notification path: the issuance service queues the email in the credential's
    transaction, the worker sends it, the learner's server receives the claim link."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="00" * 32,
        smtp_host=HOST,
        smtp_port=port,
        smtp_starttls="never",
        mail_from="Example Academy <badges@academy.example>",
        status_list_size=1024,
    )
    # the wall clock: the issuance service stamps its outbox rows with it
    platform = bootstrap.platform(settings)
    controller, inbox = start_server(port)
    stop = threading.Event()
    thread = threading.Thread(
        target=outbox.run_worker,
        args=(platform,),
        kwargs={"stop": stop, "poll_interval": 0.05, "worker_id": "issuance-e2e"},
    )
    try:
        owner = accounts.create_user(
            platform,
            Actor.system("test"),
            email="owner@academy.example",
            password="a long test password",
        )
        actor = Actor(kind="user", id=owner.id, user_id=owner.id)
        org = accounts.create_organisation(platform, actor, slug="academy", name="Academy")
        achievement = catalog.create_achievement(
            platform,
            actor,
            org_id=org.id,
            fields={
                "name": "SQL Fundamentals",
                "description": "Writes JOIN and aggregate queries.",
                "criteria": {"narrative": "Passed the exam."},
            },
        )
        catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=achievement.id)
        record = credentials.issue_credential(
            platform,
            actor,
            org_id=org.id,
            achievement_id=achievement.id,
            recipient="ada@example.org",
            idempotency_key="enrolment-42",
        )
        thread.start()
        wait_for(lambda: len(inbox.received) == 1)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        controller.stop()
        platform.sessions.kw["bind"].dispose()
    [message] = inbox.received
    assert inbox.rcpt == [["ada@example.org"]]
    assert "SQL Fundamentals" in message["Subject"]
    # a 58-character key makes the header line longer than 78: it is folded after the colon
    # (RFC 5322 §2.2.3), which leaves a leading space once unfolded
    assert message["Merito-Idempotency-Key"].strip().startswith("credential-issued:")
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "/claim/" in text
    assert record.credential_id in text
