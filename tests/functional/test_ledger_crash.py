"""A `merito worker` killed with SIGKILL in the middle of sealing loses nothing: after a
restart every credential is in the transparency log exactly once, carries exactly one
anchoring proof, and that proof verifies against the signed tree head (SQLite file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from merito import bootstrap
from merito.config import Settings
from merito.domain.verification import Outcome
from merito.ledger.anchoring import anchoring_proofs
from merito.ledger.merkle import root_of
from merito.services import credentials, ledger
from merito.services.platform import Actor
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    MembershipRow,
    OrganisationRow,
    OutboxRow,
    UserRow,
)
from merito.storage.tables_ledger import LogEntryRow

MERITO = str(Path(sys.executable).parent / "merito")
MASTER_KEY = "66" * 32
CREDENTIALS = 120
ACHIEVEMENT = {
    "id": "https://academy.example.org/achievements/crash",
    "type": ["Achievement"],
    "name": "Crash safety",
    "description": "Survives kill -9.",
    "criteria": {"narrative": "Was killed, came back."},
}


def test_sigkill_mid_batch_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    database = tmp_path / "merito.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERITO_")}
    env.update(
        MERITO_DATA_DIR=str(tmp_path),
        MERITO_DATABASE_URL=f"sqlite:///{database}",
        MERITO_MASTER_KEY=MASTER_KEY,
        MERITO_LOG_BATCH_SIZE="3",
        MERITO_LOG_BATCH_SECONDS="0.05",
        PYTHONUNBUFFERED="1",
    )
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{database}", master_key=MASTER_KEY
    )
    platform = bootstrap.platform(settings)
    org_id, user_id, achievement_id = (str(uuid.uuid4()) for _ in range(3))
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug="crash", name="Crash", kind="issuer"))
        session.add(UserRow(id=user_id, email="crash@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role="owner"))
        session.add(
            AchievementRow(id=achievement_id, org_id=org_id, status="published", current_version=1)
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=str(uuid.uuid4()),
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document=ACHIEVEMENT,
            )
        )
    actor = Actor(kind="user", id=user_id, user_id=user_id)
    for i in range(CREDENTIALS):
        credentials.issue_credential(
            platform,
            actor,
            org_id=org_id,
            achievement_id=achievement_id,
            recipient=f"did:example:{i}",
            proof_format="vc-jwt" if i % 10 == 0 else "eddsa-rdfc-2022",
        )

    def logged() -> int:
        with platform.reading() as session:
            return int(session.scalar(select(func.count()).select_from(LogEntryRow)) or 0)

    log_file = tmp_path / "worker.log"
    with log_file.open("w") as stderr:
        worker = subprocess.Popen(
            [MERITO, "worker", "--poll-interval", "0.05"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 180
        while logged() < 6:
            assert worker.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "the worker sealed nothing"
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    assert worker.returncode == -signal.SIGKILL
    at_kill = logged()
    assert at_kill < CREDENTIALS, "the worker finished before it was killed: nothing was tested"

    again = subprocess.run(
        [MERITO, "worker", "--once"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr

    with platform.reading() as session:
        entries = list(session.scalars(select(LogEntryRow).order_by(LogEntryRow.idx)))
        rows = list(session.scalars(select(CredentialRow)))
        pending = session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.topic == "ledger.leaf", OutboxRow.delivered_at.is_(None))
        )
    assert [e.idx for e in entries] == list(range(CREDENTIALS))
    assert sorted(e.credential_row_id for e in entries) == sorted(r.id for r in rows)
    assert pending == 0
    head = ledger.latest_head(platform)
    assert head.tree_size == CREDENTIALS
    assert root_of([e.leaf_input for e in entries]) == head.root_hash
    options = bootstrap.verify_options(settings)
    for row in rows:
        if row.jwt is not None:
            assert "proof" not in row.document or not anchoring_proofs(row.document)
            continue
        assert len(anchoring_proofs(row.document)) == 1
        check = options.anchor_checker(row.document) if options.anchor_checker else None
        assert check is not None
        assert check.outcome is Outcome.PASS, check.message
    platform.sessions.kw["bind"].dispose()
