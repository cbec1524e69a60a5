"""The pages' languages: message catalogs (gettext, via Babel) and picking a language per request.

Catalogs are the ``.po`` files under ``locale/<lang>/LC_MESSAGES/``: ``messages.po`` plus one
file per feature area (``pathways.po``...), merged in name order so that areas can be translated
without touching one shared file. They are compiled in memory the first time a language is used
(no build step: a fresh clone or an installed wheel works as is). English is the source
language. The language of a request is, in order: a ``?lang=`` query parameter (which the page
then remembers in the ``merito_lang`` cookie), that cookie, the browser's ``Accept-Language``,
English.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "Gettext",
    "merged_catalog",
    "negotiate",
    "translations",
]

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE: Final = "en"
#: code -> the language's name in itself (what the switcher shows)
LANGUAGES: Final = {"en": "English", "fr": "Français"}
LANG_COOKIE: Final = "merito_lang"

Gettext = Callable[[str], str]

_lock = threading.Lock()


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang`` (a null catalog for the source language)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    catalog = merged_catalog(lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(fp=buffer)


def merged_catalog(lang: str) -> Catalog:
    """Every ``.po`` file of ``lang`` as one catalog (``messages.po`` first, then by name)."""
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    files = sorted(folder.glob("*.po"), key=lambda p: (p.name != "messages.po", p.name))
    merged: Catalog | None = None
    with _lock:
        for path in files:
            with path.open("rb") as f:
                catalog = read_po(f, locale=lang)
            if merged is None:
                merged = catalog
                continue
            for message in catalog:
                if message.id and message.id not in merged:
                    merged[message.id] = message
    return merged if merged is not None else Catalog(locale=lang)


def _parse_accept_language(header: str) -> list[tuple[float, str]]:
    ranked: list[tuple[float, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-", 1)[0]
        if primary:
            # stable: equal weights keep the browser's order
            ranked.append((quality - index * 1e-6, primary))
    return sorted(ranked, reverse=True)


def negotiate(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to render in (see the module docstring for the order)."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    for quality, primary in _parse_accept_language(accept_language or ""):
        if quality > 0 and primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
