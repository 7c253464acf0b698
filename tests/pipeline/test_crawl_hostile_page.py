"""A crawl of a hostile page still fetches the real workbook: a page padded with thousands of
workbook-shaped links is parsed in time, the link that names a list is
fetched first, and no more than MAX_WORKBOOK_LINKS requests are made; the padding is a
recorded failure of the page."""

from __future__ import annotations

from crawler.spiders.ice_287g import MAX_WORKBOOK_LINKS
from pipeline.crawl import crawl_and_ingest
from scheduler.demo.loopback import Reply
from storage.database import open_database
from tests.files import workbook

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
NAME = "participatingAgencies05292025am.xlsx"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}


def test_the_real_link_is_fetched_behind_eight_thousand_decoys(tmp_path, loopback):
    decoys = "".join(f'<a href="{DOCLIB}file{i}.xlsx">x</a> ' for i in range(8000))
    html = (f"<html><body><p>{decoys}</p><ul><li><a href=\"{DOCLIB}{NAME}\">Participating agencies</a>"
            "</li></ul></body></html>")
    loopback.route("/robots.txt", Reply.robots("User-agent: *\n"))
    loopback.route(PAGE, Reply.html(html))
    loopback.route(DOCLIB + NAME, Reply.file(workbook(NAME)))
    engine = open_database(f"sqlite:///{tmp_path / 'h.sqlite'}")
    report = crawl_and_ingest(engine, loopback.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)
    engine.dispose()
    outcomes = [(line.outcome, line.detail or "") for line in report.lines]
    assert ("accepted", "") in outcomes
    [page_failure] = [d for o, d in outcomes if o == "failed" and "links 8001 workbooks" in d]
    assert f"only the first {MAX_WORKBOOK_LINKS}" in page_failure
    fetched = [r for r in loopback.requests if r.path.startswith(DOCLIB)]
    assert len(fetched) == MAX_WORKBOOK_LINKS and DOCLIB + NAME in {r.path for r in fetched}
