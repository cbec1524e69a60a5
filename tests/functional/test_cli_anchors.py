"""``merito log anchors`` through typer's runner, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito import bootstrap
from merito.cli.main import app
from merito.config import Settings
from merito.storage.tables_anchoring import ChainAnchorRow

runner = CliRunner()
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MERITO_MASTER_KEY", "44" * 32)
    monkeypatch.setenv("MERITO_DATABASE_URL", database_url)
    monkeypatch.delenv("MERITO_ETHEREUM_RPC_URL", raising=False)
    return Settings()


def _seed(settings: Settings) -> None:
    platform = bootstrap.platform(settings)
    tx = "0x" + "ab" * 32
    with platform.transaction() as session:
        session.add_all(
            [
                ChainAnchorRow(
                    batch_id="b-confirmed",
                    merkle_root="01" * 32,
                    tree_size=4,
                    leaf_count=4,
                    status="confirmed",
                    chain_id=31337,
                    tx_hash=tx,
                    block_number=12,
                    confirmations=2,
                    anchor_uri=f"blink:eth:31337:{tx}",
                    attempts=1,
                    created_at=AT,
                    updated_at=AT,
                ),
                ChainAnchorRow(
                    batch_id="b-waiting",
                    merkle_root="02" * 32,
                    tree_size=9,
                    leaf_count=5,
                    status="pending",
                    last_error="http://127.0.0.1:8545 is unreachable: eth_chainId failed 2 times",
                    created_at=AT,
                    updated_at=AT,
                ),
            ]
        )
    platform.sessions.kw["bind"].dispose()


def test_lists_anchors_with_their_last_error(settings: Settings) -> None:
    _seed(settings)
    result = runner.invoke(app, ["log", "anchors"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("pending   batch b-waiting")
    assert "last error: http://127.0.0.1:8545 is unreachable" in result.output
    assert "confirmed batch b-confirmed (4 credential(s)" in result.output
    assert "block 12, 2 confirmation(s)" in result.output
    assert "anchor blink:eth:31337:0x" + "ab" * 32 in result.output

    only = runner.invoke(app, ["log", "anchors", "--status", "confirmed", "--json"])
    assert only.exit_code == 0, only.output
    [row] = json.loads(only.output)
    assert (row["batch_id"], row["confirmations"]) == ("b-confirmed", 2)

    none = runner.invoke(app, ["log", "anchors", "--batch", "nope"])
    assert (none.exit_code, none.output.strip()) == (0, "no chain anchors for batch nope")


def test_a_bad_status_exits_2_with_one_line(settings: Settings) -> None:
    result = runner.invoke(app, ["log", "anchors", "--status", "lost"])
    assert result.exit_code == 2
    assert "status must be one of" in result.output
    assert "Traceback" not in result.output


def test_resume_anchors_restarts_what_nothing_drives(settings: Settings) -> None:
    _seed(settings)
    result = runner.invoke(app, ["log", "resume-anchors"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "resumed batch b-waiting"  # the confirmed one is done
    again = runner.invoke(app, ["log", "resume-anchors", "--batch", "b-waiting"])
    assert again.exit_code == 0, again.output
    assert "nothing to resume" in again.output  # its new message is live
