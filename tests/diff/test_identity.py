"""Identity tiers (diff.identity) on rows shaped like ICE's, with names and dates from its lists."""

from __future__ import annotations

import datetime as dt

import pytest

from diff.identity import (
    CANONICAL_KEY,
    REGISTRY_ORI,
    REVIEWED_ALIAS,
    STATE_CORRECTED,
    SUPPORT_TYPE_CORRECTED,
    SUPPORT_TYPE_FILLED,
    IdentityRules,
    canonical_name,
    registry_lookup,
)
from diff.normalise import normalise_table
from diff.records import RawRow, SourceTable
from diff.rowdiff import by_key, diff_lists

HEADER = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA")
COLUMNS = ("state", "agency", "type", "county", "model", "signed", "moa")
SIGNED = dt.date(2025, 2, 26)


def row(state, agency, model="Task Force Model", signed: dt.date | None = SIGNED, number=2):
    cells = dict(zip(COLUMNS, (state, agency, "County", None, model, signed, "link")))
    return RawRow(number, cells, {"moa": "https://www.ice.gov/doclib/287gMOA/x.pdf"})


def index(*rows):
    return by_key(normalise_table(SourceTable("Sheet1", HEADER, COLUMNS, tuple(rows))).agreements)


def one_change(before, after, rules):
    return diff_lists(index(before), index(after), rules=rules)


# (case, removed row, added row, rules, basis, field, old, new) — each from a real edit of ICE's lists
MATCHED = [
    ("a board named with the jail it runs (FL, 2025-08-02)",
     row("FLORIDA", "Okaloosa County Board of County Commissioners"),
     row("FLORIDA", "Okaloosa County Board of County Commissioners/ Department of Corrections"), IdentityRules(),
     CANONICAL_KEY, "agency", "Okaloosa County Board of County Commissioners",
     "Okaloosa County Board of County Commissioners/ Department of Corrections"),
    ("BOCC spelled out (FL)",
     row("FLORIDA", "Gulf County BOCC"), row("FLORIDA", "Gulf County Board of County Commissioners"),
     IdentityRules(), CANONICAL_KEY, "agency", "Gulf County BOCC", "Gulf County Board of County Commissioners"),
    ("state corrected, same signing date (Lake Placid PD, NY → FL, 2025-03-07)",
     row("NEW YORK", "Lake Placid Police Department", signed=dt.date(2025, 2, 26)),
     row("FLORIDA", "Lake Placid Police Department", signed=dt.date(2025, 2, 26)), IdentityRules(),
     STATE_CORRECTED, "state", "NY", "FL"),
    ("state corrected, same signing date (Ellis County SO, TX → KS, 2025-07-14)",
     row("TEXAS", "Ellis County Sheriff's Office", "Warrant Service Officer", dt.date(2025, 6, 20)),
     row("KANSAS", "Ellis County Sheriff's Office", "Warrant Service Officer", dt.date(2025, 6, 20)), IdentityRules(),
     STATE_CORRECTED, "state", "TX", "KS"),
    ("blank support type filled in",
     row("TEXAS", "Goliad County Sheriff's Office", model=None),
     row("TEXAS", "Goliad County Sheriff's Office", "Warrant Service Officer"), IdentityRules(),
     SUPPORT_TYPE_FILLED, "support_type", None, "WSO"),
    ("support type relabelled, same signing date",
     row("TEXAS", "San Jacinto County Sheriff's Office", "Jail Enforcement Model"),
     row("TEXAS", "San Jacinto County Sheriff's Office", "Warrant Service Officer"), IdentityRules(),
     SUPPORT_TYPE_CORRECTED, "support_type", "JEM", "WSO"),
    ("support type relabelled on the pending list (no dates)",
     row("TEXAS", "San Jacinto County Sheriff's Office", "Jail Enforcement Model", signed=None),
     row("TEXAS", "San Jacinto County Sheriff's Office", "Warrant Service Officer", signed=None),
     IdentityRules(dated=False), SUPPORT_TYPE_CORRECTED, "support_type", "JEM", "WSO"),
    ("state corrected: the place exists in the new state only (Kershaw County FL → SC, pending)",
     row("FLORIDA", "Kershaw County Sheriff's Office", signed=None),
     row("SOUTH CAROLINA", "Kershaw County Sheriff's Office", signed=None),
     IdentityRules(dated=False), STATE_CORRECTED, "state", "FL", "SC"),
    ("state corrected: Trousdale County is in Tennessee, not Texas (pending, 2025-08-14)",
     row("TEXAS", "Trousdale County Sheriff's Office", "Warrant Service Officer", signed=None),
     row("TENNESSEE", "Trousdale County Sheriff's Office", "Warrant Service Officer", signed=None),
     IdentityRules(dated=False), STATE_CORRECTED, "state", "TX", "TN"),
]


