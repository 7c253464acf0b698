"""``tracker287g run``: every source on its own schedule, for months, unattended.

Design:
- APScheduler 3.x BackgroundScheduler, one job per enabled source (fixed id = source id),
  ``max_instances=1`` (a source never runs twice at once), ``coalesce=True`` and no misfire
  limit (runs missed while the service was down become one run).  Interval schedules lie on a
  fixed grid (scheduler.config.INTERVAL_ANCHOR), so a restart does not shift them; a source whose
  next run after its last recorded attempt is already past runs at once on start.
- Every crawl runs in a child process (crawler.run): a Twisted reactor cannot be restarted, and
  a hang or crash inside Scrapy must not take the service down.  The service process itself
  never imports Scrapy's reactor.
- Each run is recorded (crawl_run) with its outcome; source health (source_state) drives the
  ``source.failed`` / ``source.stale`` / ``source.recovered`` events.
- SIGTERM/SIGINT: no new runs start, running crawls are killed, a document being ingested
  finishes or rolls back its transaction; the process exits 0 within the stop timeout.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from crawler.sources import LIST_SOURCE_KIND, NEWS_KINDS
from diff import events as ev
from diff.health import SourceHealth, after_run, check_stale
from pipeline.crawl import CrawlReport, crawl_and_ingest
from pipeline.ingest import IngestOptions, Ingestor
from pipeline.news import crawl_news_source
from publish.notify import notify_after_run, register_targets
from scheduler.config import Config, SourceConfig
from scheduler.logs import current_run, current_source
from scheduler.seeds import load_baseline
from storage.events import EventRepository
from storage.fetches import FetchRepository
from storage.runs import RunRepository
from storage.types import utcnow

log = logging.getLogger(__name__)

# What a collector line's outcome means for the run, most serious first.
LINE_OUTCOMES = {
    "failed": "failed", "quarantined": "quarantined", "accepted": "changed", "new": "changed",
    "unchanged": "unchanged", "already_recorded": "unchanged", "duplicate": "unchanged", "irrelevant": "unchanged",
    "not_modified": "not_modified",
}
RUN_OUTCOME_ORDER = ("failed", "quarantined", "changed", "unchanged", "not_modified")


def run_outcome(report: CrawlReport) -> str:
    if report.crawl_error:
        return "failed"
    outcomes = {LINE_OUTCOMES.get(line.outcome, "failed") for line in report.lines}
    if not outcomes:
        return "failed"
    return next(o for o in RUN_OUTCOME_ORDER if o in outcomes)


def list_outcomes(report: CrawlReport) -> dict[str, str]:
    """Each list's own outcome, most serious first as for the run: a run whose pending file was
    quarantined while the participating list changed is ``{"participating": "changed",
    "pending": "quarantined"}``, not just ``quarantined``.  A failure says which list it was
    for when its URL's file name does; others are counted under ``other``."""
    by_list: dict[str, set[str]] = {}
    for line in report.lines:
        name = line.list_name or parse_list_file_name(line.url.rsplit("/", 1)[-1]).declared_list or "other"
        by_list.setdefault(name, set()).add(LINE_OUTCOMES.get(line.outcome, "failed"))
    return {name: next(o for o in RUN_OUTCOME_ORDER if o in outcomes) for name, outcomes in sorted(by_list.items())}


Collector = Callable[..., CrawlReport]


def _collect_ice_287g(engine: Engine, source: SourceConfig, *, contact: str, settings: dict[str, Any],
                      timeout: float, stop: threading.Event, run_id: int, ingestor: Ingestor) -> CrawlReport:
    return crawl_and_ingest(engine, source.url, contact=contact, timeout=timeout, settings=settings,
                            ingestor=ingestor, stop=stop, run_id=run_id, source_id=source.id)


def collectors() -> dict[str, Collector]:
    """Source kind -> collector."""
    return {LIST_SOURCE_KIND: _collect_ice_287g, **dict.fromkeys(NEWS_KINDS, _news_collector)}


