"""Matching ICE's agencies to the FBI's LEE records: by place and office, never across places."""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.workbook import read_workbook
from diff.agency_names import canonical, parse
from diff.gazetteer import place_key
from diff.normalise import normalise_table
from diff.registry import Registry
from tests.files import all_workbooks, workbook

SO = "Sheriff's Office"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@pytest.mark.parametrize("state, name, ori, basis, confidence", [
    ("FL", f"St. Johns County {SO}", "FL0550000", "county sheriff by county name", 0.95),
    ("LA", f"Lafourche Parish {SO}", "LA0290000", "county sheriff by county name", 0.95),
    ("TX", f"Hill County {SO}", "TX1090000", "county sheriff by county name", 0.95),
    ("TX", f"Milam County {SO}", "TX1660000", "county sheriff by county name", 0.95),
    ("AL", f"Marshall County {SO}", "AL0500000", "county sheriff by county name", 0.95),
    ("MN", f"Cass County {SO}", "MN0110000", "county sheriff by county name", 0.95),
    ("FL", "City of Melbourne Police Department", "FL0050700", "city police by city name", 0.9),
    ("FL", "Melbourne Police Department", "FL0050700", "city police by city name", 0.8),
    ("FL", "West Melbourne Police Department", "FL0051600", "city police by city name", 0.8),
    ("PA", "Orange Township Police Department", "PA0192400", "city police by city name", 0.9),
    ("MO", "Ste. Genevieve Police Department", "MO0970100", "city police by city name", 0.8),
    ("GA", "Gwinnett County Police Department", "GA0670200", "same name", 0.95),
    ("FL", f"Jacksonville {SO}", "FL0160000", "same name", 0.95),
    ("NE", "Nebraska State Patrol", "NBNSP0000", "same name", 0.95),
    ("WY", "Wyoming State Highway Patrol", "WYWHP0000", "state police by state", 0.8),
    ("WY", "Wyoming Highway State Patrol", "WYWHP0000", "state police by state", 0.8),
])
def test_matches(registry, state, name, ori, basis, confidence):
    match = registry.match(state, name)
    assert match is not None
    assert (match.ori, match.basis, match.confidence) == (ori, basis, confidence)
    record = registry.record(ori)
    assert record is not None and (match.population, match.officers, match.county) == (
        record.population, record.officers, record.county)


@pytest.mark.parametrize("state, name", [
    pytest.param("FL", "Gulf County Board of County Commissioners", id="a board of county commissioners has no ORI"),
    pytest.param("FL", "Florida Department of Corrections", id="a department of corrections"),
    pytest.param("VA", "Department of Corrections", id="a department of corrections, no state named"),
    pytest.param("PA", "Lancaster County District Attorney's Office", id="an attorney's office"),
    pytest.param("KY", "Grayson County Detention Center", id="a county's jail is not its sheriff"),
    pytest.param("TX", "Bexar County Constable Precinct 3", id="a constable"),
    pytest.param("MN", f"Freedom County {SO}", id="a misspelt county is not guessed"),
    pytest.param("MT", f"Cass County {SO}", id="a county the state does not have (ICE's state error)"),
    pytest.param("FL", "Macro Island Police Department", id="a misspelt city is not guessed"),
    pytest.param("PA", "Jackson Township Police Department", id="several Jackson Townships in Pennsylvania: not guessed"),
])
def test_no_match(registry, state, name):
    assert registry.match(state, name) is None


@pytest.fixture(scope="module")
def recent_list():
    return normalise_table(read_workbook(workbook("participatingAgencies05142026am.xlsx"))).agreements


def test_matches_on_a_real_list_never_cross_a_place(registry, recent_list):
    """Every match on the 1,832-row list of 2026-05-14 names the same place as ICE's row."""
    for agreement in recent_list:
        state, name = agreement.key.state, agreement.agency
        match = registry.match(state, name)
        if match is None or match.basis in ("same name", "state police by state"):
            continue
        place = place_key(parse(name, state).place or "")
        fbi_words = match.name.upper()
        for kind in (" TOWNSHIP", " BOROUGH", " VILLAGE"):
            fbi_words = fbi_words.removesuffix(kind)
        fbi = place_key(fbi_words)
        assert fbi in (place, place.removesuffix("CITY")), (state, name, match)


def test_coverage_on_a_real_list(registry, recent_list):
    """Most sheriffs and police departments have an ORI; offices without one are never matched.
    (Figures for every list: bench/registry.py.)"""
    total, matched = Counter(), Counter()
    for agreement in recent_list:
        role = parse(agreement.agency, agreement.key.state).role
        total[role] += 1
        matched[role] += registry.match(agreement.key.state, agreement.agency) is not None
    assert matched["sheriff"] >= 0.95 * total["sheriff"]
    assert matched["police"] >= 0.85 * total["police"]
    for role in ("commissioners", "corrections", "attorney", "jail", "constable"):
        assert matched[role] == 0, role


def test_one_ori_is_one_agency_across_spellings(registry):
    spellings = ["City of Melbourne Police Department", "Melbourne Police Department", "Melbourne PD"]
    assert {registry.match("FL", s).ori for s in spellings} == {"FL0050700"}


def test_two_agencies_of_one_list_never_share_an_ori(registry):
    """Within each real list, two names with different canonical forms never get one ORI, so
    "same ORI in one state = one agency" can never merge two agreements ICE lists side by side
    (Texas lists divisions of its Department of Public Safety as agreements of their own)."""
    for path in all_workbooks():
        by_ori: dict[str, set[str]] = {}
        for agreement in normalise_table(read_workbook(path)).agreements:
            state, name = agreement.key.state, agreement.agency
            match = registry.match(state, name)
            if match is not None:
                by_ori.setdefault(match.ori, set()).add(canonical(name, state))
        shared = {ori: names for ori, names in by_ori.items() if len(names) > 1}
        assert not shared, (path.name, shared)
