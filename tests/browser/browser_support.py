"""Helpers of the browser tests: screenshots at two widths and the axe-core check."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"
#: the innermost elements sticking out of the viewport (to say what to fix)
_WIDEST = """(limit) => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > limit + 1
        && ![...e.children].some(c => c.getBoundingClientRect().right > limit + 1))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
        + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')"""


def screenshot(page: Any, name: str) -> None:
    """The page as it is now, at desktop and phone width (full height), checked for sideways
    scrolling and, at phone width, with axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        # responsive: nothing wider than the screen (no sideways scrolling on a phone)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > size["width"]:
            wide = page.evaluate(_WIDEST, size["width"])
            raise AssertionError(f"{name} is {width}px wide at {label} width: {wide}")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        if label == "phone" and AXE.exists():  # the phone layout is checked too
            violations = axe_violations(page)
            assert violations == [], f"{name} at phone width: " + json.dumps(violations, indent=2)
    page.set_viewport_size(original)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations (WCAG 2.1 A/AA rules) on the page as it is."""
    if not AXE.exists():
        message = f"{AXE} is missing: run `make test` (npm ci in tests/browser/js)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # the script is evaluated, not added as a <script>: the page's CSP allows no inline script
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                'best-practice']},
                resultTypes: ['violations'],
            });
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2)
