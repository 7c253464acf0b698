"""Provisional → confirmed or reverted: what reaches the change log as a fact.

An addition, a removal, a promotion or a field change is first *provisional*.  It is
*confirmed* once the list has kept the new state for at least ``snapshots`` later lists and
``hours`` (between the lists' dates); it is *reverted* when the list goes back before that: the
event and the one that undoes it are both marked and linked, never deleted.  When one list
undoes a large share of an earlier list's changes, that is one ``list.reverted`` event
("ICE withdrew 74 agreements it had listed two days earlier").

Pure: events come in as ``OpenEvent`` values, decisions go out as ids.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

CONFIRMABLE_KINDS = ("agreement.added", "agreement.removed", "agreement.changed", "agreement.promoted")
STATUSES = ("provisional", "confirmed", "reverted")


@dataclass(frozen=True, slots=True)
class ConfirmationRule:
    """A change is confirmed when it held for ``snapshots`` later lists and ``hours``."""

    snapshots: int
    hours: float

    def __post_init__(self) -> None:
        if self.snapshots < 1:
            raise ValueError(f"snapshots must be at least 1, not {self.snapshots}")
        if self.hours < 0:
            raise ValueError(f"hours must not be negative, not {self.hours}")


# Chosen on the shared history (bench/confirmation.py, README "Confirmed changes"): of 175
# participating removals 48.0% were undone within 30 days; of those confirmed after two later
# lists and 48 hours 4.0% were (2 of 50), after two lists and 7 days none (0 of 43).
DEFAULT_CONFIRMATION: Mapping[str, ConfirmationRule] = {
    "participating": ConfirmationRule(snapshots=2, hours=7 * 24),
    "pending": ConfirmationRule(snapshots=2, hours=7 * 24),
}


@dataclass(frozen=True, slots=True)
class OpenEvent:
    """A change event as confirmation sees it."""

    id: int
    kind: str
    subject_key: str | None
    field: str | None
    old_value: str | None
    new_value: str | None
    snapshot_id: int
    occurred_on: dt.date | None
    agreement_id: int | None = None     # the stable agreement id (diff.identity), when recorded


def reversals(open_events: Sequence[OpenEvent], new_events: Sequence[OpenEvent]) -> list[tuple[OpenEvent, OpenEvent]]:
    """(provisional event, the new event that undoes it): an addition and its promotion undone
    by a removal of the same agreement, a removal by its addition, a field change by the change
    back.  Each event is undone at most once, the newest provisional one of each kind first.

    A field change and its change back are matched by agreement id where both have one: ICE's
    re-spelling and its withdrawal ("… Board of County Commissioners" → "… /Department of
    Corrections" on 2025-08-02, back on 08-04) are one agreement under two keys."""
    pairs: list[tuple[OpenEvent, OpenEvent]] = []
    by_subject: dict[tuple[object, str | None, str], list[OpenEvent]] = {}
    for event in sorted(open_events, key=lambda e: e.id):
        by_subject.setdefault((_subject(event), event.field, event.kind), []).append(event)
    used: set[int] = set()
    for new in new_events:
        if new.subject_key is None:
            continue
        for kind in UNDOES.get(new.kind, ()):
            for old in reversed(by_subject.get((_subject(new), new.field, kind), [])):
                if old.id in used or old.snapshot_id >= new.snapshot_id:
                    continue
                if kind == "agreement.changed" and (old.old_value, old.new_value) != (new.new_value, new.old_value):
                    continue
                used.add(old.id)
                pairs.append((old, new))
                break
    return pairs


def _subject(event: OpenEvent) -> object:
    """What an event is about, for pairing it with the event that undoes it."""
    if event.kind == "agreement.changed" and event.agreement_id is not None:
        return event.agreement_id
    return event.subject_key


# the kinds of provisional event a new event undoes (a removal undoes an addition and the
# promotion that came with it)
UNDOES: Mapping[str, tuple[str, ...]] = {
    "agreement.removed": ("agreement.added", "agreement.promoted"),
    "agreement.added": ("agreement.removed",),
    "agreement.changed": ("agreement.changed",),
}


def due(open_events: Iterable[OpenEvent], lists_since: Mapping[int, int], today: dt.date | None,
        rule: ConfirmationRule) -> list[int]:
    """Ids of provisional events whose new state held long enough.  ``lists_since``: snapshot id
    → how many lists (accepted or unchanged) of the same list came after it; ``today``: the date
    of the newest of them."""
    confirmed = []
    for event in open_events:
        held_hours = ((today - event.occurred_on).days * 24) if today and event.occurred_on else 0
        if lists_since.get(event.snapshot_id, 0) >= rule.snapshots and held_hours >= rule.hours:
            confirmed.append(event.id)
    return confirmed


@dataclass(frozen=True)
class BatchReversal:
    """One list undoing a large share of one earlier list's changes of some kind."""

    reverted_snapshot_id: int
    undone: Mapping[str, int]         # by kind: that list's changes undone now
    made: Mapping[str, int]           # by kind: the changes that list made

    @property
    def total_undone(self) -> int:
        return sum(self.undone.values())


# One list undoes another's batch when, for some kind of change, it undoes at least this many
# of them and at least this share (ICE's withdrawal of 2025-08-04: 74 of the 85 additions of
# 2025-08-02).
BATCH_MIN_EVENTS = 10
BATCH_MIN_SHARE = 0.5


def batch_reversals(pairs: Sequence[tuple[OpenEvent, OpenEvent]],
                    made: Mapping[int, Mapping[str, int]]) -> list[BatchReversal]:
    """Earlier lists a large share of whose changes of one kind the new list undoes.  ``made``:
    snapshot id → its confirmable events by kind.  Promotions go with their additions and are
    not counted apart."""
    undone: dict[int, Counter[str]] = {}
    for old, _ in pairs:
        if old.kind != "agreement.promoted":
            undone.setdefault(old.snapshot_id, Counter())[old.kind] += 1
    batches = []
    for snapshot_id, kinds in sorted(undone.items()):
        totals = made.get(snapshot_id, {})
        if any(n >= BATCH_MIN_EVENTS and n >= BATCH_MIN_SHARE * totals.get(kind, n) for kind, n in kinds.items()):
            batches.append(BatchReversal(snapshot_id, dict(kinds),
                                         {k: totals.get(k, kinds[k]) for k in kinds}))
    return batches
