"""crawler.html_table: the older HTML-table form of the 287(g) page."""

from __future__ import annotations

import pytest

from crawler.html_table import canonical_column, parse_list_tables
from diff.records import AGENCY, MOA, MODEL, SIGNED, STATE
from tests.files import PAGES

PAGE_URL = "https://www.ice.gov/identify-and-arrest/287g"

# Parsed once for the module, one small test per property (city-scrapers style).
tables = parse_list_tables((PAGES / "ice_287g_2024_table.html").read_bytes(), PAGE_URL)
table = tables[0]


def test_only_the_list_table_is_read():
    # The page also has a contact table (Office, Telephone): not a list.
    assert len(tables) == 1


def test_header_kept_raw_and_mapped():
    assert table.header == ("STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED", "MOA")
    assert table.columns == (STATE, AGENCY, MODEL, SIGNED, MOA)
    assert table.header_row == 1


def test_sheet_name_is_the_heading_above():
    assert table.sheet_name == "Participating Agencies"


def test_rows_numbered_from_one():
    assert [row.row_number for row in table.rows] == list(range(1, 11))
    assert table.skipped_blank_rows == 0


def test_first_row_as_in_the_workbook():
    # participatingAgencies-20250221214937.xlsx, row 2
    first = table.rows[0]
    assert first.cells == {
        STATE: "ALABAMA",
        AGENCY: "Etowah County Sheriff's Office",
        MODEL: "Jail Enforcement Model",
        SIGNED: "06/09/2020",
        MOA: "link",
    }
    assert first.links == {MOA: "https://www.ice.gov/doclib/287gMOA/287gJEM_%20etowahCoAL_06-09-2020.pdf"}
    assert first.extra == {}


def test_relative_moa_link_resolved_against_page():
    third = table.rows[2]
    assert third.cells[AGENCY] == "Department of Corrections"
    assert third.links[MOA] == "https://www.ice.gov/doclib/287gMOA/287gWSO_DeptOfCorrectionsAK_07-24-2020.pdf"


def test_every_row_has_an_moa_link():
    assert all(row.links[MOA].startswith("https://www.ice.gov/doclib/287gMOA/") for row in table.rows)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("STATE", STATE, id="state"),
        pytest.param("LAW ENFORCEMENT AGENCY", AGENCY, id="agency"),
        pytest.param("Law  Enforcement\nAgency", AGENCY, id="agency-case-and-spacing"),
        pytest.param("TYPE", "type", id="type"),
        pytest.param("COUNTY", "county", id="county"),
        pytest.param("SUPPORT TYPE ", MODEL, id="support-type-trailing-space"),
        pytest.param("SIGNED:", SIGNED, id="signed-punctuation"),
        pytest.param("MOA", MOA, id="moa"),
        pytest.param("ADDENDUM", "addendum", id="addendum"),
        pytest.param("Telephone", None, id="unknown"),
        pytest.param("", None, id="empty"),
    ],
)
def test_canonical_column(header, expected):
    assert canonical_column(header) == expected


def test_loose_markup():
    # No <thead>, header cells as <td>, an unknown column, a blank row, a short row, a nested
    # table, ragged whitespace and a non-breaking space.
    html = """
    <table>
      <tr><td>State</td><td>Law Enforcement Agency</td><td>Notes</td><td>MOA</td></tr>
      <tr><td> FLORIDA \n</td><td>Polk   County\n Sheriff's Office</td><td>new</td>
          <td><a href=" /doclib/287gMOA/polk.pdf ">link</a></td></tr>
      <tr><td></td><td> </td><td></td><td></td></tr>
      <tr><td>TEXAS&nbsp;</td><td>Smith County <table><tr><td>nested</td></tr></table></td></tr>
    </table>
    """
    (parsed,) = parse_list_tables(html.encode("utf-8"), "https://www.ice.gov/identify-and-arrest/287g")
    assert parsed.columns == (STATE, AGENCY, None, MOA)
    assert parsed.sheet_name == "table 1"
    assert parsed.skipped_blank_rows == 1
    first, second = parsed.rows
    assert first.row_number == 1
    assert first.cells == {STATE: "FLORIDA", AGENCY: "Polk County Sheriff's Office", MOA: "link"}
    assert first.extra == {"Notes": "new"}
    assert first.links == {MOA: "https://www.ice.gov/doclib/287gMOA/polk.pdf"}
    assert second.row_number == 3
    assert second.cells[STATE] == "TEXAS\xa0"
    assert second.cells[AGENCY] == "Smith County nested"  # nested table text stays in its cell
    assert second.cells[MOA] is None


def test_tables_that_are_not_lists_are_ignored():
    html = "<table class='table'><tr><th>Office</th><th>Telephone</th></tr><tr><td>a</td><td>b</td></tr></table>"
    assert parse_list_tables(html, PAGE_URL) == []