@pytest.mark.parametrize("case, before, after, rules, basis, field, old, new", MATCHED, ids=[m[0] for m in MATCHED])
def test_a_matched_pair_is_one_change_not_a_removal_and_an_addition(case, before, after, rules, basis, field, old,
                                                                     new):
    result = one_change(before, after, rules)
    assert result.added == () and result.removed == () and result.renamed == ()
    assert [m.basis for m in result.matched] == [basis]
    first = result.changed[0]
    assert (first.field, first.old, first.new, first.basis) == (field, old, new, basis)


# (case, removed row, added row, rules): two agreements, never one
NOT_MATCHED = [
    ("same name, other state, signed a year apart (Carroll County MD / KY)",
     row("MARYLAND", "Carroll County Sheriff's Office", "Warrant Service Officer", dt.date(2025, 3, 4)),
     row("KENTUCKY", "Carroll County Sheriff's Office", "Warrant Service Officer", dt.date(2026, 2, 13)),
     IdentityRules()),
    ("same name, other state, pending list without dates (Lincoln County OK / WY)",
     row("OKLAHOMA", "Lincoln County Sheriff's Office", signed=None),
     row("WYOMING", "Lincoln County Sheriff's Office", signed=None), IdentityRules(dated=False)),
    ("another support type with another signing date is another agreement",
     row("UTAH", "Sanpete County Sheriff's Office", "Jail Enforcement Model", dt.date(2025, 4, 1)),
     row("UTAH", "Sanpete County Sheriff's Office", "Warrant Service Officer", dt.date(2025, 12, 1)),
     IdentityRules()),
    ("two distinct real places are vetoed even at tier 2",
     row("FLORIDA", "Gulf County BOCC"), row("FLORIDA", "Gulf County Board of County Commissioners"),
     IdentityRules(distinct_places=lambda *_: True)),
    ("same name in two states that both have the place, pending (Franklin County TX / AR)",
     row("ARKANSAS", "Franklin County Sheriff's Office", signed=None),
     row("TEXAS", "Franklin County Sheriff's Office", signed=None), IdentityRules(dated=False)),
]


@pytest.mark.parametrize("case, before, after, rules", NOT_MATCHED, ids=[m[0] for m in NOT_MATCHED])
def test_distinct_agreements_stay_apart(case, before, after, rules):
    result = one_change(before, after, rules)
    assert result.matched == ()
    assert len(result.added) == 1 and len(result.removed) == 1


def test_a_promoted_pending_entry_is_never_a_state_or_support_type_change():
    before = index(row("ARKANSAS", "Franklin County Sheriff's Office", signed=None))
    after = index(row("TEXAS", "Franklin County Sheriff's Office", signed=None))
    rules = IdentityRules(dated=False, place_only_in=lambda *_: True)
    assert diff_lists(before, after, rules=rules).matched != ()
    kept = diff_lists(before, after, rules=rules, not_renamed=set(before))
    assert kept.matched == () and kept.renamed == () and len(kept.removed) == 1


NO_VETO = IdentityRules(distinct_places=lambda *_: False)

# (state, removed name, added name): two real places whose names look alike; never a rename
DISTINCT_PLACES = [
    ("TEXAS", "Hill County Sheriff's Office", "Milam County Sheriff's Office"),
    ("TEXAS", "Orange County Sheriff's Office", "Rains County Sheriff's Office"),
    ("ALABAMA", "Madison County Sheriff's Office", "Marion County Sheriff's Office"),
    ("FLORIDA", "Melbourne Police Department", "West Melbourne Police Department"),
    ("TENNESSEE", "Moore County Sheriff's Office", "Monroe County Sheriff's Office"),
    ("TEXAS", "Henderson County Sheriff's Office", "Johnson County Sheriff's Office"),
]


