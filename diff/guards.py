"""Checks a list must pass before it is diffed, and which list a document really holds.

A document that fails a blocking check is quarantined: kept and reported, never diffed, so a
bad download or a swapped or empty file can never be recorded as agreements removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diff.records import AGENCY, MODEL, SIGNED, STATE, Agreement, SourceTable
from diff.transitions import Promotion, find_promotions

REQUIRED_COLUMNS: Mapping[str, frozenset[str]] = {
    "participating": frozenset({STATE, AGENCY, MODEL, SIGNED}),
    "pending": frozenset({STATE, AGENCY, MODEL}),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A drop of more than ``max(min_rows, share × previous rows)`` rows is implausible."""

    max_drop_share: float
    min_drop_rows: int

    def __post_init__(self) -> None:
        if not 0 <= self.max_drop_share <= 1:
            raise ValueError(f"max_drop_share must be within 0..1, not {self.max_drop_share}")
        if self.min_drop_rows < 0:
            raise ValueError(f"min_drop_rows must not be negative, not {self.min_drop_rows}")


# The pending list is small and is emptied as agreements get signed (42 → 3 rows between
# 2025-09-22 and 2026-01-26 is real), so it tolerates a larger relative drop.
DEFAULT_THRESHOLDS: Mapping[str, Thresholds] = {
    "participating": Thresholds(max_drop_share=0.10, min_drop_rows=25),
    "pending": Thresholds(max_drop_share=0.50, min_drop_rows=50),
}


@dataclass(frozen=True, slots=True)
class Classification:
    list_name: str | None          # None: cannot tell
    reason: str


@dataclass(frozen=True, slots=True)
class Anomaly:
    reason: str          # short code: swapped, empty, missing_columns, row_drop, ...
    message: str         # in words, with the figures
    blocking: bool       # True: the document is quarantined


def classify(table: SourceTable, overlap: Mapping[str, float] | None = None) -> Classification:
    """Which list a table holds, from its content.

    Participating lists carry a SIGNED column and pending lists never have; when the columns do
    not tell, the share of the table's keys found on each list's last accepted snapshot decides
    (``overlap``: list name → share, 0..1).
    """
    columns = {c for c in table.columns if c}
    if not {STATE, AGENCY} <= columns:
        return Classification(None, "no STATE and agency columns")
    if SIGNED in columns:
        return Classification("participating", "has a SIGNED column, which only the participating list carries")
    if MODEL in columns:
        if overlap and overlap.get("participating", 0) >= 0.9 > overlap.get("pending", 0) + 0.5:
            return Classification("participating",
                                  "no SIGNED column, but its agreements are those of the participating list")
        return Classification("pending", "has no SIGNED column, like every pending list")
    return Classification(None, "no SUPPORT TYPE column")


def check_contract(list_name: str, table: SourceTable) -> list[Anomaly]:
    """Columns the list needs and columns nobody has seen before."""
    anomalies = []
    columns = {c for c in table.columns if c}
    missing = sorted(REQUIRED_COLUMNS[list_name] - columns)
    if missing:
        anomalies.append(Anomaly(
            "missing_columns",
            f"the {list_name} list needs columns {', '.join(m.upper() for m in missing)}, which this file lacks",
            blocking=True,
        ))
    unknown = [h for h, c in zip(table.header, table.columns) if c is None and h.strip()]
    if unknown:
        anomalies.append(Anomaly(
            "unknown_columns",
            f"columns not seen before, kept raw: {', '.join(repr(h) for h in unknown)}",
            blocking=False,
        ))
    return anomalies


def check_row_count(list_name: str, rows: int, previous_rows: int | None, thresholds: Thresholds, *,
                    promoted: int = 0) -> list[Anomaly]:
    """An empty list, or a drop too large to be believed, against the last accepted snapshot.

    ``promoted``: how many of the agreements that left were promoted (they are now on the
    participating list).  The pending list shrinks that way whenever ICE signs a batch, so a
    drop counts only the departures promotions do not explain, and an empty, well-formed
    pending list is accepted with a note unless most of its departures are unexplained.
    """
    departed = max(0, (previous_rows or 0) - rows)
    unexplained = max(0, departed - promoted)
    if rows == 0:
        if list_name == "pending" and (previous_rows is None or unexplained * 2 <= departed):
            note = (f"; {promoted} of the {departed} agreements that left are now on the participating list"
                    if departed else "")
            return [Anomaly("empty", f"the pending file holds a header and no rows; accepted as an empty "
                                     f"pending list{note}", blocking=False)]
        unexplained_note = f" ({unexplained} of {departed} departures not on the participating list)" \
            if list_name == "pending" and departed else ""
        return [Anomaly("empty", f"the {list_name} file holds a header and no rows{unexplained_note}", blocking=True)]
    if previous_rows is None:
        return []
    allowed = max(thresholds.min_drop_rows, thresholds.max_drop_share * previous_rows)
    if unexplained > allowed:
        promoted_note = f", {promoted} of them promoted to the participating list" if promoted else ""
        return [Anomaly(
            "row_drop",
            f"{rows} rows against {previous_rows} in the last accepted {list_name} list: "
            f"a drop of {departed} ({departed / previous_rows:.0%}){promoted_note}, "
            f"{unexplained} unexplained, more than the {allowed:.0f} rows allowed",
            blocking=True,
        )]
    return []


def explained_by_promotion(departed: Sequence[Agreement], newly_participating: Sequence[Agreement]) -> list[Promotion]:
    """Pending agreements that left and are now on the participating list (diff.transitions'
    matching rules, strict to loose): they were promoted, not dropped."""
    if not departed or not newly_participating:
        return []
    return find_promotions(newly_participating, departed)


def stale_copy(list_name: str, older: SnapshotRef) -> Anomaly:
    """A document whose bytes are those of an older snapshot's, served after newer lists."""
    return Anomaly(
        "stale_copy",
        f"same content as snapshot {older.id} from {older.as_of or 'an unknown date'} ({older.file_name}): "
        f"an older {list_name} file served again; kept but not compared",
        blocking=True,
    )


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """A snapshot a guard names in its message."""

    id: int
    file_name: str | None
    as_of: dt.date | None
    rows: int | None = None


def baseline_reset(list_name: str, quarantined: Sequence[SnapshotRef], rows: int, thresholds: Thresholds,
                   last_accepted: SnapshotRef) -> Anomaly | None:
    """No quarantine blocks a list forever: a list consistent with the quarantined one just
    before it (no implausible drop from it) is the second list in a row to say so, and
    re-establishes the baseline.  ``quarantined``: the list's snapshots quarantined for their
    row count since the last accepted one, newest last."""
    if not quarantined:
        return None
    latest = quarantined[-1]
    if latest.rows is None or check_row_count(list_name, rows, latest.rows, thresholds):
        return None
    if rows == 0 and latest.rows == 0 and list_name != "pending":
        return None
    return Anomaly(
        "baseline_reset",
        f"second {list_name} list in a row consistent with snapshot {latest.id} ({latest.file_name}, "
        f"{latest.rows} rows), quarantined for its row count: the baseline is re-established from this "
        f"list; the change from the last accepted list (snapshot {last_accepted.id}, {last_accepted.file_name}, "
        f"{last_accepted.rows} rows) is recorded",
        blocking=False,
    )
