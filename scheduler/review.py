"""Recording a reviewer's decision on a change event (the command line's review step)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage.models import ChangeEvent, ReviewDecision
from storage.review import ReviewRepository


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


def record_review(session: Session, event_id: int, status: str, *, note: str | None = None,
                  reviewer: str | None = None, from_key: str | None = None,
                  to_key: str | None = None) -> ReviewDecision:
    event = session.get(ChangeEvent, event_id)
    if event is None:
        raise ValueError(f"no change event {event_id}")
    keys: dict = {}
    if status == "rename":
        if not event.list_name:
            raise ValueError(f"event {event_id} ({event.kind}) concerns no list: it cannot be a rename")
        keys = dict(zip(("from_key", "to_key"), rename_keys(event, from_key, to_key)), list_name=event.list_name)
    return ReviewRepository(session).add_decision(event_id, status, note=note, reviewer=reviewer, **keys)

