"""Small server-rendered SVG charts: a line chart, a bar chart and a sparkline (no script, no CDN).

Every chart is a well-formed XML fragment a page embeds as it is (Jinja: ``{{ chart | safe }}``; every text
in it is escaped here):

- ``line_chart`` / ``bar_chart`` return a ``<figure class="chart">`` holding the ``<svg>`` (``role="img"``, a
  ``<title>`` and a ``<desc>``), axes with zh-CN labels, one ``<title>`` per point (“2026-11-30：87.5 %”, shown on
  hover and read by screen readers) and, after it, the same figures as a table in ``<details class="chart-data">``
  (数据表) — the text fallback for readers without SVG, opened with one click and read by screen readers;
- readable in print and without colour: several series differ by marker shape and dash pattern as well as
  colour, the legend names each with its marker, bars carry their value as text;
- a value ``None`` is a gap (a rate with nothing to divide by): no point, “—” in the table;
- an empty series draws the axes and “暂无数据” (no data), never fails.

``sparkline(values, width, height)`` is a bare inline ``<svg>`` (no axes, no table) for a figure in a table cell:
its ``<title>`` states the last value, the lowest and the highest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

NO_DATA = "暂无数据"
# Colours are a help, never the only difference: each series also has its own marker and dash pattern.
COLOURS = ("#1f4e9c", "#b3361b", "#2f7d32", "#7a4a9e")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 24, 16, 40


@dataclass(frozen=True)
class Series:
    """One line: its name (the legend) and one value per label (``None`` for a gap)."""

    name: str
    values: Sequence[float | None]


def fmt(value: float | None, *, unit: str = "", percent: bool = False) -> str:
    """A value as the chart and its table show it: “—” for none, one decimal for a rate, integers plainly."""
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f} %"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text} {unit}".rstrip() if unit else text


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Axis ticks from 0 to at least ``top`` in round steps (1, 2 or 5 × 10ⁿ)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _marker(kind: str, x: float, y: float, colour: str, title: str) -> str:
    tip = f"<title>{escape(title)}</title>"
    if kind == "square":
        shape = f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}">'
        return f"{shape}{tip}</rect>"
    if kind == "triangle":
        points = f"{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}"
        return f'<polygon points="{points}" fill="{colour}">{tip}</polygon>'
    if kind == "diamond":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{points}" fill="{colour}">{tip}</polygon>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">{tip}</circle>'


class _Frame:
    """The plot area, its y scale and the x position of each label."""

    def __init__(self, width: int, height: int, labels: Sequence[str], top: float, *, percent: bool) -> None:
        self.width, self.height = width, height
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM
        self.labels = list(labels)
        self.percent = percent
        self.ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if percent else nice_ticks(top)
        self.y_max = self.ticks[-1] or 1.0

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * min(max(value, 0.0), self.y_max) / self.y_max

    def slot(self) -> float:
        return (self.right - self.left) / max(len(self.labels), 1)

    def x(self, index: int) -> float:
        return self.left + self.slot() * (index + 0.5)

    def axes(self, unit: str) -> list[str]:
        parts = [
            f'<line class="axis" x1="{self.left}" y1="{self.bottom}" x2="{self.right}" y2="{self.bottom}" '
            'stroke="#333"/>',
            f'<line class="axis" x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{self.bottom}" stroke="#333"/>',
        ]
        for tick in self.ticks:
            y = self.y(tick)
            text = f"{tick * 100:.0f}%" if self.percent else fmt(tick)
            parts.append(
                f'<line class="grid" x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" stroke="#ccc" '
                'stroke-width="0.5"/>'
            )
            parts.append(
                f'<text class="tick" x="{self.left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                f"{escape(text)}</text>"
            )
        if unit and not self.percent:
            parts.append(f'<text class="unit" x="4" y="{self.top - 4}" font-size="11">{escape(unit)}</text>')
        # At most about eight labels under the axis (every label is in each point's title and in the table).
        every = max(1, math.ceil(len(self.labels) / 8))
        for index, label in enumerate(self.labels):
            if (len(self.labels) - 1 - index) % every:  # counted back from the last, which is always shown
                continue
            parts.append(
                f'<text class="label" x="{self.x(index):.1f}" y="{self.bottom + 16}" text-anchor="middle" '
                f'font-size="11">{escape(label)}</text>'
            )
        if not self.labels:
            parts.append(
                f'<text class="empty" x="{(self.left + self.right) / 2:.1f}" y="{(self.top + self.bottom) / 2:.1f}" '
                f'text-anchor="middle" font-size="13">{NO_DATA}</text>'
            )
        return parts


def _svg(title: str, desc: str, frame: _Frame, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" width="{frame.width}" '
        f'height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>"
    )


def _table(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str, percent: bool, label_header: str
) -> str:
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(
            f"<td>{escape(fmt(s.values[i] if i < len(s.values) else None, unit=unit, percent=percent))}</td>"
            for s in series
        )
        + "</tr>"
        for i, label in enumerate(labels)
    )
    if not labels:
        rows = f'<tr><td colspan="{len(series) + 1}">{NO_DATA}</td></tr>'
    return (
        '<details class="chart-data"><summary>数据表</summary>'
        f'<table class="list"><caption>{escape(title)}（数据表）</caption>'
        f'<thead><tr><th scope="col">{escape(label_header)}</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</details>"
    )


def _legend(series: Sequence[Series], frame: _Frame) -> list[str]:
    if len(series) < 2:
        return []
    parts: list[str] = []
    x = float(frame.left)
    y = frame.height - 8
    for index, item in enumerate(series):
        colour, dash, marker = COLOURS[index % 4], DASHES[index % 4], MARKERS[index % 4]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<g class="legend"><line x1="{x:.1f}" y1="{y - 4}" x2="{x + 22:.1f}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>{_marker(marker, x + 11, y - 4, colour, item.name)}'
            f'<text x="{x + 26:.1f}" y="{y}" font-size="11">{escape(item.name)}</text></g>'
        )
        x += 40 + 12 * len(item.name)
    return parts


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    percent: bool = False,
    width: int = 640,
    height: int = 240,
    label_header: str = "日期",
) -> str:
    """A line chart of one or more series over ``labels`` (e.g. days), with its data table.

    ``percent``: values are fractions 0–1 shown as percentages on a 0–100 % axis; otherwise the axis runs from 0
    to a round number above the largest value, and ``unit`` names what is counted (“件”).
    """
    values = [v for s in series for v in s.values if v is not None]
    frame = _Frame(width, height + (14 if len(series) > 1 else 0), labels, max(values, default=0.0), percent=percent)
    body = frame.axes(unit)
    for index, item in enumerate(series):
        colour, dash, marker = COLOURS[index % 4], DASHES[index % 4], MARKERS[index % 4]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        runs: list[list[tuple[float, float]]] = [[]]
        points: list[str] = []
        for i, label in enumerate(frame.labels):
            value = item.values[i] if i < len(item.values) else None
            if value is None:
                runs.append([])
                continue
            x, y = frame.x(i), frame.y(value)
            runs[-1].append((x, y))
            name = f"{item.name} " if len(series) > 1 else ""
            points.append(_marker(marker, x, y, colour, f"{label}：{name}{fmt(value, unit=unit, percent=percent)}"))
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(
                    f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    f"{dash_attr}/>"
                )
        body.append(f'<g class="points" data-series={quoteattr(item.name)}>{"".join(points)}</g>')
    body.extend(_legend(series, frame))
    desc = "；".join(f"{s.name}，{len(frame.labels)} 个点" for s in series) or NO_DATA
    return (
        f'<figure class="chart">{_svg(title, desc, frame, body)}<figcaption>{escape(title)}</figcaption>'
        f"{_table(title, labels, series, unit=unit, percent=percent, label_header=label_header)}</figure>"
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    name: str = "",
    unit: str = "",
    percent: bool = False,
    width: int = 640,
    height: int = 240,
    label_header: str = "日期",
) -> str:
    """A bar chart, one bar per label, each bar carrying its value as text (and in its title)."""
    present = [v for v in values if v is not None]
    frame = _Frame(width, height, labels, max(present, default=0.0), percent=percent)
    body = frame.axes(unit)
    bar_width = max(frame.slot() * 0.7, 1.0)
    show_values = frame.slot() >= 18
    for i, label in enumerate(frame.labels):
        value = values[i] if i < len(values) else None
        if value is None:
            continue
        x, y = frame.x(i), frame.y(value)
        text = fmt(value, unit=unit, percent=percent)
        body.append(
            f'<rect class="bar" x="{x - bar_width / 2:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
            f'height="{frame.bottom - y:.1f}" fill="{COLOURS[0]}"><title>{escape(f"{label}：{text}")}</title></rect>'
        )
        if show_values:
            body.append(
                f'<text class="value" x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10">'
                f"{escape(fmt(value, percent=percent))}</text>"
            )
    series = [Series(name or title, list(values))]
    desc = f"{len(frame.labels)} 个柱" if frame.labels else NO_DATA
    return (
        f'<figure class="chart">{_svg(title, desc, frame, body)}<figcaption>{escape(title)}</figcaption>'
        f"{_table(title, labels, series, unit=unit, percent=percent, label_header=label_header)}</figure>"
    )


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 24) -> str:
    """A bare inline line of ``values`` (oldest first), its ``<title>`` giving the last, lowest and highest value.

    Gaps (``None``) break the line; no values, or none present, give an empty box titled “暂无数据”.
    """
    present = [v for v in values if v is not None]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"'
    )
    if not present:
        return f"{head} aria-label={quoteattr(NO_DATA)}><title>{NO_DATA}</title></svg>"
    last = next(v for v in reversed(values) if v is not None)
    low, high = min(present), max(present)
    summary = f"最新 {fmt(last)}，最低 {fmt(low)}，最高 {fmt(high)}"
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    runs: list[list[str]] = [[]]
    end = ""
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        x = 2 + step * i if len(values) > 1 else width / 2
        y = height - 2 - (height - 4) * (value - low) / span
        runs[-1].append(f"{x:.1f},{y:.1f}")
        end = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{COLOURS[0]}"/>'
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="{COLOURS[0]}" stroke-width="1.5"/>'
        for run in runs
        if len(run) > 1
    )
    return f"{head} aria-label={quoteattr(summary)}><title>{escape(summary)}</title>{lines}{end}</svg>"
