"""The change log as rows for readers: the one query behind `changes`, the feed, the report,
notifications and the review prompt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.agencies import AgencyRepository
from storage.events import EventFilter, EventRepository, event_query
from storage.lists import ListRepository
from storage.models import ChangeEvent, ReviewDecision
from storage.review import ReviewRepository

# tracker287g.changes/1: the fields of each item, in order (the README documents them)
CHANGE_FIELDS = ("id", "occurred_on", "kind", "list", "state", "subject_key", "agreement_id", "match_basis",
                 "agreement_name", "earlier_names", "field", "old_value", "new_value", "summary", "snapshot_id",
                 "previous_snapshot_id", "evidence", "status", "status_changed_at", "linked_event_id", "ori")
# provisional → confirmed or reverted (pipeline.settle); ALL_STATUSES names every one
CHANGE_STATUSES = ("provisional", "confirmed", "reverted")
ALL_STATUSES = "all"
UNREVIEWED = "unreviewed"
# Every kind of change the tracker writes (diff/events.py); kinds found in the log count too, so
# that a kind added later is never refused.
KNOWN_KINDS = (
    "agreement.added", "agreement.removed", "agreement.changed", "agreement.renamed", "agreement.promoted",
    "data.duplicate_row", "data.duplicate_resolved", "list.first_snapshot", "list.columns_changed", "list.reverted",
    "news.article", "news.figure", "source.anomaly", "source.failed", "source.recovered", "source.stale",
)

ChangeRow = dict[str, Any]


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes: the options of `changes` (and of `feed`)."""

    since: dt.date | None = None
    until: dt.date | None = None
    kinds: tuple[str, ...] = ()          # kinds, or prefixes ending in a dot ("agreement.")
    state: str | None = None
    list_name: str | None = None
    review_status: str | None = None     # a review status, or "unreviewed"
    status: str | None = None            # provisional, confirmed, reverted, or "all" (None: all)

    @property
    def statuses(self) -> tuple[str, ...]:
        return () if self.status in (None, ALL_STATUSES) else (str(self.status),)


def kind_matches(kind: str, kinds: Sequence[str]) -> bool:
    """``kinds`` names kinds exactly, or by a prefix ending in a dot; none names every kind."""
    if not kinds:
        return True
    return kind in kinds or kind.startswith(tuple(k for k in kinds if k.endswith(".")))


def unknown_kinds(session: Session, kinds: Sequence[str]) -> tuple[list[str], list[str]]:
    """The kinds (or prefixes) in ``kinds`` that name no kind, and the kinds there are."""
    if not kinds:
        return [], []
    known = sorted(set(KNOWN_KINDS) | set(EventRepository(session).kinds()))
    return [k for k in kinds if not any(kind_matches(name, [k]) for name in known)], known


def change_rows(session: Session, where: ChangeFilter = ChangeFilter()) -> list[ChangeRow]:
    """The change log, oldest first, each row with its review decision (or None)."""
    exact = tuple(k for k in where.kinds if not k.endswith("."))
    prefixes = tuple(k for k in where.kinds if k.endswith("."))
    events = EventRepository(session).event_rows(_event_filter(where, () if prefixes else exact))
    if prefixes:
        events = [e for e in events if kind_matches(e["kind"], where.kinds)]
    decisions = ReviewRepository(session).latest_decisions()
    if where.review_status:
        events = [e for e in events if _status(decisions.get(e["id"])) == where.review_status]
    return _change_items(session, events, decisions)


@dataclass(frozen=True)
class ChangePage:
    """The last ``limit`` changes of a filter, oldest first, and how many the filter selects."""

    rows: list[ChangeRow]
    total: int