@pytest.mark.parametrize("state, old, new", DISTINCT_PLACES, ids=[f"{p[1]} / {p[2]}" for p in DISTINCT_PLACES])
def test_two_distinct_places_are_never_proposed_as_a_rename(state, old, new):
    before, after = index(row(state, old)), index(row(state, new))
    assert len(diff_lists(before, after, rename_threshold=40, rules=NO_VETO).renamed) == 1   # alike enough
    vetoed = diff_lists(before, after, rename_threshold=40)
    assert vetoed.renamed == () and vetoed.matched == () and len(vetoed.added) == len(vetoed.removed) == 1


def test_a_reviewed_alias_continues_the_agreement_before_any_other_tier():
    before = index(row("TEXAS", "Texas Office of the Attorney General"))
    after = index(row("TEXAS", "Office of the Attorney General"))
    result = diff_lists(before, after, aliases={frozenset((*before, *after))})
    assert [m.basis for m in result.matched] == [REVIEWED_ALIAS]
    assert result.changed == ()     # the reviewed rename is not reported again


def test_ties_are_paired_by_key_text_whatever_the_input_order():
    removed = [row("TEXAS", "Hill County Sheriff's Office", number=2),
               row("TEXAS", "Hill County Sheriffs Department", number=3)]
    added = [row("TEXAS", "Hill County Sheriff Office Jail", number=2)]
    forward = diff_lists(index(*removed), index(*added), rename_threshold=60, rules=NO_VETO)
    backward = diff_lists(dict(reversed(list(index(*removed).items()))), index(*added), rename_threshold=60,
                          rules=NO_VETO)
    assert [(r.before.key, r.after.key) for r in forward.renamed] == \
           [(r.before.key, r.after.key) for r in backward.renamed]


# -- registry_ori: one FBI record (diff.registry, the real FBI file) ----------------------------------

# (case, removed row, added row): ICE's own re-spellings that only the FBI record ties together
SAME_RECORD = [
    ("the state police under another name (LA, participatingAgencies07152025am)",
     row("LOUISIANA", "Louisiana State Patrol"), row("LOUISIANA", "Louisiana State Police Department"),
     "LALSP0000"),
    ("a borough's police named with and without 'Borough' (PA, participatingAgencies07152025am)",
     row("PENNSYLVANIA", "Quarryville Police Department"),
     row("PENNSYLVANIA", "Quarryville Borough Police Department"), "PA0362900"),
]


@pytest.mark.parametrize("case, before, after, ori", SAME_RECORD, ids=[m[0] for m in SAME_RECORD])
def test_two_names_with_one_fbi_record_in_one_state_are_one_agreement(case, before, after, ori):
    result = one_change(before, after, IdentityRules())
    assert result.added == () and result.removed == () and result.renamed == ()
    assert [(m.basis, ori in m.detail) for m in result.matched] == [(REGISTRY_ORI, True)]
    assert [(c.field, c.basis) for c in result.changed] == [("agency", REGISTRY_ORI)]
    # without the tier they were a removal and an addition
    assert len(one_change(before, after, IdentityRules(registry_ori=None)).removed) == 1


