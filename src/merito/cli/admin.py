"""``merito admin ...``: operator commands on the configured database (create accounts).

The command line holds the database and the master key, so it acts as the system; its audit
entries name it (``system:cli:<login>``).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from merito import bootstrap
from merito.config import load_settings
from merito.errors import MeritoError
from merito.services import accounts
from merito.services.platform import Actor

EXIT_USAGE = 2

app = typer.Typer(help="Operate the platform: accounts.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def _operator() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        login = "unknown"
    return Actor.system(f"cli:{login}")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option("--email", help="The account's email (its login).")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Asked for (hidden) when not given; at least 12 characters.",
        ),
    ],
    platform_admin: Annotated[
        bool,
        typer.Option(
            "--platform-admin/--no-platform-admin",
            help="May act in every organisation (operators only).",
        ),
    ] = False,
) -> None:
    """Create an account, optionally a platform admin; the password is asked for, hidden."""
    platform = bootstrap.platform(load_settings())
    try:
        user = accounts.create_user(
            platform,
            _operator(),
            email=email,
            password=password,
            is_platform_admin=platform_admin,
        )
    except MeritoError as e:
        err.print(f"[red]merito: error:[/red] {escape(e.message)}")
        raise typer.Exit(EXIT_USAGE) from e
    finally:
        platform.sessions.kw["bind"].dispose()  # close the pool (the runner may be a test)
    role = "platform admin" if user.is_platform_admin else "user"
    out.print(f"created {role} {escape(user.email)} (id {user.id})")
