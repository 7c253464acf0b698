"""What `tracker287g status` shows: each source's health (source_state, crawl_run) beside its
configuration."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scheduler.config import Config
from storage.leases import LeaseRepository, source_lease
from storage.runs import RunRepository
from storage.types import utcnow


def status_rows(session: Session, config: Config) -> list[dict[str, Any]]:
    """tracker287g.status/1: configured sources first, then sources only the database knows."""
    runs = RunRepository(session)
    now = utcnow()
    known = {s.id: s for s in config.sources}
    states = runs.source_states()
    claims = LeaseRepository(session).live()
    rows = []
    for source_id in list(known) + sorted(set(states) - set(known)):
        state, source = states.get(source_id), known.get(source_id)
        last_run = runs.last_run(source_id)
        finished = runs.last_run(source_id, finished=True)
        success = state.last_success_at if state else None
        age = (now - success) if success else None
        rows.append({
            "source": source_id,
            "kind": source.kind if source else None,
            "enabled": bool(source and source.enabled),
            "schedule": source.schedule.describe() if source else "(not configured)",
            "last_success": success,
            "last_attempt": state.last_attempt_at if state else None,
            "last_outcome": state.last_outcome if state else None,
            "last_lists": finished.list_outcomes or {} if finished else {},   # each list's outcome
            "consecutive_failures": state.consecutive_failures if state else 0,
            "last_error": state.last_error if state else None,
            "next_run": state.next_run_at if state else None,
            "hours_since_success": round(age.total_seconds() / 3600, 2) if age else None,
            "stale": bool(source and source.enabled and state is not None
                          and (age is None or age > config.health.stale_after)),
            "last_run_id": last_run.id if last_run else None,
            "last_run_ms": last_run.duration_ms if last_run else None,
            "last_replica": last_run.replica if last_run else None,     # the service process that ran it
            "running_in": claims.get(source_lease(source_id)),           # the replica running it now, if any
        })
    return rows
