"""Database errors, told in one line.

SQLAlchemy's message for a failed statement carries the SQL and its parameters (kilobytes for
one snapshot); a recorded failure or a log line wants the driver's reason only.
"""

from __future__ import annotations

from sqlalchemy.exc import StatementError

MAX_REASON = 300


def describe_database_error(error: BaseException) -> str:
    """``<driver error class>: <first line of its message>``, at most ``MAX_REASON`` characters."""
    cause = error.orig if isinstance(error, StatementError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else 'no message'}"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"
