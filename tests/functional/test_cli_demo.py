"""`merito demo` (seeded, --no-serve): seeds the data dir, prints what to try, keeps the login
details 0600, and a second run finds everything in place; it refuses a configured database."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito.cli.main import app

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("MERITO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "33" * 32)
    return tmp_path / "var"


def test_demo_seeds_prints_and_is_idempotent(data_dir: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    login_file = data_dir / "demo-login.json"
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    login = json.loads(login_file.read_text())
    assert login["email"] == "demo@merito.test"
    assert login["api_key"].startswith("mk_")
    out = result.stdout
    assert "Example Academy (seeded)" in out
    assert f"demo@merito.test / {login['password']}" in out
    assert login["api_key"] in out
    assert "http://127.0.0.1:8000/orgs/example-academy/did.json" in out
    assert "http://127.0.0.1:8000/credentials/" in out
    assert (data_dir / "merito.db").exists()

    again = runner.invoke(app, ["demo", "--no-serve"], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "already seeded, unchanged" in again.stdout
    assert login["password"] in again.stdout
    assert login["api_key"] in again.stdout  # kept in the login file: shown again


def test_demo_never_seeds_a_configured_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERITO_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/prod")
    from merito.cli import main

    monkeypatch.setattr("sys.argv", ["merito", "demo", "--no-serve"])
    with pytest.raises(SystemExit) as exit_info:
        main.run()
    assert exit_info.value.code == 2
    assert not (data_dir / "demo-login.json").exists()
