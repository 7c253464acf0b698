"""Agreement identity across ICE's edits: which removed and added rows of one diff are the
same agreement, and on what basis.

A list's rows carry a text key ``STATE|AGENCY|MODEL``.  A row whose key is on the list as it
stands is that agreement (tier 1, ``exact_key``).  The rows left over, removed on one side and
added on the other, go through the tiers below, strict to loose; each agreement is in one pair
at most, and every tier pairs in a stable order (sorted key texts), so the same lists give the
same pairs whatever the hash seed.

====  =========================  ==========================================================
tier  basis                      rule
====  =========================  ==========================================================
1     ``exact_key``              the same key text (not a pairing: the diff's intersection)
-     ``reviewed_alias``         a reviewer confirmed the two keys as one agreement
2     ``canonical_key``          same state and support type, same canonical agency name
                                 (``canonical``: the key after a fuller normalisation)
3     ``support_type_filled``    same state and canonical name, the old support type blank
                                 (``UNKNOWN``) and the new one known
3     ``support_type_corrected`` same state and canonical name, another support type, and
                                 the same signing date (a blank date on both sides counts
                                 only on the pending list, which has no dates)
3     ``state_corrected``        same canonical name and support type, another state, and
                                 either the same signing date or a place that exists in the
                                 new state only (``IdentityRules.place_only_in``)
3     ``registry_ori``           same state and support type, both names matched to the
                                 same FBI record (ORI, ``diff.registry``) with a confidence
                                 of at least ``REGISTRY_THRESHOLD`` on both sides (a
                                 reviewer's accepted match counts as certain, a rejected one
                                 as no match), the same office, no two different kinds of
                                 place named ("Township" / "City"), and not two distinct
                                 real places
4     ``fuzzy_name``             a rename *proposal* (``diff.renames``), vetoed when the two
                                 names are two distinct real places
====  =========================  ==========================================================

``REGISTRY_THRESHOLD`` is 0.8, every basis of ``diff.registry``, because on the real history
the confidence does not separate right from wrong: ``bench/registry.py`` finds, in the 328
workbooks of February 2025 to May 2026, two removed+added pairs with one ORI that tiers 1 to 3
leave apart, both one agency ("Louisiana State Patrol" / "Louisiana State Police Department",
"Quarryville Police Department" / "Quarryville Borough Police Department"), each with a 0.8 name
on one side, so a 0.9 threshold would match neither; and of the history's 1,715 names only
those two pairs of names share an ORI in one state.  What keeps two offices apart is the rest
of the rule: the same office (a city's marshal and its police are not paired), no two
different kinds of place (a township's police is not a city's of the same name, which the
registry's bare-name fallback could give one ORI), and the gazetteer's veto.

Tiers 2 and 3 are certain enough to continue one agreement: the change log shows one
``agreement.changed`` event (field ``agency``, ``state`` or ``support_type``), not a removal
and an addition.  Tier 4 stays a proposal for a person to review.  A name match alone is never
a state correction: Carroll County (MD and KY) and Lincoln County (OK and WY) are different
agencies with the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from diff import agency_names, gazetteer, registry
from diff.normalise import UNKNOWN_MODEL
from diff.records import Agreement

EXACT_KEY = "exact_key"
REVIEWED_ALIAS = "reviewed_alias"
CANONICAL_KEY = "canonical_key"
SUPPORT_TYPE_FILLED = "support_type_filled"
SUPPORT_TYPE_CORRECTED = "support_type_corrected"
STATE_CORRECTED = "state_corrected"
REGISTRY_ORI = "registry_ori"
FUZZY_NAME = "fuzzy_name"
MATCH_BASES = (EXACT_KEY, REVIEWED_ALIAS, CANONICAL_KEY, SUPPORT_TYPE_FILLED, SUPPORT_TYPE_CORRECTED,
               STATE_CORRECTED, REGISTRY_ORI, FUZZY_NAME)
REGISTRY_THRESHOLD = 0.8

# (state, canonical agency name, ORI): a reviewer's decision on one agency's registry match
RegistryKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Match:
    """A removed and an added row that are one agreement, and why."""

    before: Agreement
    after: Agreement
    basis: str          # one of MATCH_BASES
    detail: str         # the evidence, in words


def place_only_in(new_state: str, old_state: str, name: str) -> bool:
    """True when the place the name names exists in ``new_state`` and not in ``old_state``
    (Kershaw County is in South Carolina, not Florida), by the gazetteer (diff.gazetteer)."""
    return gazetteer.is_place(new_state, name) and not gazetteer.is_place(old_state, name)


def canonical_name(name: str, state: str) -> str:
    """Tier 2's canonical form of an agency name (diff.agency_names.canonical)."""
    return agency_names.canonical(name, state)


