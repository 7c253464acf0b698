"""Pair a removed and an added agreement that are probably one agency under a new name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from diff.normalise import agency_loose
from diff.records import Agreement


@dataclass(frozen=True, slots=True)
class Rename:
    before: Agreement
    after: Agreement
    score: float      # 100 when the loose names are equal
    basis: str        # why the pair was proposed, in words


def propose_renames(
    removed: Sequence[Agreement], added: Sequence[Agreement], *, threshold: float = 90.0,
    veto: Callable[[str, str, str, str], bool] | None = None,
) -> list[Rename]:
    """One-to-one pairs of (removed, added) in the same state and support model (tier 4 of
    ``diff.identity``, basis ``fuzzy_name``).

    A pair qualifies when the agencies' loose names are equal, or when their key names are at
    least ``threshold`` similar (rapidfuzz token-sort ratio), unless ``veto(state, name, state,
    name)`` says the two names are two distinct real places (Hill and Milam County).  Best
    scores are paired first, ties by key text, so that one agreement is never part of two
    renames and the same lists give the same pairs whatever the hash seed.  These are
    proposals: the change log labels them as such.
    """
    removed = sorted(removed, key=lambda a: a.key.as_text())
    added = sorted(added, key=lambda a: a.key.as_text())
    # Only rows of one state and support model are compared: grouped first, and within a group
    # rapidfuzz's C++ loop finds the pairs near the threshold, whose score is then taken exactly
    # as before, so that the cost grows with the rows rather than with removed × added.
    groups: dict[tuple[str, str], list[int]] = {}
    for j, new in enumerate(added):
        groups.setdefault((new.key.state, new.key.model), []).append(j)
    # token_sort_ratio is the ratio of the names with their words sorted: sorted once per name
    # here, rather than once per pair inside rapidfuzz's loop
    names = {group: [_sorted_words(added[j].key.agency) for j in members] for group, members in groups.items()}
    loose_groups: dict[tuple[str, str], dict[str, list[int]]] = {}
    for group, members in groups.items():
        by_loose: dict[str, list[int]] = {}
        loose_groups[group] = by_loose
        for j in members:
            by_loose.setdefault(agency_loose(added[j].agency), []).append(j)
    candidates: list[tuple[float, int, int, str]] = []
    for i, old in enumerate(removed):
        group = (old.key.state, old.key.model)
        in_group = groups.get(group)
        if not in_group:
            continue
        same_loose = set(loose_groups[group].get(agency_loose(old.agency), ()))
        near = {in_group[index] for _, _, index in process.extract(
            _sorted_words(old.key.agency), names[group], scorer=fuzz.ratio,
            score_cutoff=max(threshold - 1.0, 0.0), limit=None)}
        for j in sorted(same_loose | near):
            new = added[j]
            if veto is not None and veto(old.key.state, old.agency, new.key.state, new.agency):
                continue
            if j in same_loose:
                candidates.append((100.0, i, j, "same name once generic words are ignored"))
                continue
            score = fuzz.token_sort_ratio(old.key.agency, new.key.agency)
            if score >= threshold:
                candidates.append((score, i, j, f"names {score:.0f}% similar"))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_old: set[int] = set()
    used_new: set[int] = set()
    renames = []
    for score, i, j, basis in candidates:
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        renames.append(Rename(removed[i], added[j], round(score, 1), basis))
    return renames


def _sorted_words(name: str) -> str:
    """The name as ``fuzz.token_sort_ratio`` compares it: its words sorted, joined by spaces."""
    return " ".join(sorted(name.split()))
