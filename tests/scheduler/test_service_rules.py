"""Service rules in process: configuration, schedules, health events, isolation of sources.

Collectors here are plain functions standing in for a crawl (the real crawl is exercised end to
end in test_service.py); everything else — scheduler, database, events — is the real thing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from diff.confirmation import DEFAULT_CONFIRMATION
from pipeline.crawl import CrawlLine, CrawlReport
from scheduler.config import INTERVAL_ANCHOR, ConfigError, load_config
from scheduler.service import Service, run_outcome
from storage.models import ChangeEvent, CrawlRun, SourceState
from tests.files import ROOT

ICE_ONLY = """
[[sources]]
id = "ice_287g"
kind = "ice_287g"
url = "https://www.ice.gov/identify-and-arrest/287g"
enabled = true
schedule = { interval_minutes = 120, jitter_seconds = 300 }
"""


def config_file(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def load(tmp_path, text: str, environ=None):
    """The configuration with only the ICE list among the seeded sources (news sources stay out)."""
    seeds = tmp_path / "sources.toml"
    seeds.write_text(ICE_ONLY)
    return load_config(config_file(tmp_path, text), environ=environ or {}, sources_file=seeds)


def two_sources(tmp_path, interval=0.2, extra=""):
    return load(tmp_path, f"""
[crawler]
contact = "rules@example.org"
[health]
failures_before_event = 2
stale_after_hours = 0.0003
check_every_seconds = 3600
[sources.ice_287g]
enabled = false
[sources.good]
kind = "ok"
url = "http://127.0.0.1:9/good"
schedule = {{ interval_seconds = {interval} }}
[sources.bad]
kind = "broken"
url = "http://127.0.0.1:9/bad"
schedule = {{ interval_seconds = {interval} }}
{extra}
""")


def report(*outcomes: str, error: str | None = None) -> CrawlReport:
    result = CrawlReport("http://127.0.0.1:9/")
    result.lines = [CrawlLine("http://127.0.0.1:9/x.xlsx", "participating", o) for o in outcomes]
    result.crawl_error = error
    return result


@pytest.mark.parametrize(
    ("outcomes", "error", "expected"),
    [
        (("accepted", "not_modified"), None, "changed"),
        (("not_modified", "not_modified"), None, "not_modified"),
        (("unchanged", "not_modified"), None, "unchanged"),
        (("accepted", "quarantined"), None, "quarantined"),
        (("accepted", "failed"), None, "failed"),
        ((), None, "failed"),
        ((), "crawler exited with 1", "failed"),
    ],
)
def test_run_outcome(outcomes, error, expected):
    assert run_outcome(report(*outcomes, error=error)) == expected


def test_configuration_layers_and_errors(tmp_path):
    path = config_file(tmp_path, """
