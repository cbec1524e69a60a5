"""Verifying credentials: one document, or a stream of them on every core.

The stream keeps its input order, holds a bounded window of work in memory (so a file of
millions of lines streams), and spreads chunks of lines over worker processes.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from merito.domain.verification import VerificationReport
from merito.verification import VerifyOptions, verify

#: builds the options inside each worker process (options hold non-picklable objects)
OptionsFactory = Callable[[], VerifyOptions]


def verify_document(
    document: str | bytes | dict[str, Any], options: VerifyOptions
) -> VerificationReport:
    return verify(document, options=options)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    workers: int = 0  # 0: one per core
    chunk_lines: int = 64
    window_chunks_per_worker: int = 4


_worker_options: VerifyOptions | None = None


def _init_worker(factory: OptionsFactory) -> None:
    global _worker_options  # one VerifyOptions per worker process, built once
    _worker_options = factory()


def _verify_chunk(chunk: list[tuple[int, str]]) -> list[tuple[bool, str]]:
    options = _worker_options if _worker_options is not None else VerifyOptions()
    return [_result_line(n, line, options) for n, line in chunk]


def _result_line(n: int, line: str, options: VerifyOptions) -> tuple[bool, str]:
    report = verify(line, options=options)
    out = {"line": n, **report.to_dict()}
    return report.verified, json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for n, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue  # blank lines carry no credential; numbering still follows the input
        chunk.append((n, text))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def verify_lines(
    lines: Iterable[str], *, options_factory: OptionsFactory, batch: BatchSettings | None = None
) -> Iterator[tuple[bool, str]]:
    """``(verified, JSON result line)`` per non-blank input line, in input order.

    With one worker everything runs in this process; otherwise chunks of lines go to a
    process pool (verification is CPU-bound: the GIL would serialise threads).
    """
    batch = batch or BatchSettings()
    workers = batch.workers or os.cpu_count() or 1
    if workers == 1:
        options = options_factory()
        for chunk in _chunks(lines, batch.chunk_lines):
            for n, line in chunk:
                yield _result_line(n, line, options)
        return
    window = workers * batch.window_chunks_per_worker
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(options_factory,)
    ) as pool:
        pending: deque[Future[list[tuple[bool, str]]]] = deque()
        for chunk in _chunks(lines, batch.chunk_lines):
            pending.append(pool.submit(_verify_chunk, chunk))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