def registry_lookup(rejected: Collection[RegistryKey] = frozenset(),
                    accepted: Collection[RegistryKey] = frozenset()) -> Callable[[str, str], tuple[str, float] | None]:
    """(ORI, confidence) of an agency name's FBI record (``diff.registry``), after the
    reviewers' decisions: a rejected match is none, an accepted one is certain (1.0)."""
    found: dict[tuple[str, str], tuple[str, float] | None] = {}

    def lookup(state: str, name: str) -> tuple[str, float] | None:
        if (state, name) not in found:
            found[(state, name)] = _decided(registry.Registry.load().match(state, name) if state.isalpha() else None,
                                            state, name)
        return found[(state, name)]

    def _decided(match: registry.RegistryMatch | None, state: str, name: str) -> tuple[str, float] | None:
        if match is None:
            return None
        key = (state, agency_names.canonical(name, state), match.ori)
        if key in rejected:
            return None
        return match.ori, 1.0 if key in accepted else match.confidence
    return lookup


@dataclass(frozen=True)
class IdentityRules:
    """What the tiers need to know about names and places (pure functions).

    ``canonical(name, state)``: an agency name → its canonical form (tiers 2 and 3).
    ``distinct_places(state_a, name_a, state_b, name_b)``: True when the two names name two
    different real places (a veto on tiers 2, 3 within one state, and 4).
    ``place_only_in(new_state, old_state, name)``: True when the place the name names exists
    in the new state and not in the old one (evidence of a state correction).
    ``registry_ori(state, name)``: (ORI, confidence) of the name's FBI record, or None
    (``registry_lookup``); None here turns the ``registry_ori`` tier off.
    """

    canonical: Callable[[str, str], str] = canonical_name
    distinct_places: Callable[[str, str, str, str], bool] = gazetteer.distinct_places
    place_only_in: Callable[[str, str, str], bool] = place_only_in
    dated: bool = True          # False for lists without signing dates (pending)
    registry_ori: Callable[[str, str], tuple[str, float] | None] | None = field(default_factory=registry_lookup)
    registry_threshold: float = REGISTRY_THRESHOLD
    cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def canonical_of(self, agreement: Agreement) -> str:
        name, state = agreement.agency, agreement.key.state
        found = self.cache.get(f"{state}|{name}")
        if found is None:
            found = self.cache[f"{state}|{name}"] = self.canonical(name, state) or agreement.key.agency
        return found


def _key_text(agreement: Agreement) -> str:
    return agreement.key.as_text()


