"""Compare two versions of one list: agreements added, removed, changed field by field."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from diff.identity import EXACT_KEY, REVIEWED_ALIAS, IdentityRules, Match, match_rows
from diff.normalise import UNKNOWN_MODEL
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
    basis: str = EXACT_KEY      # how ``before`` and ``after`` were found to be one agreement (diff.identity)


@dataclass(frozen=True, slots=True)
class ListDiff:
    added: tuple[Agreement, ...]
    removed: tuple[Agreement, ...]
    changed: tuple[FieldChange, ...]
    renamed: tuple[Rename, ...]
    unchanged: int
    # every (before, after) pair whose stored values differ, reported or not: the versions to write
    revised: tuple[tuple[Agreement, Agreement], ...] = ()
    # removed and added rows found to be one agreement (tiers 2-3 of diff.identity, reviewed aliases)
    matched: tuple[Match, ...] = ()

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


def field_changes(before: Agreement, after: Agreement, fields: Iterable[str] = REPORTED_FIELDS,
                  basis: str = EXACT_KEY) -> list[FieldChange]:
    """Differences in the given reported fields (a field is compared only where both lists have
    its column: a column ICE adds is not a change of every agreement)."""
    if before.compared_values() == after.compared_values():
        return []
    changes = []
    for name in fields:
        old, new = reported_value(before, name), reported_value(after, name)
        if old != new:
            changes.append(FieldChange(after.key, name, old, new, before, after, basis))
    return changes


def match_changes(match: Match, fields: Iterable[str]) -> list[FieldChange]:
    """What a matched pair changed: the state or support type that differ in the keys, then the
    reported fields (the name too, except for a reviewer's alias, whose rename was reviewed)."""
    before, after, basis = match.before, match.after, match.basis
    changes = []
    if before.key.state != after.key.state:
        changes.append(FieldChange(after.key, "state", before.key.state, after.key.state, before, after, basis))
    if before.key.model != after.key.model:
        changes.append(FieldChange(after.key, "support_type", _model_value(before), _model_value(after),
                                   before, after, basis))
    shown = [f for f in fields if f != "agency" or basis != REVIEWED_ALIAS]
    return changes + field_changes(before, after, shown, basis)


def _model_value(agreement: Agreement) -> str | None:
    return None if agreement.key.model == UNKNOWN_MODEL else agreement.key.model


def diff_lists(
    previous: Mapping[str, Agreement],
    current: Mapping[str, Agreement],
    *,
    rename_threshold: float = 90.0,
    fields: Iterable[str] = tuple(REPORTED_FIELDS),
    aliases: Collection[frozenset[str]] = frozenset(),
    rules: IdentityRules | None = None,
    not_renamed: Collection[str] = frozenset(),
) -> ListDiff:
    """What changed from ``previous`` to ``current`` (both indexed by key text).

    ``fields`` are the reported fields both lists can show.  Removed and added agreements are
    paired by the tiers of ``diff.identity`` (``rules``): a pair found one agreement is neither
    added nor removed, and reports what changed (``matched``, ``changed``); of the rest, pairs
    that look like one agency under a new name become proposed renames.  ``aliases`` are pairs
    of key texts a reviewer confirmed as one agreement.  ``not_renamed``: key texts of removed
    agreements kept out of tiers 3 and 4 (pending entries promoted to the participating list).
    Every pairing runs on sorted keys: the result does not depend on the hash seed.
    """
    rules = rules or IdentityRules()
    fields = tuple(fields)
    changed: list[FieldChange] = []
    revised: list[tuple[Agreement, Agreement]] = []
    removed: list[Agreement] = []
    # Every key of the previous list: the one loop that runs for each row, so it reads as little
    # as it can.  An agreement's fingerprint, a hash of its compared values made when it was
    # built, stands for them: rows whose fingerprints differ are compared field by field; rows
    # whose fingerprints are equal have equal values (Python's 64-bit hash of the same values;
    # two different rows share one by chance with a probability of about 2**-64 per pair).  The
    # walk follows ``previous``'s own order, not a set's: rows lie in memory in the order they
    # were built, and both lists come in much the same order (ICE sorts by state and agency).
    # Every result is sorted below, by keys unique within a list, so the order of this walk
    # changes nothing in them.
    common = 0
    find = current.get
    for key, before in previous.items():
        after = find(key)
        if after is None:
            removed.append(before)
            continue
        common += 1
        if before.fingerprint != after.fingerprint:
            revised.append((before, after))
            changed.extend(field_changes(before, after, fields))
    added = sorted((current[k] for k in current.keys() - previous.keys()) if common < len(current) else (),
                   key=_order)
    removed.sort(key=_order)
    matched = match_rows(removed, added, rules, aliases, promoted=not_renamed)
    matched_old = {m.before.key for m in matched}
    matched_new = {m.after.key for m in matched}
    added = [a for a in added if a.key not in matched_new]
    removed = [r for r in removed if r.key not in matched_old]
    renames = propose_renames([r for r in removed if r.key.as_text() not in not_renamed], added,
                              threshold=rename_threshold, veto=rules.distinct_places)
    renamed_old = {r.before.key for r in renames}
    renamed_new = {r.after.key for r in renames}

    other_fields = tuple(f for f in fields if f != "agency")
    for rename in renames:
        changed.extend(field_changes(rename.before, rename.after, other_fields))
    for match in matched:
        changed.extend(match_changes(match, fields))

    order = ("state", "support_type", *REPORTED_FIELDS)
    return ListDiff(
        added=tuple(a for a in added if a.key not in renamed_new),
        removed=tuple(a for a in removed if a.key not in renamed_old),
        changed=tuple(sorted(changed, key=lambda c: (_order(c.after), order.index(c.field)))),
        renamed=tuple(sorted(renames, key=lambda r: _order(r.after))),
        unchanged=common - len(revised),
        revised=tuple(sorted(revised, key=lambda pair: _order(pair[1]))),
        matched=tuple(sorted(matched, key=lambda m: _order(m.after))),
    )


def _order(agreement: Agreement) -> tuple:
    return (agreement.key.state, agreement.key.agency, agreement.key.model, agreement.key.occurrence)


# The repr of each distinct tuple of compared values, for content_hash: most rows are the same
# from one list to the next, and the repr (a date's above all) is most of a row's hashing.  Equal
# values of the same types (texts, dates, None) have the same repr, so the types are in the key:
# a value that equals another of another type (a datetime and a date never do) is not mistaken
# for it.  Bounded: past the limit it starts again (only time is at stake, never a result).
_VALUES_TEXTS: dict[tuple[tuple, tuple], str] = {}
_VALUES_TEXTS_LIMIT = 65_536


def _values_text(values: tuple) -> str:
    key = (values, tuple(map(type, values)))
    found = _VALUES_TEXTS.get(key)
    if found is None:
        if len(_VALUES_TEXTS) >= _VALUES_TEXTS_LIMIT:
            _VALUES_TEXTS.clear()
        found = _VALUES_TEXTS[key] = repr(values)
    return found


def content_hash(agreements: Iterable[Agreement]) -> str:
    """Fingerprint of a list's content, independent of row order and of the file's bytes.

    Two files that list the same agreements with the same compared values hash alike, so the
    same list under a new file name is recognised as unchanged.
    """
    text = _values_text
    lines = sorted(f"{a.key.as_text()}\x1f{text(a.compared_values())}" for a in agreements)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
