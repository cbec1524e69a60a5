"""The database failing under Merito: a full SQLite disk, and PostgreSQL stopped (crash-like,
``pg_ctl stop -m immediate``) and started again under the API.

A full disk is simulated with SQLite's ``PRAGMA max_page_count`` (the file may not grow past
it, and SQLite reports SQLITE_FULL exactly as for a full disk; no root mount needed). The
PostgreSQL cases run on a throwaway cluster (initdb in a temporary directory, its own port),
never on the shared server the other tests use; they are skipped when initdb is missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import ApiClient, platform_for, settings_for
from sqlalchemy import event, func, select

from merito.api.app import create_app
from merito.errors import DatabaseUnavailable
from merito.services import accounts, catalog, credentials
from merito.services.platform import Actor, Permission, Platform
from merito.storage.tables import AuditLogRow, CredentialRow, OutboxRow


def _issuer(platform: Platform) -> tuple[Actor, str, str]:
    system = Actor.system("test")
    owner = accounts.create_user(
        platform, system, email="owner@example.org", password="a long passphrase"
    )
    actor = Actor(kind="user", id=owner.id, user_id=owner.id)
    org = accounts.create_organisation(platform, actor, slug="faults", name="Faults Academy")
    fields = {
        "name": "Resilience",
        "description": "Keeps going.",
        "criteria": {"narrative": "Passed."},
    }
    view = catalog.create_achievement(platform, actor, org_id=org.id, fields=fields)
    catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=view.id)
    return actor, org.id, view.id


def _counts(platform: Platform) -> tuple[int, int, int]:
    """Credentials, their issuance audit entries, their log-leaf outbox messages."""
    with platform.reading() as session:
        issued = session.scalar(select(func.count()).select_from(CredentialRow)) or 0
        audited = (
            session.scalar(
                select(func.count())
                .select_from(AuditLogRow)
                .where(AuditLogRow.action == "credential.issued")
            )
            or 0
        )
        leaves = (
            session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.topic == "ledger.leaf")
            )
            or 0
        )
    return issued, audited, leaves


def test_a_full_sqlite_disk_is_a_clear_error_and_the_database_stays_consistent(
    tmp_path: Path,
) -> None:
    db = tmp_path / "merito.db"
    platform = platform_for(f"sqlite:///{db}", tmp_path)
    actor, org_id, achievement_id = _issuer(platform)
    engine = platform.sessions.kw["bind"]
    with sqlite3.connect(db) as probe:
        pages = int(probe.execute("PRAGMA page_count").fetchone()[0])
    limit = {"pages": pages + 8}

    @event.listens_for(engine, "connect")
    def small_disk(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={limit['pages']}")

    engine.dispose()  # new connections get the limit
    written: list[str] = []

    def fill_the_disk() -> None:
        for n in range(500):
            credentials.issue_credential(
                platform,
                actor,
                org_id=org_id,
                achievement_id=achievement_id,
                recipient=f"l{n}@example.org",
            )
            written.append(f"l{n}")

    with pytest.raises(DatabaseUnavailable, match="full") as caught:
        fill_the_disk()
    issued_before_full = len(written)
    assert caught.value.retry_after >= 1
    assert issued_before_full < 500
    # nothing half-written: every credential has its audit entry and its log leaf
    issued, audited, leaves = _counts(platform)
    assert issued == audited == leaves == issued_before_full
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the API says so as problem JSON with a 503
    client = ApiClient(
        create_app(settings=settings_for(f"sqlite:///{db}", tmp_path), platform=platform)
    )
    key = accounts.create_api_key  # created before the disk filled? no: make room for it
    limit["pages"] = pages + 10_000
    engine.dispose()
    secret = key(
        platform, actor, org_id=org_id, name="k", scopes=[Permission.CREDENTIALS_ISSUE.value]
    ).secret
    limit["pages"] = 1  # below the file's size: every write fails
    engine.dispose()
    response = client.post(
        f"/api/v1/orgs/{org_id}/credentials",
        json={"achievement_id": achievement_id, "recipient": "late@example.org"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "full" in response.json()["detail"]
    assert int(response.headers["retry-after"]) >= 1
    # space again: issuance carries on
    limit["pages"] = pages + 10_000
    engine.dispose()
    credentials.issue_credential(
        platform, actor, org_id=org_id, achievement_id=achievement_id, recipient="x@example.org"
    )
    issued, audited, leaves = _counts(platform)
    assert issued == audited == leaves == issued_before_full + 1


# --- PostgreSQL stopped and restarted -------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path, data: Path, port: int) -> None:
        self.bin_dir, self.data, self.port = bin_dir, data, port

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data / "log"),
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("initdb is not installed (Debian's postgresql package)")
    # not under pytest's 0700 temporary root: the postgres user must reach its data directory
    root = Path(tempfile.mkdtemp(prefix="merito-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = Cluster(bin_dir, data, _free_port())
    cluster._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_going_away_gives_503_problems_and_recovers_by_itself(
    cluster: Cluster, tmp_path: Path
) -> None:
    platform = platform_for(cluster.url, tmp_path)
    try:
        _restart_under_the_api(platform, cluster, tmp_path)
    finally:
        platform.sessions.kw["bind"].dispose()


def _restart_under_the_api(platform: Platform, cluster: Cluster, tmp_path: Path) -> None:
    actor, org_id, achievement_id = _issuer(platform)
    secret = accounts.create_api_key(
        platform,
        actor,
        org_id=org_id,
        name="k",
        scopes=[Permission.CREDENTIALS_ISSUE.value, Permission.CREDENTIALS_READ.value],
    ).secret
    client = ApiClient(create_app(settings=settings_for(cluster.url, tmp_path), platform=platform))
    headers = {"Authorization": f"Bearer {secret}"}

    def issue(n: int) -> Any:
        return client.post(
            f"/api/v1/orgs/{org_id}/credentials",
            json={"achievement_id": achievement_id, "recipient": f"l{n}@example.org"},
            headers=headers,
        )

    assert all(issue(n).status_code == 201 for n in range(5))
    cluster.stop("immediate")  # as a crash: connections cut, no shutdown checkpoint
    down = [issue(100 + n) for n in range(3)]
    for response in down:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 503
        assert "retry-after" in response.headers
    cluster.start()
    # recovers by itself: the same app and pool, no restart of Merito
    deadline = time.monotonic() + 30
    while (response := issue(200)).status_code != 201:
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "did not recover within 30 s"
        time.sleep(0.2)
    assert all(issue(300 + n).status_code == 201 for n in range(5))
    # nothing half-written: 11 credentials, each with its audit entry and its log leaf
    assert _counts(platform) == (11, 11, 11)
