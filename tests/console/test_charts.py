"""The console's server-side SVG charts: Chinese labels, bars in proportion, text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from deploy.console.charts import bar_chart

pytestmark = pytest.mark.fast

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_in_proportion_and_labelled_in_chinese() -> None:
    series = [{"month": "2026-10", "amount": "1000.00"}, {"month": "2026-11", "amount": "2500"},
              {"month": "2026-12", "amount": "5000.00"}]
    svg = ET.fromstring(bar_chart(series, "amount", "发放金额(元)"))
    assert svg.attrib["aria-label"] == "发放金额(元)"
    assert svg.find(f"{SVG}title").text == "发放金额(元)"
    assert svg.find(f"{SVG}desc").text == "2026-10：1000.00；2026-11：2500；2026-12：5000.00"
    heights = [float(r.attrib["height"]) for r in svg.iter(f"{SVG}rect")]
    assert len(heights) == 3 and heights[2] > 0
    assert [round(h / heights[2], 3) for h in heights] == [0.2, 0.5, 1.0]


def test_an_empty_or_zero_series_draws_no_bar_height_and_escapes_text() -> None:
    svg_text = bar_chart([{"month": "<b>", "households": None}], "households", "户数 & 人数")
    svg = ET.fromstring(svg_text)  # well-formed: the text was escaped
    assert "<b>" not in svg_text and "&lt;b&gt;" in svg_text
    assert [float(r.attrib["height"]) for r in svg.iter(f"{SVG}rect")] == [0.0]
    assert re.search(r"<desc>无数据</desc>", bar_chart([], "amount", "金额"))
