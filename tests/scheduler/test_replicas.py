"""Several `tracker287g run` processes on one database: who runs what, and what a starting or
dying replica does to the runs of the others."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.crawl import CrawlLine, CrawlReport
from scheduler.config import load_config
from scheduler.demo.loopback import Reply
from scheduler.service import Service
from scheduler.status import status_rows
from storage.database import create_database_engine, open_database
from storage.leases import LeaseRepository, source_lease
from storage.models import ChangeEvent, CrawlRun, FetchAttempt, Lease, Snapshot
from storage.runs import RunRepository
from storage.types import utcnow
from tests.files import ROOT
from tests.scheduler.service_process import ServiceProcess, backfill_log, list_log, serve, write_config


def two_sources(tmp_path):
    """Two hourly sources of stand-in kinds, nothing else."""
    seeds = tmp_path / "sources.toml"
    seeds.write_text("")
    config = tmp_path / "config.toml"
    config.write_text("""
[crawler]
contact = "replicas@example.org"
[health]
check_every_seconds = 3600
[sources.good]
kind = "ok"
url = "http://127.0.0.1:9/good"
schedule = { interval_seconds = 3600 }
[sources.bad]
kind = "broken"
url = "http://127.0.0.1:9/bad"
schedule = { interval_seconds = 3600 }
""")
    return load_config(config, environ={}, sources_file=seeds)


def unchanged(*args, **kwargs) -> CrawlReport:
    return CrawlReport("http://127.0.0.1:9/", [CrawlLine("http://127.0.0.1:9/x", "participating", "unchanged")])


def test_a_starting_replica_leaves_a_live_replicas_run_alone_and_closes_a_dead_ones(tmp_path, engine):
    with Session(engine) as session, session.begin():
        leases, runs = LeaseRepository(session), RunRepository(session)
        runs.ensure_source_states(["good", "bad"])
        leases.acquire(source_lease("good"), "other:1:aa", dt.timedelta(minutes=5))
        leases.acquire(source_lease("bad"), "killed:2:bb", dt.timedelta(minutes=5))
        live = runs.start_run("good", 1, "other:1:aa").id
        killed = runs.start_run("bad", 2, "killed:2:bb").id
    service = Service(two_sources(tmp_path), engine, threading.Event(),
                      collectors={"ok": unchanged, "broken": unchanged})
    service._ensure_states()
    with Session(engine) as session:
        assert [session.get(CrawlRun, i).outcome for i in (live, killed)] == ["running", "running"]

    service.run_source("good")                    # the other replica is running it: not here too
    with Session(engine) as session:
        assert session.query(CrawlRun).filter_by(source_id="good").count() == 1

    with Session(engine) as session, session.begin():   # the killed replica's lease runs out
        session.execute(update(Lease).where(Lease.name == source_lease("bad"))
                        .values(expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    service.check_health()                        # the health job closes its run ...
    with Session(engine) as session:
        assert session.get(CrawlRun, killed).outcome == "interrupted"
        assert session.get(CrawlRun, live).outcome == "running"
    service.run_source("bad")                     # ... and the source is this replica's to run
    with Session(engine) as session:
        last = RunRepository(session).last_run("bad")
        assert (last.outcome, last.replica) == ("unchanged", service.replica)
        assert LeaseRepository(session).live().get(source_lease("bad")) is None   # released with the run's end


def test_a_second_service_on_one_sqlite_file_is_refused_clearly(tmp_path, loopback):
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    open_database(db).dispose()
    serve(loopback, "participatingAgencies05282025am.xlsx")
    config = write_config(tmp_path, loopback, db)
    first = ServiceProcess(config)
    try:
        first.wait_for_line("service started")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("TRACKER287G_DB", None)
        second = subprocess.run([sys.executable, "-m", "scheduler.cli", "--config", str(config), "run"],
                                env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        code, _ = first.stop()
    assert second.returncode == 1
    assert "another `tracker287g run` is already using" in second.stderr
    assert "use PostgreSQL to run replicas" in second.stderr and "Traceback" not in second.stderr
    assert code == 0


# -- two real replicas on one PostgreSQL database --------------------------------------------------

def replica_name_of(service: ServiceProcess) -> str:
    service.wait_for_line("scheduler.service: replica ")
    line = next(line for line in service.lines if "scheduler.service: replica " in line)
    return line.split("scheduler.service: replica ", 1)[1].split()[0]


def snapshot_names(engine) -> set[str]:
    with Session(engine) as session:
        return {s.file_name for s in session.scalars(select(Snapshot))}


def wait_for(condition, what: str, services: list[ServiceProcess], timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n" + "\n\n".join("\n".join(s.lines[-25:]) for s in services))


def test_two_replicas_share_one_postgresql_database_and_one_takes_over_when_the_other_is_killed(
        tmp_path, loopback, pg_url):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    config = write_config(tmp_path, loopback, pg_url, scheduler="lease_seconds = 3")
    engine = create_database_engine(pg_url)
    first = "participatingAgencies05282025am.xlsx"
    serve(loopback, first)
    replicas = [ServiceProcess(config), ServiceProcess(config)]      # together, on a database not yet created
    try:
        names = [replica_name_of(r) for r in replicas]
        wait_for(lambda: first in snapshot_names(engine), first, replicas)
        pair = ["participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"]
        serve(loopback, *pair, broken={pair[0]: Reply(status=500)})             # failing runs, in either replica
        wait_for(lambda: _health_events(engine)["source.failed"] == 1, "source.failed", replicas)
        serve(loopback, *pair)
        wait_for(lambda: set(pair) <= snapshot_names(engine), "the 05/29 pair", replicas)
        wait_for(lambda: _health_events(engine)["source.recovered"] == 1, "source.recovered", replicas)

        # SIGKILL whichever replica is running the source now; the other takes it over
        holder = wait_for(lambda: _holder(engine), "a run in progress", replicas)
        victim = next(r for r, name in zip(replicas, names) if name == holder)
        survivor = next(r for r in replicas if r is not victim)
        victim.process.kill()
        killed_at = utcnow()
        victim.process.wait(10)
        with Session(engine) as session:
            orphans = list(session.scalars(select(CrawlRun.id).where(CrawlRun.replica == holder,
                                                                      CrawlRun.outcome == "running")))
        later = ["participatingAgencies07012025pm.xlsx", "pendingAgencies05292025am.xlsx"]
        serve(loopback, *later)
        wait_for(lambda: later[0] in snapshot_names(engine), later[0], [survivor])
        code, _ = survivor.stop()
    finally:
        for replica in replicas:
            replica.close()
    assert code == 0

    served = [first, *pair, later[0]]
    assert list_log(engine) == backfill_log(tmp_path, served)
    with Session(engine) as session:
        runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.started_at)))
        downloads = Counter(a.file_name for a in session.scalars(
            select(FetchAttempt).where(FetchAttempt.outcome == "downloaded", FetchAttempt.file_name.is_not(None))))
    assert {name: downloads[name] for name in served} == dict.fromkeys(served, 1)   # each file downloaded once
    assert _health_events(engine) == {"source.failed": 1, "source.recovered": 1}     # not once per replica
    for earlier, following in zip(runs, runs[1:]):                                # never two runs at once
        assert earlier.finished_at is not None and earlier.finished_at <= following.started_at, (earlier.id, following.id)
    assert orphans and {r.outcome for r in runs if r.id in orphans} == {"interrupted"}   # closed after its lease
    assert "running" not in {r.outcome for r in runs}
    takeover = next(r for r in runs if r.started_at > killed_at)
    assert takeover.replica != holder
    assert {r.replica for r in runs} <= set(names)
    with Session(engine) as session:
        row = next(r for r in status_rows(session, load_config(config, environ={})) if r["source"] == "ice_287g")
    assert row["last_replica"] in names and row["running_in"] is None
    engine.dispose()


def _health_events(engine) -> Counter:
    with Session(engine) as session:
        return Counter(e.kind for e in session.scalars(select(ChangeEvent).where(
            ChangeEvent.kind.in_(["source.failed", "source.recovered", "source.stale"]))))


def _holder(engine) -> str | None:
    with Session(engine) as session:
        return LeaseRepository(session).live().get(source_lease("ice_287g"))