def latest_change_rows(session: Session, where: ChangeFilter, limit: int, *, by_id: bool = False) -> ChangePage:
    """The last ``limit`` rows of ``change_rows(session, where)`` (all of them when ``limit`` is
    0), in the log's order, by day then id, or with ``by_id`` by id alone (the feed's order), and
    how many there are in all.  The database picks and counts them, so a reader of the latest
    changes reads ``limit`` events, not the log; a review-status filter, which only the review
    decisions can answer, reads the log."""
    if limit <= 0 or where.review_status:
        rows = change_rows(session, where)
        if by_id:
            rows.sort(key=lambda r: r["id"])
        return ChangePage(rows[-limit:] if limit > 0 else rows, len(rows))
    kinds = where.kinds
    if any(k.endswith(".") for k in kinds):     # a prefix names the kinds in the log it starts
        kinds = tuple(sorted({*(k for k in kinds if not k.endswith(".")),
                              *(k for k in EventRepository(session).kinds() if kind_matches(k, kinds))}))
        if not kinds:
            return ChangePage([], 0)
    query = event_query(_event_filter(where, kinds), rows=True).order_by(None)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (ChangeEvent.id.desc(),) if by_id else (ChangeEvent.occurred_on.desc(), ChangeEvent.id.desc())
    result = session.execute(query.order_by(*order).limit(limit))
    keys = tuple(result.keys())
    events = [dict(zip(keys, row, strict=True)) for row in result][::-1]
    return ChangePage(_change_items(session, events, ReviewRepository(session).latest_decisions()), total)


def _event_filter(where: ChangeFilter, kinds: tuple[str, ...]) -> EventFilter:
    return EventFilter(since=where.since, until=where.until, kinds=kinds,
                       state=where.state.upper() if where.state else None, list_name=where.list_name,
                       statuses=where.statuses)


def _change_items(session: Session, events: Sequence[dict[str, Any]],
                  decisions: Mapping[int, ReviewDecision]) -> list[ChangeRow]:
    """Change rows of event rows: each agreement named by its names over time, with its ORI and
    the event's review decision."""
    names = ListRepository(session).agreement_names(e["agreement_id"] for e in events if e["agreement_id"])
    oris = AgencyRepository(session).oris_of_agreements(e["agreement_id"] for e in events if e["agreement_id"])
    rows = []
    for e in events:
        known = names.get(e["agreement_id"])        # an agreement's names, when it has any
        decision = decisions.get(e["id"])
        rows.append({
            "id": e["id"], "occurred_on": e["occurred_on"], "kind": e["kind"], "list": e["list_name"],
            "state": e["state"], "subject_key": e["subject_key"], "agreement_id": e["agreement_id"],
            "match_basis": e["match_basis"], "agreement_name": known[-1] if known else None,
            "earlier_names": known[:-1] if known else [],
            "field": e["field"], "old_value": e["old_value"], "new_value": e["new_value"],
            "summary": named_summary(e["summary"], known or []),
            "snapshot_id": e["snapshot_id"], "previous_snapshot_id": e["previous_snapshot_id"],
            "evidence": e["evidence"] or {}, "status": e["status"], "status_changed_at": e["status_changed_at"],
            "linked_event_id": e["linked_event_id"], "ori": oris.get(e["agreement_id"] or 0),
            "review": None if decision is None else _review_item(decision),
        })
    return rows


def named_summary(summary: str, names: Sequence[str]) -> str:
    """The event's sentence, and, for an agreement ICE has listed under more than one name, its
    names over time (the last is its current name): every reader sees one agency's history."""
    if len(names) < 2:
        return summary
    return f"{summary} [names over time: {' → '.join(names)}]"


def state_matches(state: str | None, states: Iterable[str]) -> bool:
    """Events with a state must be in ``states`` when any is given; list-wide events always pass."""
    wanted = {s.upper() for s in states}
    return not (wanted and state and state not in wanted)


def _status(decision: ReviewDecision | None) -> str:
    return decision.status if decision is not None else UNREVIEWED


def _review_item(decision: ReviewDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"status": decision.status, "note": decision.note, "reviewer": decision.reviewer,
            "decided_at": decision.decided_at, "from_key": decision.from_key, "to_key": decision.to_key}
