"""The pages' languages: every message of the templates and views is translated into French,
with the same placeholders, and a request's language is picked as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from merito.web import i18n

WEB = Path(i18n.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            str(WEB),
            method_map=method_map,
            options_map=options,
            keywords={"_": None, "gettext": None},
        )
    }


def test_every_message_has_a_french_translation_with_the_same_placeholders() -> None:
    catalog = i18n.merged_catalog("fr")
    messages = extracted()
    assert len(messages) > 40  # the extraction itself works
    missing = sorted(
        m for m in messages if m not in catalog or not catalog[m].string or catalog[m].fuzzy
    )
    assert missing == [], "translate these in locale/fr/LC_MESSAGES/<area>.po: " + repr(missing)
    for message in messages:
        translated = catalog[message].string
        assert isinstance(translated, str)
        assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(message)), message


def test_the_compiled_catalog_translates() -> None:
    assert i18n.translations("fr").gettext("Log in") == "Se connecter"
    assert i18n.translations("en").gettext("Log in") == "Log in"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.translations("xx")


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        ("fr", None, "en", "fr"),
        ("de", "fr", "en", "fr"),  # an unknown ?lang= falls back to the cookie
        (None, None, "de-DE,fr;q=0.8,en;q=0.5", "fr"),
        (None, None, "en-GB,fr;q=0.9", "en"),
        (None, None, "fr;q=0,en;q=0.1", "en"),  # q=0 means "not this one"
        (None, None, "fr-CA", "fr"),
        (None, None, "es, it;q=0.9", "en"),
        (None, None, "fr;q=abc", "en"),
    ],
)
def test_negotiation(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.negotiate(query=query, cookie=cookie, accept_language=accept) == expected
