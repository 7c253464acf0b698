"""Hostile pages: what the page parsing still does right on them.  (How long they take is
measured by bench/hostile_pages.py, not asserted here.)"""

from __future__ import annotations

from scrapy.http import HtmlResponse

from crawler.html_table import parse_list_tables
from crawler.spiders.ice_287g import Ice287gSpider
from diff.records import AGENCY, STATE

URL = "https://www.ice.gov/identify-and-arrest/287g"
DOCLIB = "https://www.ice.gov/doclib/about/offices/ero/287g/"
ROW = "<tr><th>STATE</th><th>LAW ENFORCEMENT AGENCY</th></tr><tr><td>TX</td><td>Sheriff {n}</td></tr>"


def test_two_thousand_nested_tables_are_each_read_once():
    n = 2000
    html = "<h2>Participating agencies</h2>" + "".join(f"<table>{ROW.format(n=i)}<tr><td>" for i in range(n)) \
        + "x" + "</td></tr></table>" * n
    tables = parse_list_tables(html.encode(), URL)
    assert len(tables) == n                                   # deeper than Python's recursion limit
    first, last = tables[0], tables[-1]
    assert first.rows[0].cells == {STATE: "TX", AGENCY: "Sheriff 0"}
    assert last.rows[0].cells == {STATE: "TX", AGENCY: "Sheriff 1999"}
    assert [t.sheet_name for t in (first, last)] == ["Participating agencies"] * 2
    # the cell holding the rest of the nest reads only the start of it
    nest_cell = first.rows[1].cells[STATE]
    assert nest_cell.startswith("STATELAW ENFORCEMENT AGENCYTXSheriff 1STATE") and len(nest_cell) < 2000


def test_each_table_is_labelled_by_the_heading_that_precedes_it():
    html = ("<table>" + ROW.format(n=0) + "</table><h2>Pending agencies</h2><div><table>" + ROW.format(n=1)
            + "</table><table><caption>Participating</caption>" + ROW.format(n=2) + "</table></div>")
    assert [t.sheet_name for t in parse_list_tables(html, URL)] == ["table 1", "Pending agencies", "Participating"]


def test_eight_thousand_workbook_links_keep_the_one_that_names_a_list():
    junk = "".join(f'<a href="{DOCLIB}file{i}.xlsx">x</a> ' for i in range(8000))
    html = (f'<html><body><p>{junk}</p><h2>Lists</h2><ul><li>Download the '
            f'<a href="{DOCLIB}participatingAgencies05292025am.xlsx">participating agencies</a></li></ul></body></html>')
    spider = Ice287gSpider(page_url=URL)
    links = spider._parse_links(HtmlResponse(URL, body=html.encode(), encoding="utf-8"))
    assert len(links) == 8001
    assert links[-1].declared_list == "participating" and links[-1].text == "participating agencies"
    assert {link.declared_list for link in links[:-1]} == {None}
