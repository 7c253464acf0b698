"""`crawl` against a publisher that cuts downloads short (a real HTTP server on 127.0.0.1):
the cut body is a failed fetch, never ingested, and its ETag is never sent back, so the intact
file behind the same URL and ETag is fetched and ingested on the next crawl."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.middlewares import incomplete_reason
from pipeline.crawl import crawl_and_ingest
from scheduler.demo.loopback import Reply
from storage.database import open_database
from storage.fetches import FetchRepository
from storage.lists import ListRepository
from storage.models import FetchAttempt
from tests.files import workbook

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
NAME = "participatingAgencies05292025am.xlsx"


@pytest.fixture
def engine(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'crawl.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture
def publisher(loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow:\n"))
    loopback.route(PAGE, Reply.html(f'<ul><li><a href="{DOCLIB}{NAME}">Participating Agencies</a></li></ul>'))
    return loopback


def crawl(engine, server):
    return crawl_and_ingest(engine, server.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)


def fetch_outcomes(engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        return [(f.outcome, f.error) for f in session.scalars(select(FetchAttempt).order_by(FetchAttempt.id))]


@pytest.mark.parametrize("send_length", [
    pytest.param(False, id="no-content-length-scrapy-flags-partial"),
    pytest.param(True, id="shorter-than-content-length"),
])
def test_a_download_cut_short_then_the_intact_file(engine, publisher, send_length):
    intact = Reply.file(workbook(NAME))                       # strong ETag from the content
    publisher.route(DOCLIB + NAME, Reply.file(workbook(NAME), cut_after=40_000, send_length=send_length))

    first = crawl(engine, publisher)
    assert first.failed and [line.outcome for line in first.lines] == ["failed"]
    [(outcome, error)] = fetch_outcomes(engine)
    # Scrapy itself fails a body shorter than its Content-Length (DOWNLOAD_FAIL_ON_DATALOSS);
    # a body with no length is passed on flagged "partial", and the spider fails it.
    assert outcome == "failed" and ("DataLoss" in error if send_length else "after 40000 bytes" in error)
    with Session(engine) as session:
        assert ListRepository(session).snapshots() == []           # nothing ingested, nothing quarantined
        assert FetchRepository(session).known_validators("ice_287g") == {}

    publisher.route(DOCLIB + NAME, intact)
    second = crawl(engine, publisher)
    assert not second.failed and [line.outcome for line in second.lines] == ["accepted"]
    assert publisher.requests_to(DOCLIB + NAME)[-1].header("If-None-Match") is None
    with Session(engine) as session:
        [snapshot] = ListRepository(session).snapshots()
        assert (snapshot.status, snapshot.agreements) == ("accepted", 635)


def test_validators_of_an_unreadable_download_are_never_sent(engine, publisher):
    # A damaged file served whole (Content-Length right) is read, quarantined as unreadable,
    # and its ETag is not used: the next crawl asks for the file afresh.
    damaged = workbook(NAME).read_bytes()[:40_000]
    publisher.route(DOCLIB + NAME, Reply(body=damaged, etag='"same"', headers={"Content-Type": "application/octet-stream"}))
    assert [line.outcome for line in crawl(engine, publisher).lines] == ["quarantined"]
    with Session(engine) as session:
        assert FetchRepository(session).known_validators("ice_287g") == {}
    publisher.route(DOCLIB + NAME, Reply(body=workbook(NAME).read_bytes(), etag='"same"'))
    assert [line.outcome for line in crawl(engine, publisher).lines] == ["accepted"]
    assert publisher.requests_to(DOCLIB + NAME)[-1].header("If-None-Match") is None


@pytest.mark.parametrize(("flags", "length", "received", "status", "cut"), [
    pytest.param([], "100", 100, 200, False, id="whole"),
    pytest.param([], None, 100, 200, False, id="no-length-not-flagged"),
    pytest.param(["partial"], None, 60, 200, True, id="partial"),
    pytest.param(["dataloss"], "100", 60, 200, True, id="dataloss"),
    pytest.param([], b"100", 60, 200, True, id="short"),
    pytest.param([], "100", 120, 200, False, id="longer-after-decompression-is-not-checked-here"),
    pytest.param([], "junk", 60, 200, False, id="unreadable-length-ignored"),
    pytest.param(["partial"], None, 0, 304, False, id="not-modified"),
])
def test_incomplete_reason(flags, length, received, status, cut):
    assert (incomplete_reason(flags, length, received, status=status) is not None) == cut
