"""diff.baseline: a figure dated to a window (16-28 February 2026) against every list in force
during it, the nearest count and the range, and days counted from the window's nearest edge."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from diff.baseline import DatedList, compare_windows, days_from_window, lists_in_force, parse_baseline
from diff.metrics import compute_metrics
from diff.records import Agreement, AgreementKey

D = dt.date
START, END = D(2026, 2, 16), D(2026, 2, 28)


def agreement(state: str, agency: str) -> Agreement:
    return Agreement(key=AgreementKey(state, agency.upper(), "TFM"), agency=agency, agency_type="County", county=None,
                     signed=None, moa=None, moa_url=None, addendum=None, addendum_url=None, row_number=2, raw={})


BASE = compute_metrics([agreement("FL", "Sheriff A")])


def florida(as_of: dt.date, count: int, snapshot_id: int) -> DatedList:
    return DatedList(as_of, dataclasses.replace(BASE, by_state={"FL": count}), snapshot_id, f"list{snapshot_id}.xlsx")


WINDOW_FIGURE = (
    'schema = 1\n[sources.src]\npublisher = "P"\nrole = "r"\npublished = { start = 2026-02-16, end = 2026-02-28 }\n'
    '[[figures]]\nid = "fl"\nlabel = "FL"\nvalue = 324\nunit = "agreements"\n'
    'as_of = { start = 2026-02-16, end = 2026-02-28 }\nas_of_precision = "period"\nas_of_note = "N"\n'
    'scope = "state:FL"\ncounts = "C"\ncredited_to = "article"\nsource = "src"\n'
    'measure = { list = "participating", metric = "agreements", state = "FL" }\ndefinition_note = "D"\n'
)


@pytest.mark.parametrize(("day", "days"), [
    (D(2026, 1, 26), -21), (D(2026, 2, 15), -1), (START, 0), (D(2026, 2, 20), 0), (END, 0), (D(2026, 3, 2), 2),
])
def test_days_from_window_count_from_the_nearest_edge(day, days):
    assert days_from_window(day, START, END) == days


# (list dates, expected (date, days in force within the window))
IN_FORCE = [
    pytest.param([D(2026, 2, 2), D(2026, 3, 2)], [(D(2026, 2, 2), 13)], id="one-list-stands-through"),
    pytest.param([D(2026, 2, 2), D(2026, 2, 18), D(2026, 2, 27), D(2026, 3, 2)],
                 [(D(2026, 2, 2), 2), (D(2026, 2, 18), 9), (D(2026, 2, 27), 2)], id="three-lists"),
    pytest.param([D(2026, 2, 16), D(2026, 2, 28)], [(D(2026, 2, 16), 12), (D(2026, 2, 28), 1)], id="on-the-edges"),
    pytest.param([D(2026, 3, 1)], [], id="only-later"),
    pytest.param([D(2026, 1, 1)], [(D(2026, 1, 1), 13)], id="older-list-still-stands"),
]


@pytest.mark.parametrize(("dates", "expected"), IN_FORCE)
def test_lists_in_force(dates, expected):
    lists = [DatedList(day, BASE) for day in dates]
    assert [(dated.as_of, days) for dated, days in lists_in_force(lists, START, END)] == expected


def test_nearest_and_range_over_the_lists_in_force():
    # The 02-27 list alone (the old comparison) gives 341; the list in force for most of the
    # window gives 324, the figure exactly.
    lists = [florida(D(2026, 2, 2), 320, 1), florida(D(2026, 2, 18), 324, 2), florida(D(2026, 2, 27), 341, 3),
             florida(D(2026, 3, 2), 345, 4)]
    [window] = compare_windows(parse_baseline(WINDOW_FIGURE), lists, list_name="participating")
    assert [d.as_of for d in window.lists] == [D(2026, 2, 2), D(2026, 2, 18), D(2026, 2, 27)]
    assert window.days_in_force == (2, 9, 2)
    assert [c.days_apart for c in window.comparisons] == [-14, 0, 0]
    assert (window.nearest.snapshot_as_of, window.nearest.delta) == (D(2026, 2, 18), 0)
    assert (window.low, window.high) == (320, 341)
    document = json.loads(json.dumps(window.to_dict()))
    assert document["nearest"]["measured"] == 324 and document["range"] == {"low": 320, "high": 341}
    assert [item["days_in_force"] for item in document["lists"]] == [2, 9, 2]


def test_a_tie_goes_to_the_list_in_force_longer():
    lists = [florida(D(2026, 2, 2), 320, 1), florida(D(2026, 2, 18), 328, 2), florida(D(2026, 3, 2), 345, 3)]
    [window] = compare_windows(parse_baseline(WINDOW_FIGURE), lists, list_name="participating")
    assert window.nearest.snapshot_as_of == D(2026, 2, 18)   # 4 off either way; 11 days against 2


def test_a_window_without_any_list_says_why():
    [window] = compare_windows(parse_baseline(WINDOW_FIGURE), [florida(D(2026, 3, 2), 345, 1)],
                               list_name="participating")
    assert window.comparisons == () and window.nearest is None and window.low is None
    assert window.reason == "no list held stood between 2026-02-16 and 2026-02-28"


def test_figures_of_one_day_or_the_other_list_are_not_windows():
    day_figure = WINDOW_FIGURE.replace('as_of = { start = 2026-02-16, end = 2026-02-28 }', "as_of = 2026-02-16")
    day_figure = day_figure.replace('as_of_precision = "period"', 'as_of_precision = "day"')
    assert compare_windows(parse_baseline(day_figure), [florida(D(2026, 2, 2), 1, 1)], list_name="participating") == ()
    assert compare_windows(parse_baseline(WINDOW_FIGURE), [florida(D(2026, 2, 2), 1, 1)], list_name="pending") == ()
