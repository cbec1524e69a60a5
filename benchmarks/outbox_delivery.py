"""Outbox delivery rate: N queued emails delivered by 1 and 2 concurrent workers, on SQLite
and PostgreSQL, beside the floor of the same run (composing the same emails, no database).

    .venv/bin/python benchmarks/outbox_delivery.py [--messages 2000]

PostgreSQL: the server on 127.0.0.1:5432 (a scratch database is created and dropped).

The mailer is MemoryMailer: it composes each MIME message as SMTP would and keeps it, so the
figure is Merito's own overhead (claim, handler, settle); a real SMTP server adds its latency.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert

from merito.domain.ports import OutgoingEmail, SystemClock
from merito.net.mailer import MemoryMailer
from merito.services import outbox
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.storage.tables import OutboxRow

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def payload(n: int) -> dict[str, Any]:
    return {
        "to": f"learner{n}@example.org",
        "subject": f"You earned Data Analysis with Python (#{n})",
        "text": "Claim your credential at https://merito.example/claim/" + "x" * 43 + "\n",
        "html": "<p>Claim your credential at <a href='https://merito.example/claim/x'>it</a></p>",
        "headers": {"Auto-Submitted": "auto-generated"},
        "idempotency_key": f"bench-{n}",
    }


def platform_for(url: str) -> Platform:
    engine = create_engine_for(url)
    migrate(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    return Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, bytes(32), clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url="https://merito.example",
    )


def fill(platform: Platform, count: int) -> None:
    with platform.transaction() as session:
        session.execute(
            insert(OutboxRow),
            [
                {
                    "org_id": None,
                    "topic": "email.credential_issued",
                    "payload": payload(n),
                    "idempotency_key": f"bench-{n}",
                }
                for n in range(count)
            ],
        )


def deliver(platform: Platform, workers: int, count: int) -> float:
    start = time.perf_counter()

    def work(name: str) -> None:
        while outbox.deliver_due(platform, worker_id=name, limit=100).claimed:
            pass

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    mailer = platform.mailer
    assert isinstance(mailer, MemoryMailer)
    sent = len(mailer.sent)
    if sent != count or len({e.idempotency_key for e in mailer.sent}) != count:
        raise SystemExit(f"expected {count} distinct deliveries, got {sent}")
    return count / elapsed


def floor(count: int) -> float:
    mailer = MemoryMailer()
    emails = [OutgoingEmail(**payload(n)) for n in range(count)]
    start = time.perf_counter()
    for email in emails:
        mailer.send(email)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    count = args.messages
    print(f"floor (compose {count} emails, no database): {floor(count):,.0f}/s")
    with tempfile.TemporaryDirectory() as directory:
        for workers in (1, 2):
            url = f"sqlite:///{Path(directory) / f'bench{workers}.db'}"
            platform = platform_for(url)
            fill(platform, count)
            rate = deliver(platform, workers, count)
            print(f"sqlite     {workers} worker(s): {rate:,.0f} deliveries/s")
    name = "merito_bench_outbox"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as e:
        print(f"postgresql skipped: {e}")
        return
    with admin:
        for workers in (1, 2):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
            platform = platform_for(f"postgresql://postgres@127.0.0.1:5432/{name}")
            try:
                fill(platform, count)
                rate = deliver(platform, workers, count)
            finally:
                platform.sessions.kw["bind"].dispose()
            print(f"postgresql {workers} worker(s): {rate:,.0f} deliveries/s")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
