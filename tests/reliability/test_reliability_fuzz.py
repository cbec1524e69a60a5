"""Hostile input to the verifier and every importer (fuzz/targets.py): random and mutated bytes
only ever give a MeritoError or a report. In CI: hypothesis (bounded examples) on every target,
and a few seconds of coverage-guided atheris per target when atheris is installed
(MERITO_FUZZ_SECONDS, default 2; `make fuzz` runs longer). Plus the bounded-memory cases the
fuzzers would take long to find: a PNG decompression bomb, billion laughs in an SVG, 10k-deep
JSON, and an SVG declaring an encoding Python does not know (found by atheris: it raised
LookupError, a 500, before the fix in formats/images.py).
"""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
sys.path.insert(0, str(FUZZ))
import targets  # noqa: E402

from merito.errors import InvalidInput  # noqa: E402
from merito.formats import baking  # noqa: E402

SECONDS = float(os.environ.get("MERITO_FUZZ_SECONDS", "2"))


def _mutations(name: str) -> st.SearchStrategy[bytes]:
    seeds = targets.seeds(name, limit=10) or [b"{}"]

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 8))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            if op == "flip":
                data[at] ^= draw(st.integers(1, 255))
            elif op == "cut":
                del data[at : at + draw(st.integers(1, 64))]
            else:
                data[at:at] = draw(st.binary(max_size=16))
        return bytes(data)

    return st.one_of(st.binary(max_size=2048), mutated())


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_hypothesis_inputs_give_only_merito_errors(name: str) -> None:
    target = targets.TARGETS[name]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations(name))
    def check(data: bytes) -> None:
        started = time.perf_counter()
        targets.run_one(target, data)
        assert time.perf_counter() - started < 10, "an input took over 10 s (a hang)"

    check()


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("name", ["image", "verify", "csv"])
def test_atheris_finds_no_crash_in_a_few_seconds(name: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(FUZZ / "run.py"),
            name,
            f"-max_total_time={SECONDS:.0f}",
            "-rss_limit_mb=1024",
            "-timeout=10",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SECONDS + 240,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert not list(tmp_path.glob("crash-*")), run.stderr[-4000:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_bounded_memory_on_bombs() -> None:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    bomb = zlib.compress(b"\0" * 200_000_000, 9)  # 200 MB of text in ~200 KB
    itxt = _png_chunk(b"iTXt", b"openbadgecredential\0\1\0\0\0" + bomb)
    png = baking.PNG_SIGNATURE + ihdr + itxt + _png_chunk(b"IEND", b"")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
            for i in range(8)
        )
        + b']><svg xmlns="http://www.w3.org/2000/svg">&i;</svg>'
    )
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    tracemalloc.start()
    try:
        for data in (png, laughs):
            with pytest.raises(InvalidInput):
                baking.extract(data)
        targets.run_one(targets.verify, deep)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000, f"peak {peak:,} bytes"


def test_an_unknown_svg_encoding_is_invalid_input() -> None:
    svg = b'<?xml version="1.0" encoding="uvf-8"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    with pytest.raises(InvalidInput, match="unknown encoding"):
        baking.extract(svg)
