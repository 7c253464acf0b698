"""Outside figures (seeds/baseline.toml) and how they compare with counts from one list.

``parse_baseline`` turns the TOML text into ``BaselineFigure``s and rejects anything it cannot
read with a ``ValueError`` naming the entry and the field.  ``compare`` sets each figure against
the ``ListMetrics`` of one snapshot and says, in numbers and definitions only, how far apart
they are, or why the list cannot measure the figure.  The file format is documented in
seeds/README.md.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from diff.metrics import MODELS, ListMetrics, is_territory
from diff.normalise import is_state
from diff.records import LIST_NAMES

# ICE published the list as a workbook from February 2025; the HTML table before that is not a
# snapshot we hold, so nothing dated earlier can be measured.
WORKBOOK_ERA_START = dt.date(2025, 2, 1)

SCHEMA_VERSION = 1
UNITS: frozenset[str] = frozenset(
    {"agencies", "agreements", "states", "jurisdictions", "arrests", "USD", "percent", "beds", "facilities", "orders"}
)
PRECISIONS: tuple[str, ...] = ("day", "month", "period")

# metric name -> the unit a figure must have to be measured by it
METRIC_UNITS: Mapping[str, str] = {
    "agreements": "agreements",
    "agencies": "agencies",
    "local_agencies": "agencies",
    "states": "states",
    "territories": "jurisdictions",
    "jurisdictions": "jurisdictions",
}
# Only agreements are broken down by state and model in ListMetrics.
FILTERABLE_METRICS = frozenset({"agreements"})

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SCOPE = re.compile(r"^(?:US|state:[A-Z]{2}|county:\S.*|city:\S.*)$")

_FIGURE_FIELDS = frozenset(
    {"id", "label", "value", "unit", "as_of", "as_of_precision", "as_of_note", "scope", "counts",
     "credited_to", "credit_note", "source", "measure", "definition_note"}
)
_SOURCE_FIELDS = frozenset({"publisher", "title", "url", "published", "published_note", "seed_file", "role", "note"})
_MEASURE_FIELDS = frozenset({"list", "metric", "state", "model"})


@dataclass(frozen=True, slots=True)
class Source:
    """Where figures were published.  ``published_start``/``published_end`` bound the date."""

    id: str
    publisher: str
    published_start: dt.date
    published_end: dt.date
    role: str
    title: str | None = None
    url: str | None = None
    seed_file: str | None = None
    published_note: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    """Which count of which list corresponds to a figure."""

    list: str
    metric: str
    state: str | None = None
    model: str | None = None

    def describe(self) -> str:
        parts = [f"{self.list} list", self.metric]
        if self.state:
            parts.append(f"state {self.state}")
        if self.model:
            parts.append(f"model {self.model}")
        return ", ".join(parts)

    def read(self, metrics: ListMetrics) -> int:
        if self.metric != "agreements":
            return int(getattr(metrics, self.metric))
        if self.state and self.model:
            return metrics.by_state_model.get(self.state, {}).get(self.model, 0)
        if self.state:
            return metrics.by_state.get(self.state, 0)
        if self.model:
            return metrics.by_model.get(self.model, 0)
        return metrics.agreements


@dataclass(frozen=True, slots=True)
class BaselineFigure:
    """One figure from outside.  ``as_of`` is ``as_of_end``: the latest date it can describe."""

    id: str
    label: str
    value: int | float
    unit: str
    as_of_start: dt.date
    as_of_end: dt.date
    as_of_precision: str
    scope: str
    counts: str
    credited_to: str
    source: Source
    measure: Measure | None = None
    definition_note: str | None = None
    as_of_note: str | None = None
    credit_note: str | None = None

    @property
    def as_of(self) -> dt.date:
        return self.as_of_end

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "as_of_start": self.as_of_start.isoformat(),
            "as_of_end": self.as_of_end.isoformat(),
            "as_of_precision": self.as_of_precision,
            "as_of_note": self.as_of_note,
            "scope": self.scope,
            "counts": self.counts,
            "credited_to": self.credited_to,
            "credit_note": self.credit_note,
            "source": self.source.id,
            "publisher": self.source.publisher,
            "measure": self.measure.describe() if self.measure else None,
            "definition_note": self.definition_note,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """A figure set against one snapshot.  ``days_apart``: from the figure's date, or from the
    nearest edge of its window, to the snapshot's date (negative before, 0 within the window)."""

    figure: BaselineFigure
    list_name: str
    snapshot_as_of: dt.date
    measurable: bool
    measured: int | None
    delta: int | float | None
    percent: float | None
    days_apart: int
    definition_note: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure.to_dict(),
            "list_name": self.list_name,
            "snapshot_as_of": self.snapshot_as_of.isoformat(),
            "measurable": self.measurable,
            "measured": self.measured,
            "delta": self.delta,
            "percent": self.percent,
            "days_apart": self.days_apart,
            "definition_note": self.definition_note,
            "reason": self.reason,
        }


