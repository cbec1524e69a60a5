"""`merito credentials issue-bulk`: a CSV in, credentials in the database, a per-row report out;
running it again issues nothing twice."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.config import Settings
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    OrganisationRow,
)

runner = CliRunner()
ACHIEVEMENT = {
    "id": "https://academy.example.org/achievements/cli",
    "type": ["Achievement"],
    "name": "Command lines",
    "description": "Automates a task with a shell script.",
    "criteria": {"narrative": "Wrote a shell script."},
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "33" * 32)
    monkeypatch.delenv("MERITO_SMTP_HOST", raising=False)
    monkeypatch.delenv("MERITO_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return Settings(data_dir=tmp_path / "var", master_key="33" * 32)


def seed(settings: Settings) -> str:
    platform = bootstrap.platform(settings)
    achievement_id = str(uuid.uuid4())
    with platform.transaction() as session:
        org_id = str(uuid.uuid4())
        session.add(OrganisationRow(id=org_id, slug="cli-academy", name="CLI", kind="issuer"))
        session.flush()
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
    platform.sessions.kw["bind"].dispose()
    return achievement_id


def credentials_in(settings: Settings) -> int:
    platform = bootstrap.platform(settings)
    with platform.reading() as session:
        total = int(session.scalar(select(func.count()).select_from(CredentialRow)) or 0)
    platform.sessions.kw["bind"].dispose()
    return total


def test_issue_bulk_writes_a_report_and_is_idempotent(settings: Settings, tmp_path: Path) -> None:
    achievement_id = seed(settings)
    rows = tmp_path / "cohort.csv"
    rows.write_text("recipient\nada@example.org\nnot-an-email\ndid:example:bob\n", encoding="utf-8")
    args = [
        "credentials",
        "issue-bulk",
        str(rows),
        "--org",
        "cli-academy",
        "--achievement",
        achievement_id,
        "--workers",
        "1",
        "--no-notify",
    ]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output  # one row was rejected
    assert "2 issued" in result.stdout
    with (tmp_path / "cohort.csv.report.csv").open(encoding="utf-8") as f:
        report = list(csv.DictReader(f))
    assert [(r["row"], r["outcome"]) for r in report] == [
        ("2", "issued"),
        ("3", "rejected"),
        ("4", "issued"),
    ]
    assert "recipient" in report[1]["reason"]
    assert report[0]["credential_url"].endswith("/credentials/" + report[0]["credential_id"])
    assert credentials_in(settings) == 2

    again = runner.invoke(app, args, catch_exceptions=False)
    assert "0 issued, 2 already issued" in again.stdout
    assert credentials_in(settings) == 2


def test_issue_bulk_names_a_missing_file_and_organisation(settings: Settings) -> None:
    seed(settings)
    missing = runner.invoke(app, ["credentials", "issue-bulk", "nope.csv", "--org", "x"])
    assert missing.exit_code != 0
    Path("rows.csv").write_text("recipient\na@example.org\n", encoding="utf-8")
    unknown = runner.invoke(app, ["credentials", "issue-bulk", "rows.csv", "--org", "nobody"])
    assert unknown.exit_code != 0
