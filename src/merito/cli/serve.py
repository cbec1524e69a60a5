"""``merito serve``: runs the HTTP API (and later the web UI) with uvicorn.

The app is named by its import string, not imported: the CLI and the API are sibling
adapters that never import each other, and uvicorn needs the string anyway to start
``--workers`` processes (each builds its own app from the MERITO_ settings).
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

APP_FACTORY: Final = "merito.api.app:create_app"
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0 exposes it to the network).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Run the API on http://HOST:PORT (OpenAPI reference at /docs)."""
    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"choose one of {', '.join(LOG_LEVELS)}", param_hint="--log-level")
    import uvicorn  # the server only matters to this command; keep `merito --help` fast

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        server_header=False,  # do not advertise the server software
        proxy_headers=False,  # trust X-Forwarded-* only when an operator configures a proxy
    )
