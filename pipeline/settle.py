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

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from diff import events as ev
from diff.confirmation import CONFIRMABLE_KINDS, ConfirmationRule, OpenEvent, batch_reversals, due, reversals
from storage.events import EventRepository
from storage.models import ChangeEvent, Snapshot
from storage.types import utcnow

log = logging.getLogger(__name__)

SETTLED_LISTS = ("accepted", "unchanged")


@dataclass(frozen=True)
class Settled:
    reverted: int = 0
    confirmed: int = 0
    batches: int = 0


def settle(session: Session, snapshot: Snapshot, rule: ConfirmationRule,
           facts: Callable[[Snapshot], ev.SnapshotFacts]) -> Settled:
    """Settle the provisional changes of ``snapshot``'s list after it was written (``facts``:
    what events say about a snapshot)."""
    now = utcnow()
    session.execute(
        update(ChangeEvent)
        .where(ChangeEvent.snapshot_id == snapshot.id, ChangeEvent.kind.in_(CONFIRMABLE_KINDS))
        .values(status="provisional", status_changed_at=now)
    )
    open_events = _open_events(session, snapshot.list_name, snapshot.id)
    new = [e for e in open_events if e.snapshot_id == snapshot.id]
    earlier = [e for e in open_events if e.snapshot_id != snapshot.id]
    pairs = reversals(earlier, new)
    for old, undoing in pairs:
        _mark(session, old.id, "reverted", undoing.id, now)
    for undoing_id, old_id in {undoing.id: old.id for old, undoing in reversed(pairs)}.items():
        _mark(session, undoing_id, "reverted", old_id, now)
    batches = batch_reversals(pairs, _made(session, {old.snapshot_id for old, _ in pairs}))
    if batches:
        EventRepository(session).add_events([
            ev.list_reverted(facts(snapshot), facts(_snapshot(session, b.reverted_snapshot_id)), b) for b in batches
        ])
    reverted = {old.id for old, _ in pairs} | {undoing.id for _, undoing in pairs}
    if snapshot.list_name == "participating":
        _promotions_explain_pending_removals(session, snapshot, now)
    still_open = [e for e in earlier if e.id not in reverted]
    confirmed = due(still_open, _lists_since(session, snapshot, {e.snapshot_id for e in still_open}),
                    snapshot.as_of, rule)
    if confirmed:
        for start in range(0, len(confirmed), 500):
            session.execute(update(ChangeEvent).where(ChangeEvent.id.in_(confirmed[start:start + 500]))
                            .values(status="confirmed", status_changed_at=now))
    if pairs or confirmed:
        log.info("%s list %s: %d changes reverted, %d confirmed, %d batch reversals", snapshot.list_name,
                 snapshot.file_name, len(pairs), len(confirmed), len(batches))
    return Settled(len(pairs), len(confirmed), len(batches))


def _promotions_explain_pending_removals(session: Session, snapshot: Snapshot, now: dt.datetime) -> int:
    """A provisional pending removal whose agreement this participating list promotes was a
    promotion seen from the pending list first: it is reverted, linked to the promotion."""
    promoted = {(e.evidence or {}).get("pending_key"): e.id for e in session.scalars(
        select(ChangeEvent).where(ChangeEvent.snapshot_id == snapshot.id, ChangeEvent.kind == "agreement.promoted"))}
    promoted.pop(None, None)
    if not promoted:
        return 0
    removals = session.execute(
        select(ChangeEvent.id, ChangeEvent.subject_key).where(
            ChangeEvent.list_name == "pending", ChangeEvent.kind == "agreement.removed",
            ChangeEvent.status == "provisional", ChangeEvent.subject_key.in_(sorted(k for k in promoted if k)))
    ).all()
    for event_id, key in removals:
        _mark(session, event_id, "reverted", promoted[key], now)
    return len(removals)


def _open_events(session: Session, list_name: str, snapshot_id: int) -> list[OpenEvent]:
    rows = session.execute(
        select(ChangeEvent.id, ChangeEvent.kind, ChangeEvent.subject_key, ChangeEvent.field, ChangeEvent.old_value,
               ChangeEvent.new_value, ChangeEvent.snapshot_id, ChangeEvent.occurred_on, ChangeEvent.agreement_id)
        .where(ChangeEvent.list_name == list_name, ChangeEvent.status == "provisional",
               ChangeEvent.snapshot_id <= snapshot_id)
        .order_by(ChangeEvent.id)
    )
    return [OpenEvent(id=i, kind=kind, subject_key=key, field=fld, old_value=old, new_value=new,
                      snapshot_id=sid or 0, occurred_on=on, agreement_id=agreement)
            for i, kind, key, fld, old, new, sid, on, agreement in rows]


def _mark(session: Session, event_id: int, status: str, linked: int, now: dt.datetime) -> None:
    session.execute(update(ChangeEvent).where(ChangeEvent.id == event_id)
                    .values(status=status, linked_event_id=linked, status_changed_at=now))


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
    later: Sequence[int] = list(session.scalars(
        select(Snapshot.id).where(Snapshot.list_name == snapshot.list_name, Snapshot.status.in_(SETTLED_LISTS),
                                  Snapshot.id > min(snapshot_ids), Snapshot.id <= snapshot.id)
        .order_by(Snapshot.id)
    ))
    return {sid: sum(1 for i in later if i > sid) for sid in snapshot_ids}


def _snapshot(session: Session, snapshot_id: int) -> Snapshot:
    found = session.get(Snapshot, snapshot_id)
    assert found is not None, snapshot_id
    return found
