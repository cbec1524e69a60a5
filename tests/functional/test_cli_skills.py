"""``merito skills import|search`` through typer's runner, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito.cli.main import app

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "esco"


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "44" * 32)
    monkeypatch.setenv("MERITO_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "120")


def test_import_then_search_then_import_again() -> None:
    first = runner.invoke(app, ["skills", "import", str(FIXTURES)])
    assert first.exit_code == 0, first.output
    assert "ESCO v1.1.1 imported" in first.output
    assert "skipped 1 occupation-skill links to an unknown occupation" in first.output
    assert "European Commission" in first.output

    found = runner.invoke(app, ["skills", "search", "python dev", "-n", "3"])
    assert found.exit_code == 0, found.output
    assert "Python (computer programming)" in found.output

    again = runner.invoke(app, ["skills", "import", str(FIXTURES)])
    assert again.exit_code == 0, again.output
    rows = [line for line in again.output.splitlines() if line.startswith("│ skills ")]
    assert rows
    assert rows[0].split("│")[2].strip() == "0"  # nothing inserted the second time


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["skills", "import", str(tmp_path / "nope")])
    assert missing.exit_code != 0
    assert isinstance(missing.exception, Exception)
    assert "no such file" in str(missing.exception)
