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


def describe_fault(error: BaseException) -> str:
    """One line: the driver's error class and the first line of its message."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else 'no message'}"[:300]
