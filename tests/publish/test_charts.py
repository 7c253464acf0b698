"""Chart axes: round steps (1, 2 or 5 times a power of ten) from 0 past the highest value."""

from __future__ import annotations

import datetime as dt

import lxml.html
import pytest

from publish.charts import MOST_POINTS, line_chart, round_ticks, thin


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


def _days(*pairs):
    return [(dt.date(2025, 1, 1) + dt.timedelta(days=d), v) for d, v in pairs]


@pytest.mark.parametrize("points, most, drawn", [
    # at most ``most`` points: every point, two on one day included (the real history's charts)
    (_days((0, 5), (0, 6), (1, 7)), 3, _days((0, 5), (0, 6), (1, 7))),
    # more: the last point of each day (a later list of the day replaces an earlier one)
    (_days((0, 5), (0, 6), (1, 7), (1, 8), (2, 9)), 3, _days((0, 6), (1, 8), (2, 9))),
    # still more: the first and last, and from each bucket the point of the largest triangle
    (_days((0, 1), (1, 1), (2, 9), (3, 1), (4, 1), (5, 1), (6, 1)), 4, _days((0, 1), (2, 9), (3, 1), (6, 1))),
    # a step is kept where it happens, with its own day and value
    (_days(*[(d, 10 if d < 50 else 20) for d in range(100)]), 4, _days((0, 10), (49, 10), (50, 20), (99, 20))),
    # a flat series keeps its first point of each bucket
    (_days(*[(d, 3) for d in range(10)]), 4, _days((0, 3), (1, 3), (5, 3), (9, 3))),
])
def test_a_long_series_is_thinned(points, most, drawn):
    assert thin(points, most) == drawn


def test_every_drawn_point_is_a_point_of_the_series_and_the_chart_says_it_is_thinned():
    points = [(dt.date(2023, 1, 1) + dt.timedelta(days=i // 3), 100 + (i * 37) % 50) for i in range(3 * 2000)]
    svg = lxml.html.fromstring(line_chart("c", "t", {"all": points}))
    dots = [(dt.date.fromisoformat(c.get("data-date")), float(c.get("data-value")))
            for c in svg.cssselect("circle.point")]
    assert len(dots) == MOST_POINTS
    daily = dict(points)      # the last value of each day
    assert all(daily[day] == value for day, value in dots)
    assert dots[0][0] == points[0][0] and dots[-1] == points[-1]
    assert svg.cssselect("text.thinned")[0].text == f"thinned: the last point of each day, at most {MOST_POINTS} a series"


def test_a_short_series_is_drawn_whole_and_not_said_to_be_thinned():
    points = [(dt.date(2025, 1, 1) + dt.timedelta(days=i // 2), i) for i in range(MOST_POINTS)]
    svg = lxml.html.fromstring(line_chart("c", "t", {"all": points}))
    assert len(svg.cssselect("circle.point")) == MOST_POINTS
    assert not svg.cssselect("text.thinned")