# ---------------------------------------------------------------------------------------------
# parsing

def parse_baseline(toml_text: str) -> tuple[BaselineFigure, ...]:
    try:
        document = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"baseline: not valid TOML: {error}") from error
    unknown = sorted(document.keys() - {"schema", "sources", "figures"})
    if unknown:
        raise ValueError(f"baseline: unknown top-level keys {unknown}")
    if document.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"baseline: field 'schema': expected {SCHEMA_VERSION}, got {document.get('schema')!r}")

    sources_table = document.get("sources")
    if not isinstance(sources_table, dict) or not sources_table:
        raise ValueError("baseline: field 'sources': missing or not a table of sources")
    sources = {source_id: _parse_source(source_id, table) for source_id, table in sources_table.items()}

    entries = document.get("figures")
    if not isinstance(entries, list) or not entries:
        raise ValueError("baseline: field 'figures': missing or not an array of tables ([[figures]])")
    figures: list[BaselineFigure] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        figure = _parse_figure(number, entry, sources)
        if figure.id in seen:
            raise ValueError(f"baseline figure {figure.id!r}: field 'id': duplicate (also figure #{seen[figure.id]})")
        seen[figure.id] = number
        figures.append(figure)
    return tuple(figures)


def _parse_source(source_id: str, table: Any) -> Source:
    where = f"baseline source {source_id!r}"
    if not _SLUG.match(source_id):
        raise ValueError(f"{where}: id is not a slug (lower-case letters, digits, hyphens)")
    if not isinstance(table, dict):
        raise ValueError(f"{where}: not a table")
    _reject_unknown(where, table, _SOURCE_FIELDS)
    start, end = _parse_date_or_range(where, "published", table.get("published"))
    return Source(
        id=source_id,
        publisher=_text(where, table, "publisher"),
        published_start=start,
        published_end=end,
        role=_text(where, table, "role"),
        title=_optional_text(where, table, "title"),
        url=_optional_text(where, table, "url"),
        seed_file=_optional_text(where, table, "seed_file"),
        published_note=_optional_text(where, table, "published_note"),
        note=_optional_text(where, table, "note"),
    )


