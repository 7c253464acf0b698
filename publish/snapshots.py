"""Snapshots and their counts as rows for readers (`snapshots`, `metrics`, `baseline`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from diff.baseline import BaselineFigure, Comparison, DatedList, WindowComparison, compare, compare_windows
from diff.metrics import ListMetrics
from storage.lists import ListRepository
from storage.models import Snapshot

SNAPSHOT_FIELDS = ("id", "list", "file_name", "as_of", "status", "reason", "agreements", "agencies", "states",
                   "origin", "declared_list", "same_as_id", "previous_id", "sha256", "recorded_at")


def snapshot_rows(session: Session, list_name: str | None = None) -> list[dict[str, Any]]:
    """tracker287g.snapshots/1: one row per snapshot."""
    return [
        {
            "id": s.id, "list": s.list_name, "file_name": s.file_name, "as_of": s.as_of, "status": s.status,
            "reason": s.reason, "agreements": s.agreements, "agencies": s.agencies, "states": s.states,
            "origin": s.origin, "declared_list": s.declared_list, "same_as_id": s.same_as_id,
            "previous_id": s.previous_id, "sha256": s.document_sha256, "recorded_at": s.recorded_at,
        }
        for s in ListRepository(session).snapshots(list_name)
    ]


def current_snapshots(session: Session, as_of: dt.date | None) -> dict[str, Snapshot]:
    """The last accepted snapshot of each list, on or before ``as_of`` when given."""
    return ListRepository(session).last_accepted_each(as_of)


def metrics_items(session: Session, as_of: dt.date | None) -> list[dict[str, Any]]:
    """tracker287g.metrics/1: the counts of each list's current snapshot."""
    return [
        {"list": name, "snapshot_id": s.id, "file_name": s.file_name, "as_of": s.as_of, "metrics": s.metrics}
        for name, s in sorted(current_snapshots(session, as_of).items())
    ]


def baseline_snapshots(session: Session, figures: Sequence[BaselineFigure], as_of_dates: Sequence[dt.date],
                       every: bool = False) -> list[Snapshot]:
    """Participating snapshots to compare with: every one, those in force on the given days, or
    by default those in force on each measurable figure's date, and the latest one."""
    accepted = [s for s in ListRepository(session).snapshots("participating") if s.status == "accepted" and s.as_of]
    if not accepted or every:
        return accepted
    days = list(as_of_dates) or sorted({f.as_of for f in figures if f.measure is not None})
    chosen = []
    for day in days:
        in_force = [s for s in accepted if s.as_of and s.as_of <= day]
        first = accepted[0].as_of
        if in_force and (as_of_dates or (first is not None and day >= first)):
            chosen.append(in_force[-1])
    if not as_of_dates:
        chosen.append(accepted[-1])
    return sorted({s.id: s for s in chosen}.values(), key=lambda s: s.id)


def baseline_comparisons(session: Session, figures: Sequence[BaselineFigure], as_of_dates: Sequence[dt.date],
                         every: bool = False) -> list[tuple[Snapshot, tuple[Comparison, ...]]]:
    """Each chosen participating snapshot with every baseline figure compared to it."""
    earliest = min((s.as_of for s in ListRepository(session).snapshots("participating")
                    if s.status == "accepted" and s.as_of), default=None)
    return [
        (snapshot, compare(figures, ListMetrics.from_dict(snapshot.metrics or {}), list_name="participating",
                           snapshot_as_of=snapshot.as_of, **({"earliest_list": earliest} if earliest else {})))
        for snapshot in baseline_snapshots(session, figures, as_of_dates, every)
        if snapshot.as_of is not None    # baseline_snapshots chooses dated snapshots only
    ]


def baseline_windows(session: Session, figures: Sequence[BaselineFigure]) -> tuple[WindowComparison, ...]:
    """Each figure dated to a window against every accepted participating list in force during
    it (the nearest count and the range)."""
    accepted = [s for s in ListRepository(session).snapshots("participating") if s.status == "accepted" and s.as_of]
    lists = [DatedList(s.as_of, ListMetrics.from_dict(s.metrics or {}), s.id, s.file_name)
             for s in accepted if s.as_of is not None]
    earliest = min((dated.as_of for dated in lists), default=None)
    return compare_windows(figures, lists, list_name="participating",
                           **({"earliest_list": earliest} if earliest else {}))
