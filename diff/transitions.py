"""Pending → participating: agreements that appear on the participating list after pending."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from diff.normalise import agency_loose
from diff.records import Agreement


@dataclass(frozen=True, slots=True)
class Promotion:
    pending: Agreement
    participating: Agreement
    basis: str


def find_promotions(added_participating: Iterable[Agreement], recent_pending: Iterable[Agreement]) -> list[Promotion]:
    """Match newly participating agreements with agreements recently on the pending list.

    Matching goes from strict to loose: same state, agency and model; then same state and
    agency with another model (pending entries are sometimes signed under another model);
    then same state and the same loose agency name.  Each pending entry is used once, the
    first pending row of a match first.
    """
    rules = (
        ("same state, agency and support model", lambda a: (a.key.state, a.key.agency, a.key.model)),
        ("same state and agency, other support model", lambda a: (a.key.state, a.key.agency)),
        ("same state, agency name alike once generic words are ignored",
         lambda a: (a.key.state, agency_loose(a.agency))),
    )
    pending = list(recent_pending)
    used: set[int] = set()
    promotions: list[Promotion] = []
    if not pending:     # nothing to match with (the pending list's own diffs): no key is made
        return promotions
    remaining = sorted(added_participating, key=lambda a: (a.key.state, a.key.agency, a.key.model))
    for basis, match_key in rules:
        if not remaining:   # an earlier rule matched every row: no pending entry is keyed again
            break
        index: dict[tuple, list[int]] = {}
        for position, entry in enumerate(pending):
            if position not in used:
                index.setdefault(match_key(entry), []).append(position)
        still = []
        for agreement in remaining:
            candidates = [p for p in index.get(match_key(agreement), ()) if p not in used]
            if not candidates:
                still.append(agreement)
                continue
            used.add(candidates[0])
            promotions.append(Promotion(pending[candidates[0]], agreement, basis))
        remaining = still
    return promotions
