"""Column-wide artefacts: a whole column lost in one file, reported once, its values kept.

An archive copy re-saved without its hyperlinks (2025-03-01: 132 MOA cells still read "link",
none of them links) or a column left blank where the previous list had values says nothing
about the agreements: it is a property of the file.  It becomes one ``source.anomaly``
(``links_missing`` or ``column_blank``) and every agreement keeps its previous value, so no
agreement is reported as changed, and nothing is reported back when the next file has them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diff.guards import Anomaly
from diff.records import ADDENDUM, AGENCY_TYPE, COUNTY, MOA, SIGNED, Agreement

# a link column: the cell's text field and the field holding the hyperlink behind it
LINK_COLUMNS: Mapping[str, tuple[str, str]] = {MOA: ("moa", "moa_url"), ADDENDUM: ("addendum", "addendum_url")}
# columns whose values are carried forward when the whole column comes blank
VALUE_COLUMNS: Mapping[str, tuple[str, ...]] = {AGENCY_TYPE: ("agency_type",), COUNTY: ("county",),
                                                SIGNED: ("signed",)}

# A column counts as lost only where the previous list had it on at least this share of its
# rows and on at least this many rows (a column ICE barely fills is no evidence of loss).
MIN_PREVIOUS_SHARE = 0.5
MIN_PREVIOUS_ROWS = 10


@dataclass(frozen=True)
class ColumnArtefacts:
    anomalies: tuple[Anomaly, ...]
    agreements: tuple[Agreement, ...]        # the file's agreements, lost values carried forward
    carried: int                             # agreements that had a value carried forward


def find_column_artefacts(columns: Sequence[str], agreements: Sequence[Agreement],
                          previous: Mapping[str, Agreement]) -> ColumnArtefacts:
    """Columns the file has but left without any link or value, where ``previous`` (the list as
    it stands, by key text) had them; their values are carried forward from ``previous``."""
    if not agreements or not previous:
        return ColumnArtefacts((), tuple(agreements), 0)
    anomalies: list[Anomaly] = []
    carry: list[tuple[str, ...]] = []
    for column, (text_field, url_field) in LINK_COLUMNS.items():
        if column in columns and _lost(agreements, previous, url_field):
            with_text = sum(1 for a in agreements if getattr(a, text_field) == "link")
            had = sum(1 for a in previous.values() if getattr(a, url_field))
            anomalies.append(Anomaly(
                "links_missing",
                f"the {column.upper()} column holds no hyperlink at all ({with_text} cells read \"link\"), "
                f"where the list as it stands had {had}; the links are carried forward, not reported as changed",
                blocking=False,
            ))
            carry.append((text_field, url_field))
    for column, fields in VALUE_COLUMNS.items():
        if column in columns and _lost(agreements, previous, fields[0]):
            had = sum(1 for a in previous.values() if getattr(a, fields[0]) is not None)
            anomalies.append(Anomaly(
                "column_blank",
                f"the {column.upper()} column is blank on all {len(agreements)} rows, where the list as it "
                f"stands had {had} values; they are carried forward, not reported as changed",
                blocking=False,
            ))
            carry.append(fields)
    if not carry:
        return ColumnArtefacts((), tuple(agreements), 0)
    carried = 0
    patched = []
    for agreement in agreements:
        before = previous.get(agreement.key.as_text())
        if before is None:
            patched.append(agreement)
            continue
        values = {f: getattr(before, f) for fields in carry for f in fields}
        if any(getattr(agreement, f) != v for f, v in values.items()):
            carried += 1
            agreement = dataclasses.replace(agreement, **values)
        patched.append(agreement)
    return ColumnArtefacts(tuple(anomalies), tuple(patched), carried)


def _lost(agreements: Sequence[Agreement], previous: Mapping[str, Agreement], field: str) -> bool:
    if any(getattr(a, field) not in (None, "") for a in agreements):
        return False
    had = sum(1 for a in previous.values() if getattr(a, field) not in (None, ""))
    return had >= MIN_PREVIOUS_ROWS and had >= MIN_PREVIOUS_SHARE * len(previous)
