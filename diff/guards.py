"""Checks a list must pass before it is diffed, and which list a document really holds.

A document that fails a blocking check is quarantined: kept and reported, never diffed, so a
bad download or a swapped or empty file can never be recorded as agreements removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from diff.records import AGENCY, MODEL, SIGNED, STATE, SourceTable

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


def check_row_count(list_name: str, rows: int, previous_rows: int | None, thresholds: Thresholds) -> list[Anomaly]:
    """An empty list, or a drop too large to be believed, against the last accepted snapshot."""
    if rows == 0:
        return [Anomaly("empty", f"the {list_name} file holds a header and no rows", blocking=True)]
    if previous_rows is None:
        return []
    drop = previous_rows - rows
    allowed = max(thresholds.min_drop_rows, thresholds.max_drop_share * previous_rows)
    if drop > allowed:
        return [Anomaly(
            "row_drop",
            f"{rows} rows against {previous_rows} in the last accepted {list_name} list: "
            f"a drop of {drop} ({drop / previous_rows:.0%}), more than the {allowed:.0f} rows allowed",
            blocking=True,
        )]
    return []