# (case, removed row, added row, rules): one ORI, and still two agreements
SAME_RECORD_APART = [
    ("a township's police is not a city's, though the registry's fallback gives both Quarryville's record",
     row("PENNSYLVANIA", "Quarryville Township Police Department"),
     row("PENNSYLVANIA", "City of Quarryville Police Department"), IdentityRules()),
    ("a city's marshal is not its police (Smiley, TX: one City record)",
     row("TEXAS", "Smiley City Marshal's Office"), row("TEXAS", "Smiley Police Department"), IdentityRules()),
    ("another support type is another agreement",
     row("LOUISIANA", "Louisiana State Patrol", "Jail Enforcement Model"),
     row("LOUISIANA", "Louisiana State Police Department", "Warrant Service Officer", dt.date(2025, 9, 1)),
     IdentityRules()),
    ("below the threshold", row("LOUISIANA", "Louisiana State Patrol"),
     row("LOUISIANA", "Louisiana State Police Department"), IdentityRules(registry_threshold=0.9)),
    ("a reviewer rejected one side's match", row("LOUISIANA", "Louisiana State Patrol"),
     row("LOUISIANA", "Louisiana State Police Department"),
     IdentityRules(registry_ori=registry_lookup(rejected={("LA", "STATE PATROL", "LALSP0000")}))),
    ("the gazetteer's veto stays", row("LOUISIANA", "Louisiana State Patrol"),
     row("LOUISIANA", "Louisiana State Police Department"), IdentityRules(distinct_places=lambda *_: True)),
]


@pytest.mark.parametrize("case, before, after, rules", SAME_RECORD_APART, ids=[m[0] for m in SAME_RECORD_APART])
def test_one_fbi_record_is_not_enough_without_the_rest_of_the_rule(case, before, after, rules):
    result = one_change(before, after, rules)
    assert [m for m in result.matched if m.basis == REGISTRY_ORI] == []


def test_a_reviewer_accepted_match_counts_as_certain():
    before, after = row("LOUISIANA", "Louisiana State Patrol"), row("LOUISIANA", "Louisiana State Police Department")
    accepted = registry_lookup(accepted={("LA", "STATE PATROL", "LALSP0000")})
    assert accepted("LA", "Louisiana State Patrol") == ("LALSP0000", 1.0)
    result = one_change(before, after, IdentityRules(registry_ori=accepted, registry_threshold=0.9))
    assert [m.basis for m in result.matched] == [REGISTRY_ORI]


def test_a_promoted_pending_entry_is_never_paired_by_its_fbi_record():
    before = index(row("LOUISIANA", "Louisiana State Patrol", signed=None))
    after = index(row("LOUISIANA", "Louisiana State Police Department", signed=None))
    kept = diff_lists(before, after, rules=IdentityRules(dated=False), not_renamed=set(before))
    assert kept.matched == () and len(kept.removed) == 1


def _counting_rules(asked: list[str]) -> IdentityRules:
    def canonical(name, state):
        asked.append(f"canonical {state}|{name}")
        return canonical_name(name, state)

    def ori(state, name):
        asked.append(f"ori {state}|{name}")
        return None
    return IdentityRules(canonical=canonical, registry_ori=ori)


def test_a_first_version_adds_every_row_without_keying_any_for_a_tier():
    """A list's first version: every row added, none removed, nothing to pair, so no tier asks a
    canonical name or an FBI record of any row (on a real workbook, ~1,800 rows)."""
    from crawler.workbook import read_workbook
    from tests.files import workbook

    rows = by_key(normalise_table(read_workbook(workbook("participatingAgencies05292025am.xlsx").read_bytes()))
                  .agreements)
    asked: list[str] = []
    result = diff_lists({}, rows, rules=_counting_rules(asked))
    assert len(result.added) == len(rows) and {a.key.as_text() for a in result.added} == set(rows)
    assert result.removed == () and result.changed == () and result.renamed == ()
    assert asked == []
    gone = diff_lists(rows, {}, rules=_counting_rules(asked))
    assert len(gone.removed) == len(rows) and gone.added == () and asked == []


def test_tiers_after_every_row_is_paired_key_no_row():
    """Once tier 2 has paired the only removed row, tiers 3 and the FBI record's ask nothing more;
    the added row left over stays added."""
    asked: list[str] = []
    before = index(row("FLORIDA", "Gulf County BOCC"))
    after = index(row("FLORIDA", "Gulf County Board of County Commissioners"),
                  row("TEXAS", "Goliad County Sheriff's Office"))
    result = diff_lists(before, after, rules=_counting_rules(asked))
    assert [c.field for c in result.changed] == ["agency"]
    assert [a.agency for a in result.added] == ["Goliad County Sheriff's Office"]
    assert not any(text.startswith("ori") for text in asked)
    assert len(asked) == 3      # the canonical names of the three rows, each asked once (cached)
