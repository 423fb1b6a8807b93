"""The server-rendered SVG charts: well-formed, every point titled, labels and a data table, empty series handled."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from services.gateway import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own markup, not untrusted input


def test_line_chart_is_valid_svg_with_a_titled_point_per_value_and_a_table() -> None:
    labels = ["11-28", "11-29", "11-30"]
    markup = charts.line_chart("准时率", labels, [charts.Series("准时率", [0.5, None, 0.875])], percent=True)
    figure = parse(markup)
    assert figure.tag == "figure"
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title") == "准时率"
    titles = [t.text for t in svg.iter(f"{SVG}title")][1:]
    assert titles == ["11-28：50.0 %", "11-30：87.5 %"]  # the gap has no point
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "100%" in texts
    assert "0%" in texts
    assert "11-29" in texts
    # a gap breaks the line: no polyline joins two points across it
    assert not list(svg.iter(f"{SVG}polyline"))
    rows = [[c.text for c in row] for row in figure.iter("tr")]
    assert rows[1:] == [["11-28", "50.0 %"], ["11-29", "—"], ["11-30", "87.5 %"]]


def test_several_series_differ_by_marker_and_dash_not_colour_alone_and_have_a_legend() -> None:
    labels = [f"第{i}周" for i in range(1, 5)]
    markup = charts.line_chart(
        "趋势", labels, [charts.Series("全部", [1, 2, 3, 4]), charts.Series("民政局", [0, 1, 1, 2])], unit="件"
    )
    svg = parse(markup).find(f"{SVG}svg")
    assert svg is not None
    lines = list(svg.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert lines[0].get("stroke-dasharray") is None
    assert lines[1].get("stroke-dasharray")
    assert len(list(svg.iter(f"{SVG}circle"))) == 4 + 1  # series 1 points + its legend marker
    assert len(list(svg.iter(f"{SVG}rect"))) == 4 + 1  # series 2 as squares
    legend = [g.findtext(f"{SVG}text") for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert legend == ["全部", "民政局"]
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "第4周：民政局 2 件" in titles


def test_bar_chart_carries_values_as_text_and_escapes_labels() -> None:
    markup = charts.bar_chart("逾期数", ["<a>&b", "11-30"], [3, 0], unit="件")
    svg = parse(markup).find(f"{SVG}svg")
    assert svg is not None
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [b.findtext(f"{SVG}title") for b in bars] == ["<a>&b：3 件", "11-30：0 件"]
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "value"] == ["3", "0"]
    assert "<a>&b" in [t.text for t in svg.iter(f"{SVG}text")]


def test_empty_series_draw_axes_and_say_no_data() -> None:
    for markup in (charts.line_chart("空", [], [charts.Series("空", [])]), charts.bar_chart("空", [], [])):
        figure = parse(markup)
        svg = figure.find(f"{SVG}svg")
        assert svg is not None
        assert charts.NO_DATA in [t.text for t in svg.iter(f"{SVG}text")]
        assert charts.NO_DATA in [c.text for c in figure.iter("td")]


def test_all_values_missing_keeps_a_valid_chart() -> None:
    figure = parse(charts.line_chart("率", ["a", "b"], [charts.Series("率", [None, None])], percent=True))
    assert [c.text for c in figure.iter("td")] == ["—", "—"]


def test_sparkline_titles_last_low_high_and_handles_gaps_and_empty() -> None:
    svg = parse(charts.sparkline([3, 1, None, 7, 5], 100, 20))
    assert svg.get("width") == "100"
    assert svg.get("height") == "20"
    assert svg.findtext(f"{SVG}title") == "最新 5，最低 1，最高 7"
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2
    empty = parse(charts.sparkline([]))
    assert empty.findtext(f"{SVG}title") == charts.NO_DATA
    flat = parse(charts.sparkline([2.0, 2.0]))
    assert flat.findtext(f"{SVG}title") == "最新 2，最低 2，最高 2"
    one = parse(charts.sparkline([4]))
    assert one.findtext(f"{SVG}title") == "最新 4，最低 4，最高 4"


def test_nice_ticks_are_round_and_cover_the_top() -> None:
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(7) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert charts.nice_ticks(100)[-1] >= 100


def test_thirty_days_show_a_few_spaced_axis_labels_ending_with_the_last_and_every_point_titled() -> None:
    labels = [f"11-{d:02d}" for d in range(1, 31)]
    svg = parse(charts.bar_chart("逾期", labels, list(range(30)), unit="件")).find(f"{SVG}svg")
    assert svg is not None
    shown = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "label"]
    assert len(shown) <= 8
    assert shown[-1] == "11-30"
    positions = [float(t.get("x") or 0) for t in svg.iter(f"{SVG}text") if t.get("class") == "label"]
    assert min(b - a for a, b in itertools.pairwise(positions)) > 40  # never overlapping
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 30
