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
from xml.etree import ElementTree as ET

WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 30, 40
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
               markers: Sequence[Marker] = ()) -> str:
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
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    for index, (name, points) in enumerate(series.items()):
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
    return ET.tostring(svg, encoding="unicode")


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
