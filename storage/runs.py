"""The service's records: each crawl run of each source, and each source's health.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from diff.health import SourceHealth
from storage.models import CrawlRun, SourceState
from storage.types import utcnow


class RunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- runs -----------------------------------------------------------------------------------
    def start_run(self, source_id: str, pid: int) -> CrawlRun:
        """A run, now; its source's last attempt is now too."""
        run = CrawlRun(source_id=source_id, outcome="running", pid=pid, started_at=utcnow())
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

    def close_interrupted_runs(self, detail: str) -> None:
        """Runs still marked running (a killed service left them) become ``interrupted``."""
        self.session.execute(update(CrawlRun).where(CrawlRun.outcome == "running")
                             .values(outcome="interrupted", finished_at=utcnow(), detail=detail))

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
        for source_id in source_ids:
            if self.session.get(SourceState, source_id) is None:
                self.session.add(SourceState(source_id=source_id, consecutive_failures=0, failure_reported=False,
                                             stale_reported=False))
        self.session.flush()

    def source_state(self, source_id: str) -> SourceState:
        return self.session.get_one(SourceState, source_id)

    def find_source_state(self, source_id: str) -> SourceState | None:
        return self.session.get(SourceState, source_id)

    def health(self, source_id: str) -> SourceHealth | None:
        state = self.find_source_state(source_id)
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
