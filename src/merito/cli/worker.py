"""``merito worker``: delivers the outbox (emails) and seals the transparency log until stopped.

SIGINT (Ctrl-C) and SIGTERM ask the loop to stop after the message in hand: claimed messages
not yet started are handed back at once, and the command exits 0. A second signal stops at
once (the outbox's leases make even that safe: an interrupted message is retried).
"""

from __future__ import annotations

import logging
import logging.config
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, Final

import typer

from merito import bootstrap
from merito.config import load_settings
from merito.services import ledger, outbox

LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def check_log_level(log_level: str) -> str:
    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"choose one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    return log_level.lower()


def merito_logging(log_level: str) -> dict[str, Any]:
    """A logging configuration showing Merito's own loggers (the worker's) at ``log_level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": _FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"merito": {"handlers": ["stderr"], "level": log_level.upper()}},
    }


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside: SIGINT/SIGTERM set ``stop`` (a second one behaves as usual).

    Handlers can only be installed from the main thread; elsewhere (a test runner's thread)
    this does nothing and ``stop`` is the only way out.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # asked twice: stop now
            handler = previous.get(signum)
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        logging.getLogger("merito.outbox").info(
            "received %s: stopping after the current message", signal.Signals(signum).name
        )
        stop.set()

    for signum in STOP_SIGNALS:
        previous[signum] = signal.signal(signum, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def worker(
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between polls when nothing is due.", min=0.01)
    ] = 1.0,
    batch: Annotated[int, typer.Option(help="Messages claimed per round.", min=1, max=1000)] = 100,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Deliver queued emails (the outbox) until Ctrl-C; run it beside `serve --no-worker`."""
    level = check_log_level(log_level)
    logging.config.dictConfig(merito_logging(level))
    settings = load_settings()
    platform = bootstrap.platform(settings)
    policy = bootstrap.seal_policy(settings)
    stop = threading.Event()
    worker_id = outbox.default_worker_id()
    with stop_on_signals(stop):
        if once:
            while ledger.seal_pending(platform, policy=policy) is not None:
                pass  # every batch that is due
            stats = outbox.deliver_due(platform, worker_id=worker_id, limit=batch, stop=stop)
            typer.echo(
                f"delivered {stats.delivered}, retrying {stats.retried}, dead {stats.dead}"
                + (f", released {stats.released}" if stats.released else ""),
                err=True,
            )
            return
        typer.echo(f"merito worker {worker_id}: delivering the outbox (Ctrl-C stops)", err=True)
        sealer = ledger.sealer_thread(platform, stop=stop, policy=policy)
        sealer.start()
        outbox.run_worker(
            platform, stop=stop, poll_interval=poll_interval, worker_id=worker_id, limit=batch
        )
        sealer.join()
    typer.echo("merito worker: stopped", err=True)
