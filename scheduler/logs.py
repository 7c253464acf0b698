"""Logging of the command line and the service: stderr, one event per line, with the source
and run each line belongs to (``source=... run=...``, greppable)."""

from __future__ import annotations

import contextvars
import logging

current_source: contextvars.ContextVar[str] = contextvars.ContextVar("source", default="-")
current_run: contextvars.ContextVar[str] = contextvars.ContextVar("run", default="-")


class ContextFilter(logging.Filter):
    """Adds ``source`` and ``run`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.source = current_source.get()
        record.run = current_run.get()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s source=%(source)s run=%(run)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler narrates every job at INFO; our own run lines say the same with source and run.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
