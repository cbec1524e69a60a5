"""Charts drawn on the server: inline SVG line, bar and funnel charts, each with its data as text.

No script and no style attribute (the page CSP forbids inline style): colours, dashes and fonts
are SVG presentation attributes, and the drawing scales with its ``viewBox`` (``width="100%"``,
no fixed height). Every chart is a ``<figure>``: the SVG is one image (``role="img"``) named by
its title and described by a sentence of totals, its legend is text, and its numbers are a
real table in a ``<details>`` ("Show the data") for anyone who cannot read the drawing.

The series colours all reach 4.5:1 on white (text contrast, more than the 3:1 WCAG 1.4.11 asks
of graphics), and the series differ by dash pattern and marker too, never by colour alone
(WCAG 1.4.1). Callers pass translated labels and the page's ``gettext``; ``chart_id`` must be
unique in the page (it prefixes the ids the image is labelled with).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from babel.numbers import format_decimal, format_percent
from markupsafe import Markup, escape

__all__ = ["PALETTE", "Bar", "Series", "Stage", "bar_chart", "funnel_chart", "line_chart"]

Gettext = Callable[[str], str]

#: (colour, dash pattern) per series; every colour has >= 4.5:1 contrast on white
PALETTE: Final = (
    ("#2a3fbf", ""),  # brand blue, 8.0:1
    ("#146c2e", "8 4"),  # green, 6.6:1
    ("#b3261e", "2 3"),  # red, 6.5:1
    ("#7a4d00", "10 3 2 3"),  # brown, 7.4:1
    ("#6a1b9a", "4 4"),  # purple, 9.5:1
    ("#00695c", "12 4 4 4"),  # teal, 6.2:1
)
_INK: Final = "#14171f"
_SOFT: Final = "#3d4453"
_AXIS: Final = "#6b7486"
_GRID: Final = "#dde1ea"
_TRACK: Final = "#eef0f5"
_FONT: Final = "system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, Arial, sans-serif"
_MARKERS_UP_TO: Final = 31  # more points than this and markers would only blur the line


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a label and one value per x label."""

    label: str
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a funnel (the first stage is 100 %)."""

    label: str
    value: float


def _number(value: float, lang: str) -> str:
    if float(value).is_integer():
        return format_decimal(int(value), locale=lang)
    return format_decimal(round(value, 2), locale=lang)


def _nice_step(maximum: float, ticks: int = 4) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``ticks`` grid lines up to ``maximum``."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if raw <= factor * power)
    # counts: never a grid line between two whole numbers
    return max(step, 1.0) if maximum >= 1 else step


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = 13,
    fill: str = _INK,
    weight: str | None = None,
) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"'
        f' fill="{fill}"{bold}>{escape(content)}</text>'
    )


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-family="{_FONT}" preserveAspectRatio="xMinYMin meet" focusable="false">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>{body}</svg>'
    )


def _both(
    chart_id: str,
    title: str,
    desc: str,
    wide: tuple[int, int, str],
    narrow: tuple[int, int, str],
) -> str:
    """The drawing twice: a wide one and a narrow one for phones (studio.css shows one), so
    its text stays legible at either width; the hidden one is hidden from everyone."""
    return (
        f'<div class="chart-wide">{_svg(chart_id, *wide[:2], title, desc, wide[2])}</div>'
        f'<div class="chart-narrow">'
        f"{_svg(chart_id + '-narrow', *narrow[:2], title, desc, narrow[2])}</div>"
    )


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]], summary: str) -> str:
    head_html = "".join(f'<th scope="col">{escape(cell)}</th>' for cell in head)
    body_html = "".join(
        "<tr>"
        + f'<th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<details class="chart-data"><summary>{escape(summary)}</summary>'
        # a wide table scrolls inside its frame on a phone: focusable, so keys scroll it too
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{escape(caption)}">'
        f'<table><caption class="visually-hidden">{escape(caption)}'
        f"</caption><thead><tr>{head_html}</tr></thead><tbody>{body_html}</tbody></table></div>"
        "</details>"
    )


def _figure(chart_id: str, kind: str, title: str, inner: str) -> Markup:
    return Markup(  # noqa: S704 - every piece of text in it went through escape()
        f'<figure class="chart chart-{kind}" id="{escape(chart_id)}">'
        f'<figcaption class="chart-title">{escape(title)}</figcaption>{inner}</figure>'
    )


def _empty(chart_id: str, kind: str, title: str, message: str) -> Markup:
    return _figure(chart_id, kind, title, f'<p class="chart-empty">{escape(message)}</p>')


def _swatch(colour: str, dash: str) -> str:
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        '<svg class="chart-swatch" viewBox="0 0 28 10" width="28" height="10" aria-hidden="true"'
        f' focusable="false"><line x1="1" y1="5" x2="27" y2="5" stroke="{colour}"'
        f' stroke-width="3"{dash_attr}/></svg>'
    )


def _marker(index: int, x: float, y: float, colour: str) -> str:
    shape = index % 3
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if shape == 1:
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    return (
        f'<path d="M{x:.1f} {y - 4.5:.1f} L{x + 4.5:.1f} {y + 3.5:.1f} L{x - 4.5:.1f}'
        f' {y + 3.5:.1f} Z" fill="{colour}"/>'
    )


def line_chart(
    *,
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    gettext: Gettext,
    lang: str = "en",
    x_heading: str | None = None,
) -> Markup:
    """Several series over the same x labels (e.g. days), with a legend and a data table."""
    _ = gettext
    if not x_labels or not series:
        return _empty(chart_id, "line", title, _("No data for this period."))
    for one in series:
        if len(one.values) != len(x_labels):
            raise ValueError(
                f"series {one.label!r} has {len(one.values)} values for {len(x_labels)} labels"
            )
    peak = max((max(one.values, default=0) for one in series), default=0)
    step = _nice_step(peak)
    y_max = step * max(1, math.ceil(peak / step))
    count = len(x_labels)

    def draw(width: int, height: int, max_labels: int) -> str:
        left, right, top, bottom = 52, 16, 14, 40
        plot_w, plot_h = width - left - right, height - top - bottom

        def x_at(i: int) -> float:
            return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

        def y_at(value: float) -> float:
            return top + plot_h - plot_h * (value / y_max)

        parts: list[str] = []
        tick = 0.0
        while tick <= y_max + 1e-9:
            y = y_at(tick)
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{_GRID}"'
                ' stroke-width="1"/>'
            )
            parts.append(
                _text(left - 8, y + 4, _number(tick, lang), anchor="end", size=12, fill=_SOFT)
            )
            tick += step
        parts.append(
            f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}"'
            f' stroke="{_AXIS}" stroke-width="1.5"/>'
        )
        # at most six labels, evenly spread, the first and the last always shown
        ticks = min(count, max_labels)
        shown = sorted(
            {round(j * (count - 1) / (ticks - 1)) for j in range(ticks)} if ticks > 1 else {0}
        )
        for i in shown:
            anchor = (
                "start"
                if i == 0 and count > 1
                else "end"
                if i == count - 1 and count > 1
                else "middle"
            )
            parts.append(
                _text(x_at(i), height - 14, x_labels[i], anchor=anchor, size=12, fill=_SOFT)
            )
        for index, one in enumerate(series):
            colour, dash = PALETTE[index % len(PALETTE)]
            points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(one.values))
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"'
                f' stroke-linejoin="round" stroke-linecap="round"{dash_attr}/>'
            )
            if count <= _MARKERS_UP_TO:
                parts.extend(
                    _marker(index, x_at(i), y_at(v), colour) for i, v in enumerate(one.values)
                )
        return "".join(parts)

    totals = []
    for one in series:
        total = sum(one.values)
        peak_at = max(range(count), key=one.values.__getitem__)
        totals.append(
            _("%(series)s: %(total)s in total, at most %(peak)s (%(label)s)")
            % {
                "series": one.label,
                "total": _number(total, lang),
                "peak": _number(one.values[peak_at], lang),
                "label": x_labels[peak_at],
            }
        )
    desc = (
        _("From %(first)s to %(last)s.") % {"first": x_labels[0], "last": x_labels[-1]}
        + " "
        + "; ".join(totals)
        + "."
    )
    legend = "".join(
        f"<li>{_swatch(*PALETTE[i % len(PALETTE)])}<span>{escape(one.label)}</span></li>"
        for i, one in enumerate(series)
    )
    rows = [[x_labels[i], *(_number(one.values[i], lang) for one in series)] for i in range(count)]
    inner = (
        f'<ul class="chart-legend">{legend}</ul>'
        + _both(chart_id, title, desc, (720, 300, draw(720, 300, 6)), (360, 280, draw(360, 280, 3)))
        + _table(
            title,
            [x_heading or _("Date"), *(one.label for one in series)],
            rows,
            _("Show the data"),
        )
    )
    return _figure(chart_id, "line", title, inner)


def _truncate(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    gettext: Gettext,
    lang: str = "en",
    label_heading: str | None = None,
    value_heading: str | None = None,
) -> Markup:
    """Horizontal bars, each with its label above it and its value at its end."""
    _ = gettext
    if not bars:
        return _empty(chart_id, "bar", title, _("No data for this period."))
    row = 46
    height = row * len(bars) + 6
    peak = max(bar.value for bar in bars) or 1

    def draw(width: int, limit: int) -> str:
        value_room = 70
        parts: list[str] = []
        for i, bar in enumerate(bars):
            y = i * row + 4
            length = max(2.0, (width - value_room) * bar.value / peak) if bar.value > 0 else 0.0
            value = _number(bar.value, lang)
            parts.append(f"<g><title>{escape(bar.label)}: {escape(value)}</title>")
            parts.append(_text(0, y + 14, _truncate(bar.label, limit), size=14))
            parts.append(
                f'<rect x="0" y="{y + 20}" width="{width - value_room:.1f}" height="16" rx="3"'
                f' fill="{_TRACK}"/>'
            )
            if length:
                parts.append(
                    f'<rect x="0" y="{y + 20}" width="{length:.1f}" height="16" rx="3"'
                    f' fill="{PALETTE[0][0]}"/>'
                )
            parts.append(_text(width - value_room + 8, y + 33, value, size=14, weight="650"))
            parts.append("</g>")
        return "".join(parts)

    desc = "; ".join(f"{bar.label}: {_number(bar.value, lang)}" for bar in bars) + "."
    inner = _both(
        chart_id, title, desc, (720, height, draw(720, 80)), (360, height, draw(360, 38))
    ) + _table(
        title,
        [label_heading or _("Item"), value_heading or _("Value")],
        [[bar.label, _number(bar.value, lang)] for bar in bars],
        _("Show the data"),
    )
    return _figure(chart_id, "bar", title, inner)


def funnel_chart(
    *,
    chart_id: str,
    title: str,
    stages: Sequence[Stage],
    gettext: Gettext,
    lang: str = "en",
    stage_heading: str | None = None,
    value_heading: str | None = None,
) -> Markup:
    """Stages as centred bars narrowing from the first; each says its share of the first."""
    _ = gettext
    if not stages:
        return _empty(chart_id, "funnel", title, _("No data for this period."))
    row = 58
    height = row * len(stages) + 4
    first = stages[0].value
    shares = [
        format_percent(stage.value / first if first > 0 else 0.0, locale=lang) for stage in stages
    ]

    def draw(width: int, limit: int) -> str:
        parts: list[str] = []
        for i, (stage, share_text) in enumerate(zip(stages, shares, strict=True)):
            share = stage.value / first if first > 0 else 0.0
            y = i * row + 4
            bar_w = max(4.0, width * share) if stage.value > 0 else 0.0
            colour = (PALETTE[0][0], PALETTE[5][0])[i % 2]  # blue, teal: neighbours stay distinct
            label = f"{_truncate(stage.label, limit)} — {_number(stage.value, lang)} ({share_text})"
            parts.append(_text(0, y + 15, label, size=14))
            parts.append(
                f'<rect x="0" y="{y + 22}" width="{width}" height="24" rx="3" fill="{_TRACK}"/>'
            )
            if bar_w:
                parts.append(
                    f'<rect x="{(width - bar_w) / 2:.1f}" y="{y + 22}" width="{bar_w:.1f}"'
                    f' height="24" rx="3" fill="{colour}"/>'
                )
        return "".join(parts)

    desc = (
        "; ".join(
            f"{stage.label}: {_number(stage.value, lang)} ({share})"
            for stage, share in zip(stages, shares, strict=True)
        )
        + "."
    )
    inner = _both(
        chart_id, title, desc, (720, height, draw(720, 60)), (360, height, draw(360, 26))
    ) + _table(
        title,
        [stage_heading or _("Stage"), value_heading or _("Count"), _("Share of the first stage")],
        [
            [stage.label, _number(stage.value, lang), share]
            for stage, share in zip(stages, shares, strict=True)
        ],
        _("Show the data"),
    )
    return _figure(chart_id, "funnel", title, inner)
