"""``merito admin create-user`` through typer's runner, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.config import Settings
from merito.storage.tables import AuditLogRow, UserRow

runner = CliRunner()
PASSWORD = "an operator's passphrase"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "44" * 32)
    monkeypatch.setenv("MERITO_DATABASE_URL", database_url)
    monkeypatch.delenv("MERITO_SMTP_HOST", raising=False)
    return Settings()


def test_create_platform_admin_prompts_for_the_password(settings: Settings) -> None:
    result = runner.invoke(
        app,
        ["admin", "create-user", "--email", "Root@Example.org", "--platform-admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created platform admin root@example.org" in result.output
    assert PASSWORD not in result.output  # hidden prompt
    platform = bootstrap.platform(settings)
    with platform.reading() as session:
        user = session.scalars(select(UserRow)).one()
        entry = session.scalars(select(AuditLogRow)).one()
    platform.sessions.kw["bind"].dispose()
    assert (user.email, user.is_platform_admin) == ("root@example.org", True)
    assert user.password_hash.startswith("$argon2id$")
    assert (entry.action, entry.target) == ("user.create", user.id)
    assert entry.actor.startswith("system:cli:")


def test_bad_password_and_duplicates_exit_2(settings: Settings) -> None:
    short = runner.invoke(
        app, ["admin", "create-user", "--email", "a@example.org"], input="short\nshort\n"
    )
    assert short.exit_code == 2
    assert "at least 12 characters" in short.output
    args = ["admin", "create-user", "--email", "a@example.org", "--password", PASSWORD]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "already exists" in again.output
