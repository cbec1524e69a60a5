"""The skills benchmarks still run (at a tiny size) and print their figures beside a floor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("ranking.py", ["--candidates", "2000", "--queries", "2"], "floor: full CSR mat-vec"),
        (
            "matching_quality.py",
            ["--queries", "5", "--per-occupation", "1"],
            "floor: count of shared essential skills",
        ),
        ("learning_paths.py", ["--offerings", "200", "--gaps", "3"], "floor: greedy"),
        ("hiring_service.py", ["--learners", "20", "--repeat", "1"], "floor: reading"),
    ],
)
def test_benchmark_runs_at_a_tiny_size(script: str, args: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
    assert "Recall@10" in done.stdout or "ratio" in done.stdout
