"""The change log: every event of every kind (lists, news, source health), with its evidence.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from storage.models import ChangeEvent, table_of
from storage.types import utcnow

_INSERT_EVENTS = insert(table_of(ChangeEvent))
_BLANK: dict[str, Any] = dict.fromkeys(c.name for c in table_of(ChangeEvent).columns if c.name != "id")
_BLANK["status"] = "confirmed"     # pipeline.settle makes the confirmable ones provisional


@dataclass(frozen=True, slots=True)
class EventFilter:
    since: dt.date | None = None
    until: dt.date | None = None
    kinds: tuple[str, ...] = ()
    state: str | None = None
    list_name: str | None = None
    statuses: tuple[str, ...] = ()       # provisional, confirmed, reverted; none: every status


class EventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_events(self, events: Sequence[Mapping]) -> int:
        """Append events (mappings of ChangeEvent columns); ``recorded_at`` defaults to now."""
        if events:
            # executemany needs the same keys in every row
            blank = {**_BLANK, "recorded_at": utcnow()}
            # Core executemany: the ORM's unit of work is not needed for append-only rows.
            self.session.connection().execute(_INSERT_EVENTS, [{**blank, **e} for e in events])
        return len(events)

    def kinds(self) -> list[str]:
        """The kinds of change the log holds."""
        return list(self.session.scalars(select(ChangeEvent.kind).distinct()))

    def event(self, event_id: int) -> ChangeEvent | None:
        return self.session.get(ChangeEvent, event_id)

    def events(self, where: EventFilter = EventFilter()) -> list[ChangeEvent]:
        return list(self.session.scalars(event_query(where)))

    def event_rows(self, where: EventFilter = EventFilter()) -> list[dict[str, Any]]:
        """``events`` as plain dicts of the columns (no ORM object): what readers of a large log
        use, at a fraction of the cost per event."""
        result = self.session.execute(event_query(where, rows=True))
        keys = tuple(result.keys())
        return [dict(zip(keys, row, strict=True)) for row in result]


def event_query(where: EventFilter = EventFilter(), *, rows: bool = False) -> Select[Any]:
    """The events ``where`` selects, oldest first (by day, then id); ``rows``: the table's
    columns rather than ORM objects."""
    query = select(table_of(ChangeEvent) if rows else ChangeEvent).order_by(ChangeEvent.occurred_on, ChangeEvent.id)
    if where.since:
        query = query.where(ChangeEvent.occurred_on >= where.since)
    if where.until:
        query = query.where(ChangeEvent.occurred_on <= where.until)
    if where.kinds:
        query = query.where(ChangeEvent.kind.in_(where.kinds))
    if where.state:
        query = query.where(ChangeEvent.state == where.state)
    if where.list_name:
        query = query.where(ChangeEvent.list_name == where.list_name)
    if where.statuses:
        query = query.where(ChangeEvent.status.in_(where.statuses))
    return query
