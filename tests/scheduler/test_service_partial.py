"""The real service process against a publisher that cuts downloads short: each cut download is
a failed run for that list (never a quarantined snapshot), and the intact file behind the same
URL and ETag is fetched and accepted as soon as it is served."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.demo.loopback import Reply
from storage.database import open_database
from storage.lists import ListRepository
from storage.models import CrawlRun
from tests.files import workbook
from tests.scheduler.service_process import DOCLIB, PAGE, ServiceProcess, page, wait_runs, write_config

NAME = "participatingAgencies05282025am.xlsx"


def test_service_against_a_publisher_that_cuts_downloads_short(tmp_path, loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    loopback.route(PAGE, page(NAME))
    loopback.route(DOCLIB + NAME, Reply.file(workbook(NAME), cut_after=30_000, send_length=False))
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    engine = open_database(url)
    service = ServiceProcess(write_config(tmp_path, loopback, url))
    try:
        cut = wait_runs(engine, service, 2)
        loopback.route(DOCLIB + NAME, Reply.file(workbook(NAME)))            # the same ETag, whole
        later = wait_runs(engine, service, 2)
        while "changed" not in [r.outcome for r in later]:
            later += wait_runs(engine, service, 1)
    finally:
        code, _ = service.stop()
    assert code == 0, service.lines[-20:]
    assert [(r.outcome, r.list_outcomes) for r in cut] == [("failed", {"participating": "failed"})] * 2
    changed = next(r for r in later if r.outcome == "changed")
    assert changed.list_outcomes == {"participating": "changed"}
    with Session(engine) as session:
        [snapshot] = ListRepository(session).snapshots()
        assert (snapshot.file_name, snapshot.status, snapshot.agreements) == (NAME, "accepted", 628)
        assert all("cut short" in (r.detail or "") for r in session.scalars(
            select(CrawlRun).where(CrawlRun.outcome == "failed")))
    engine.dispose()