[crawler]
contact = "file@example.org"
[sources.ice_287g]
schedule = { cron = "*/15 * * * *" }
""")
    seeds = tmp_path / "sources.toml"
    seeds.write_text(ICE_ONLY)
    config = load_config(path, sources_file=seeds, environ={"TRACKER287G_CONTACT": "env@example.org",
                                        "TRACKER287G__HEALTH__FAILURES_BEFORE_EVENT": "5",
                                        "TRACKER287G_DB": "sqlite:////tmp/x.sqlite"})
    assert config.contact == "env@example.org"                       # environment beats the file
    assert config.health.failures_before_event == 5
    assert config.database_url == "sqlite:////tmp/x.sqlite"
    [source] = config.sources
    assert (source.schedule.cron, source.url) == ("*/15 * * * *", "https://www.ice.gov/identify-and-arrest/287g")
    assert config.origin["crawler.contact"] == "environment"
    confirmation = load(tmp_path, "[confirmation]\nparticipating = { snapshots = 3, hours = 336 }").confirmation
    assert (confirmation["participating"].snapshots, confirmation["participating"].hours) == (3, 336.0)
    assert confirmation["pending"] == DEFAULT_CONFIRMATION["pending"]
    for bad, message in (
        ("[crawler]\ncontcat = 'x'", "unknown key 'contcat'"),
        ("[sources.ice_287g]\nschedule = { interval_minutes = 5, cron = '* * * * *' }", "exactly one"),
        ("[sources.ice_287g]\nschedule = { cron = 'every tuesday' }", "schedule"),
        ("[thresholds]\npending = { max_drop_share = 2, min_drop_rows = 1 }", "max_drop_share"),
        ("[confirmation]\npending = { snapshots = 0, hours = 1 }", "snapshots"),
        ("[confirmation]\nparticipatng = { snapshots = 2, hours = 1 }", "not a list name"),
        ("[sources.new]\nkind = 'feed'", "lacks url, schedule"),
        ("not toml at all [", "not valid TOML"),
    ):
        with pytest.raises(ConfigError, match=message):
            load(tmp_path, bad)


def test_interval_schedules_lie_on_a_grid_that_survives_restarts(tmp_path):
    config = load(tmp_path, "[sources.ice_287g]\nschedule = { interval_minutes = 120 }")
    trigger_a, trigger_b = (config.sources[0].schedule.trigger("UTC") for _ in range(2))
    now = dt.datetime(2026, 11, 25, 10, 7, tzinfo=dt.UTC)
    fire_a, fire_b = trigger_a.get_next_fire_time(None, now), trigger_b.get_next_fire_time(None, now)
    assert fire_a == fire_b == dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    assert (fire_a - INTERVAL_ANCHOR).total_seconds() % 7200 == 0


def test_a_run_missed_while_down_happens_once_at_start(tmp_path, engine):
    config = load(tmp_path, "[sources.ice_287g]\nschedule = { interval_minutes = 120 }")
    service = Service(config, engine, threading.Event())
    source = config.sources[0]
    trigger = source.schedule.trigger("UTC")
    now = dt.datetime(2026, 6, 1, 11, 0, tzinfo=dt.UTC)     # an hour from the 2-hour grid on either side
    assert service._first_run(source, trigger, now) == now                 # never ran: run now
    with Session(engine) as session, session.begin():
        session.add(SourceState(source_id=source.id, consecutive_failures=0, failure_reported=False,
                                stale_reported=False, last_attempt_at=now - dt.timedelta(hours=30)))
    assert service._first_run(source, trigger, now) == now                 # 15 runs missed: one run now
    with Session(engine) as session, session.begin():
        session.get(SourceState, source.id).last_attempt_at = now - dt.timedelta(minutes=1)
    assert service._first_run(source, trigger, now) is None                # not due: the grid decides


def test_one_broken_source_neither_stops_nor_delays_another_and_health_events_follow(tmp_path, engine):
    config = two_sources(tmp_path)
    calls = {"good": [], "bad": 0}
    active = {"good": 0, "max": 0}
    lock = threading.Lock()

    def good(engine_, source, **kwargs):
        with lock:
            active["good"] += 1
            active["max"] = max(active["max"], active["good"])
        calls["good"].append(time.monotonic())
        time.sleep(0.3)                                    # longer than the interval: never twice at once
        with lock:
            active["good"] -= 1
        return report("not_modified")

    def broken(engine_, source, **kwargs):
        calls["bad"] += 1
        if calls["bad"] <= 3:
            raise RuntimeError("collector crashed")
        return report("unchanged")

    service = Service(config, engine, threading.Event(), collectors={"ok": good, "broken": broken})
    service.start()
    try:
        deadline = time.monotonic() + 20
        while (calls["bad"] < 4 or len(calls["good"]) < 5) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        service.shutdown()
    assert calls["bad"] >= 4 and len(calls["good"]) >= 5
    assert active["max"] == 1
    with Session(engine) as session:
        kinds = [e.kind for e in session.scalars(select(ChangeEvent).order_by(ChangeEvent.id))]
        bad_runs = [r.outcome for r in session.scalars(select(CrawlRun).where(CrawlRun.source_id == "bad")
                                                       .order_by(CrawlRun.id))]
        good_state = session.get(SourceState, "good")
    assert bad_runs[:4] == ["failed", "failed", "failed", "unchanged"]
    assert kinds.count("source.failed") == 1 and kinds.count("source.recovered") == 1   # once per streak
    assert kinds.index("source.failed") < kinds.index("source.recovered")
    assert good_state.consecutive_failures == 0 and good_state.last_outcome == "not_modified"


def test_stale_is_reported_once_and_recovery_after_it(tmp_path, engine):
    config = two_sources(tmp_path, interval=3600)
    service = Service(config, engine, threading.Event(), collectors={
        "ok": lambda *a, **k: report("not_modified"), "broken": lambda *a, **k: report("failed")})
    service._ensure_states()
    service.run_source("bad")
    time.sleep(1.2)                                          # stale_after is about one second here
    service.check_health()
    service.check_health()
    service.collectors["broken"] = lambda *a, **k: report("unchanged")
    service.run_source("bad")
    with Session(engine) as session:
        events = [(e.kind, e.subject_key) for e in session.scalars(select(ChangeEvent).order_by(ChangeEvent.id))]
    assert events.count(("source.stale", "bad")) == 1
    assert events[-1] == ("source.recovered", "bad")
    assert ("source.failed", "bad") not in events            # one failure is below the threshold of 2


def test_a_source_not_yet_due_at_start_is_scheduled_not_paused(tmp_path, engine):
    config = load(tmp_path, "[sources.ice_287g]\nschedule = { interval_minutes = 120 }")
    now = dt.datetime.now(dt.UTC)
    # attempted just now: not due whatever the time (a minute earlier could straddle a grid point)
    with Session(engine) as session, session.begin():
        session.add(SourceState(source_id="ice_287g", consecutive_failures=0, failure_reported=False,
                                stale_reported=False, last_attempt_at=now))
    service = Service(config, engine, threading.Event(), collectors={"ice_287g": lambda *a, **k: report("unchanged")})
    service.start()
    try:
        job = service.scheduler.get_job("ice_287g")
        assert job.next_run_time is not None
        assert now < job.next_run_time <= now + dt.timedelta(hours=2)
        with Session(engine) as session:
            assert session.get(SourceState, "ice_287g").next_run_at is not None   # what `status` shows
    finally:
        service.shutdown()


def test_the_example_configuration_loads_and_documents_every_key():
    import tomllib

    from scheduler.config import DEFAULTS

    example = ROOT / "deploy" / "config.example.toml"
    text = example.read_text()
    load_config(example, environ={})
    parsed = tomllib.loads(text)
    for section, keys in DEFAULTS.items():
        if section in ("sources", "database"):
            continue
        for key in keys:
            assert key in parsed.get(section, {}), f"[{section}] {key} is not documented in {example.name}"
    assert "# url =" in text                     # [database] url is documented, commented out


def test_every_seeded_source_kind_has_a_collector():
    from scheduler.service import collectors

    kinds = {s.kind for s in load_config(environ={}).sources}
    assert kinds <= set(collectors()), kinds - set(collectors())


def test_the_read_limits_are_a_setting():
    from crawler.limits import ReadLimits

    assert load_config(environ={}).limits == ReadLimits() and ReadLimits().max_rows == 2_000_000
    config = load_config(environ={"TRACKER287G__LIMITS__MAX_ROWS": "100"})
    assert config.limits == ReadLimits(max_rows=100)
    with pytest.raises(ConfigError, match="max_rows"):
        load_config(environ={"TRACKER287G__LIMITS__MAX_ROWS": "0"})
