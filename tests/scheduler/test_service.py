"""The real service process, second-scale schedules, a loopback ICE that changes between cycles.

The change log the service builds must equal what `backfill` of the same files gives; HTTP
trouble (304s, 500s, a timeout) must produce fetch records and health events, never list changes.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.demo.loopback import Reply
from storage.database import open_database
from storage.models import ChangeEvent, CrawlRun, Snapshot
from tests.files import workbook
from tests.scheduler.service_process import ServiceProcess, backfill_log, list_log, serve, wait_runs, write_config


@pytest.fixture
def server(loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    return loopback


def test_service_follows_ice_through_trouble_and_logs_what_backfill_logs(tmp_path, server):
    engine = open_database(f"sqlite:///{tmp_path / 'service.sqlite'}")
    service = ServiceProcess(write_config(tmp_path, server, f"sqlite:///{tmp_path / 'service.sqlite'}"))
    outcomes: list[str] = []
    try:
        serve(server, "participatingAgencies05282025am.xlsx")
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        outcomes += [r.outcome for r in wait_runs(engine, service, 2)]                      # a 304 period
        serve(server, "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx",
              broken={"participatingAgencies05292025am.xlsx": Reply(status=500)})            # a 500 period
        outcomes += [r.outcome for r in wait_runs(engine, service, 2)]
        serve(server, "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx")
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        serve(server, "participatingAgencies07012025pm.xlsx", "pendingAgencies05292025am.xlsx",
              broken={"participatingAgencies07012025pm.xlsx": Reply.file(workbook(
                  "participatingAgencies07012025pm.xlsx"), delay=5)})                        # a timeout
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        serve(server, "participatingAgencies07012025pm.xlsx", "pendingAgencies05292025am.xlsx")
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        serve(server, "participatingAgencies09222025am.xlsx", "pendingAgencies09222025am.xlsx")
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        serve(server, "participatingAgencies09222025pm.xlsx", "pendingAgencies09222025pm.xlsx")  # swapped pair
        outcomes += [r.outcome for r in wait_runs(engine, service, 1)]
        serve(server, "participatingAgencies12312025am.xlsx", "pendingAgencies11142025pm.xlsx")   # empty pending
        outcomes += [r.outcome for r in wait_runs(engine, service, 2)]
    finally:
        code, seconds = service.stop()
    assert code == 0 and seconds < 10, service.lines[-20:]

    assert outcomes[:3] == ["changed", "not_modified", "not_modified"]
    assert outcomes[3:5] == ["failed", "failed"]
    assert outcomes[5] == "changed" and outcomes[6] == "failed" and outcomes[7] == "changed"
    # the empty pending list of 2025-11-14 is accepted: its agreements are on the participating list
    assert outcomes[-2:] == ["changed", "not_modified"]

    served = ["participatingAgencies05282025am.xlsx", "participatingAgencies05292025am.xlsx",
              "pendingAgencies05292025am.xlsx", "participatingAgencies07012025pm.xlsx",
              "participatingAgencies09222025am.xlsx", "pendingAgencies09222025am.xlsx",
              "participatingAgencies09222025pm.xlsx", "pendingAgencies09222025pm.xlsx",
              "participatingAgencies12312025am.xlsx", "pendingAgencies11142025pm.xlsx"]
    # the last run brought the list of 12-31 and the (older) empty pending list together, and
    # the participating list goes first: by then the pending agreements had been promoted
    assert list_log(engine) == backfill_log(tmp_path, served[:-2], *served[-2:])
    with Session(engine) as session:
        health = Counter(e.kind for e in session.scalars(select(ChangeEvent)) if e.kind.startswith("source.")
                         and e.kind != "source.anomaly")
        assert health == {"source.failed": 1, "source.recovered": 1}      # 2 failures in a row, then success
        assert session.scalar(select(func.count()).select_from(CrawlRun).where(CrawlRun.outcome == "running")) == 0
        assert {s.file_name for s in session.scalars(select(Snapshot))} == set(served)
    lines = [line for line in service.lines if " run=" in line and "run finished" in line]
    assert lines and all("source=ice_287g" in line for line in lines)
    engine.dispose()


def test_sigkill_mid_ingest_loses_and_duplicates_nothing(tmp_path, server):
    """SIGKILL as soon as a big list starts being ingested, then restart.  A kill can land after
    the commit on a loaded machine, so three lists are tried; at least one kill must land inside
    the transaction, and whatever happened, the log must equal the backfill's."""
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    engine = open_database(db)
    config = write_config(tmp_path, server, db)
    first = "participatingAgencies05282025am.xlsx"
    big_lists = ["participatingAgencies02022026am.xlsx", "participatingAgencies03022026am.xlsx",
                 "participatingAgencies05142026am.xlsx"]
    serve(server, first)
    service = ServiceProcess(config)
    wait_runs(engine, service, 1)
    killed_inside = 0
    for big in big_lists:
        serve(server, big)
        service.wait_for_line(f"ingesting {big}")
        service.process.kill()                          # SIGKILL while the list is being ingested
        service.process.wait(10)
        service.close()
        with Session(engine) as session:
            names = {s.file_name for s in session.scalars(select(Snapshot))}
            running = session.scalar(select(func.count()).select_from(CrawlRun).where(CrawlRun.outcome == "running"))
        assert running == 1                             # the interrupted run shows as such
        killed_inside += big not in names               # nothing of the killed ingest is left
        service = ServiceProcess(config)                # a restart carries on
        service.wait_for_line(f"ingested {big}")
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Snapshot).where(Snapshot.file_name == big)) == 1
    code, _ = service.stop()
    assert code == 0
    assert killed_inside >= 1
    assert list_log(engine) == backfill_log(tmp_path, [first, *big_lists])
    engine.dispose()


def test_sigint_also_stops_cleanly(tmp_path, server):
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    engine = open_database(db)
    serve(server, "participatingAgencies05282025am.xlsx")
    service = ServiceProcess(write_config(tmp_path, server, db))
    wait_runs(engine, service, 1)
    code, seconds = service.stop(signal.SIGINT)
    assert code == 0 and seconds < 10, "\n".join(service.lines[-40:])
    engine.dispose()
