"""Maps as inline SVG, drawn from vendored, already projected shapes (publish/atlas/SOURCE.md):
no tile server, nothing fetched when a page is read.

The TopoJSON file is decoded once per process into SVG path data (coordinates rounded to a
tenth of a unit of the 975 x 610 frame, which is finer than a screen pixel at full width).
Every state shape carries its code and count as data- attributes and a <title> tooltip, and
links to the state's page; dots carry theirs, so that a test can check the map against the
database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

WIDTH, HEIGHT = 975, 610
ATLAS = "counties-albers-10m.json"

STATE_FIPS = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT", "10": "DE", "11": "DC",
    "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL", "18": "IN", "19": "IA", "20": "KS", "21": "KY",
    "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN", "28": "MS", "29": "MO", "30": "MT",
    "31": "NE", "32": "NV", "33": "NH", "34": "NJ", "35": "NM", "36": "NY", "37": "NC", "38": "ND", "39": "OH",
    "40": "OK", "41": "OR", "42": "PA", "44": "RI", "45": "SC", "46": "SD", "47": "TN", "48": "TX", "49": "UT",
    "50": "VT", "51": "VA", "53": "WA", "54": "WV", "55": "WI", "56": "WY",
}
# Sequential classes of agreements per state: the upper bound of each class and its fill.
CLASSES: tuple[tuple[float, str, str], ...] = (
    (0, "#f2f2f2", "0"),
    (9, "#deebf7", "1–9"),
    (49, "#9ecae1", "10–49"),
    (99, "#4292c6", "50–99"),
    (249, "#2171b5", "100–249"),
    (math.inf, "#08306b", "250 or more"),
)


@dataclass(frozen=True)
class Shape:
    fips: str
    code: str                # USPS code of the state (for a county: of its state)
    name: str
    d: str                   # SVG path data, to a tenth of a unit (for one state's map)
    coarse: str              # the same to whole units (for the map of the whole country)
    centroid: tuple[float, float]
    bbox: tuple[float, float, float, float]   # min x, min y, max x, max y


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    value: int
    label: str
    key: str                 # e.g. the county's FIPS code
    href: str | None = None


@lru_cache(maxsize=1)
def _atlas() -> tuple[dict[str, Shape], dict[str, Shape]]:
    topology = json.loads(resources.files("publish").joinpath("atlas", ATLAS).read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((round(x * sx + tx, 1), round(y * sy + ty, 1)))
        arcs.append(points)

    def ring(indexes: Sequence[int]) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for index in indexes:
            arc = arcs[index] if index >= 0 else arcs[~index][::-1]
            points.extend(arc[1:] if points else arc)
        return points

    def shape(geometry: Mapping[str, Any], code: str) -> Shape:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [ring(r) for polygon in polygons for r in polygon]
        xs = [x for points in rings for x, _ in points]
        ys = [y for points in rings for _, y in points]
        return Shape(geometry["id"], code, geometry["properties"]["name"], _path(rings, 1), _path(rings, 0),
                     _centroid(max(rings, key=lambda r: abs(_area(r)))), (min(xs), min(ys), max(xs), max(ys)))

    states = {}
    for geometry in topology["objects"]["states"]["geometries"]:
        code = STATE_FIPS[geometry["id"]]
        states[code] = shape(geometry, code)
    counties = {}
    for geometry in topology["objects"]["counties"]["geometries"]:
        state = STATE_FIPS.get(geometry["id"][:2])
        if state:
            counties[geometry["id"]] = shape(geometry, state)
    return states, counties


def _path(rings: Sequence[Sequence[tuple[float, float]]], digits: int) -> str:
    parts = []
    for points in rings:
        rounded = [(round(x, digits), round(y, digits)) for x, y in points]
        kept = [p for i, p in enumerate(rounded) if i == 0 or p != rounded[i - 1]]
        if len(kept) > 2:
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in kept) + "Z")
    return "".join(parts)


def _area(points: Sequence[tuple[float, float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]])) / 2


def _centroid(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    area = _area(points)
    if abs(area) < 1e-9:
        return points[0]
    pairs = list(zip(points, [*points[1:], points[0]]))
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * area)
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * area)
    return round(cx, 1), round(cy, 1)


def state_shapes() -> dict[str, Shape]:
    """The 50 states and DC, by USPS code."""
    return _atlas()[0]


def county_shapes(state: str | None = None) -> dict[str, Shape]:
    """Counties (and county equivalents) by 5-digit FIPS code, of one state when given."""
    counties = _atlas()[1]
    return {fips: s for fips, s in counties.items() if state is None or s.code == state}


def fill(count: int) -> str:
    return next(colour for upper, colour, _ in CLASSES if count <= upper)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _svg(svg_id: str, title: str, view_box: str, css_class: str) -> ET.Element:
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "id": svg_id, "class": css_class,
                             "viewBox": view_box, "role": "group", "aria-label": title})
    _sub(svg, "title", title)
    return svg


def _dot_radius(value: int, largest: int, biggest: float) -> float:
    return round(max(1.5, biggest * math.sqrt(value / max(largest, 1))), 1)


def _dots(svg: ET.Element, dots: Sequence[Dot], biggest: float, noun: str) -> None:
    """Circles sized by value (area proportional), each with its tooltip; linked when ``href``."""
    layer = _sub(svg, "g", class_="dots")
    largest = max((d.value for d in dots), default=1)
    for dot in sorted(dots, key=lambda d: -d.value):        # small dots drawn over big ones
        parent = layer
        if dot.href:
            parent = _sub(layer, "a", href=dot.href, aria_label=f"{dot.label}: {dot.value} {noun}")
        circle = _sub(parent, "circle", class_="dot", cx=dot.x, cy=dot.y, r=_dot_radius(dot.value, largest, biggest),
                      data_key=dot.key, data_value=dot.value)
        _sub(circle, "title", f"{dot.label}: {dot.value} {noun}")


def us_map(svg_id: str, title: str, counts: Mapping[str, int], *, links: Mapping[str, str] | None = None,
           dots: Sequence[Dot] = (), noun: str = "agreements", highlight: str | None = None) -> str:
    """A choropleth of ``counts`` by state (every one of the 50 states and DC is drawn, zero or
    not), each state linking to ``links[code]``, with ``dots`` over it.  Each state's path has
    the id ``shape-XX``, for ``small_map`` to reuse."""
    svg = _svg(svg_id, title, f"0 0 {WIDTH} {HEIGHT}", "map")
    states = _sub(svg, "g", class_="states", stroke="#fff", stroke_width=0.8)
    for code, shape in sorted(state_shapes().items()):
        count = counts.get(code, 0)
        label = f"{shape.name} ({code}): {count} {noun}"
        href = (links or {}).get(code)
        parent = _sub(states, "a", href=href, aria_label=label, fill=fill(count)) if href else \
            _sub(states, "g", fill=fill(count))
        path = _sub(parent, "path", id=f"shape-{code}", class_="state", d=shape.coarse, data_state=code,
                    data_count=count)
        if code == highlight:
            path.set("stroke", "#d62728")
            path.set("stroke-width", "2.5")
        _sub(path, "title", label)
    if dots:
        _dots(svg, dots, 14, noun)
    return ET.tostring(svg, encoding="unicode")


def small_map(svg_id: str, title: str, counts: Mapping[str, int], *, noun: str = "agreements") -> str:
    """A small choropleth that reuses the shapes of the page's ``us_map`` (``<use>``), so the
    shapes are written once per page however many small maps there are."""
    svg = _svg(svg_id, title, f"0 0 {WIDTH} {HEIGHT}", "map small")
    states = _sub(svg, "g", class_="states", stroke="#fff", stroke_width=1.5)
    for code, shape in sorted(state_shapes().items()):
        count = counts.get(code, 0)
        use = _sub(states, "use", href=f"#shape-{code}", fill=fill(count), class_="state", data_state=code,
                   data_count=count)
        _sub(use, "title", f"{shape.name} ({code}): {count} {noun}")
    return ET.tostring(svg, encoding="unicode")


def state_map(svg_id: str, title: str, code: str, dots: Sequence[Dot], count: int, *,
              noun: str = "agreements") -> str:
    """One state, its counties outlined, with ``dots`` (by county) over it; '' when the atlas
    has no shape for ``code`` (the territories)."""
    shape = state_shapes().get(code)
    if shape is None:
        return ""
    x0, y0, x1, y1 = shape.bbox
    pad = max(x1 - x0, y1 - y0) * 0.04
    svg = _svg(svg_id, title, f"{x0 - pad:g} {y0 - pad:g} {x1 - x0 + 2 * pad:g} {y1 - y0 + 2 * pad:g}", "map state-map")
    scale = max(x1 - x0, y1 - y0) / WIDTH
    outline = _sub(svg, "path", class_="state", d=shape.d, fill="#f2f2f2", stroke="#555",
                   stroke_width=round(2 * scale + 0.3, 2), data_state=code, data_count=count)
    _sub(outline, "title", f"{shape.name} ({code}): {count} {noun}")
    counties = _sub(svg, "g", class_="counties", fill="none", stroke="#bbb", stroke_width=round(scale + 0.2, 2))
    for fips, county in sorted(county_shapes(code).items()):
        _sub(counties, "path", class_="county", d=county.d, data_fips=fips)
    _dots(svg, dots, round(max(x1 - x0, y1 - y0) / 25, 1), noun)
    return ET.tostring(svg, encoding="unicode")


def legend() -> list[tuple[str, str]]:
    """(fill, label) of each class, for the page's legend."""
    return [(colour, label) for _, colour, label in CLASSES]
