"""``merito wallet ...``: import a badge into a learner's wallet and list it (operators, demos).

The command line works on the configured database directly, so it acts as the learner named
by ``--user``; the audit log records the learner's account as the actor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from merito import bootstrap
from merito.config import load_settings
from merito.errors import InvalidInput
from merito.services import wallet

app = typer.Typer(help="A learner's wallet: import and list badges.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, emoji=False)

_VERDICT_STYLE = {"valid": "green", "invalid": "red", "indeterminate": "yellow"}


def _print(item: wallet.WalletItem) -> None:
    style = _VERDICT_STYLE.get(item.verdict or "", "white")
    out.print(
        f"[{style}]{item.verdict or 'unverified'}[/{style}]  {escape(item.name)}  "
        f"[dim]{escape(item.format)} · {escape(item.issuer_name or item.issuer_id or '-')} "
        f"· {item.visibility} · {item.id}[/dim]"
    )
    out.print(f"    {escape(item.summary)}")


@app.command("import")
def import_badge(
    source: Annotated[str, typer.Argument(help="A badge file (JSON, JWT, PNG, SVG) or a URL.")],
    user: Annotated[str, typer.Option("--user", help="The learner's account email.")],
) -> None:
    """Verify a badge and put it in the learner's wallet (the same file again: no-op)."""
    platform = bootstrap.platform(load_settings())
    actor = wallet.account_actor(platform, user)
    if source.lower().startswith(("http://", "https://")):
        item = wallet.import_credential(platform, actor, url=source)
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"{path}: no such file", property="file") from None
        except IsADirectoryError:
            raise InvalidInput(f"{path}: is a directory, not a file", property="file") from None
        item = wallet.import_credential(platform, actor, data=data, filename=path.name)
    out.print("Imported:" if item.created else "Already in the wallet:")
    _print(item)


@app.command("list")
def list_badges(
    user: Annotated[str, typer.Option("--user", help="The learner's account email.")],
) -> None:
    """The learner's wallet, newest first, with each item's last verdict."""
    platform = bootstrap.platform(load_settings())
    items = wallet.list_items(platform, wallet.account_actor(platform, user))
    if not items:
        out.print("The wallet is empty.")
    for item in items:
        _print(item)
