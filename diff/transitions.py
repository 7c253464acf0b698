"""Pending → participating: agreements that appear on the participating list after pending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

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
    then same state and the same loose agency name.  Each pending entry is used once.
    """
    pending = list(recent_pending)
    used: set[int] = set()
    promotions: list[Promotion] = []
    rules = (
        ("same state, agency and support model",
         lambda p, a: (p.key.state, p.key.agency, p.key.model) == (a.key.state, a.key.agency, a.key.model)),
        ("same state and agency, other support model",
         lambda p, a: (p.key.state, p.key.agency) == (a.key.state, a.key.agency)),
        ("same state, agency name alike once generic words are ignored",
         lambda p, a: p.key.state == a.key.state and agency_loose(p.agency) == agency_loose(a.agency)),
    )
    remaining = sorted(added_participating, key=lambda a: (a.key.state, a.key.agency, a.key.model))
    for basis, matches in rules:
        still = []
        for agreement in remaining:
            index = next((i for i, p in enumerate(pending) if i not in used and matches(p, agreement)), None)
            if index is None:
                still.append(agreement)
                continue
            used.add(index)
            promotions.append(Promotion(pending[index], agreement, basis))
        remaining = still
    return promotions
