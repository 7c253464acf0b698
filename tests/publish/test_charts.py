"""Chart axes: round steps (1, 2 or 5 times a power of ten) from 0 past the highest value."""

from __future__ import annotations

import datetime as dt

import lxml.html
import pytest

from publish.charts import line_chart, round_ticks


@pytest.mark.parametrize("highest, ticks", [
    (2047, [0, 500, 1000, 1500, 2000, 2500]),     # the participating list in May 2026 (was 507, 1014, ...)
    (1834, [0, 500, 1000, 1500, 2000]),
    (324, [0, 100, 200, 300, 400]),               # Florida's baseline figure
    (296, [0, 100, 200, 300]),
    (47, [0, 10, 20, 30, 40, 50]),
    (7, [0, 2, 4, 6, 8]),
    (0, [0, 1, 2]),                               # an empty series still has an axis
])
def test_round_ticks(highest, ticks):
    assert round_ticks(highest) == ticks


def test_the_chart_labels_its_axis_with_round_ticks():
    chart = line_chart("c", "t", {"all": [(dt.date(2025, 2, 21), 151), (dt.date(2026, 5, 14), 2047)]})
    svg = lxml.html.fromstring(chart)
    assert [t.text for t in svg.cssselect("text.tick")] == ["0", "500", "1000", "1500", "2000", "2500"]
    top_tick = svg.cssselect("text.tick")[-1]
    highest_point = svg.cssselect("circle.point")[-1]
    assert float(top_tick.get("y")) - 4 < float(highest_point.get("cy"))       # the axis reaches past the data
