"""`crawl` end to end on loopback: spider in a child process, fetch records, ingest, failures as values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.crawl import crawl_and_ingest
from scheduler.demo.loopback import LoopbackServer, Reply
from storage.database import open_database
from storage.events import EventFilter, EventRepository
from storage.lists import ListRepository
from storage.models import FetchAttempt
from tests.files import PAGES, workbook

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
CONTACT = "tests@example.org"


@pytest.fixture
def server(loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    return loopback


@pytest.fixture
def engine(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'crawl.sqlite'}")
    yield engine
    engine.dispose()


def crawl(engine, server):
    return crawl_and_ingest(engine, server.url(PAGE), contact=CONTACT, settings=FAST, timeout=120)


def page(*names: str) -> str:
    links = "".join(f'<li><a href="{DOCLIB}{n}">{"Participating" if n.startswith("part") else "Pending"} '
                    f'Agencies</a></li>' for n in names)
    return f"<html><body><h2>287(g) agencies</h2><ul>{links}</ul></body></html>"


def fetches(engine) -> list[FetchAttempt]:
    with Session(engine) as session:
        return list(session.scalars(select(FetchAttempt).order_by(FetchAttempt.id)))


def test_the_old_html_table_becomes_a_snapshot_once(engine, server):
    html = (PAGES / "ice_287g_2024_table.html").read_text()
    soup = BeautifulSoup(html, "lxml")
    [listing] = [t for t in soup.select("table.table") if t.find("th", string="STATE")]
    data_rows = [tr for tr in listing.find_all("tr") if tr.find("td")]
    server.route(PAGE, Reply.html(html))

    report = crawl(engine, server)
    assert [line.outcome for line in report.lines] == ["accepted"]
    again = crawl(engine, server)
    assert [line.outcome for line in again.lines] == ["already_recorded"]
    with Session(engine) as session:
        repo = ListRepository(session)
        [snapshot] = repo.snapshots()
        assert (snapshot.list_name, snapshot.agreements) == ("participating", len(data_rows))
        assert [e.kind for e in EventRepository(session).events()] == ["list.first_snapshot"]
        agreements = repo.current_agreements("participating")
        # relative MOA links are resolved against the page they were found on
        assert all("/doclib/287gMOA/" in (a.record.moa_url or "") for a in agreements.values() if a.record.moa == "link")
        assert sum(a.record.moa == "link" for a in agreements.values()) == sum(
            1 for tr in data_rows if tr.find("a", href=True))


def test_a_304_costs_a_fetch_record_and_nothing_else(engine, server):
    name = "participatingAgencies05292025am.xlsx"
    server.route(PAGE, Reply.html(page(name)))
    server.route(DOCLIB + name, Reply.file(workbook(name)))
    assert [line.outcome for line in crawl(engine, server).lines] == ["accepted"]
    assert [line.outcome for line in crawl(engine, server).lines] == ["not_modified"]
    conditional = server.requests_to(DOCLIB + name)[-1]
    assert conditional.header("If-None-Match")
    assert [f.outcome for f in fetches(engine)] == ["downloaded", "not_modified"]
    with Session(engine) as session:
        assert len(ListRepository(session).snapshots()) == 1


def test_a_failed_download_is_recorded_and_removes_nothing(engine, server):
    first, second = "participatingAgencies05282025am.xlsx", "participatingAgencies05292025am.xlsx"
    server.route(PAGE, Reply.html(page(first)))
    server.route(DOCLIB + first, Reply.file(workbook(first)))
    crawl(engine, server)
    server.route(PAGE, Reply.html(page(second)))
    server.route(DOCLIB + second, Reply(status=500, body=b"upstream error"))
    report = crawl(engine, server)
    assert report.failed and [line.outcome for line in report.lines] == ["failed"]
    assert fetches(engine)[-1].outcome == "failed" and "500" in fetches(engine)[-1].error
    with Session(engine) as session:
        assert ListRepository(session).last_accepted("participating").file_name == first
        assert EventRepository(session).events(EventFilter(kinds=("agreement.removed",))) == []


def test_an_unreachable_page_is_a_recorded_failure(engine, tmp_path):
    with LoopbackServer() as gone:
        url = gone.url(PAGE)
    report = crawl_and_ingest(engine, url, contact=CONTACT, settings=FAST, timeout=120)
    assert report.failed
    assert [f.outcome for f in fetches(engine)] == ["failed"]


def test_a_saved_html_page_can_be_backfilled(tmp_path):
    from pipeline.backfill import plan_backfill, run_backfill

    saved = tmp_path / "287g-page-saved-2025-01-10.html"
    saved.write_bytes((PAGES / "ice_287g_2024_table.html").read_bytes())
    engine = open_database(f"sqlite:///{tmp_path / 'b.sqlite'}")
    [result] = run_backfill(engine, plan_backfill([Path(saved)], as_of=dt.date(2025, 1, 10)))
    engine.dispose()
    assert (result.outcome.status, result.outcome.list_name) == ("accepted", "participating")
