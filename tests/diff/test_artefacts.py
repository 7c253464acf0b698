"""Column-wide artefacts on real archive copies: one anomaly, values carried forward."""

from __future__ import annotations

import dataclasses

import pytest

from crawler.workbook import read_workbook
from diff.artefacts import find_column_artefacts
from diff.normalise import normalise_table
from diff.records import Agreement
from diff.rowdiff import diff_lists
from tests.files import FIXTURES

HISTORY = FIXTURES / "ice-287g-2025" / "participating"


def read(name: str) -> tuple[list[str], tuple[Agreement, ...]]:
    table = read_workbook((HISTORY / name).read_bytes())
    return [c for c in table.columns if c], normalise_table(table).agreements


@pytest.fixture(scope="module")
def before_and_copy():
    _, before = read("participatingAgencies-20250226183301.xlsx")
    columns, copy = read("participatingAgencies-20250301180751.xlsx")
    return {a.key.as_text(): a for a in before}, columns, copy


def test_the_copy_without_hyperlinks_is_one_links_missing_anomaly(before_and_copy):
    previous, columns, copy = before_and_copy
    # the archive re-saved the file: "link" texts, no hyperlink behind any of them
    assert not any(a.moa_url for a in copy) and sum(a.moa == "link" for a in copy) == 135
    found = find_column_artefacts(columns, copy, previous)
    assert [(a.reason, a.blocking) for a in found.anomalies] == [("links_missing", False)]
    assert found.carried == 132
    # with the links carried forward, nothing is reported as changed
    assert diff_lists(previous, {a.key.as_text(): a for a in found.agreements}).is_empty
    assert diff_lists(previous, {a.key.as_text(): a for a in copy}).changed   # 132 "changes" otherwise


def test_a_blank_column_is_carried_forward(before_and_copy):
    previous, columns, _ = before_and_copy
    blank = [dataclasses.replace(a, agency_type=None) for a in previous.values()]
    found = find_column_artefacts(columns, blank, previous)
    assert [a.reason for a in found.anomalies] == ["column_blank"]
    assert "TYPE column is blank" in found.anomalies[0].message
    assert diff_lists(previous, {a.key.as_text(): a for a in found.agreements}).is_empty


def test_a_normal_list_has_no_artefact(before_and_copy):
    previous, columns, _ = before_and_copy
    _, later = read("participatingAgencies-20250301234621.xlsx")
    found = find_column_artefacts(columns, later, previous)
    assert found.anomalies == () and found.carried == 0