def match_rows(removed: Sequence[Agreement], added: Sequence[Agreement], rules: IdentityRules,
               aliases: Collection[frozenset[str]] = frozenset(),
               promoted: Collection[str] = frozenset()) -> list[Match]:
    """Pairs of (removed, added) that are one agreement, tier by tier (see the module text).

    Further rows of a key (occurrence > 1) are never paired: they are duplicates, reported as such.
    ``promoted``: key texts of removed pending entries whose agency is now on the participating
    list; they left the pending list for that reason and are kept out of tier 3.
    """
    free_old = sorted((a for a in removed if a.key.occurrence == 1), key=_key_text)
    free_new = sorted((a for a in added if a.key.occurrence == 1), key=_key_text)
    matches: list[Match] = []
    if not free_old or not free_new:
        # nothing to pair (a list's first version: every row added, none removed); each tier
        # would still key every row of the other side (canonical names, FBI records)
        return matches

    def take(rule: Callable[[Agreement, Agreement], tuple[str, str] | None],
             old_blocks: Callable[[Agreement], Iterable[Hashable]], new_block: Callable[[Agreement], Hashable]) -> None:
        """Each removed row, in key order, paired with the first free added row, in key order,
        that ``rule`` accepts.  Only added rows that share a block with the removed row are
        tried: each rule accepts no other pair, so the pairs are those of trying every row,
        at a cost that grows with the rows rather than with removed × added."""
        if not free_old or not free_new:
            return      # an earlier tier paired one side's every row
        position = {id(new): index for index, new in enumerate(free_new)}
        blocks: dict[Hashable, list[Agreement]] = {}
        for new in free_new:
            blocks.setdefault(new_block(new), []).append(new)
        taken: set[int] = set()
        paired: set[int] = set()
        for old in free_old:
            keys = list(old_blocks(old))
            candidates = blocks.get(keys[0], []) if len(keys) == 1 else [] if not keys else sorted(
                {id(n): n for key in keys for n in blocks.get(key, [])}.values(), key=lambda n: position[id(n)])
            for new in candidates:
                if id(new) in taken:
                    continue
                found = rule(old, new)
                if found is not None:
                    matches.append(Match(old, new, *found))
                    taken.add(id(new))
                    paired.add(id(old))
                    break
        # by identity, once per tier (removing each paired row from the list as it was found
        # compared it with every row before it: removed × matched comparisons)
        free_old[:] = [old for old in free_old if id(old) not in paired]
        free_new[:] = [new for new in free_new if id(new) not in taken]

    def alias(old: Agreement, new: Agreement) -> tuple[str, str] | None:
        if frozenset((_key_text(old), _key_text(new))) in aliases:
            return REVIEWED_ALIAS, "a reviewer confirmed the two keys as one agreement"
        return None

    def vetoed(old: Agreement, new: Agreement) -> bool:
        return rules.distinct_places(old.key.state, old.agency, new.key.state, new.agency)

    def canonical(old: Agreement, new: Agreement) -> tuple[str, str] | None:
        if (old.key.state, old.key.model) != (new.key.state, new.key.model):
            return None
        if rules.canonical_of(old) != rules.canonical_of(new) or vetoed(old, new):
            return None
        return CANONICAL_KEY, f"same agency name once spelling is normalised ({rules.canonical_of(new)})"

    def same_signing(old: Agreement, new: Agreement) -> bool:
        if old.signed is not None:
            return old.signed == new.signed
        return not rules.dated and new.signed is None

    def support_type(old: Agreement, new: Agreement) -> tuple[str, str] | None:
        if _key_text(old) in promoted or old.key.state != new.key.state or old.key.model == new.key.model:
            return None
        if rules.canonical_of(old) != rules.canonical_of(new) or vetoed(old, new):
            return None
        if old.key.model == UNKNOWN_MODEL and new.key.model != UNKNOWN_MODEL:
            return SUPPORT_TYPE_FILLED, f"blank support type filled in as {new.key.model}"
        if new.key.model != UNKNOWN_MODEL and same_signing(old, new):
            signed = old.signed.isoformat() if old.signed else "no date on either row"
            return SUPPORT_TYPE_CORRECTED, f"same agency and signing date ({signed}), support type " \
                                           f"{old.key.model} → {new.key.model}"
        return None

    def state(old: Agreement, new: Agreement) -> tuple[str, str] | None:
        if _key_text(old) in promoted or old.key.state == new.key.state or old.key.model != new.key.model:
            return None
        # no place veto here: one name in two states names two places whenever both exist; the
        # evidence below decides
        if rules.canonical_of(old) != rules.canonical_of(new):
            return None
        if old.signed is not None and old.signed == new.signed:
            return STATE_CORRECTED, f"same agency and signing date ({old.signed.isoformat()}), state " \
                                    f"{old.key.state} → {new.key.state}"
        if rules.place_only_in(new.key.state, old.key.state, new.agency):
            return STATE_CORRECTED, f"the place exists in {new.key.state}, not in {old.key.state}"
        return None

    def same_office(old: Agreement, new: Agreement) -> bool:
        a, b = agency_names.parse(old.agency, old.key.state), agency_names.parse(new.agency, new.key.state)
        return a.role == b.role and (a.place_kind is None or b.place_kind is None or a.place_kind == b.place_kind)

    def same_record(old: Agreement, new: Agreement) -> tuple[str, str] | None:
        if rules.registry_ori is None or _key_text(old) in promoted:
            return None
        if (old.key.state, old.key.model) != (new.key.state, new.key.model):
            return None
        before = rules.registry_ori(old.key.state, old.agency)
        after = rules.registry_ori(new.key.state, new.agency) if before else None
        if before is None or after is None or before[0] != after[0]:
            return None
        confidence = min(before[1], after[1])
        if confidence < rules.registry_threshold or not same_office(old, new) or vetoed(old, new):
            return None
        return REGISTRY_ORI, f"the same FBI record {after[0]} (confidence {confidence:g})"

    if aliases:
        partners: dict[str, list[str]] = {}
        for pair in aliases:
            for text in pair:
                partners.setdefault(text, []).extend(other for other in pair if other != text)
        take(alias, lambda old: partners.get(_key_text(old), ()) or ("",), _key_text)
    take(canonical, lambda old: ((old.key.state, old.key.model, rules.canonical_of(old)),),
         lambda new: (new.key.state, new.key.model, rules.canonical_of(new)))
    take(support_type, lambda old: ((old.key.state, rules.canonical_of(old)),),
         lambda new: (new.key.state, rules.canonical_of(new)))
    take(state, lambda old: ((old.key.model, rules.canonical_of(old)),),
         lambda new: (new.key.model, rules.canonical_of(new)))
    if rules.registry_ori is not None:
        ori_of = rules.registry_ori

        def record_block(row: Agreement) -> tuple[str, str, str | None]:
            found = ori_of(row.key.state, row.agency)
            return (row.key.state, row.key.model, found[0] if found else None)

        def record_blocks(old: Agreement) -> tuple[Hashable, ...]:
            # A row without an FBI record pairs with nothing here: it tries no added row (all
            # the rows without one would share one block, and be tried against each other).
            block = record_block(old)
            return () if block[2] is None else (block,)

        take(same_record, record_blocks, record_block)
    return matches
