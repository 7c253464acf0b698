"""diff.records.raw_table_hash: equal only for tables read alike, on a real workbook."""

from __future__ import annotations

import dataclasses

import pytest

from crawler.workbook import read_workbook
from diff.records import raw_table_hash
from tests.files import workbook

TABLE = read_workbook(workbook("participatingAgencies05292025am.xlsx"))


def with_first_row(**changes):
    first = TABLE.rows[0]
    return dataclasses.replace(TABLE, rows=(dataclasses.replace(first, **changes), *TABLE.rows[1:]))


def test_the_same_table_read_twice_hashes_alike():
    again = read_workbook(workbook("participatingAgencies05292025am.xlsx"))
    assert raw_table_hash(again, "rules") == raw_table_hash(TABLE, "rules")


@pytest.mark.parametrize("other", [
    pytest.param(lambda: (TABLE, "other rules"), id="other-rules"),
    pytest.param(lambda: (with_first_row(cells={**TABLE.rows[0].cells, "state": "TEXAS"}), "rules"), id="a-value"),
    pytest.param(lambda: (with_first_row(cells={**TABLE.rows[0].cells, "agency": 1}), "rules"), id="a-type"),
    pytest.param(lambda: (with_first_row(links={"moa": "https://www.ice.gov/x.pdf"}), "rules"), id="a-link"),
    pytest.param(lambda: (with_first_row(row_number=TABLE.rows[0].row_number + 1), "rules"), id="a-row-number"),
    pytest.param(lambda: (dataclasses.replace(TABLE, header=(TABLE.header[0] + " ", *TABLE.header[1:])), "rules"), id="a-header"),
    pytest.param(lambda: (dataclasses.replace(TABLE, rows=TABLE.rows[:-1]), "rules"), id="a-row-fewer"),
])
def test_any_difference_in_what_was_read_hashes_apart(other):
    table, rules = other()
    assert raw_table_hash(table, rules) != raw_table_hash(TABLE, "rules")


def test_true_and_one_hash_apart():
    as_int = with_first_row(cells={**TABLE.rows[0].cells, "agency": 1})
    as_bool = with_first_row(cells={**TABLE.rows[0].cells, "agency": True})
    assert raw_table_hash(as_int, "rules") != raw_table_hash(as_bool, "rules")
