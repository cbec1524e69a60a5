"""Server-drawn charts: escaped text, a value per label, accessible names, no style attribute."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from merito.web.charts import PALETTE, Bar, Series, Stage, bar_chart, funnel_chart, line_chart


def _gettext(message: str) -> str:
    return message


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_line_chart_draws_each_series_labels_the_image_and_tabulates_every_value() -> None:
    html = str(
        line_chart(
            chart_id="activity",
            title="Activity <over> time",
            x_labels=["2026-11-01", "2026-11-02", "2026-11-03"],
            series=[Series("Issued", [1, 5, 2]), Series("Claimed & kept", [0, 3, 1])],
            gettext=_gettext,
        )
    )
    tags = _tags(html)
    assert sum(1 for tag, _ in tags if tag == "polyline") == 4  # wide and narrow drawings
    svg = next(attrs for tag, attrs in tags if tag == "svg" and attrs.get("role") == "img")
    assert svg["aria-labelledby"] == "activity-title activity-desc"
    assert svg["viewbox"] == "0 0 720 300"
    narrow = [a for t, a in tags if t == "svg" and a.get("role") == "img"][1]
    assert narrow["aria-labelledby"] == "activity-narrow-title activity-narrow-desc"
    assert narrow["viewbox"] == "0 0 360 280"
    assert "Activity &lt;over&gt; time" in html
    assert "<over>" not in html
    assert "Claimed &amp; kept: 4 in total, at most 3 (2026-11-02)" in html
    assert "Issued: 8 in total, at most 5 (2026-11-02)" in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td></tr>', html)
    assert rows == [("2026-11-01", "1", "0"), ("2026-11-02", "5", "3"), ("2026-11-03", "2", "1")]
    assert all("style" not in attrs for _, attrs in tags)


def test_line_chart_refuses_a_series_of_the_wrong_length_and_says_when_empty() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart(
            chart_id="c",
            title="t",
            x_labels=["a", "b", "c"],
            series=[Series("s", [1, 2])],
            gettext=_gettext,
        )
    empty = str(line_chart(chart_id="c", title="t", x_labels=[], series=[], gettext=_gettext))
    assert "No data for this period." in empty
    assert "<svg" not in empty


def test_line_chart_y_axis_reaches_the_peak_in_whole_steps() -> None:
    html = str(
        line_chart(
            chart_id="c",
            title="t",
            x_labels=["a", "b"],
            series=[Series("s", [0, 13])],
            gettext=_gettext,
        )
    )
    ticks = re.findall(r'text-anchor="end" font-size="12" fill="#3d4453">([\d,]+)<', html)
    assert ticks == ["0", "5", "10", "15"] * 2


def test_bar_chart_lengths_are_proportional_and_labels_escaped() -> None:
    html = str(
        bar_chart(
            chart_id="skills",
            title="Top skills",
            bars=[Bar("use <Python>", 10), Bar("SQL", 5), Bar("none", 0)],
            gettext=_gettext,
        )
    )
    widths = [
        float(attrs["width"] or 0)
        for tag, attrs in _tags(html)
        if tag == "rect" and attrs.get("fill") == PALETTE[0][0]
    ]
    # the zero bar draws only its track; the narrow drawing (360 wide) follows the wide one
    assert widths == [650.0, 325.0, 290.0, 145.0]
    assert "use &lt;Python&gt;: 10" in html


def test_funnel_states_each_stage_share_of_the_first() -> None:
    html = str(
        funnel_chart(
            chart_id="f",
            title="Pathway",
            stages=[Stage("Started", 200), Stage("Half way", 50), Stage("Completed", 10)],
            gettext=_gettext,
        )
    )
    assert "Started — 200 (100%)" in html
    assert "Half way — 50 (25%)" in html
    assert "Completed — 10 (5%)" in html
    french = str(
        funnel_chart(
            chart_id="f",
            title="P",
            stages=[Stage("A", 3), Stage("B", 1)],
            gettext=_gettext,
            lang="fr",
        )
    )
    assert "<td>33\xa0%</td>" in french  # French puts a no-break space before %


def test_every_series_colour_passes_text_contrast_on_white() -> None:
    for colour, _ in PALETTE:
        ratio = (1.0 + 0.05) / (_relative_luminance(colour) + 0.05)
        assert ratio >= 4.5, colour
