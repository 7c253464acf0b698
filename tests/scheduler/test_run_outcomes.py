"""Each list's own outcome in `crawl_run` and `status`: a run whose pending file was quarantined
while the participating list changed is not shown as just `quarantined`."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.crawl import CrawlLine, CrawlReport
from scheduler.config import load_config
from scheduler.service import Service, list_outcomes, run_outcome
from scheduler.status import status_rows
from storage.models import CrawlRun
from storage.runs import RunRepository

DOCLIB = "http://127.0.0.1:9/doclib/about/offices/ero/287g/"


def line(file_name: str, list_name: str | None, outcome: str) -> CrawlLine:
    return CrawlLine(DOCLIB + file_name, list_name, outcome, file_name=file_name)


# (lines, run outcome, each list's outcome): the run of 2025-10-17 and its neighbours
CASES = [
    pytest.param([line("participatingAgencies10172025pm.xlsx", "participating", "accepted"),
                  line("pendingAgencies10172025pm.xlsx", "pending", "quarantined")],
                 "quarantined", {"participating": "changed", "pending": "quarantined"}, id="promotions-day"),
    pytest.param([line("participatingAgencies10172025pm.xlsx", "participating", "not_modified"),
                  line("pendingAgencies10172025pm.xlsx", "pending", "accepted")],
                 "changed", {"participating": "not_modified", "pending": "changed"}, id="pending-only-changed"),
    # a failed download names no list, but its URL's file name does
    pytest.param([line("participatingAgencies10172025pm.xlsx", None, "failed"),
                  line("pendingAgencies10172025pm.xlsx", "pending", "unchanged")],
                 "failed", {"participating": "failed", "pending": "unchanged"}, id="failure-by-file-name"),
    pytest.param([CrawlLine("http://127.0.0.1:9/file-download/download/public/43829", None, "failed")],
                 "failed", {"other": "failed"}, id="failure-without-a-name"),
]


@pytest.mark.parametrize(("lines", "outcome", "lists"), CASES)
def test_list_outcomes(lines, outcome, lists):
    report = CrawlReport("http://127.0.0.1:9/identify-and-arrest/287g", lines=lines)
    assert (run_outcome(report), list_outcomes(report)) == (outcome, lists)


def test_the_run_and_status_keep_each_lists_outcome(tmp_path, engine):
    config_path = tmp_path / "config.toml"
    config_path.write_text('[crawler]\ncontact = "runs@example.org"\n'
                           '[sources.ice_287g]\nschedule = { interval_minutes = 120 }\n')
    seeds = tmp_path / "sources.toml"
    seeds.write_text('[[sources]]\nid = "ice_287g"\nkind = "ice_287g"\n'
                     'url = "http://127.0.0.1:9/identify-and-arrest/287g"\nenabled = true\n'
                     'schedule = { interval_minutes = 120 }\n')
    config = load_config(config_path, environ={}, sources_file=seeds)
    [promotions_day] = [case.values[0] for case in CASES if case.id == "promotions-day"]
    report = CrawlReport("http://127.0.0.1:9/identify-and-arrest/287g", lines=promotions_day)
    service = Service(config, engine, threading.Event(), collectors={"ice_287g": lambda *a, **k: report})
    with Session(engine) as session, session.begin():   # what start() does first; no scheduler needed here
        RunRepository(session).ensure_source_states(["ice_287g"])
    service.run_source("ice_287g")
    with Session(engine) as session:
        [run] = session.scalars(select(CrawlRun)).all()
        assert (run.outcome, run.list_outcomes) == ("quarantined", {"participating": "changed",
                                                                      "pending": "quarantined"})
        [row] = status_rows(session, config)
    assert (row["last_outcome"], row["last_lists"]) == ("quarantined", {"participating": "changed",
                                                                        "pending": "quarantined"})
