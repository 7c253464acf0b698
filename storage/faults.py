"""Database faults: the database could not be used (connection lost or refused, server
restarting, disk full, read-only, locked too long), as opposed to a bug or data it refused.

A fault is transient or environmental: whoever meets one stops writing, says so in one line
(no SQL, no traceback) and leaves the work to be done again, in order, once the database is fine.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

DATABASE_FAULTS = (OperationalError, InterfaceError)


def is_database_fault(error: BaseException) -> bool:
    if isinstance(error, DATABASE_FAULTS):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


MAX_REASON = 300


def describe_fault(error: BaseException) -> str:
    """One line for a database error, fault or refusal alike: the driver's error class and the
    first line of its message, at most ``MAX_REASON`` characters.  SQLAlchemy's own message
    carries the SQL and its parameters (kilobytes for one snapshot), never wanted in a reason."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    text = f"{type(original).__name__}: {lines[0] if lines else 'no message'}"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"
