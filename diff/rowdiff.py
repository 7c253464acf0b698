"""Compare two versions of one list: agreements added, removed, changed field by field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from diff.records import Agreement, AgreementKey
from diff.renames import Rename, propose_renames


@dataclass(frozen=True, slots=True)
class FieldChange:
    key: AgreementKey
    field: str
    old: object
    new: object
    before: Agreement
    after: Agreement


@dataclass(frozen=True, slots=True)
class ListDiff:
    added: tuple[Agreement, ...]
    removed: tuple[Agreement, ...]
    changed: tuple[FieldChange, ...]
    renamed: tuple[Rename, ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.renamed)


def by_key(agreements: Iterable[Agreement]) -> dict[str, Agreement]:
    """Index agreements by their key text; keys are unique within a normalised list."""
    index: dict[str, Agreement] = {}
    for agreement in agreements:
        text = agreement.key.as_text()
        if text in index:
            raise ValueError(f"two agreements share the key {text!r}: normalise the list first")
        index[text] = agreement
    return index


def field_changes(before: Agreement, after: Agreement) -> list[FieldChange]:
    old_values, new_values = before.compared_values(), after.compared_values()
    if old_values == new_values:
        return []
    return [
        FieldChange(after.key, name, old, new, before, after)
        for name, old, new in zip(Agreement.COMPARED_FIELDS, old_values, new_values)
        if old != new
    ]


def diff_lists(
    previous: Mapping[str, Agreement],
    current: Mapping[str, Agreement],
    *,
    rename_threshold: float = 90.0,
) -> ListDiff:
    """What changed from ``previous`` to ``current`` (both indexed by key text).

    A removed and an added agreement that look like the same agency under a new name become a
    proposed rename instead of a removal plus an addition; their other field differences are
    reported as changes too.
    """
    added = [current[k] for k in current.keys() - previous.keys()]
    removed = [previous[k] for k in previous.keys() - current.keys()]
    renames = propose_renames(removed, added, threshold=rename_threshold)
    renamed_old = {r.before.key for r in renames}
    renamed_new = {r.after.key for r in renames}

    changed: list[FieldChange] = []
    unchanged = 0
    for key in previous.keys() & current.keys():
        diffs = field_changes(previous[key], current[key])
        changed.extend(diffs)
        unchanged += not diffs
    for rename in renames:
        changed.extend(c for c in field_changes(rename.before, rename.after) if c.field != "agency")

    return ListDiff(
        added=tuple(sorted((a for a in added if a.key not in renamed_new), key=_order)),
        removed=tuple(sorted((a for a in removed if a.key not in renamed_old), key=_order)),
        changed=tuple(sorted(changed, key=lambda c: (_order(c.after), Agreement.COMPARED_FIELDS.index(c.field)))),
        renamed=tuple(sorted(renames, key=lambda r: _order(r.after))),
        unchanged=unchanged,
    )


def _order(agreement: Agreement) -> tuple:
    return (agreement.key.state, agreement.key.agency, agreement.key.model, agreement.key.occurrence)


def content_hash(agreements: Iterable[Agreement]) -> str:
    """Fingerprint of a list's content, independent of row order and of the file's bytes.

    Two files that list the same agreements with the same compared values hash alike, so the
    same list under a new file name is recognised as unchanged.
    """
    lines = sorted(
        "\x1f".join([a.key.as_text(), *("" if v is None else str(v) for v in a.compared_values())])
        for a in agreements
    )
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
