"""The service's records: each crawl run of each source, and each source's health.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from diff.health import SourceHealth
from storage.leases import source_lease
from storage.models import CrawlRun, SourceState
from storage.types import utcnow


class RunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- runs -----------------------------------------------------------------------------------
    def start_run(self, source_id: str, pid: int, replica: str | None = None) -> CrawlRun:
        """A run, now; its source's last attempt is now too."""
        run = CrawlRun(source_id=source_id, outcome="running", pid=pid, replica=replica, started_at=utcnow())
        self.session.add(run)
        self.source_state(source_id).last_attempt_at = run.started_at
        self.session.flush()
        return run

    def finish_run(self, run_id: int, outcome: str, detail: str | None, duration_ms: int,
                   size: int | None, list_outcomes: Mapping[str, str] | None = None) -> CrawlRun:
        run = self.session.get_one(CrawlRun, run_id)
        run.finished_at, run.outcome, run.detail, run.duration_ms, run.bytes = (
            utcnow(), outcome, detail, duration_ms, size)
        run.list_outcomes = dict(list_outcomes) if list_outcomes else None
        return run

    def record_outage(self, source_id: str, started_at: dt.datetime, ended_at: dt.datetime, replica: str,
                      detail: str) -> CrawlRun:
        """A ``db_unavailable`` run: the span of a database outage during which runs of the source
        could not start (written once the database is back)."""
        run = CrawlRun(source_id=source_id, outcome="db_unavailable", started_at=started_at, finished_at=ended_at,
                       duration_ms=int((ended_at - started_at).total_seconds() * 1000), detail=detail,
                       replica=replica)
        self.session.add(run)
        self.session.flush()
        return run

    def close_interrupted_runs(self, detail: str) -> None:
        """Runs still marked running (a killed service left them) become ``interrupted``."""
        self.session.execute(update(CrawlRun).where(CrawlRun.outcome == "running")
                             .values(outcome="interrupted", finished_at=utcnow(), detail=detail))

    def close_orphaned_runs(self, live_leases: Mapping[str, str], detail: str) -> list[int]:
        """Runs marked running whose replica no longer holds its source's lease (it died, and
        the lease expired) become ``interrupted``; runs of live replicas are left alone.
        Returns the ids closed."""
        running = self.session.scalars(select(CrawlRun).where(CrawlRun.outcome == "running")).all()
        closed = [run for run in running if live_leases.get(source_lease(run.source_id)) != run.replica
                  or run.replica is None]
        for run in closed:
            run.outcome, run.finished_at, run.detail = "interrupted", utcnow(), detail
        self.session.flush()
        return [run.id for run in closed]

    def last_run(self, source_id: str, *, finished: bool = False) -> CrawlRun | None:
        """The source's newest run (``finished``: the newest that has ended)."""
        query = select(CrawlRun).where(CrawlRun.source_id == source_id)
        if finished:
            query = query.where(CrawlRun.finished_at.is_not(None))
        return self.session.scalars(query.order_by(CrawlRun.id.desc()).limit(1)).first()

    def first_run_started(self, source_id: str) -> dt.datetime | None:
        return self.session.scalar(select(func.min(CrawlRun.started_at)).where(CrawlRun.source_id == source_id))

    # -- source state ---------------------------------------------------------------------------
    def ensure_source_states(self, source_ids: Iterable[str]) -> None:
        """A state row for each source; replicas starting together may race to create one, so an
        existing row (even one another transaction just inserted) is left as it is."""
        dialect = self.session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for source_id in source_ids:
            self.session.execute(insert(SourceState).values(
                source_id=source_id, consecutive_failures=0, failure_reported=False, stale_reported=False,
            ).on_conflict_do_nothing(index_elements=["source_id"]))
        self.session.flush()

    def source_state(self, source_id: str) -> SourceState:
        return self.session.get_one(SourceState, source_id)

    def find_source_state(self, source_id: str) -> SourceState | None:
        return self.session.get(SourceState, source_id)

    def health(self, source_id: str, *, lock: bool = False) -> SourceHealth | None:
        """The source's health; ``lock`` holds its row until the transaction ends (two replicas
        updating one source's health take turns: a run ending here, the stale check there)."""
        state = self.session.get(SourceState, source_id, with_for_update=lock, populate_existing=lock)
        if state is None:
            return None
        return SourceHealth(consecutive_failures=state.consecutive_failures, failure_reported=state.failure_reported,
                            stale_reported=state.stale_reported, last_success_at=state.last_success_at,
                            last_error=state.last_error, last_outcome=state.last_outcome)

    def save_health(self, source_id: str, health: SourceHealth) -> None:
        state = self.source_state(source_id)
        state.consecutive_failures, state.failure_reported, state.stale_reported = (
            health.consecutive_failures, health.failure_reported, health.stale_reported)
        state.last_success_at, state.last_error, state.last_outcome = (
            health.last_success_at, health.last_error, health.last_outcome)

    def source_states(self) -> dict[str, SourceState]:
        return {s.source_id: s for s in self.session.scalars(select(SourceState))}
