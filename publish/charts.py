"""A small inline-SVG line chart: series of (day, value) points, plus reference markers.

Built with xml.etree, so every label is escaped by the serialiser.  Each point and marker
carries its series, day and value as data- attributes and a <title> tooltip, so the numbers
a reader sees can be checked against the database.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree import ElementTree as ET

WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 30, 40
# A series of more points than the plot is pixels wide is thinned (``thin``): more would not show.
MOST_POINTS = WIDTH - LEFT - RIGHT
T = TypeVar("T", bound=Any)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


@dataclass(frozen=True)
class Marker:
    """A figure from outside drawn at its day and value (e.g. a baseline figure)."""

    series: str
    day: dt.date
    value: float
    label: str


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def line_chart(chart_id: str, title: str, series: Mapping[str, Sequence[tuple[dt.date, float]]],
               markers: Sequence[Marker] = (), *, thinned: bool = False) -> str:
    """``thinned``: the caller has already kept the last point of each day of longer series
    (``last_of_each_day``), so the chart says it is thinned even if no series is longer now."""
    days = [d for points in series.values() for d, _ in points] + [m.day for m in markers]
    values = [v for points in series.values() for _, v in points] + [m.value for m in markers]
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "id": chart_id, "class": "chart",
                             "viewBox": f"0 0 {WIDTH} {HEIGHT}", "width": str(WIDTH), "height": str(HEIGHT),
                             "role": "img", "aria-label": title})
    _sub(svg, "title", title)
    if not days:
        _sub(svg, "text", "no accepted snapshot yet", x=LEFT, y=HEIGHT / 2)
        return ET.tostring(svg, encoding="unicode")
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    ticks = round_ticks(max(values))
    top_value = ticks[-1]

    def x(day: dt.date) -> float:
        return round(LEFT + (day - first).days / span * (WIDTH - LEFT - RIGHT), 1)

    def y(value: float) -> float:
        return round(HEIGHT - BOTTOM - value / top_value * (HEIGHT - TOP - BOTTOM), 1)

    _axes(svg, first, last, ticks, x, y)
    drawn = {name: thin(points) for name, points in series.items()}
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for index, (name, points) in enumerate(drawn.items()):
        group = _sub(svg, "g", class_="series", data_series=name)
        _sub(group, "polyline", fill="none", stroke=colours[name], stroke_width=2,
             points=" ".join(f"{x(d)},{y(v)}" for d, v in points))
        for day, value in points:
            dot = _sub(group, "circle", class_="point", cx=x(day), cy=y(value), r=3, fill=colours[name],
                       data_series=name, data_date=day.isoformat(), data_value=f"{value:g}")
            _sub(dot, "title", f"{name} {day.isoformat()}: {value:g}")
        _sub(svg, "text", name, x=WIDTH - RIGHT + 12, y=TOP + 16 * index, fill=colours[name], font_size=12)
    for marker in markers:
        cx, cy = x(marker.day), y(marker.value)
        shape = _sub(svg, "rect", class_="baseline-marker", x=cx - 5, y=cy - 5, width=10, height=10,
                     fill="none", stroke=colours.get(marker.series, "#000"), stroke_width=2,
                     transform=f"rotate(45 {cx} {cy})", data_series=marker.series,
                     data_date=marker.day.isoformat(), data_value=f"{marker.value:g}")
        _sub(shape, "title", f"{marker.label}: {marker.value:g} ({marker.day.isoformat()})")
    if markers:
        _sub(svg, "text", "◇ baseline figure", x=WIDTH - RIGHT + 12, y=TOP + 16 * (len(series) + 1), font_size=12)
    if thinned or any(len(drawn[name]) < len(points) for name, points in series.items()):
        _sub(svg, "text", f"thinned: the last point of each day, at most {MOST_POINTS} a series",
             class_="thinned", x=WIDTH - RIGHT, y=HEIGHT - 4, text_anchor="end", font_size=10, fill="#666")
    return ET.tostring(svg, encoding="unicode")


def last_of_each_day(points: Sequence[T], day: Callable[[T], dt.date | None] = lambda point: point[0]) -> list[T]:
    """The last of ``points`` (in day order) of each ``day``, in order."""
    daily: dict[dt.date | None, T] = {}
    for point in points:
        daily[day(point)] = point
    return list(daily.values())


def thin(points: Sequence[tuple[dt.date, float]], most: int = MOST_POINTS) -> list[tuple[dt.date, float]]:
    """The points a chart draws of a series in day order: every point while there are at most
    ``most``; else the last point of each day (the lists are dated by the day: a later list of
    the same day replaces an earlier one); if that is still more than ``most``, ``most`` of
    those picked by largest-triangle-three-buckets, which keeps the first and last points and
    the peaks and steps between.  A kept point is drawn with its own day and value."""
    if len(points) <= most:
        return list(points)
    daily = last_of_each_day(points)
    if len(daily) <= most:
        return daily
    return largest_triangles(daily, most)


def largest_triangles(points: Sequence[tuple[dt.date, float]], most: int) -> list[tuple[dt.date, float]]:
    """Largest-triangle-three-buckets (Steinarsson, 2013): the first and last points, and from
    each of ``most - 2`` equal buckets of the rest the point that makes the largest triangle with
    the point kept before it and the mean of the next bucket."""
    count = len(points)
    if count <= most:
        return list(points)
    if most < 3:
        return [points[0], points[-1]][:most]
    xs = [day.toordinal() for day, _ in points]
    ys = [float(value) for _, value in points]
    buckets = most - 2

    def bounds(i: int) -> tuple[int, int]:
        return i * (count - 2) // buckets + 1, (i + 1) * (count - 2) // buckets + 1

    kept = [points[0]]
    chosen = 0
    for i in range(buckets):
        start, end = bounds(i)
        if i + 1 < buckets:
            after, until = bounds(i + 1)
            mean_x = sum(xs[after:until]) / (until - after)
            mean_y = sum(ys[after:until]) / (until - after)
        else:
            mean_x, mean_y = xs[-1], ys[-1]
        ax, ay = xs[chosen], ys[chosen]
        best, best_area = start, -1.0
        for j in range(start, end):
            area = abs((ax - mean_x) * (ys[j] - ay) - (ax - xs[j]) * (mean_y - ay))
            if area > best_area:
                best, best_area = j, area
        kept.append(points[best])
        chosen = best
    kept.append(points[-1])
    return kept


def round_ticks(highest: float, most: int = 6) -> list[float]:
    """Axis values from 0 past ``highest`` in a round step (1, 2 or 5 times a power of ten, and
    never below 1): 0, 500, 1000, 1500, 2000, 2500 for 2047, rather than quarters of 2047 * 1.1."""
    highest = max(highest, 1)
    step = 1.0
    for power in range(12):
        for factor in (1, 2, 5):
            step = factor * 10.0 ** power
            if math.ceil(highest / step) + 1 <= most:
                top = math.ceil(highest / step) * step
                if top <= highest:       # leave room above the highest point
                    top += step
                return [i * step for i in range(int(round(top / step)) + 1)]
    return [0.0, step]


def _axes(svg: ET.Element, first: dt.date, last: dt.date, ticks: Sequence[float], x: Callable[[dt.date], float],
          y: Callable[[float], float]) -> None:
    axis = _sub(svg, "g", class_="axes", stroke="#999", font_size=11)
    _sub(axis, "line", x1=LEFT, y1=HEIGHT - BOTTOM, x2=WIDTH - RIGHT, y2=HEIGHT - BOTTOM)
    _sub(axis, "line", x1=LEFT, y1=TOP, x2=LEFT, y2=HEIGHT - BOTTOM)
    for value in ticks:
        _sub(axis, "line", class_="grid", x1=LEFT, y1=y(value), x2=WIDTH - RIGHT, y2=y(value), stroke="#eee")
        _sub(axis, "text", f"{value:g}", class_="tick", x=LEFT - 6, y=y(value) + 4, text_anchor="end", stroke="none",
             data_value=f"{value:g}")
    for step in range(4):
        day = first + (last - first) * step / 3
        _sub(axis, "text", day.isoformat(), x=x(day), y=HEIGHT - BOTTOM + 16, text_anchor="middle", stroke="none")
