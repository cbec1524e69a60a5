"""Jinja2 templates: one autoescaping environment per language (gettext installed in each).

An environment per language, not translations swapped per request: the environments are
shared by every request thread, and Jinja's installed gettext lives in the environment.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from merito import __version__
from merito.web import i18n

__all__ = ["TEMPLATE_DIR", "environment"]

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"


def _datetime_filter(lang: str) -> Any:
    def format_moment(value: datetime | None, style: str = "medium") -> str:
        if value is None:
            return ""
        return format_datetime(value, format=style, locale=lang, tzinfo=value.tzinfo)

    return format_moment


def _date_filter(lang: str) -> Any:
    def format_day(value: datetime | None, style: str = "long") -> str:
        if value is None:
            return ""
        return format_date(value, format=style, locale=lang)

    return format_day


@functools.cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing value is a bug, never an empty string
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(lang), newstyle=True
    )
    env.filters["datetime"] = _datetime_filter(lang)
    env.filters["date"] = _date_filter(lang)
    env.globals["version"] = __version__
    env.globals["languages"] = i18n.LANGUAGES
    return env
