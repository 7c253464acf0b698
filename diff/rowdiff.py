"""Compare two versions of one list: agreements added, removed, changed field by field."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from diff.records import ADDENDUM, AGENCY, AGENCY_TYPE, COUNTY, MOA, SIGNED, Agreement, AgreementKey
from diff.renames import Rename, propose_renames

# Fields reported in the change log, and the source column each one is read from.  A link
# cell's status and target are reported as one field: "link pending" → the MOA's URL.
REPORTED_FIELDS: dict[str, str] = {
    "agency": AGENCY,
    "agency_type": AGENCY_TYPE,
    "county": COUNTY,
    "signed": SIGNED,
    "moa": MOA,
    "addendum": ADDENDUM,
}


def reported_value(agreement: Agreement, field: str) -> object:
    if field in ("moa", "addendum"):
        status, url = getattr(agreement, field), getattr(agreement, f"{field}_url")
        return url or ("link pending" if status == "pending" else status)
    return getattr(agreement, field)


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
    # every (before, after) pair whose stored values differ, reported or not: the versions to write
    revised: tuple[tuple[Agreement, Agreement], ...] = ()

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


def field_changes(before: Agreement, after: Agreement, fields: Iterable[str] = REPORTED_FIELDS) -> list[FieldChange]:
    """Differences in the given reported fields (a field is compared only where both lists have
    its column: a column ICE adds is not a change of every agreement)."""
    if before.compared_values() == after.compared_values():
        return []
    changes = []
    for name in fields:
        old, new = reported_value(before, name), reported_value(after, name)
        if old != new:
            changes.append(FieldChange(after.key, name, old, new, before, after))
    return changes


def diff_lists(
    previous: Mapping[str, Agreement],
    current: Mapping[str, Agreement],
    *,
    rename_threshold: float = 90.0,
    fields: Iterable[str] = tuple(REPORTED_FIELDS),
    aliases: Collection[frozenset[str]] = frozenset(),
) -> ListDiff:
    """What changed from ``previous`` to ``current`` (both indexed by key text).

    ``fields`` are the reported fields both lists can show.  A removed and an added agreement
    that look like the same agency under a new name become a proposed rename instead of a
    removal plus an addition; their other field differences are reported as changes too.
    ``aliases`` are pairs of key texts a reviewer confirmed as one agreement: a removed and an
    added agreement forming such a pair are neither added, removed nor proposed as a rename.
    """
    fields = tuple(fields)
    added = [current[k] for k in current.keys() - previous.keys()]
    removed = [previous[k] for k in previous.keys() - current.keys()]
    aliased = _aliased_pairs(removed, added, aliases)
    added = [a for a in added if all(a is not after for _, after in aliased)]
    removed = [r for r in removed if all(r is not before for before, _ in aliased)]
    renames = propose_renames(removed, added, threshold=rename_threshold)
    renamed_old = {r.before.key for r in renames}
    renamed_new = {r.after.key for r in renames}

    changed: list[FieldChange] = []
    revised: list[tuple[Agreement, Agreement]] = []
    for key in previous.keys() & current.keys():
        before, after = previous[key], current[key]
        if before.compared_values() != after.compared_values():
            revised.append((before, after))
            changed.extend(field_changes(before, after, fields))
    other_fields = tuple(f for f in fields if f != "agency")
    for before, after in [(r.before, r.after) for r in renames] + aliased:
        changed.extend(field_changes(before, after, other_fields))

    order = tuple(REPORTED_FIELDS)
    return ListDiff(
        added=tuple(sorted((a for a in added if a.key not in renamed_new), key=_order)),
        removed=tuple(sorted((a for a in removed if a.key not in renamed_old), key=_order)),
        changed=tuple(sorted(changed, key=lambda c: (_order(c.after), order.index(c.field)))),
        renamed=tuple(sorted(renames, key=lambda r: _order(r.after))),
        unchanged=len(previous.keys() & current.keys()) - len(revised),
        revised=tuple(sorted(revised, key=lambda pair: _order(pair[1]))),
    )


def _aliased_pairs(removed: Iterable[Agreement], added: Iterable[Agreement],
                   aliases: Collection[frozenset[str]]) -> list[tuple[Agreement, Agreement]]:
    """(removed, added) pairs whose keys a reviewer linked; each agreement is in one pair at most."""
    unpaired = {a.key.as_text(): a for a in added}
    pairs = []
    for before in removed:
        old_key = before.key.as_text()
        partners = sorted(k for pair in aliases if old_key in pair for k in pair if k in unpaired)
        if partners:
            pairs.append((before, unpaired.pop(partners[0])))
    return pairs


def _order(agreement: Agreement) -> tuple:
    return (agreement.key.state, agreement.key.agency, agreement.key.model, agreement.key.occurrence)


def content_hash(agreements: Iterable[Agreement]) -> str:
    """Fingerprint of a list's content, independent of row order and of the file's bytes.

    Two files that list the same agreements with the same compared values hash alike, so the
    same list under a new file name is recognised as unchanged.
    """
    lines = sorted(f"{a.key.as_text()}\x1f{a.compared_values()!r}" for a in agreements)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
