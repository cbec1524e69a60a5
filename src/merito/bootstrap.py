"""Composition root: Settings -> adapters -> the options and services the adapters use.

The CLI, API, web app and tests build what they need here, so no adapter constructs
infrastructure itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from typing import Any, Literal

from merito.config import Settings
from merito.domain.ports import Clock, Fetcher, Mailer, SystemClock
from merito.errors import InvalidKey
from merito.net.fetcher import GuardedFetcher
from merito.net.mailer import ConsoleMailer, SmtpMailer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.verification import VerifyOptions

_log = logging.getLogger(__name__)


def verify_options(
    settings: Settings,
    *,
    documents: Mapping[str, Mapping[str, Any]] | None = None,
    fetcher: Fetcher | None = None,
    clock: Clock | None = None,
) -> VerifyOptions:
    """Verifier options: offline by default (no fetcher: status lists are not fetched)."""
    return VerifyOptions(
        clock=clock or SystemClock(),
        fetcher=fetcher,
        resolver=VerificationMethodResolver(fetcher=fetcher, documents=documents),
        max_bytes=settings.max_document_bytes,
        max_depth=settings.max_json_depth,
    )


def verify_options_factory(
    settings: Settings, *, documents: Mapping[str, Mapping[str, Any]] | None = None
) -> functools.partial[VerifyOptions]:
    """A picklable zero-argument factory, for worker processes that build their own options."""
    return functools.partial(verify_options, settings, documents=dict(documents or {}))


# --- the platform -------------------------------------------------------------------------

_MASTER_KEY_FILE = "master.key"


def master_key(settings: Settings) -> bytes:
    """The key-store master key: from MERITO_MASTER_KEY, else a 0600 file made in data_dir.

    Accepts hex or base64url (with or without padding); it must decode to >= 32 bytes.
    """
    if settings.master_key is not None:
        return _decode_master_key(settings.master_key.get_secret_value())
    path = settings.data_dir / _MASTER_KEY_FILE
    if path.exists():
        return _decode_master_key(path.read_text(encoding="ascii").strip())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    _log.warning("no MERITO_MASTER_KEY set: created %s (set the variable in production)", path)
    return key


def _decode_master_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error) as e:
            raise InvalidKey(
                "the master key is neither hex nor base64url", property="master_key"
            ) from e
    if len(key) < 32:
        raise InvalidKey("the master key must be at least 32 bytes", property="master_key")
    return key


def mailer(settings: Settings, *, clock: Clock | None = None) -> Mailer:
    """SMTP when MERITO_SMTP_HOST is set, else the console (development)."""
    if settings.smtp_host is None:
        return ConsoleMailer(sys.stderr, sender=settings.mail_from, clock=clock)
    starttls: bool | Literal["auto"] = (
        "auto" if settings.smtp_starttls == "auto" else settings.smtp_starttls == "always"
    )
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=starttls,
        use_ssl=settings.smtp_ssl,
        timeout=settings.smtp_timeout,
        clock=clock,
    )


def fetcher(settings: Settings) -> Fetcher:
    """The SSRF-guarded outbound fetcher, with the settings' size and time bounds."""
    return GuardedFetcher(
        allow_private=settings.fetch_allow_private,
        max_bytes=settings.fetch_max_bytes,
        timeout=settings.fetch_timeout,
    )


def platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailer_: Mailer | None = None,
    fetcher_: Fetcher | None = None,
    migrate_: bool | None = None,
) -> Platform:
    """Engine, migrations, key store, mailer and fetcher -> the services' ``Platform``."""
    clock = clock or SystemClock()
    url = settings.effective_database_url
    if url.startswith("sqlite:///") and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(url)
    if settings.auto_migrate if migrate_ is None else migrate_:
        migrate(engine)
    sessions = session_factory(engine)
    return Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, master_key(settings), clock=clock),
        clock=clock,
        mailer=mailer_ or mailer(settings, clock=clock),
        base_url=settings.base_url,
        fetcher=fetcher_ if fetcher_ is not None else fetcher(settings),
        status_list_size=settings.status_list_size,
    )
