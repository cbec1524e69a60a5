"""`merito wallet import` and `merito wallet list`: a badge file into a learner's wallet."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.config import Settings
from merito.errors import NotFound
from merito.services import accounts, wallet
from merito.services.platform import Actor

runner = CliRunner()
CERT = (
    Path(__file__).parents[1]
    / "fixtures/blockcerts/cert-verifier-js/fixtures/v2/mocknet-valid-2.0.json"
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "34" * 32)
    monkeypatch.delenv("MERITO_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=tmp_path / "var", master_key="34" * 32)
    platform = bootstrap.platform(settings)
    accounts.create_user(
        platform, Actor.system("test"), email="lea@example.org", password="long password 1"
    )
    platform.sessions.kw["bind"].dispose()
    return settings


def test_import_then_list(settings: Settings) -> None:
    result = runner.invoke(app, ["wallet", "import", str(CERT), "--user", "lea@example.org"])
    assert result.exit_code == 0, result.output
    assert "Imported:" in result.output
    assert "indeterminate" in result.output
    assert "not checked (offline)" in result.output
    again = runner.invoke(app, ["wallet", "import", str(CERT), "--user", "Lea@example.org"])
    assert "Already in the wallet:" in again.output
    listed = runner.invoke(app, ["wallet", "list", "--user", "lea@example.org"])
    assert listed.exit_code == 0
    assert listed.output.count("blockcerts-v2") == 1
    platform = bootstrap.platform(settings)
    assert len(wallet.list_items(platform, wallet.account_actor(platform, "lea@example.org"))) == 1
    platform.sessions.kw["bind"].dispose()


def test_unknown_user_and_missing_file(settings: Settings) -> None:
    unknown = runner.invoke(app, ["wallet", "list", "--user", "nobody@example.org"])
    assert isinstance(unknown.exception, NotFound)
    missing = runner.invoke(app, ["wallet", "import", "nope.json", "--user", "lea@example.org"])
    assert "no such file" in str(missing.exception)
