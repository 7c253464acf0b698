"""`crawl` and the list's date: a Last-Modified from the future is not believed, recorded as an
anomaly and reported, and the lists after it are not held up as "out of order"."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from pipeline.crawl import crawl_and_ingest
from scheduler.demo.loopback import Reply
from storage.database import open_database
from storage.events import EventFilter, EventRepository
from storage.lists import ListRepository
from tests.files import FIXTURES

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
HISTORY = FIXTURES / "ice-287g-history" / "pending"


@pytest.fixture
def engine(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'crawl.sqlite'}")
    yield engine
    engine.dispose()


def link_page(name: str) -> str:
    return f'<html><body><ul><li><a href="{DOCLIB}{name}">Pending Agencies</a></li></ul></body></html>'


def test_last_modified_in_2036_is_not_believed(engine, loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow:\n"))
    undated = "pendingAgencies.xlsx"
    loopback.route(PAGE, Reply.html(link_page(undated)))
    loopback.route(DOCLIB + undated, Reply.file(HISTORY / undated, last_modified="Mon, 01 Dec 2036 00:00:00 GMT"))

    report = crawl_and_ingest(engine, loopback.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)
    assert not report.failed and [line.outcome for line in report.lines] == ["accepted"]
    [warning] = report.warnings
    assert "Last-Modified" in warning and "2036-12-01" in warning and "not believed" in warning
    with Session(engine) as session:
        [snapshot] = ListRepository(session).snapshots()
        assert snapshot.as_of == dt.date(2025, 2, 20)    # the workbook's metadata, the next basis
        assert snapshot.as_of_basis.startswith("workbook metadata") and "not believed" in snapshot.as_of_basis
        [anomaly] = EventRepository(session).events(EventFilter(kinds=("source.anomaly",)))
        assert anomaly.field == "date_not_believed"

    # The next real list is compared, not set aside as older than 2036.
    dated = "pendingAgencies07102025pm.xlsx"
    loopback.route(PAGE, Reply.html(link_page(dated)))
    loopback.route(DOCLIB + dated, Reply.file(HISTORY / dated))
    later = crawl_and_ingest(engine, loopback.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)
    assert [line.outcome for line in later.lines] == ["accepted"] and later.warnings == []


def test_crawl_command_does_not_exit_0_when_a_date_is_not_believed(tmp_path, loopback):
    from tests.commands import run

    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow:\n"))
    undated = "pendingAgencies.xlsx"
    loopback.route(PAGE, Reply.html(link_page(undated)))
    loopback.route(DOCLIB + undated, Reply.file(HISTORY / undated, last_modified="Mon, 01 Dec 2036 00:00:00 GMT"))
    config = tmp_path / "config.toml"
    config.write_text("[crawler]\ndownload_delay_seconds = 0\n"
                      "[crawler.scrapy]\nAUTOTHROTTLE_ENABLED = false\nRETRY_TIMES = 0\n")
    result = run(f"sqlite:///{tmp_path / 'cli.sqlite'}", "--config", str(config), "crawl",
                 "--page-url", loopback.url(PAGE), "--contact", "tests@example.org")
    assert result.exit_code == 1, result.output
    assert "warning" in result.output and "not believed" in result.output and "accepted" in result.output
