"""Accounts: users, passwords, web sessions, organisations, members and API keys."""

from __future__ import annotations

from merito.errors import Unauthenticated
from merito.services.platform import Actor, Platform


def resolve_actor(
    platform: Platform,
    *,
    authorization: str | None,
    session_token: str | None,
    method: str,
    csrf_token: str | None,
    ip: str | None,
) -> Actor | None:
    """The Actor behind an Authorization header (Bearer API key / OAuth access token) or a
    web session cookie (mutating methods also need the session's CSRF token).

    None when neither is given; Unauthenticated when what is given is not valid.
    """
    # placeholder until the accounts work lands: nothing authenticates yet
    if authorization is None and session_token is None:
        return None
    raise Unauthenticated("credentials are not recognised")
