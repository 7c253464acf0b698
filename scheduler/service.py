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
- Replicas: any number of services may share one PostgreSQL database.  Each schedules every
  source, but a run starts only in the replica that takes the source's lease (storage.leases),
  and only when no replica has run that scheduled slot yet; the lease is renewed while the run
  lasts.  A replica that dies stops renewing: once its lease expires, the next scheduled run of
  another replica takes the source over and closes the dead replica's run as ``interrupted``.
  The health check and notifications run under their own leases, so each happens once.
  SQLite keeps one service per database file (a lock file beside it says so at start).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
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
from scheduler.outage import Outage, OutageWatch
from scheduler.seeds import load_baseline
from storage.database import ServiceLock, service_lock
from storage.events import EventRepository
from storage.faults import describe_fault, is_database_fault
from storage.fetches import FetchRepository
from storage.leases import LeaseRepository, job_lease, replica_name, source_lease
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
        self.replica = replica_name()
        self.lease = dt.timedelta(seconds=self.config.scheduler.lease_seconds)
        self._held: dict[str, threading.Event] = {}     # lease name -> set once the lease is lost
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._service_lock: ServiceLock | None = None
        self._busy = 0                                   # jobs running now
        self.outages = OutageWatch()
        self._idle = threading.Condition()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        now = utcnow()
        # SQLite: one service per database file; raises ServiceAlreadyRunning (a ValueError)
        self._service_lock = service_lock(self.engine)
        self._ensure_states()
        self._register_targets(now)
        for source in self.sources.values():
            trigger = source.schedule.trigger(self.timezone)
            first = self._first_run(source, trigger, now)
            # Careful: APScheduler 3 takes next_run_time=None as "add the job paused"; leave the
            # keyword out to let the trigger choose the first run.
            self.scheduler.add_job(
                self.run_source, trigger, args=[source.id], kwargs={"only_if_due": True}, id=source.id,
                name=source.id, replace_existing=True,
                **({"next_run_time": first} if first is not None else {}),
            )
            log.info("scheduled %s: %s", source.id, source.schedule.describe())
        self.scheduler.add_job(self.check_health, IntervalTrigger(seconds=self.config.health.check_every_seconds),
                               id="health", name="health")
        self.scheduler.start()
        self._renewer = threading.Thread(target=self._renew_leases, name="lease-renewal", daemon=True)
        self._renewer.start()
        self._record_next_runs()
        log.info("replica %s (lease %.0f s)", self.replica, self.lease.total_seconds())

    def _ensure_states(self) -> None:
        """One source_state row per source before any job runs (jobs and health only update it);
        runs left "running" by a replica that is gone (its lease expired) are closed as
        "interrupted".  Runs of live replicas are theirs to close."""
        with Session(self.engine) as session, session.begin():
            runs, leases = RunRepository(session), LeaseRepository(session)
            if self._service_lock is not None and self._service_lock.exclusive:
                leases.release_all()     # holding the file lock: every earlier holder is gone
            closed = runs.close_orphaned_runs(leases.live(), INTERRUPTED)
            runs.ensure_source_states(self.sources)
        if closed:
            log.info("closed %d run(s) a stopped replica left running: %s", len(closed), closed)

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
        return now if _due(trigger, state.last_attempt_at if state else None, now) else None

    def shutdown(self) -> bool:
        """Stop scheduling; wait for running jobs (their crawls are killed) up to the stop timeout.
        False when some job was still running then (the caller ends the process regardless)."""
        self.stop.set()
        self._stop_held_runs()
        finished = True
        if self.scheduler.running:
            # Never shutdown(wait=True): it waits for the jobs while holding the scheduler's job-store
            # lock, and a job asking the scheduler anything (get_jobs) would wait for it for ever.
            self.scheduler.shutdown(wait=False)
            deadline = self.config.scheduler.stop_timeout_seconds
            with self._idle:
                finished = self._idle.wait_for(lambda: self._busy == 0, timeout=deadline)
            if not finished:
                log.warning("jobs still running after %.0f s: leaving them; their transactions roll back", deadline)
        if self._service_lock is not None and finished:
            self._service_lock.release()
        log.info("service stopped")
        return finished

    @contextlib.contextmanager
    def _job(self) -> Iterator[None]:
        """Counts the jobs running, for shutdown() to wait on."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    # -- jobs -------------------------------------------------------------------------------------
    def run_source(self, source_id: str, *, only_if_due: bool = False) -> None:
        """Run ``source_id`` now unless another replica is running it; the scheduler's calls
        (``only_if_due``) also give way when another replica already ran this scheduled run."""
        with self._job():
            try:
                self._run_source(source_id, only_if_due)
            except Exception as error:
                if not is_database_fault(error):
                    raise
                self.outages.fault(error, missed=source_id)     # the run could not even start

    def _run_source(self, source_id: str, only_if_due: bool) -> None:
        if self.stop.is_set():
            return
        source = self.sources[source_id]
        run_id = self._claim_run(source, only_if_due)
        self._database_is_back()
        if run_id is None:
            return
        run_stop = self._hold(source_lease(source_id))
        source_token, run_token = current_source.set(source_id), current_run.set(str(run_id))
        started = time.monotonic()
        outcome, detail, size, lists = "failed", None, None, None
        try:
            log.info("run started")
            report = self.collectors[source.kind](
                self.engine, source, contact=self.config.contact, settings=self.config.crawler.scrapy_settings(),
                timeout=self.config.crawler.run_timeout_seconds, stop=run_stop,
                run_id=run_id, ingestor=Ingestor(self.engine, IngestOptions(thresholds=self.config.thresholds,
                                                                             confirmation=self.config.confirmation,
                                                                             limits=self.config.limits)),
            )
            outcome = "stopped" if report.stopped else run_outcome(report)
            if report.stopped and not self.stop.is_set():
                report.crawl_error = "the lease on this source was lost (another replica may run it)"
            detail = report.crawl_error or "; ".join(
                f"{line.file_name or line.url}: {line.outcome}" + (f" ({line.detail})" if line.detail else "")
                for line in report.lines)
            size = self._run_bytes(run_id)
            lists = list_outcomes(report) if source.kind == LIST_SOURCE_KIND else None
        except Exception as error:  # one source's failure never reaches the scheduler
            if is_database_fault(error):
                # Its transaction rolled back; what it downloaded but could not record is fetched
                # again next time (validators come only from ingested downloads).
                outcome, detail = "interrupted", f"the database became unavailable: {describe_fault(error)}"
                self.outages.fault(error)
            else:
                log.exception("run failed")
                detail = f"{type(error).__name__}: {error}"
        finally:
            duration = int((time.monotonic() - started) * 1000)
            with self._held_lock:
                self._held.pop(source_lease(source_id), None)
            try:
                self._finish_run(source, run_id, outcome, detail, duration, size, lists)
            except Exception as error:
                if not is_database_fault(error):
                    raise
                self.outages.fault(error, unfinished=(run_id, source_id))
            log.info("run finished: %s in %d ms", outcome, duration)
            current_source.reset(source_token)
            current_run.reset(run_token)
        if self.outages.current is None:
            self._notify()

    def check_health(self) -> None:
        with self._job():
            if self.stop.is_set():
                return
            try:
                self._check_health()
            except Exception as error:
                if not is_database_fault(error):
                    raise
                self.outages.fault(error)
                return
            self._database_is_back()

    def _check_health(self) -> None:
        """In the one replica holding the health lease: one ``source.stale`` event when a source
        has had no success for too long; runs of replicas that died are closed; and notifications
        left pending (a replica skips them while another sends) go out."""
        if not self._take_job_lease("health", self.lease + dt.timedelta(
                seconds=2 * self.config.health.check_every_seconds)):
            self._record_next_runs()
            return
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            closed = runs.close_orphaned_runs(LeaseRepository(session).live(), INTERRUPTED)
            if closed:
                log.warning("closed %d run(s) of a replica that stopped renewing its lease: %s", len(closed), closed)
            for source in self.sources.values():
                health = runs.health(source.id, lock=True)
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
        if self.outages.current is None:
            self._notify()

    def _notify(self) -> None:
        """Send pending notifications unless another replica is sending right now (then its next
        health check, or the next run anywhere, sends what is left)."""
        name = job_lease("notify")
        if not self._take_job_lease("notify", self.lease):
            return
        try:
            notify_after_run(self.engine, self.config.notifications)  # logs failures, never raises
        finally:
            self._release(name)

    # -- leases -----------------------------------------------------------------------------------
    def _claim_run(self, source: SourceConfig, only_if_due: bool) -> int | None:
        """The id of a new run of ``source`` if this replica takes its lease and no replica has run
        this scheduled slot yet, else None.  One transaction: the lease and the run go together."""
        with Session(self.engine) as session, session.begin():
            leases, runs = LeaseRepository(session), RunRepository(session)
            if not leases.acquire(source_lease(source.id), self.replica, self.lease):
                log.debug("%s is running in another replica", source.id)
                return None
            state = runs.find_source_state(source.id)
            last_attempt = state.last_attempt_at if state else None
            if only_if_due and not _due(source.schedule.trigger(self.timezone), last_attempt, utcnow()):
                leases.release(source_lease(source.id), self.replica)
                log.debug("%s: another replica ran this scheduled run already", source.id)
                return None
            closed = runs.close_orphaned_runs(leases.live(), INTERRUPTED)
            if closed:
                log.info("taking over %s: closed run(s) %s of a replica whose lease expired", source.id, closed)
            return runs.start_run(source.id, os.getpid(), self.replica).id

    def _take_job_lease(self, job: str, duration: dt.timedelta) -> bool:
        with Session(self.engine) as session, session.begin():
            return LeaseRepository(session).acquire(job_lease(job), self.replica, duration)

    def _hold(self, name: str) -> threading.Event:
        """Keep the lease ``name`` renewed until released; the event is set when it is lost or
        the service stops (a run stops on it)."""
        lost = threading.Event()
        if self.stop.is_set():
            lost.set()
        with self._held_lock:
            self._held[name] = lost
        return lost

    def _release(self, name: str) -> None:
        with self._held_lock:
            self._held.pop(name, None)
        try:
            with Session(self.engine) as session, session.begin():
                LeaseRepository(session).release(name, self.replica)
        except Exception as error:  # it expires on its own
            log.warning("could not release lease %s: %s", name, error)

    def _stop_held_runs(self) -> None:
        with self._held_lock:
            for lost in self._held.values():
                lost.set()

    def _renew_leases(self) -> None:
        """Every third of the lease time: renew what this replica holds; a lease that could not be
        renewed before it expired (another replica may hold it now) stops its run."""
        every = self.lease.total_seconds() / 3
        renewed_at = time.monotonic()
        while not self.stop.wait(every):
            with self._held_lock:
                held = dict(self._held)
            if not held:
                renewed_at = time.monotonic()
                continue
            try:
                with Session(self.engine) as session, session.begin():
                    leases = LeaseRepository(session)
                    lost = [name for name in held if not leases.renew(name, self.replica, self.lease)]
                renewed_at = time.monotonic()
            except Exception as error:  # the database is unreachable: try again, until expiry
                if not is_database_fault(error):
                    log.exception("lease renewal failed")
                self.outages.fault(error)
                if time.monotonic() - renewed_at < self.lease.total_seconds():
                    continue
                lost = list(held)
            for name in lost:
                log.warning("lost the lease %s: stopping its run", name)
                held[name].set()
        self._stop_held_runs()

    # -- records ----------------------------------------------------------------------------------
    def _run_bytes(self, run_id: int) -> int:
        with Session(self.engine) as session:
            return FetchRepository(session).bytes_of_run(run_id)

    def _finish_run(self, source: SourceConfig, run_id: int, outcome: str, detail: str | None, duration: int,
                    size: int | None, lists: dict[str, str] | None = None) -> None:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            runs.finish_run(run_id, outcome, detail, duration, size, lists)
            LeaseRepository(session).release(source_lease(source.id), self.replica)   # with the run's end
            before = runs.health(source.id, lock=True) or SourceHealth()
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

    # -- database outages ---------------------------------------------------------------------------
    def _database_is_back(self) -> None:
        """After a statement went through: if an outage was on, record it and say it is over."""
        outage = self.outages.current
        if outage is None:
            return
        try:
            self._record_outage(outage)
        except Exception as error:
            if not is_database_fault(error):
                raise
            self.outages.fault(error)
            return
        self.outages.end(outage)

    def _record_outage(self, outage: Outage) -> None:
        """Runs whose end could not be written are closed; each source gets a ``db_unavailable`` run
        spanning the outage, with the count of its scheduled runs that could not start."""
        ended = utcnow()
        span = (f"from {outage.started_at:%Y-%m-%d %H:%M:%S} to {ended:%H:%M:%S} UTC "
                f"({(ended - outage.started_at).total_seconds():.0f} s; {outage.reason})")
        with Session(self.engine) as session, session.begin():
            runs, leases = RunRepository(session), LeaseRepository(session)
            for run_id, source_id in outage.unfinished.items():
                runs.finish_run(run_id, "interrupted", f"the database was unavailable {span}; nothing of this "
                                "run was half-written, and what it fetched is fetched again", None, None)
                leases.release(source_lease(source_id), self.replica)
            for source_id in self.sources:      # each source went unwatched meanwhile, run or not
                runs.record_outage(source_id, outage.started_at, ended, self.replica, f"the database was unavailable "
                                   f"{span}: {outage.missed[source_id]} scheduled run(s) could not start")

    def _record_next_runs(self) -> None:
        if self.stop.is_set():
            return
        with Session(self.engine) as session, session.begin():
            runs = RunRepository(session)
            for job in self.scheduler.get_jobs():
                if job.id in self.sources:
                    runs.source_state(job.id).next_run_at = job.next_run_time

    def _job_error(self, event: JobExecutionEvent) -> None:  # pragma: no cover - run_source catches everything
        log.error("job %s raised: %s", event.job_id, event.exception)


INTERRUPTED = "the service stopped before this run finished; nothing of it was half-written"


def _due(trigger: BaseTrigger, last_attempt: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a scheduled run is due at ``now``, given the source's last attempt (in any replica):
    the first fire time after that attempt has come.  Jitter is left out, so that a replica's own
    random delay never makes it skip its slot."""
    if last_attempt is None:
        return True
    plain = copy.copy(trigger)
    if hasattr(plain, "jitter"):
        plain.jitter = None
    due = plain.get_next_fire_time(None, last_attempt + dt.timedelta(milliseconds=1))
    return due is not None and due <= now


def _facts(source: SourceConfig) -> ev.SourceFacts:
    return ev.SourceFacts(source.id, source.kind, source.url)


def run_service(config: Config, engine: Engine, *, install_signals: bool = True) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0)."""
    stop = threading.Event()
    service = Service(config, engine, stop)
    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stop.set())
    finished = True
    try:
        service.start()
        log.info("service started with %d source(s): %s", len(service.sources), ", ".join(service.sources))
        while not stop.wait(0.5):
            pass
        log.info("stop requested")
    finally:
        finished = service.shutdown()
    if not finished and install_signals:
        # A job still inside a long transaction (a 100k-row ingest, say) would keep the process alive
        # past the stop timeout: Python joins worker threads at exit.  Leave now; the database
        # rolls the open transaction back when the connection drops.
        logging.shutdown()
        os._exit(0)
    return 0
