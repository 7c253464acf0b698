"""Several `tracker287g run` processes on one database: who runs what, and what a starting or
dying replica does to the runs of the others."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

from sqlalchemy import update
from sqlalchemy.orm import Session

from pipeline.crawl import CrawlLine, CrawlReport
from scheduler.config import load_config
from scheduler.service import Service
from storage.database import open_database
from storage.leases import LeaseRepository, source_lease
from storage.models import CrawlRun, Lease
from storage.runs import RunRepository
from tests.files import ROOT
from tests.scheduler.service_process import ServiceProcess, serve, write_config


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
