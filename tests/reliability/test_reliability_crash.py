"""SIGKILL in the middle of a bulk issuance: `merito credentials issue-bulk` and `merito worker`
(email delivery, log sealing) are killed mid-run, then started again. Every row ends issued
exactly once, every credential is sealed in the log exactly once, and every learner gets their
email; a killed worker may repeat at most the messages it held (at-least-once delivery, see
docs/reliability.md). Opt-in (MERITO_RELIABILITY_CRASH=1: it takes minutes); 1,000 rows by
default, MERITO_RELIABILITY_ROWS=10000 for the issue's size.
"""

from __future__ import annotations

import email
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from reliability_support import MASTER_KEY, platform_for

from merito.services import accounts, catalog
from merito.services.platform import Actor

ROWS = int(os.environ.get("MERITO_RELIABILITY_ROWS", "1000"))
#: opt-in: four real process start-ups and a full outbox drain take minutes, over CI's budget
OPT_IN = any(os.environ.get(v) for v in ("MERITO_RELIABILITY_CRASH", "MERITO_RELIABILITY_ROWS"))
MERITO = str(Path(sys.executable).parent / "merito")
HOST = "127.0.0.1"
DEADLINE = 420.0  # generous: process start-ups on a busy machine dominate


class Inbox:
    def __init__(self) -> None:
        self.to: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.to.append(str(email.message_from_bytes(envelope.content)["To"]))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[int, Inbox]]:
    box = Inbox()
    controller = Controller(box, hostname=HOST, port=free_port())
    controller.start()
    yield controller.port, box
    controller.stop()


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        return int(connection.execute(sql).fetchone()[0])


def wait_for(condition: Callable[[], bool], what: str, seconds: float = DEADLINE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({seconds:.0f} s)")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not OPT_IN, reason="opt-in: set MERITO_RELIABILITY_CRASH=1 (takes minutes)")
def test_sigkill_mid_bulk_issuance_loses_and_duplicates_nothing(
    tmp_path: Path, inbox: tuple[int, Inbox]
) -> None:
    port, box = inbox
    db = tmp_path / "merito.db"
    url = f"sqlite:///{db}"
    platform = platform_for(url, tmp_path)
    system = Actor.system("test")
    owner = accounts.create_user(
        platform, system, email="o@example.org", password="a long passphrase"
    )
    actor = Actor(kind="user", id=owner.id, user_id=owner.id)
    org = accounts.create_organisation(platform, actor, slug="crash", name="Crash Academy")
    fields = {
        "name": "Crash course",
        "description": "Survives a SIGKILL.",
        "criteria": {"narrative": "Passed."},
    }
    view = catalog.create_achievement(platform, actor, org_id=org.id, fields=fields)
    catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=view.id)
    rows = tmp_path / "learners.csv"
    rows.write_text("recipient\n" + "".join(f"l{n}@example.org\n" for n in range(ROWS)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERITO_")}
    env.update(
        MERITO_DATA_DIR=str(tmp_path),
        MERITO_DATABASE_URL=url,
        MERITO_MASTER_KEY=MASTER_KEY.hex(),
        MERITO_BASE_URL="https://merito.test",
        MERITO_SMTP_HOST=HOST,
        MERITO_SMTP_PORT=str(port),
        MERITO_SMTP_STARTTLS="never",
        MERITO_LOG_BATCH_SECONDS="0.2",
        MERITO_LOG_BATCH_SIZE="500",
    )
    bulk_args = [
        MERITO,
        "credentials",
        "issue-bulk",
        str(rows),
        "--org",
        "crash",
        "--achievement",
        view.id,
        "--workers",
        "1",
        "--batch-size",
        "100",
    ]
    worker_args = [MERITO, "worker", "--poll-interval", "0.05", "--log-level", "warning"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}

    issued = lambda: count(db, "SELECT count(*) FROM credentials")  # noqa: E731
    sealed = lambda: count(db, "SELECT count(*) FROM log_entries")  # noqa: E731

    bulk = subprocess.Popen(bulk_args, **quiet)  # type: ignore[call-overload]
    worker = subprocess.Popen(worker_args, **quiet)  # type: ignore[call-overload]
    try:
        wait_for(lambda: issued() >= ROWS // 3, "a third of the rows")
        bulk.send_signal(signal.SIGKILL)  # mid-batch: its open transaction is lost whole
        bulk.wait()
        wait_for(lambda: len(box.to) > 10 and sealed() > 0, "the worker's first emails")
        worker.send_signal(signal.SIGKILL)  # mid-delivery and mid-seal
        worker.wait()
        killed_at = issued()
        assert 0 < killed_at < ROWS
        # restart both: the same file again (same job key), a new worker
        bulk = subprocess.Popen(bulk_args, **quiet)  # type: ignore[call-overload]
        worker = subprocess.Popen(worker_args, **quiet)  # type: ignore[call-overload]
        assert bulk.wait(DEADLINE) == 0
        assert issued() == ROWS
        wait_for(lambda: sealed() == ROWS, "every credential sealed")
        wait_for(lambda: len(set(box.to)) == ROWS, "every learner's email")
        time.sleep(0.5)  # anything the worker would still (wrongly) send
    finally:
        for process in (bulk, worker):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    # issued exactly once: one credential per row, each row's recipient once
    assert count(db, "SELECT count(DISTINCT recipient) FROM credentials") == ROWS
    # sealed exactly once: one log entry per credential (a unique column, checked anyway)
    assert count(db, "SELECT count(DISTINCT credential_row_id) FROM log_entries") == ROWS
    assert (
        count(
            db,
            "SELECT count(*) FROM log_entries l LEFT JOIN credentials c ON "
            "c.id = l.credential_row_id WHERE c.id IS NULL",
        )
        == 0
    )
    # every email delivered; a repeat only for what the killed worker held (one batch claim)
    assert (
        count(db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND topic LIKE 'email%'")
        == 0
    )
    repeats = sum(n - 1 for n in Counter(box.to).values())
    assert repeats <= 100, f"{repeats} emails sent twice"
