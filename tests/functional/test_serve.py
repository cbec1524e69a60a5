"""`merito serve` and `merito worker` as real processes: they start, serve, deliver email,
and stop cleanly (exit 0, no traceback) on SIGTERM / SIGINT, within a time bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from merito import bootstrap
from merito.config import Settings
from merito.services.platform import Platform, enqueue

HOST = "127.0.0.1"
MERITO = str(Path(sys.executable).parent / "merito")
START_SECONDS = 120.0  # generous: a loaded CI machine spawns worker processes slowly
STOP_SECONDS = 20.0
MASTER_KEY = "22" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Inbox:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERITO_")}
    env.update(MERITO_DATA_DIR=str(data_dir), MERITO_MASTER_KEY=MASTER_KEY, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MERITO, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def healthy(port: int, process: subprocess.Popen[str]) -> Callable[[], bool]:
    def check() -> bool:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the server exited early ({process.returncode}): {err}")
        try:
            return httpx.get(f"http://{HOST}:{port}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"did not stop within {STOP_SECONDS}s: {err}") from None
    return process.returncode, err


def enqueue_email(data_dir: Path, key: str) -> None:
    settings = Settings(data_dir=data_dir, master_key=MASTER_KEY)
    platform: Platform = bootstrap.platform(settings)
    try:
        with platform.transaction() as session:
            enqueue(
                session,
                topic="email.credential_issued",
                payload={
                    "to": "ada@example.org",
                    "subject": "Your badge",
                    "text": "Claim it.",
                    "idempotency_key": key,
                },
                idempotency_key=key,
                org_id=None,
            )
    finally:
        platform.sessions.kw["bind"].dispose()


@pytest.mark.slow
def test_serve_answers_delivers_email_and_stops_on_sigterm(
    tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    smtp_port, inbox = smtp
    port = free_port()
    env = environment(
        tmp_path,
        MERITO_SMTP_HOST=HOST,
        MERITO_SMTP_PORT=str(smtp_port),
        MERITO_SMTP_STARTTLS="never",
    )
    process = start(["serve", "--port", str(port), "--poll-interval", "0.1"], env)
    try:
        wait_for(healthy(port, process), START_SECONDS, "/api/v1/health")
        enqueue_email(tmp_path, "serve-e2e-1")
        wait_for(lambda: len(inbox.received) == 1, 20, "the email")
    finally:
        code, err = stop(process, signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err
    assert b"Merito-Idempotency-Key: serve-e2e-1" in inbox.received[0]
    assert "outbox: delivered" in err
    assert "worker stopped" in err


@pytest.mark.slow
def test_serve_with_several_processes_runs_one_worker_and_stops(tmp_path: Path) -> None:
    port = free_port()
    process = start(["serve", "--port", str(port), "--workers", "2"], environment(tmp_path))
    try:
        wait_for(healthy(port, process), START_SECONDS, "/api/v1/health")
    finally:
        code, err = stop(process, signal.SIGTERM)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("outbox: worker started") == 1


def test_serve_no_worker_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    process = start(["serve", "--port", str(port), "--no-worker"], environment(tmp_path))
    try:
        wait_for(healthy(port, process), START_SECONDS, "/api/v1/health")
    finally:
        code, err = stop(process, signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err
    assert "outbox: worker started" not in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_standalone_worker_delivers_and_exits_cleanly(
    tmp_path: Path, smtp: tuple[int, Inbox], signum: int
) -> None:
    smtp_port, inbox = smtp
    env = environment(
        tmp_path,
        MERITO_SMTP_HOST=HOST,
        MERITO_SMTP_PORT=str(smtp_port),
        MERITO_SMTP_STARTTLS="never",
    )
    enqueue_email(tmp_path, "worker-e2e-1")
    process = start(["worker", "--poll-interval", "0.1"], env)
    try:
        wait_for(lambda: len(inbox.received) == 1, START_SECONDS, "the email")
    finally:
        code, err = stop(process, signum)
    assert code == 0, err
    assert "Traceback" not in err
    assert "merito worker: stopped" in err


def test_worker_once_reports_what_it_did(tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    smtp_port, inbox = smtp
    env = environment(
        tmp_path,
        MERITO_SMTP_HOST=HOST,
        MERITO_SMTP_PORT=str(smtp_port),
        MERITO_SMTP_STARTTLS="never",
    )
    enqueue_email(tmp_path, "once-1")
    done = subprocess.run(
        [MERITO, "worker", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "delivered 1, retrying 0, dead 0" in done.stderr
    assert len(inbox.received) == 1
