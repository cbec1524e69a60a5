"""`merito serve` starts uvicorn on 127.0.0.1:8000 with the API's factory (uvicorn stubbed)."""

from __future__ import annotations

import importlib
import logging.config
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from merito.cli.main import app

runner = CliRunner()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    # the outbox worker thread starts too: its database goes to a throwaway data dir
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path))
    # serve configures logging for the process; keep this test process's logging as it is
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    return calls


def test_serve_defaults_to_localhost_8000(started: list[tuple[Any, dict[str, Any]]]) -> None:
    result = runner.invoke(app, ["serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [(target, options)] = started
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 8000, 1)
    assert options["factory"] is True
    module, _, name = target.partition(":")
    built = getattr(importlib.import_module(module), name)()
    assert isinstance(built, FastAPI)


def test_serve_options(started: list[tuple[Any, dict[str, Any]]]) -> None:
    args = ["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "4"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert {k: started[0][1][k] for k in ("host", "port", "workers")} == {
        "host": "0.0.0.0",
        "port": 9000,
        "workers": 4,
    }


@pytest.mark.parametrize("args", [["--port", "0"], ["--workers", "0"], ["--log-level", "loud"]])
def test_serve_refuses_bad_options(
    started: list[tuple[Any, dict[str, Any]]], args: list[str]
) -> None:
    result = runner.invoke(app, ["serve", *args])
    assert result.exit_code == 2
    assert started == []


def test_serve_runs_the_outbox_worker_unless_told_not_to(
    started: list[tuple[Any, dict[str, Any]]], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["serve", "--no-worker"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "merito.db").exists()  # the API builds its platform lazily
    result = runner.invoke(app, ["serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "merito.db").exists()  # the worker's platform, migrated up front
    assert len(started) == 2
