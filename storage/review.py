"""Review decisions on change events (the notification ledger is storage/notifications.py).

Append-only: a later decision on the same event supersedes an earlier one (the history of
decisions is kept).
The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import REVIEW_STATUSES, ChangeEvent, ReviewDecision, table_of

_DECISIONS = table_of(ReviewDecision)
# the decision in force on each event: its newest
_NEWEST_DECISIONS = (
    select(_DECISIONS.c.status, _DECISIONS.c.list_name, _DECISIONS.c.from_key, _DECISIONS.c.to_key)
    .where(_DECISIONS.c.id.in_(select(func.max(_DECISIONS.c.id)).group_by(_DECISIONS.c.event_id)))
)


class ReviewRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- decisions ------------------------------------------------------------------------------
    def decide(self, event_id: int, status: str, *, note: str | None = None, reviewer: str | None = None,
               from_key: str | None = None, to_key: str | None = None) -> ReviewDecision:
        """A reviewer's decision on a change event; a rename links the two keys the event names
        (or the ones given).  ValueError says what is wrong."""
        event = self.session.get(ChangeEvent, event_id)
        if event is None:
            raise ValueError(f"no change event {event_id}")
        if status != "rename":
            return self.add_decision(event_id, status, note=note, reviewer=reviewer)
        if not event.list_name:
            raise ValueError(f"event {event_id} ({event.kind}) concerns no list: it cannot be a rename")
        chosen_from, chosen_to = rename_keys(event, from_key, to_key)
        return self.add_decision(event_id, status, note=note, reviewer=reviewer, list_name=event.list_name,
                                 from_key=chosen_from, to_key=chosen_to)

    def add_decision(self, event_id: int, status: str, *, note: str | None = None, reviewer: str | None = None,
                     list_name: str | None = None, from_key: str | None = None,
                     to_key: str | None = None) -> ReviewDecision:
        if status not in REVIEW_STATUSES:
            raise ValueError(f"unknown review status {status!r}: expected one of {', '.join(REVIEW_STATUSES)}")
        if status == "rename" and not (list_name and from_key and to_key and from_key != to_key):
            raise ValueError("a rename links two different agreement keys of one list")
        rename = status == "rename"
        decision = ReviewDecision(event_id=event_id, status=status, note=note, reviewer=reviewer,
                                  list_name=list_name if rename else None, from_key=from_key if rename else None,
                                  to_key=to_key if rename else None)
        self.session.add(decision)
        self.session.flush()
        return decision

    def latest_decisions(self, event_ids: Iterable[int] | None = None) -> dict[int, ReviewDecision]:
        """The decision in force for each reviewed event (the newest), by event id."""
        newest = select(func.max(ReviewDecision.id)).group_by(ReviewDecision.event_id)
        query = select(ReviewDecision).where(ReviewDecision.id.in_(newest))
        decisions = {d.event_id: d for d in self.session.scalars(query)}
        if event_ids is None:
            return decisions
        return {i: decisions[i] for i in event_ids if i in decisions}

    def confirmed_aliases(self, list_name: str) -> frozenset[frozenset[str]]:
        """Pairs of keys a reviewer confirmed as one agreement (a rename), in force on the list."""
        # column reads, not ReviewDecision objects: every ingest asks
        return frozenset(
            frozenset((from_key, to_key))
            for status, decided_list, from_key, to_key in self.session.connection().execute(_NEWEST_DECISIONS)
            if status == "rename" and decided_list == list_name and from_key and to_key
        )


def rename_keys(event: ChangeEvent, from_key: str | None, to_key: str | None) -> tuple[str, str]:
    """The two keys a rename links: given ones first, else what the event names.

    A proposed rename names both (previous key → subject key); an added agreement names the
    new key and a removed one the old key, so the other must be given.
    """
    if event.kind == "agreement.renamed":
        default_from, default_to = (event.evidence or {}).get("previous_key"), event.subject_key
    elif event.kind == "agreement.added":
        default_from, default_to = None, event.subject_key
    else:
        default_from, default_to = event.subject_key, None
    chosen_from, chosen_to = from_key or default_from, to_key or default_to
    if not (chosen_from and chosen_to):
        raise ValueError(f"event {event.id} ({event.kind}) names one key only: give --from-key and --to-key")
    return chosen_from, chosen_to
