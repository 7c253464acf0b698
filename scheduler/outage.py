"""Database faults as the service meets them: unreachable, restarting, full, read-only.

A fault is not a bug: no traceback, and one log line when an outage starts and one when it
ends, however many runs and checks meet it meanwhile.  What the outage cost (runs that could not
start, runs whose end could not be written) is kept here and written once the database is back.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from storage.faults import describe_fault
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class Outage:
    started_at: dt.datetime
    reason: str
    missed: Counter[str] = field(default_factory=Counter)     # source -> scheduled runs that could not start
    unfinished: dict[int, str] = field(default_factory=dict)  # run id -> source: runs whose end was not written


class OutageWatch:
    """The current outage, if any; thread-safe (runs and the health check meet it in parallel)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Outage | None = None

    def fault(self, error: BaseException, *, missed: str | None = None,
              unfinished: tuple[int, str] | None = None) -> None:
        with self._lock:
            if self.current is None:
                self.current = Outage(utcnow(), describe_fault(error))
                log.warning("database unavailable (%s): no run starts and nothing is written until it is back",
                            self.current.reason)
            else:
                log.debug("database still unavailable: %s", describe_fault(error))
            if missed is not None:
                self.current.missed[missed] += 1
            if unfinished is not None:
                self.current.unfinished[unfinished[0]] = unfinished[1]

    def end(self, outage: Outage) -> None:
        """The outage is over and recorded."""
        with self._lock:
            if self.current is outage:
                self.current = None
        seconds = (utcnow() - outage.started_at).total_seconds()
        log.warning("database available again after %.0f s; %d run(s) had been skipped", seconds,
                    sum(outage.missed.values()))
