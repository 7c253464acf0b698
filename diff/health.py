"""The source-health rule: when a source is failed, stale or recovered.

Pure: the service keeps a ``SourceHealth`` per source (table ``source_state``), feeds each run's
outcome and each periodic check through these functions, stores the health they return and
records the event they name (built by diff.events).

- ``source.failed``: after ``failures_before_event`` failed runs in a row, once per streak.
- ``source.stale``: no success for longer than ``stale_after`` (counted from the first run
  when there never was one), once until the next success.
- ``source.recovered``: the first success after either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceHealth:
    consecutive_failures: int = 0
    failure_reported: bool = False
    stale_reported: bool = False
    last_success_at: dt.datetime | None = None
    last_error: str | None = None
    last_outcome: str | None = None


@dataclass(frozen=True)
class HealthVerdict:
    health: SourceHealth          # the health to store
    event: str | None = None      # source.failed | source.stale | source.recovered | None


def after_run(health: SourceHealth, outcome: str, detail: str | None, now: dt.datetime, *,
              failures_before_event: int) -> HealthVerdict:
    """The health after a run ended with ``outcome`` (a run outcome; ``stopped`` and
    ``interrupted`` change nothing)."""
    if outcome in ("stopped", "interrupted"):   # cut short by a shutdown or a database outage:
        return HealthVerdict(health)            # says nothing about the source

    if outcome == "failed":
        failures = health.consecutive_failures + 1
        report = failures >= failures_before_event and not health.failure_reported
        after = dataclasses.replace(health, last_outcome=outcome, consecutive_failures=failures, last_error=detail,
                                    failure_reported=health.failure_reported or report)
        return HealthVerdict(after, "source.failed" if report else None)
    recovered = health.failure_reported or health.stale_reported
    after = SourceHealth(last_outcome=outcome, last_success_at=now)
    return HealthVerdict(after, "source.recovered" if recovered else None)


def check_stale(health: SourceHealth, first_run_started: dt.datetime | None, now: dt.datetime, *,
                stale_after: dt.timedelta) -> HealthVerdict:
    """The health after a periodic check: stale once, when no success came for too long."""
    if health.stale_reported:
        return HealthVerdict(health)
    since = health.last_success_at or first_run_started
    if since is None or now - since <= stale_after:
        return HealthVerdict(health)
    return HealthVerdict(dataclasses.replace(health, stale_reported=True), "source.stale")
