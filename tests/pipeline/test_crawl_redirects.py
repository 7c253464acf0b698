"""Redirects Scrapy's duplicate filter used to drop without a word (no fetch record, `crawl`
exit 0 with an empty table): each case now ends in a recorded failure or a recorded download."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.crawl import crawl_and_ingest
from scheduler.demo.loopback import Reply
from storage.database import open_database
from storage.models import FetchAttempt
from tests.files import workbook

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
PARTICIPATING, PENDING = "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0, "REDIRECT_MAX_TIMES": 5}


def redirect(to: str) -> Reply:
    return Reply(status=302, headers={"Location": to})


def page(*names: str) -> Reply:
    links = "".join(f'<li><a href="{DOCLIB}{n}">{n[:-18]} agencies</a></li>' for n in names)
    return Reply.html(f"<html><body><h2>287(g)</h2><ul>{links}</ul></body></html>")


# (case, routes besides the page, expected outcome of each line, sorted)
CASES = [
    ("redirects to itself", {DOCLIB + PARTICIPATING: redirect(DOCLIB + PARTICIPATING),
                             DOCLIB + PENDING: Reply.file(workbook(PENDING))},
     ["accepted", "failed"]),
    ("ping-pong", {DOCLIB + PARTICIPATING: redirect("/elsewhere.xlsx"), "/elsewhere.xlsx": redirect(DOCLIB + PARTICIPATING),
                   DOCLIB + PENDING: Reply.file(workbook(PENDING))},
     ["accepted", "failed"]),
    ("two links, one file", {DOCLIB + PARTICIPATING: redirect("/files/one.xlsx"),
                             DOCLIB + PENDING: redirect("/files/one.xlsx"),
                             "/files/one.xlsx": Reply.file(workbook(PARTICIPATING))},
     ["accepted", "already_recorded"]),
]


@pytest.mark.parametrize(("routes", "outcomes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_redirect_ends_in_a_record(tmp_path, loopback, routes, outcomes):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\n"))
    loopback.route(PAGE, page(PARTICIPATING, PENDING))
    for path, reply in routes.items():
        loopback.route(path, reply)
    engine = open_database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    report = crawl_and_ingest(engine, loopback.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)
    assert sorted(line.outcome for line in report.lines) == outcomes
    with Session(engine) as session:
        attempts = list(session.scalars(select(FetchAttempt)))
    engine.dispose()
    assert {a.url for a in attempts} == {loopback.url(DOCLIB + PARTICIPATING), loopback.url(DOCLIB + PENDING)}
    failed = [a for a in attempts if a.outcome == "failed"]
    assert report.failed == bool(failed)
    assert all("redirect" in (a.error or "") for a in failed), [a.error for a in failed]


def test_a_crawl_that_brings_back_nothing_is_a_failure(tmp_path):
    """No request could be made (Scrapy refuses the address): a recorded failure, not an empty
    success.  (`crawl --page-url` refuses such an address before crawling.)"""
    engine = open_database(f"sqlite:///{tmp_path / 'n.sqlite'}")
    report = crawl_and_ingest(engine, "not a url", contact="tests@example.org", settings=FAST, timeout=120)
    with Session(engine) as session:
        [attempt] = session.scalars(select(FetchAttempt))
    engine.dispose()
    assert report.failed and report.lines == []
    assert (attempt.outcome, attempt.error) == ("failed", f"page: {report.crawl_error}")
    assert "brought back nothing" in attempt.error
