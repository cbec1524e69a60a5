"""``merito log anchors`` / ``resume-anchors``: the sealed batches' Ethereum anchors, for operators.

Unlike ``GET /log/v1/anchors`` it shows the last RPC error of an anchor still waiting (node
URLs are already reduced to scheme://host), and how many transactions and polls it took.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from merito import bootstrap
from merito.config import load_settings
from merito.errors import MeritoError
from merito.services import anchoring
from merito.services.platform import Actor

EXIT_USAGE = 2

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

_STYLE = {"confirmed": "green", "submitted": "yellow", "pending": "yellow", "failed": "red"}


def _json(anchor: anchoring.ChainAnchor) -> dict[str, Any]:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in anchor.__dict__.items()
    }


def anchors(
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch id.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="pending, submitted, confirmed or failed."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """List the Ethereum anchors of sealed batches: transaction, depth, last error."""
    platform = bootstrap.platform(load_settings())
    try:
        found = anchoring.list_anchors(
            platform, batch_id=batch, status=status, limit=min(limit, 500)
        )
    except MeritoError as e:
        err.print(f"[red]merito: error:[/red] {escape(e.message)}")
        raise typer.Exit(EXIT_USAGE) from e
    finally:
        platform.sessions.kw["bind"].dispose()
    if as_json:
        out.print_json(json.dumps([_json(a) for a in found]))
        return
    if not found:
        out.print("no chain anchors" + (f" for batch {escape(batch)}" if batch else ""))
        return
    for a in found:
        style = _STYLE.get(a.status, "white")
        where = (
            f"block {a.block_number}, {a.confirmations} confirmation(s)"
            if a.block_number is not None
            else "not seen in a block yet"
        )
        out.print(
            f"[{style}]{a.status:<9}[/{style}] batch {escape(a.batch_id)} "
            f"({a.leaf_count} credential(s), root {a.merkle_root[:16]}…) "
            f"tx {a.tx_hash or '-'} on chain {a.chain_id or '-'}: {where}"
            + (f", {a.attempts} transaction(s)" if a.attempts > 1 else "")
        )
        if a.anchor_uri:
            out.print(f"          anchor {a.anchor_uri}")
        if a.last_error and a.status != "confirmed":
            out.print(f"          [dim]last error: {escape(a.last_error)}[/dim]")


def resume_anchors(
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch id.")] = None,
) -> None:
    """Restart anchors whose outbox messages died (a long chain outage) or that failed."""
    platform = bootstrap.platform(load_settings())
    try:
        resumed = anchoring.resume_anchors(platform, _operator(), batch_id=batch)
    except MeritoError as e:
        err.print(f"[red]merito: error:[/red] {escape(e.message)}")
        raise typer.Exit(EXIT_USAGE) from e
    finally:
        platform.sessions.kw["bind"].dispose()
    if not resumed:
        out.print("nothing to resume: every anchor is confirmed or still being worked on")
    for batch_id in resumed:
        out.print(f"resumed batch {escape(batch_id)}")


def _operator() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        login = "unknown"
    return Actor.system(f"cli:{login}")
