"""Settle: the stage after write.  A list's new changes become provisional; earlier provisional
changes it undoes become ``reverted`` (both events marked and linked, a batch named by one
``list.reverted``); those that held long enough become ``confirmed`` (diff.confirmation).

Runs in the ingest's transaction, for every accepted or unchanged list (an unchanged list is
one more list that kept the new state).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from diff import events as ev
from diff.confirmation import CONFIRMABLE_KINDS, ConfirmationRule, OpenEvent, batch_reversals, due, reversals
from storage.events import EventRepository
from storage.models import ChangeEvent, Snapshot, table_of
from storage.types import utcnow

log = logging.getLogger(__name__)

SETTLED_LISTS = ("accepted", "unchanged")
_EVENTS = table_of(ChangeEvent)
# Core statements, built once (column reads: the ORM adds nothing here, and an ingest runs them
# each time)
_OPEN_COLUMNS = (_EVENTS.c.id, _EVENTS.c.kind, _EVENTS.c.subject_key, _EVENTS.c.field, _EVENTS.c.old_value,
                 _EVENTS.c.new_value, _EVENTS.c.snapshot_id, _EVENTS.c.occurred_on, _EVENTS.c.agreement_id)
_OPEN_EVENTS = (
    select(*_OPEN_COLUMNS)
    .where(_EVENTS.c.list_name == bindparam("list_name"), _EVENTS.c.status == "provisional",
           _EVENTS.c.snapshot_id <= bindparam("snapshot_id"))
    .order_by(_EVENTS.c.id)
)
_MAKE_PROVISIONAL = (
    update(_EVENTS)
    .where(_EVENTS.c.snapshot_id == bindparam("b_snapshot_id"), _EVENTS.c.kind.in_(CONFIRMABLE_KINDS))
    .values(status="provisional", status_changed_at=bindparam("b_now"))
)
_MAKE_PROVISIONAL_RETURNING = _MAKE_PROVISIONAL.returning(_EVENTS.c.list_name, *_OPEN_COLUMNS)
_CONFIRM = (update(_EVENTS).where(_EVENTS.c.id.in_(bindparam("b_ids", expanding=True)))
            .values(status="confirmed", status_changed_at=bindparam("b_now")))
_PROMOTIONS = select(_EVENTS.c.id, _EVENTS.c.evidence).where(_EVENTS.c.snapshot_id == bindparam("snapshot_id"),
                                                             _EVENTS.c.kind == "agreement.promoted")
_PROVISIONAL_PENDING_REMOVALS = (
    select(_EVENTS.c.id, _EVENTS.c.subject_key)
    .where(_EVENTS.c.list_name == "pending", _EVENTS.c.kind == "agreement.removed", _EVENTS.c.status == "provisional",
           _EVENTS.c.subject_key.in_(bindparam("keys", expanding=True)))
)
_SNAPSHOTS = table_of(Snapshot)
_LATER_LISTS = (
    select(_SNAPSHOTS.c.id)
    .where(_SNAPSHOTS.c.list_name == bindparam("list_name"), _SNAPSHOTS.c.status.in_(SETTLED_LISTS),
           _SNAPSHOTS.c.id > bindparam("after"), _SNAPSHOTS.c.id <= bindparam("upto"))
    .order_by(_SNAPSHOTS.c.id)
)


@dataclass(frozen=True)
class Settled:
    reverted: int = 0
    confirmed: int = 0
    batches: int = 0
    # the list's provisional events after this settle, by id: what the next settle of the list
    # may start from (``open_before``) when nothing else was written in between
    still_open: tuple[OpenEvent, ...] = ()
    # events of the pending list that this settle of the participating list reverted
    pending_reverted: frozenset[int] = frozenset()


def settle(session: Session, snapshot: Snapshot, rule: ConfirmationRule,
           facts: Callable[[Snapshot], ev.SnapshotFacts], open_before: Sequence[OpenEvent] | None = None) -> Settled:
    """Settle the provisional changes of ``snapshot``'s list after it was written (``facts``:
    what events say about a snapshot).  ``open_before``: the list's provisional events as the
    previous settle of the list left them (its ``still_open``, less the pending removals any
    settle of the other list reverted since), for a caller that knows that no other settle ran
    in between; else they are read."""
    now = utcnow()
    # Core statements on the table: the events were written with Core and no ChangeEvent of
    # this list is held by the session, so the ORM's bookkeeping of an UPDATE (most of this
    # stage's time) has nothing to keep in step.
    if open_before is None:
        session.connection().execute(_MAKE_PROVISIONAL, {"b_snapshot_id": snapshot.id, "b_now": now})
        open_events = _open_events(session, snapshot.list_name, snapshot.id)
        new = [e for e in open_events if e.snapshot_id == snapshot.id]
        earlier = [e for e in open_events if e.snapshot_id != snapshot.id]
    else:
        # the events just made provisional are this snapshot's: read as they are marked
        rows = session.connection().execute(_MAKE_PROVISIONAL_RETURNING, {"b_snapshot_id": snapshot.id, "b_now": now})
        new = sorted((_open_event(row[1:]) for row in rows if row[0] == snapshot.list_name), key=lambda e: e.id)
        earlier = list(open_before)
    pairs = reversals(earlier, new)
    marks = [(old.id, undoing.id) for old, undoing in pairs]
    marks += list({undoing.id: old.id for old, undoing in reversed(pairs)}.items())
    _mark(session, marks, "reverted", now)
    batches = batch_reversals(pairs, _made(session, {old.snapshot_id for old, _ in pairs}))
    if batches:
        EventRepository(session).add_events([
            ev.list_reverted(facts(snapshot), facts(_snapshot(session, b.reverted_snapshot_id)), b) for b in batches
        ])
    reverted = {old.id for old, _ in pairs} | {undoing.id for _, undoing in pairs}
    pending_reverted: frozenset[int] = frozenset()
    if snapshot.list_name == "participating":
        pending_reverted = _promotions_explain_pending_removals(session, snapshot, now)
    still_open = [e for e in earlier if e.id not in reverted]
    confirmed = due(still_open, _lists_since(session, snapshot, {e.snapshot_id for e in still_open}),
                    snapshot.as_of, rule)
    if confirmed:
        for start in range(0, len(confirmed), 500):
            session.connection().execute(_CONFIRM, {"b_ids": confirmed[start:start + 500], "b_now": now})
    if pairs or confirmed:
        log.info("%s list %s: %d changes reverted, %d confirmed, %d batch reversals", snapshot.list_name,
                 snapshot.file_name, len(pairs), len(confirmed), len(batches))
    settled = reverted | set(confirmed)
    return Settled(len(pairs), len(confirmed), len(batches),
                   tuple(e for e in [*earlier, *new] if e.id not in settled), pending_reverted)


def _promotions_explain_pending_removals(session: Session, snapshot: Snapshot, now: dt.datetime) -> frozenset[int]:
    """A provisional pending removal whose agreement this participating list promotes was a
    promotion seen from the pending list first: it is reverted, linked to the promotion.
    Returns the removals reverted."""
    connection = session.connection()
    promoted = {(evidence or {}).get("pending_key"): event_id
                for event_id, evidence in connection.execute(_PROMOTIONS, {"snapshot_id": snapshot.id})}
    promoted.pop(None, None)
    if not promoted:
        return frozenset()
    removals = connection.execute(_PROVISIONAL_PENDING_REMOVALS, {"keys": sorted(k for k in promoted if k)}).all()
    _mark(session, [(event_id, promoted[key]) for event_id, key in removals], "reverted", now)
    return frozenset(event_id for event_id, _ in removals)


def _open_events(session: Session, list_name: str, snapshot_id: int) -> list[OpenEvent]:
    rows = session.connection().execute(_OPEN_EVENTS, {"list_name": list_name, "snapshot_id": snapshot_id})
    return [_open_event(row) for row in rows]


def _open_event(row: Sequence[Any]) -> OpenEvent:
    """An event as confirmation sees it, from the columns of ``_OPEN_COLUMNS``."""
    i, kind, key, fld, old, new, sid, on, agreement = row
    return OpenEvent(id=i, kind=kind, subject_key=key, field=fld, old_value=old, new_value=new,
                     snapshot_id=sid or 0, occurred_on=on, agreement_id=agreement)


def _mark(session: Session, marks: Sequence[tuple[int, int]], status: str, now: dt.datetime) -> None:
    """Each (event, linked event) of ``marks`` gets ``status``, in order (one executemany)."""
    if marks:
        session.connection().execute(
            update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id"))
            .values(status=status, linked_event_id=bindparam("linked"), status_changed_at=now),
            [{"event_id": event_id, "linked": linked} for event_id, linked in marks])


def _made(session: Session, snapshot_ids: set[int]) -> dict[int, dict[str, int]]:
    """Each snapshot's confirmable events, by kind."""
    made: dict[int, dict[str, int]] = {}
    if snapshot_ids:
        rows = session.execute(
            select(ChangeEvent.snapshot_id, ChangeEvent.kind, func.count())
            .where(ChangeEvent.snapshot_id.in_(sorted(snapshot_ids)), ChangeEvent.kind.in_(CONFIRMABLE_KINDS))
            .group_by(ChangeEvent.snapshot_id, ChangeEvent.kind)
        )
        for snapshot_id, kind, count in rows:
            if snapshot_id is not None:
                made.setdefault(snapshot_id, {})[kind] = count
    return made


def _lists_since(session: Session, snapshot: Snapshot, snapshot_ids: set[int]) -> dict[int, int]:
    """For each snapshot id: how many lists of the same list (accepted or unchanged) came after
    it, up to and including ``snapshot``."""
    if not snapshot_ids:
        return {}
    later: Sequence[int] = list(session.connection().scalars(
        _LATER_LISTS, {"list_name": snapshot.list_name, "after": min(snapshot_ids), "upto": snapshot.id}))
    return {sid: sum(1 for i in later if i > sid) for sid in snapshot_ids}


def _snapshot(session: Session, snapshot_id: int) -> Snapshot:
    found = session.get(Snapshot, snapshot_id)
    assert found is not None, snapshot_id
    return found
