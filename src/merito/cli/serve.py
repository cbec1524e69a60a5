"""``merito serve``: runs the API and the web pages with uvicorn, and the outbox worker.

The app is named by its import string, not imported: the CLI and the API are sibling
adapters that never import each other, and uvicorn needs the string anyway to start
``--workers`` processes (each builds its own app from the MERITO_ settings).

The outbox worker (emails; later webhooks and anchoring) is one thread in THIS process,
whatever ``--workers`` says: with several uvicorn processes, this one is their supervisor
and the only one running it. ``--no-worker`` leaves delivery to ``merito worker`` (one or
more, on any machine: leases keep them from sending a message twice). SIGTERM or Ctrl-C
stops uvicorn gracefully, then the worker after the message in hand; the exit code is 0.
"""

from __future__ import annotations

import copy
import logging.config
import threading
from typing import Annotated, Any, Final

import typer

from merito import bootstrap
from merito.cli.worker import check_log_level, stop_on_signals
from merito.config import load_settings
from merito.services import ledger, outbox

APP_FACTORY: Final = "merito.asgi:create_app"  # the API and the web pages
#: how long shutdown waits for the worker's message in hand (an SMTP send is bounded by
#: the mailer's timeout; a message it abandons is retried when its lease expires)
WORKER_JOIN_SECONDS: Final = 30.0
#: how long a uvicorn worker process (--workers N) may take to start serving
WORKER_START_SECONDS: Final = 60
_log = logging.getLogger("merito.cli")


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus Merito's loggers (the outbox worker's) on its handler."""
    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["merito"] = {
        "handlers": ["default"],
        "level": level.upper(),
    }
    return config


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 exposes it to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info or debug.")
    ] = "info",
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver the outbox (emails) in this process; --no-worker: run `merito worker`.",
        ),
    ] = True,
    poll_interval: Annotated[
        float, typer.Option(help="Outbox poll interval in seconds.", min=0.01)
    ] = 1.0,
) -> None:
    """Run the API on http://HOST:PORT (OpenAPI reference at /docs) and the outbox worker."""
    level = check_log_level(log_level)
    import uvicorn  # the server only matters to this command; keep `merito --help` fast

    log_config = _log_config(level)
    logging.config.dictConfig(log_config)
    stop = threading.Event()
    thread: threading.Thread | None = None
    sealer: threading.Thread | None = None  # the transparency log's sealer, beside the outbox
    if with_worker:
        # built (and migrated) before uvicorn starts: worker processes find the schema ready
        platform = bootstrap.platform(load_settings())
        thread = threading.Thread(
            target=outbox.run_worker,
            args=(platform,),
            kwargs={"stop": stop, "poll_interval": poll_interval},
            name="merito-outbox",
            daemon=True,  # never keeps a dying process alive; shutdown joins it first
        )
        sealer = ledger.sealer_thread(
            platform, stop=stop, policy=bootstrap.seal_policy(load_settings())
        )
    # uvicorn replaces these while it serves and, on its way out, re-raises the signal it
    # got: it lands here (setting `stop`) instead of killing the process before the join
    with stop_on_signals(stop):
        if thread is not None:
            thread.start()
        if sealer is not None:
            sealer.start()
        try:
            uvicorn.run(
                APP_FACTORY,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=level,
                log_config=log_config,
                # uvicorn kills a worker process not serving within this many seconds; the
                # app's imports alone can take longer than its default 5 on a busy host
                timeout_worker_healthcheck=WORKER_START_SECONDS,
                server_header=False,  # do not advertise the server software
                proxy_headers=False,  # trust X-Forwarded-* only when an operator configures one
            )
        finally:
            stop.set()
            if sealer is not None:
                sealer.join(WORKER_JOIN_SECONDS)
            if thread is not None:
                thread.join(WORKER_JOIN_SECONDS)
                if thread.is_alive():
                    _log.warning(
                        "the outbox worker did not stop within %.0fs; its message will be "
                        "retried when its lease expires",
                        WORKER_JOIN_SECONDS,
                    )
