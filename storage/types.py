"""Column types shared by the models.

``UTCDateTime`` is why no caller has to "fix" a datetime read back from the database:
SQLite stores ``DateTime(timezone=True)`` as text without an offset and returns naive values,
PostgreSQL returns ``timestamptz`` in the session's time zone.  Through this type every value
written must be aware, and every value read is aware and in UTC, on both.  The column is the
same ``DateTime(timezone=True)`` as before, so the schema (and the migrations) do not change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored as ``DateTime(timezone=True)`` and always read back in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive value has no defined instant: refusing it keeps the column honest.
            raise ValueError(f"naive datetime {value.isoformat()} for a UTC column: give a time zone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stored: dt.datetime = value
        if stored.tzinfo is None:  # SQLite: what was written was UTC (see process_bind_param)
            return stored.replace(tzinfo=dt.UTC)
        return stored.astimezone(dt.UTC)