def _parse_figure(number: int, entry: Any, sources: Mapping[str, Source]) -> BaselineFigure:
    where = f"baseline figure #{number}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: not a table")
    figure_id = entry.get("id")
    if not isinstance(figure_id, str) or not _SLUG.match(figure_id):
        raise ValueError(f"{where}: field 'id': missing or not a slug (lower-case letters, digits, hyphens)")
    where = f"baseline figure {figure_id!r}"
    _reject_unknown(where, entry, _FIGURE_FIELDS)

    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: field 'value': missing or not a number")
    unit = _text(where, entry, "unit")
    if unit not in UNITS:
        raise ValueError(f"{where}: field 'unit': unknown unit {unit!r} (known: {', '.join(sorted(UNITS))})")
    scope = _text(where, entry, "scope")
    if not _SCOPE.match(scope):
        raise ValueError(f"{where}: field 'scope': {scope!r} is not 'US', 'state:XX', 'county:Name' or 'city:Name'")

    precision = _text(where, entry, "as_of_precision")
    start, end = _parse_as_of(where, precision, entry.get("as_of"))
    as_of_note = _optional_text(where, entry, "as_of_note")
    if precision != "day" and as_of_note is None:
        raise ValueError(f"{where}: field 'as_of_note': required when as_of_precision is {precision!r}")

    source_id = _text(where, entry, "source")
    if source_id not in sources:
        raise ValueError(f"{where}: field 'source': unknown source {source_id!r} (known: {', '.join(sorted(sources))})")

    measure = _parse_measure(where, entry.get("measure"), unit, scope)
    definition_note = _optional_text(where, entry, "definition_note")
    if measure is not None and definition_note is None:
        raise ValueError(f"{where}: field 'definition_note': required when 'measure' is given")

    return BaselineFigure(
        id=figure_id,
        label=_text(where, entry, "label"),
        value=value,
        unit=unit,
        as_of_start=start,
        as_of_end=end,
        as_of_precision=precision,
        scope=scope,
        counts=_text(where, entry, "counts"),
        credited_to=_text(where, entry, "credited_to"),
        source=sources[source_id],
        measure=measure,
        definition_note=definition_note,
        as_of_note=as_of_note,
        credit_note=_optional_text(where, entry, "credit_note"),
    )