def _news_collector(engine: Engine, source: SourceConfig, *, contact: str, settings: dict[str, Any], timeout: float,
                    stop: threading.Event, run_id: int, ingestor: Ingestor) -> CrawlReport:
    assert source.news is not None   # a news kind: its options were checked when the configuration loaded
    return crawl_news_source(engine, source.news, contact=contact, baseline=load_baseline(), settings=settings,
                             timeout=timeout, run_id=run_id, stop=stop)


@dataclass
class Service:
    config: Config
    engine: Engine
    stop: threading.Event
    collectors: dict[str, Collector] | None = None     # source kind -> collector (default: collectors())

    def __post_init__(self) -> None:
        self.timezone = self.config.scheduler.timezone
        self.scheduler = BackgroundScheduler(
            timezone=self.timezone,
            executors={"default": ThreadPoolExecutor(self.config.scheduler.max_parallel_sources)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._job_error, EVENT_JOB_ERROR)
        self.collectors = dict(self.collectors or collectors())
        self.sources = {s.id: s for s in self.config.enabled_sources()}
        unknown = [f"{s.id} ({s.kind})" for s in self.sources.values() if s.kind not in self.collectors]
        if unknown:
            raise ValueError(f"no collector for source kind of: {', '.join(unknown)}")
        self.failures_before_event = self.config.health.failures_before_event
        self.stale_after = self.config.health.stale_after

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        now = utcnow()
        self._ensure_states()
        self._register_targets(now)
        for source in self.sources.values():
            trigger = source.schedule.trigger(self.timezone)
            first = self._first_run(source, trigger, now)
            # Careful: APScheduler 3 takes next_run_time=None as "add the job paused"; leave the
            # keyword out to let the trigger choose the first run.
            self.scheduler.add_job(
                self.run_source, trigger, args=[source.id], id=source.id, name=source.id, replace_existing=True,
                **({"next_run_time": first} if first is not None else {}),
            )
            log.info("scheduled %s: %s", source.id, source.schedule.describe())
        self.scheduler.add_job(self.check_health, IntervalTrigger(seconds=self.config.health.check_every_seconds),
                               id="health", name="health")
        self.scheduler.start()
        self._record_next_runs()

    def _ensure_states(self) -> None:
        """One source_state row per source before any job runs (jobs and health only update it);
        runs a killed service left "running" are closed as "interrupted" (one service per database)."""
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            runs.close_interrupted_runs("the service stopped before this run finished; nothing of it was half-written")
            runs.ensure_source_states(self.sources)

    def _register_targets(self, now: dt.datetime) -> None:
        """New notification targets start from now: the history before the service began is not sent."""
        try:
            register_targets(self.engine, self.config.notifications, now)
        except Exception:  # notifications never stop the service
            log.exception("notification targets could not be registered")

    def _first_run(self, source: SourceConfig, trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
        """Now when a run was due while the service was down (or never ran), else None: the trigger decides."""
        with Session(self.engine) as session:
            state = RunRepository(session).find_source_state(source.id)
        last = state.last_attempt_at if state else None
        if last is None:
            return now
        due = trigger.get_next_fire_time(None, last + dt.timedelta(seconds=1))
        return now if due is not None and due <= now else None

    def shutdown(self) -> None:
        """Stop scheduling; wait for running jobs (their crawls are killed) up to the stop timeout."""
        self.stop.set()
        if not self.scheduler.running:
            return
        deadline = self.config.scheduler.stop_timeout_seconds
        waiter = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        waiter.start()
        waiter.join(deadline)
        if waiter.is_alive():
            log.warning("jobs still running after %.0f s: leaving them; their transactions roll back", deadline)
        log.info("service stopped")

    # -- jobs -------------------------------------------------------------------------------------
    def run_source(self, source_id: str) -> None:
        if self.stop.is_set():
            return
        source = self.sources[source_id]
        run_id = self._start_run(source_id)
        source_token, run_token = current_source.set(source_id), current_run.set(str(run_id))
        started = time.monotonic()
        outcome, detail, size, lists = "failed", None, None, None
        try:
            log.info("run started")
            report = self.collectors[source.kind](
                self.engine, source, contact=self.config.contact, settings=self.config.crawler.scrapy_settings(),
                timeout=self.config.crawler.run_timeout_seconds, stop=self.stop,
                run_id=run_id, ingestor=Ingestor(self.engine, IngestOptions(thresholds=self.config.thresholds,
                                                                             confirmation=self.config.confirmation)),
            )
            outcome = "stopped" if report.stopped else run_outcome(report)
            detail = report.crawl_error or "; ".join(
                f"{line.file_name or line.url}: {line.outcome}" + (f" ({line.detail})" if line.detail else "")
                for line in report.lines)
            size = self._run_bytes(run_id)
            lists = list_outcomes(report) if source.kind == LIST_SOURCE_KIND else None
        except Exception as error:  # one source's failure never reaches the scheduler
            log.exception("run failed")
            detail = f"{type(error).__name__}: {error}"
        finally:
            duration = int((time.monotonic() - started) * 1000)
            self._finish_run(source, run_id, outcome, detail, duration, size, lists)
            log.info("run finished: %s in %d ms", outcome, duration)
            current_source.reset(source_token)
            current_run.reset(run_token)
        notify_after_run(self.engine, self.config.notifications)  # logs failures, never raises

    def check_health(self) -> None:
        """One ``source.stale`` event when a source has had no success for too long."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            for source in self.sources.values():
                health = runs.health(source.id)
                if health is None:
                    continue
                first_run = runs.first_run_started(source.id)
                verdict = check_stale(health, first_run, now, stale_after=self.stale_after)
                since = health.last_success_at or first_run
                if verdict.event is None or since is None:
                    continue
                runs.save_health(source.id, verdict.health)
                EventRepository(session).add_events([ev.source_stale(
                    _facts(source), since, self.stale_after, health.last_success_at, health.last_error, now)])
                log.warning("source %s is stale", source.id)
        self._record_next_runs()

    # -- records ----------------------------------------------------------------------------------
    def _start_run(self, source_id: str) -> int:
        with Session(self.engine) as session, session.begin():
            return RunRepository(session).start_run(source_id, os.getpid()).id

    def _run_bytes(self, run_id: int) -> int:
        with Session(self.engine) as session:
            return FetchRepository(session).bytes_of_run(run_id)

    def _finish_run(self, source: SourceConfig, run_id: int, outcome: str, detail: str | None, duration: int,
                    size: int | None, lists: dict[str, str] | None = None) -> None:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            runs.finish_run(run_id, outcome, detail, duration, size, lists)
            before = runs.health(source.id) or SourceHealth()
            verdict = after_run(before, outcome, detail, now, failures_before_event=self.failures_before_event)
            runs.save_health(source.id, verdict.health)
            if verdict.event == "source.failed":
                EventRepository(session).add_events([ev.source_failed(
                    _facts(source), verdict.health.consecutive_failures, detail, run_id, now)])
                log.warning("source %s failed %d times in a row", source.id, verdict.health.consecutive_failures)
            elif verdict.event == "source.recovered":
                EventRepository(session).add_events([ev.source_recovered(
                    _facts(source), outcome, before.consecutive_failures, before.last_success_at, run_id, now)])
                log.info("source %s recovered", source.id)

    def _record_next_runs(self) -> None:
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            for job in self.scheduler.get_jobs():
                if job.id in self.sources:
                    runs.source_state(job.id).next_run_at = job.next_run_time

    def _job_error(self, event: JobExecutionEvent) -> None:  # pragma: no cover - run_source catches everything
        log.error("job %s raised: %s", event.job_id, event.exception)


def _facts(source: SourceConfig) -> ev.SourceFacts:
    return ev.SourceFacts(source.id, source.kind, source.url)


def run_service(config: Config, engine: Engine, *, install_signals: bool = True) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0)."""
    stop = threading.Event()
    service = Service(config, engine, stop)
    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stop.set())
    try:
        service.start()
        log.info("service started with %d source(s): %s", len(service.sources), ", ".join(service.sources))
        while not stop.wait(0.5):
            pass
        log.info("stop requested")
    finally:
        service.shutdown()
    return 0
