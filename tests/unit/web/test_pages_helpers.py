"""Where a page may send someone after logging in: only somewhere on this site."""

from __future__ import annotations

import pytest

from merito.web.pages import safe_next


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/home", "/home"),
        ("/verify?url=https%3A%2F%2Fx", "/verify?url=https%3A%2F%2Fx"),
        ("", "/home"),
        (None, "/home"),
        ("https://evil.example/", "/home"),
        ("//evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("/ok\r\nSet-Cookie: x=1", "/home"),
        ("home", "/home"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