def _parse_as_of(where: str, precision: str, raw: Any) -> tuple[dt.date, dt.date]:
    if precision not in PRECISIONS:
        raise ValueError(f"{where}: field 'as_of_precision': {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "day":
        if not _is_date(raw):
            raise ValueError(f"{where}: field 'as_of': precision 'day' needs a date (as_of = 2026-01-26)")
        return raw, raw
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: field 'as_of': precision {precision!r} needs {{ start = ..., end = ... }}")
    start, end = _parse_date_or_range(where, "as_of", raw)
    if precision == "month":
        last_day = calendar.monthrange(start.year, start.month)[1]
        if start.day != 1 or end != start.replace(day=last_day):
            raise ValueError(f"{where}: field 'as_of': precision 'month' needs the first and last day of one month")
    return start, end


def _parse_date_or_range(where: str, name: str, raw: Any) -> tuple[dt.date, dt.date]:
    if _is_date(raw):
        return raw, raw
    if not isinstance(raw, dict) or set(raw) != {"start", "end"}:
        raise ValueError(f"{where}: field {name!r}: missing, or not a date or {{ start = ..., end = ... }}")
    start, end = raw["start"], raw["end"]
    if not (_is_date(start) and _is_date(end)):
        raise ValueError(f"{where}: field {name!r}: start and end must be dates (YYYY-MM-DD, no time)")
    if end < start:
        raise ValueError(f"{where}: field {name!r}: end {end} is before start {start}")
    return start, end


def _parse_measure(where: str, raw: Any, unit: str, scope: str) -> Measure | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: field 'measure': not a table")
    _reject_unknown(f"{where}: field 'measure'", raw, _MEASURE_FIELDS)
    list_name = raw.get("list")
    if list_name not in LIST_NAMES:
        raise ValueError(f"{where}: field 'measure.list': {list_name!r} is not one of {', '.join(LIST_NAMES)}")
    metric = raw.get("metric")
    if not isinstance(metric, str) or metric not in METRIC_UNITS:
        raise ValueError(f"{where}: field 'measure.metric': unknown metric {metric!r} "
                         f"(known: {', '.join(METRIC_UNITS)})")
    if METRIC_UNITS[metric] != unit:
        raise ValueError(f"{where}: field 'measure.metric': {metric!r} counts {METRIC_UNITS[metric]}, "
                         f"but unit is {unit!r}")
    state, model = raw.get("state"), raw.get("model")
    if (state is not None or model is not None) and metric not in FILTERABLE_METRICS:
        raise ValueError(f"{where}: field 'measure': state/model filters apply only to metric 'agreements'")
    if state is not None and not (isinstance(state, str) and (is_state(state) or is_territory(state) or state == "DC")):
        raise ValueError(f"{where}: field 'measure.state': {state!r} is not a USPS state or territory code")
    if model is not None and model not in MODELS:
        raise ValueError(f"{where}: field 'measure.model': {model!r} is not one of {', '.join(MODELS)}")
    expected_scope = f"state:{state}" if state else "US"
    if scope != expected_scope:
        raise ValueError(f"{where}: field 'measure': measures scope {expected_scope!r}, but scope is {scope!r}")
    return Measure(list=list_name, metric=metric, state=state, model=model)


def _reject_unknown(where: str, table: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(table.keys() - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")


def _text(where: str, table: Mapping[str, Any], name: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field {name!r}: missing or empty")
    return value.strip()


def _optional_text(where: str, table: Mapping[str, Any], name: str) -> str | None:
    return _text(where, table, name) if name in table else None


def _is_date(value: Any) -> bool:
    # tomllib gives datetime (a date subclass) for values with a time; a figure has no time.
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


# ---------------------------------------------------------------------------------------------
# comparing

def compare(
    figures: Iterable[BaselineFigure],
    metrics: ListMetrics,
    *,
    list_name: str,
    snapshot_as_of: dt.date,
    earliest_list: dt.date = WORKBOOK_ERA_START,
) -> tuple[Comparison, ...]:
    """One ``Comparison`` per figure, in order.  ``earliest_list``: date of the oldest list held."""
    if list_name not in LIST_NAMES:
        raise ValueError(f"compare: list_name {list_name!r} is not one of {', '.join(LIST_NAMES)}")
    return tuple(_compare_one(figure, metrics, list_name, snapshot_as_of, earliest_list) for figure in figures)


def _compare_one(
    figure: BaselineFigure, metrics: ListMetrics, list_name: str, snapshot_as_of: dt.date, earliest_list: dt.date
) -> Comparison:
    reason = _unmeasurable_reason(figure, list_name, earliest_list)
    measured = delta = percent = None
    if reason is None:
        assert figure.measure is not None
        measured = figure.measure.read(metrics)
        delta = measured - figure.value
        percent = round(delta / figure.value * 100, 1) if figure.value else None
    return Comparison(
        figure=figure,
        list_name=list_name,
        snapshot_as_of=snapshot_as_of,
        measurable=reason is None,
        measured=measured,
        delta=delta,
        percent=percent,
        days_apart=days_from_window(snapshot_as_of, figure.as_of_start, figure.as_of_end),
        definition_note=figure.definition_note,
        reason=reason,
    )


def _unmeasurable_reason(figure: BaselineFigure, list_name: str, earliest_list: dt.date) -> str | None:
    if figure.measure is None:
        return f"not a count of list rows: {figure.unit}"
    if figure.measure.list != list_name:
        return f"wrong list: measured on {figure.measure.list}, not {list_name}"
    if figure.as_of < earliest_list:
        return f"predates the earliest list we hold: figure as of {figure.as_of}, lists from {earliest_list}"
    return None


def days_from_window(day: dt.date, start: dt.date, end: dt.date) -> int:
    """Days from the nearest edge of [start, end] to ``day``: negative before, 0 within."""
    if day < start:
        return (day - start).days
    if day > end:
        return (day - end).days
    return 0


# ---------------------------------------------------------------------------------------------
# figures dated to a window

@dataclass(frozen=True, slots=True)
class DatedList:
    """One accepted list and its counts, as of its date."""

    as_of: dt.date
    metrics: ListMetrics
    snapshot_id: int | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class WindowComparison:
    """A figure dated to a window (say 16-28 February 2026) against each list in force during
    it: the one whose count is nearest the figure, and the range of counts.  ``days_in_force``
    gives, list by list, how many days of the window it was the list as it stood."""

    figure: BaselineFigure
    lists: tuple[DatedList, ...]
    comparisons: tuple[Comparison, ...]
    days_in_force: tuple[int, ...]
    reason: str | None = None

    @property
    def measured(self) -> list[int]:
        return [c.measured for c in self.comparisons if c.measured is not None]

    @property
    def nearest(self) -> Comparison | None:
        """The comparison with the smallest gap to the figure; on a tie, the list in force for
        more of the window, then the later list."""
        measured = [(c, days, i) for i, (c, days) in enumerate(zip(self.comparisons, self.days_in_force))
                    if c.delta is not None]
        if not measured:
            return None
        return min(measured, key=lambda item: (abs(item[0].delta or 0), -item[1], -item[2]))[0]

    @property
    def low(self) -> int | None:
        return min(self.measured, default=None)

    @property
    def high(self) -> int | None:
        return max(self.measured, default=None)

    def to_dict(self) -> dict[str, Any]:
        nearest = self.nearest
        return {
            "figure": self.figure.to_dict(),
            "window": {"start": self.figure.as_of_start.isoformat(), "end": self.figure.as_of_end.isoformat()},
            "lists": [
                {"snapshot_id": dated.snapshot_id, "file_name": dated.file_name, "as_of": dated.as_of.isoformat(),
                 "days_in_force": days, "measured": c.measured, "delta": c.delta, "percent": c.percent,
                 "days_apart": c.days_apart}
                for dated, c, days in zip(self.lists, self.comparisons, self.days_in_force)
            ],
            "nearest": None if nearest is None else {
                "snapshot_as_of": nearest.snapshot_as_of.isoformat(), "measured": nearest.measured,
                "delta": nearest.delta, "percent": nearest.percent},
            "range": None if self.low is None else {"low": self.low, "high": self.high},
            "definition_note": self.figure.definition_note,
            "reason": self.reason,
        }


def lists_in_force(lists: Iterable[DatedList], start: dt.date, end: dt.date) -> list[tuple[DatedList, int]]:
    """The lists that stood at some day of [start, end], oldest first, each with how many days
    of the window it stood (a list stands from its date until the next list's date)."""
    ordered = sorted(lists, key=lambda dated: dated.as_of)
    found = []
    for position, dated in enumerate(ordered):
        until = ordered[position + 1].as_of if position + 1 < len(ordered) else None   # exclusive
        first, last = max(dated.as_of, start), min(end, until - dt.timedelta(days=1) if until else end)
        if first <= last:
            found.append((dated, (last - first).days + 1))
    return found


def compare_windows(
    figures: Iterable[BaselineFigure],
    lists: Iterable[DatedList],
    *,
    list_name: str,
    earliest_list: dt.date = WORKBOOK_ERA_START,
) -> tuple[WindowComparison, ...]:
    """One ``WindowComparison`` per figure of ``list_name`` dated to a window of more than a
    day (a month or a period), in order."""
    held = list(lists)
    results = []
    for figure in figures:
        if figure.as_of_start == figure.as_of_end or figure.measure is None or figure.measure.list != list_name:
            continue
        standing = lists_in_force(held, figure.as_of_start, figure.as_of_end)
        reason = _unmeasurable_reason(figure, list_name, earliest_list)
        if reason is None and not standing:
            reason = f"no list held stood between {figure.as_of_start} and {figure.as_of_end}"
        if reason is not None:
            results.append(WindowComparison(figure, (), (), (), reason))
            continue
        comparisons = tuple(_compare_one(figure, dated.metrics, list_name, dated.as_of, earliest_list)
                            for dated, _ in standing)
        results.append(WindowComparison(figure, tuple(dated for dated, _ in standing), comparisons,
                                        tuple(days for _, days in standing)))
    return tuple(results)
