"""Which list a table holds, and the checks it must pass before it is diffed."""

from __future__ import annotations

import datetime as dt

import pytest

from diff.guards import (
    DEFAULT_THRESHOLDS,
    SnapshotRef,
    Thresholds,
    baseline_reset,
    check_contract,
    check_row_count,
    classify,
    stale_copy,
)
from diff.records import SourceTable

# Header eras as ICE published them (tests/fixtures/ice-287g/SOURCES.md).
PARTICIPATING_2025_02 = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA")
PARTICIPATING_2025_07 = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM")
PENDING_2025_05 = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE")
PENDING_2026_01 = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "MOA")
CANONICAL = {"STATE": "state", "LAW ENFORCEMENT AGENCY": "agency", "TYPE": "type", "COUNTY": "county",
             "SUPPORT TYPE": "model", "SIGNED": "signed", "MOA": "moa", "ADDENDUM": "addendum"}


def table(header):
    return SourceTable("Sheet1", header, tuple(CANONICAL.get(h) for h in header), ())


@pytest.mark.parametrize(
    ("name", "header", "expected"),
    [
        ("participating, Feb 2025 era", PARTICIPATING_2025_02, "participating"),
        ("participating, ADDENDUM era", PARTICIPATING_2025_07, "participating"),
        ("pending, COUNTY era", PENDING_2025_05, "pending"),
        ("pending with MOA 'link pending', 2026", PENDING_2026_01, "pending"),
        ("no agency column", ("STATE", "COUNT"), None),
    ],
)
def test_classify_by_content(name, header, expected):
    assert classify(table(header)).list_name == expected


def test_without_signed_column_the_keys_decide_when_they_clearly_match_participating():
    result = classify(table(PENDING_2025_05), overlap={"participating": 0.97, "pending": 0.02})
    assert result.list_name == "participating"
    assert classify(table(PENDING_2025_05), overlap={"participating": 0.5, "pending": 0.4}).list_name == "pending"


def test_contract_reports_missing_and_unknown_columns():
    missing = check_contract("participating", table(PENDING_2025_05))
    assert [(a.reason, a.blocking) for a in missing] == [("missing_columns", True)]
    assert "SIGNED" in missing[0].message
    extra = SourceTable("Sheet1", (*PARTICIPATING_2025_07, "NOTES"), (*(CANONICAL[h] for h in PARTICIPATING_2025_07), None), ())
    assert [(a.reason, a.blocking) for a in check_contract("participating", extra)] == [("unknown_columns", False)]


@pytest.mark.parametrize(
    ("name", "list_name", "rows", "previous", "reason"),
    [
        ("header-only pending list, pendingAgencies11142025pm", "pending", 0, 42, "empty"),
        ("first list ever, nothing to compare", "participating", 151, None, None),
        ("normal growth 628 → 635", "participating", 635, 628, None),
        ("swapped file: 42 rows where 1,000 were", "participating", 42, 1000, "row_drop"),
        ("small real drop", "participating", 990, 1000, None),
        ("pending list shrinking as agreements are signed (42 → 3, real)", "pending", 3, 42, None),
        ("truncated participating list", "participating", 700, 1000, "row_drop"),
    ],
)
def test_row_count_guard(name, list_name, rows, previous, reason):
    anomalies = check_row_count(list_name, rows, previous, DEFAULT_THRESHOLDS[list_name])
    assert [a.reason for a in anomalies] == ([reason] if reason else [])
    assert all(a.blocking for a in anomalies)


def test_thresholds_are_validated():
    with pytest.raises(ValueError, match="max_drop_share"):
        Thresholds(max_drop_share=1.5, min_drop_rows=10)


@pytest.mark.parametrize(
    ("name", "rows", "previous", "promoted", "reason", "blocking"),
    [
        # pendingAgencies08292025pm: 78 → 20 rows, 55 of the departures on the participating list
        ("batch promoted on 2025-08-29", 20, 78, 55, None, None),
        ("the same drop unexplained", 20, 78, 0, "row_drop", True),
        ("drop larger than the promotions explain", 0, 120, 10, "empty", True),
        ("every pending agreement promoted: an empty, well-formed list", 0, 42, 42, "empty", False),
        ("empty after most departures were promoted", 0, 42, 30, "empty", False),
        ("empty with most departures unexplained (pendingAgencies11142025pm)", 0, 42, 0, "empty", True),
        ("first pending list ever is empty", 0, None, 0, "empty", False),
    ],
)
def test_pending_drop_explained_by_promotions(name, rows, previous, promoted, reason, blocking):
    anomalies = check_row_count("pending", rows, previous, DEFAULT_THRESHOLDS["pending"], promoted=promoted)
    assert [(a.reason, a.blocking) for a in anomalies] == ([(reason, blocking)] if reason else [])


def test_an_empty_participating_list_is_never_accepted():
    [anomaly] = check_row_count("participating", 0, 900, DEFAULT_THRESHOLDS["participating"], promoted=900)
    assert (anomaly.reason, anomaly.blocking) == ("empty", True)


def test_a_second_consistent_list_re_establishes_the_baseline():
    accepted = SnapshotRef(10, "participatingAgencies05282025am.xlsx", None, 628)
    quarantined = [SnapshotRef(11, "cut.xlsx", None, 300)]
    thresholds = DEFAULT_THRESHOLDS["participating"]
    reset = baseline_reset("participating", quarantined, 305, thresholds, accepted)
    assert reset is not None and (reset.reason, reset.blocking) == ("baseline_reset", False)
    assert "snapshot 11" in reset.message and "snapshot 10" in reset.message
    # not consistent with the quarantined list either, or nothing quarantined before it
    assert baseline_reset("participating", quarantined, 100, thresholds, accepted) is None
    assert baseline_reset("participating", [], 305, thresholds, accepted) is None


def test_stale_copy_names_the_snapshot_and_its_date():
    anomaly = stale_copy("participating", SnapshotRef(33, "participatingAgencies03062025am.xlsx",
                                                      dt.date(2025, 3, 6)))
    assert (anomaly.reason, anomaly.blocking) == ("stale_copy", True)
    assert anomaly.message.startswith("same content as snapshot 33 from 2025-03-06")
