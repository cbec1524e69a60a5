"""``merito demo``: seeds the demo issuer into the local SQLite database, prints what to try,
then serves it (as ``merito serve`` does). ``merito demo --offline`` lives in ``main``.

The demo's sign-in password and API key are kept in ``<data dir>/demo-login.json`` (mode
0600), so a second run prints them again: the database only holds their hashes.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from merito import bootstrap
from merito.cli import serve
from merito.config import load_settings
from merito.errors import InvalidInput
from merito.services import demo as demo_service
from merito.services import status_lists

LOGIN_FILE: Final = "demo-login.json"


def _load_login(path: Path) -> dict[str, str]:
    """The demo's login details, made (with a fresh random password) on the first run."""
    if path.exists():
        try:
            login = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidInput(f"{path}: unreadable ({e}); delete it to start over") from None
        if not isinstance(login, dict) or not isinstance(login.get("password"), str):
            raise InvalidInput(f"{path}: has no password; delete it and the database to redo")
        return {k: v for k, v in login.items() if isinstance(v, str)}
    login = {"email": demo_service.DEMO_OWNER_EMAIL, "password": secrets.token_urlsafe(12)}
    _save_login(path, login)
    return login


def _save_login(path: Path, login: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(login, indent=2) + "\n")


def seed(out: Console) -> tuple[demo_service.DemoSeed, dict[str, str], str]:
    """Seeds the demo (idempotent) and prints what to try; returns the seed, the login
    details and the base URL."""
    settings = load_settings()
    if settings.database_url is not None:
        raise InvalidInput(
            "merito demo seeds the SQLite database in MERITO_DATA_DIR, never a configured "
            "one: unset MERITO_DATABASE_URL (and point MERITO_DATA_DIR at a scratch directory)",
            property="database_url",
        )
    login_path = settings.data_dir / LOGIN_FILE
    login = _load_login(login_path)
    platform = bootstrap.platform(settings)
    seeded = demo_service.seed_demo(platform, password=login["password"])
    if seeded.api_key is not None:
        login["api_key"] = seeded.api_key
        _save_login(login_path, login)
    base = settings.base_url.rstrip("/")
    first = seeded.credentials[0]
    status_url = (
        status_lists.list_url(platform, seeded.revoked.status_list_id)
        if seeded.revoked.status_list_id
        else None
    )
    database = settings.effective_database_url.removeprefix("sqlite:///")
    what = "seeded" if seeded.created else "already seeded, unchanged"
    out.print(f"[bold]Merito demo[/bold]: {demo_service.DEMO_ORG_NAME} ({what}) in {database}\n")
    out.print(
        f"  Sign in      {escape(seeded.owner_email)} / {escape(login['password'])}  "
        f"(POST {base}/api/v1/auth/login)"
    )
    out.print(f"  Learners     {', '.join(seeded.learners)} (same password)")
    api_key = login.get("api_key")
    if api_key:
        out.print(f"  API key      {escape(api_key)}")
    out.print(f"  Issuer       {escape(seeded.issuer_did)}\n")
    rows = [
        ("API reference", f"{base}/docs"),
        ("Issuer profile", f"{base}/orgs/{seeded.org_slug}/profile"),
        ("DID document", f"{base}/orgs/{seeded.org_slug}/did.json"),
        ("A credential", f"{first.credential_id}  ({first.proof_format}; open it in a browser)"),
        ("A revoked one", seeded.revoked.credential_id),
    ]
    if status_url:
        rows.append(("Its status list", status_url))
    rows += [(f"Achievement {n}", a.url) for n, a in enumerate(seeded.achievements, start=1)]
    for label, url in rows:
        out.print(f"  {label:<16} {escape(url)}")
    if api_key:
        bearer = f'-H "Authorization: Bearer {api_key}"'
        out.print("\n  Try the API:")
        out.print(f"    curl {escape(bearer)} {base}/api/v1/orgs/{seeded.org_id}/credentials")
        out.print(
            f"    curl {escape(bearer)} '{base}/api/v1/orgs/{seeded.org_id}/deliveries"
            "?state=delivered'"
        )
    out.print(
        f"\n  Login details are kept in {escape(str(login_path))} (mode 0600). "
        "The first learner's notification email is printed below once the server runs "
        "(set MERITO_SMTP_HOST to send it)."
    )
    return seeded, login, base


def check_base_url(out: Console, base: str, *, host: str, port: int) -> None:
    """Credential ids and did:web are built from MERITO_BASE_URL: say so when serving elsewhere."""
    parts = urlsplit(base)
    if (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)) != (host, port):
        out.print(
            f"[yellow]note:[/yellow] the demo's URLs use MERITO_BASE_URL={escape(base)}, but the "
            f"server listens on {escape(host)}:{port}; set MERITO_BASE_URL=http://{host}:{port} "
            "before seeding a fresh data dir for links that work"
        )


def run(out: Console, *, serve_after: bool, host: str, port: int) -> None:
    _, _, base = seed(out)
    if not serve_after:
        return
    check_base_url(out, base, host=host, port=port)
    out.print()
    serve.serve(host=host, port=port)
