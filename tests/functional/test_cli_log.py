"""``merito log seal`` and ``merito log monitor`` through typer's runner (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ledger_crash import ACHIEVEMENT
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.config import Settings
from merito.services import credentials, ledger
from merito.services.platform import Actor
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    MembershipRow,
    OrganisationRow,
    UserRow,
)

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "45" * 32)
    monkeypatch.setenv("MERITO_DATABASE_URL", database_url)
    monkeypatch.setenv("MERITO_LOG_BATCH_SIZE", "2")
    return Settings()


def test_seal_prints_each_batch_then_nothing_pending(settings: Settings) -> None:
    platform = bootstrap.platform(settings)
    with platform.transaction() as session:
        session.add(OrganisationRow(id="o1", slug="cli-log", name="CLI", kind="issuer"))
        session.add(UserRow(id="u1", email="cli-log@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id="o1", user_id="u1", role="owner"))
        session.add(AchievementRow(id="a1", org_id="o1", status="published", current_version=1))
        session.flush()
        session.add(
            AchievementVersionRow(
                id="v1", org_id="o1", achievement_id="a1", version=1, document=ACHIEVEMENT
            )
        )
    actor = Actor(kind="user", id="u1", user_id="u1")
    for i in range(3):
        credentials.issue_credential(
            platform, actor, org_id="o1", achievement_id="a1", recipient=f"did:example:{i}"
        )
    result = runner.invoke(app, ["log", "seal"])
    assert result.exit_code == 0, result.output
    assert result.output.count("sealed batch") == 2  # 2 + 1 with a batch size of 2
    assert "tree size 3" in result.output
    assert ledger.latest_head(platform).tree_size == 3
    again = runner.invoke(app, ["log", "seal"])
    assert again.exit_code == 0
    assert "nothing pending; tree size 3" in again.output
    platform.sessions.kw["bind"].dispose()


def test_monitor_refuses_a_non_http_url_and_reports_an_unreachable_log(
    settings: Settings, tmp_path: Path
) -> None:
    bad = runner.invoke(app, ["log", "monitor", "--url", "ftp://example.org", "--once"])
    assert bad.exit_code != 0
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"public_key_multibase": None, "log_id": None, "sth": None}))
    down = runner.invoke(
        app, ["log", "monitor", "--url", "http://127.0.0.1:9", "--once", "--state", str(state)]
    )
    assert down.exit_code == 2, down.output
    assert "unreachable" in down.output
