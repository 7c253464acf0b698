"""Agency names: places, offices and the canonical form (identity tier 2), on ICE's real names.

The re-spellings below are every pair that the history in ../shared/data/ice-287g (February
to August 2025, and the later fixtures) removed and added in one diff, in one state, whose
canonical forms are equal; each id names the file whose diff showed it.
"""

from __future__ import annotations

import pytest

from crawler.workbook import read_workbook
from diff.agency_names import ROLES, canonical, parse
from diff.normalise import normalise_table
from tests.files import workbook


def respelled(file: str, state: str, before: str, after: str):
    return pytest.param(state, before, after, id=f"{file}: {before!r} -> {after!r}")


@pytest.mark.parametrize("state, before, after", [
    respelled("participatingAgencies-20250221214937", "AK", "Alaska Department of Corrections", "Department of Corrections"),
    respelled("participatingAgencies-20250221214937", "TX", "Texas Office of the Attorney General", "Office of the Attorney General"),
    respelled("participatingAgencies-20250317231040", "FL", "Pasco County BOCC", "Pasco County Board of County Commissioners"),
    respelled("participatingAgencies-20250317231040", "FL", "Gulf County BOCC", "Gulf County Board of County Commissioners"),
    respelled("participatingAgencies-20250317231040", "MT", "MT Dept of Justice", "Montana Department of Justice"),
    respelled("participatingAgencies-20250317231040", "FL", "Indian River Shores DPS", "Indian River Shores Department of Public Safety"),
    respelled("participatingAgencies-20250317231040", "VA", "Department of Corrections", "Virginia Department of Corrections"),
    respelled("participatingAgencies-20250317231040", "VA", "Department of State Police", "Virginia Department of State Police"),
    respelled("participatingAgencies05202025pm", "MI", "Berrian County Sheriff's Offic", "Berrian County Sheriff's Office"),
    respelled("participatingAgencies05202025pm", "FL", "City of Melbourne Police Department", "Melbourne Police Department"),
    respelled("participatingAgencies07032025pm", "FL", "Town of Palm Beach Police Department", "Palm Beach Police Department"),
    respelled("participatingAgencies07032025pm", "FL", "City of Miami Springs Police Department", "Miami Springs Police Department"),
    respelled("participatingAgencies07152025am", "NH", "New Hampshire State Police", "New Hampshire State Police Department"),
    respelled("participatingAgencies07152025am", "FL", "Boca Raton Police Department", "Boca Raton Police Services Department"),
    respelled("participatingAgencies07152025am", "ID", "Idaho State Police", "Idaho State Police Department"),
    respelled("participatingAgencies07152025am", "FL", "Okaloosa County Department of Corrections", "Okaloosa County Corrections"),
    respelled("participatingAgencies07232025pm", "PA", "Coolspring Township Constbales Office", "Coolspring Township Constable's Office"),
    respelled("participatingAgencies07232025pm", "FL", "Alachua Police Departent", "Alachua Police Department"),
    respelled("participatingAgencies07232025pm", "PA", "Greene Township Constables's Office", "Greene Township Constable's Office"),
    respelled("participatingAgencies08022025pm", "SC", "Lexington County Sheriff's Office", "Lexington County Sheriff's Department"),
    respelled("participatingAgencies08022025pm", "MT", "Flathead County Sheriff's Department", "Flathead County Sheriff's Office"),
    respelled("participatingAgencies08022025pm", "WI", "Waukesha County Sheriff's Office", "Waukesha County Sheriff's Department"),
    respelled("participatingAgencies08082025pm", "AR", "Arkansas State Police Department", "Arkansas State Police"),
    respelled("participatingAgencies09222025am", "WY", "Wyoming Highway State Patrol", "Wyoming State Highway Patrol"),
    respelled("participatingAgencies09222025am", "MO", "Pettis County Sheriff's Department", "Pettis County Sheriff's Office"),
    respelled("participatingAgencies05142026am", "TX", "La Vernia Police Deparment", "La Vernia Police Department"),
    respelled("pendingAgencies04282025pm", "FL", "City of Hialeah Police Department", "Hialeah Police Department"),
    respelled("pendingAgencies04282025pm", "GA", "City of Monroe Police Department", "Monroe Police Department"),
    respelled("pendingAgencies05282025am", "LA", "Lafourche County Sheriff's Office", "Lafourche Parish Sheriff's Office"),
    respelled("pendingAgencies07102025am", "LA", "Arnaudville Police Department, LA", "Arnaudville Police Department"),
    respelled("pendingAgencies07222025pm", "OK", "Texas County's Sheriff's Office", "Texas County Sheriff's Office"),
    # the boards that ran their county's jail, spelled back and forth (issue 9)
    respelled("participatingAgencies08022025pm", "FL", "Gulf County Board of County Commissioners",
              "Gulf County Board of County Commissioners /Detention Facility"),
    respelled("participatingAgencies08022025pm", "FL", "Okaloosa County Board of County Commissioners",
              "Okaloosa County Board of County Commissioners/ Department of Corrections"),
    respelled("participatingAgencies08022025pm", "FL", "Escambia County Board of County Commissioners",
              "Escambia County Board of County Commissioners/ Department of Corrections"),
    respelled("participatingAgencies08022025pm", "FL", "Pasco County Board of County Commissioners",
              "Pasco County Board of County Commissioners/ Pasco County Corrections"),
    # spellings named in issue 9 and the task, beyond the pairs above
    pytest.param("FL", "Okaloosa County Board of County Commissioners", "Okaloosa County Board of Commissioners",
                 id="'Board of County Commissioners' = 'County Board of Commissioners'"),
    pytest.param("FL", "Okaloosa Board of County Commissioners", "Okaloosa County BOCC", id="BOCC with and without County"),
    pytest.param("FL", "Tampa PD", "Tampa Police Department", id="PD"),
    pytest.param("FL", "Polk Co. S.O.", "Polk County Sheriff’s Office", id="Co. S.O. and a curly apostrophe"),
    pytest.param("PA", "Derry Twp. Police Dept.", "Derry Township Police Department", id="Twp. Dept."),
    pytest.param("FL", "Ft. Myers Police Department", "Fort Myers Police Department", id="Ft. = Fort"),
    pytest.param("FL", "St. Johns County Sheriff's Office", "Saint Johns County Sheriff's Office", id="St. = Saint"),
    pytest.param("FL", "Florida Fish & Wildlife Conservation Commission", "Florida Fish and Wildlife Conservation Commission",
                 id="& = and"),
])
def test_respellings_have_one_canonical_form(state, before, after):
    assert canonical(before, state) == canonical(after, state)


@pytest.mark.parametrize("state, first, second", [
    pytest.param("TX", "Hill County Sheriff's Office", "Milam County Sheriff's Office", id="issue 9: Hill vs Milam"),
    pytest.param("TX", "Orange County Sheriff's Office", "Rains County Sheriff's Office", id="issue 9: Orange vs Rains"),
    pytest.param("AL", "Madison County Sheriff's Office", "Marion County Sheriff's Office", id="issue 9: Madison vs Marion"),
    pytest.param("FL", "Melbourne Police Department", "West Melbourne Police Department", id="issue 9: Melbourne vs West Melbourne"),
    pytest.param("TN", "Moore County Sheriff's Office", "Monroe County Sheriff's Office", id="issue 9: Moore vs Monroe"),
    pytest.param("KY", "Grayson County Detention Center", "Grayson County Sheriff's Office",
                 id="participatingAgencies03062025am: a county's jail and its sheriff are two agreements"),
    pytest.param("PA", "Quarryville Police Department", "Quarryville Borough Police Department",
                 id="a borough's police is not merged by name alone (a township may share the name)"),
    pytest.param("FL", "Okaloosa County Corrections", "Okaloosa County Board of County Commissioners",
                 id="participatingAgencies07162025am: a relabel to the board is not a re-spelling"),
    pytest.param("TX", "Galveston County Constable Precinct 2", "Galveston County Constable's Office Pct.1",
                 id="pendingAgencies09222025am: precincts stay apart"),
    pytest.param("FL", "Florida State University Police Department", "State University Police Department",
                 id="'Florida State University' keeps its Florida"),
    pytest.param("VA", "Virginia Beach Police Department", "Beach Police Department", id="'Virginia Beach' keeps its Virginia"),
    pytest.param("AL", "Marshall County Sheriff's Office", "Marshals County Sheriff's Office",
                 id="place names are never spell-corrected (Marshall is not MARSHALS)"),
])
def test_different_agencies_keep_different_canonical_forms(state, first, second):
    assert canonical(first, state) != canonical(second, state)


@pytest.mark.parametrize("state, name, place, kind, role", [
    ("FL", "Jefferson County Sheriff's Office", "JEFFERSON", "county", "sheriff"),
    ("LA", "St. Charles Parish Sheriff's Office", "SAINT CHARLES", "parish", "sheriff"),
    ("LA", "Lafourche County Sheriff's Office", "LAFOURCHE", "parish", "sheriff"),
    ("FL", "City of Melbourne Police Department", "MELBOURNE", "city", "police"),
    ("FL", "West Melbourne Police Department", "WEST MELBOURNE", None, "police"),
    ("PA", "Mount Carmel Township Police Department", "MOUNT CARMEL", "township", "police"),
    ("GA", "Gwinnett County Police Department", "GWINNETT", "county", "police"),
    ("FL", "Gulf County BOCC", "GULF", "county", "commissioners"),
    ("FL", "Pasco County Jail", "PASCO", "county", "jail"),
    ("KY", "Grayson County Detention Center", "GRAYSON", "county", "jail"),
    ("FL", "Okaloosa County Department of Corrections", "OKALOOSA", "county", "jail"),
    ("VA", "Virginia Department of Corrections", "VIRGINIA", "state", "corrections"),
    ("VA", "Department of Corrections", None, None, "corrections"),
    ("IA", "Iowa Dept. of Public Safety", "IOWA", "state", "state police"),
    ("WY", "Wyoming Highway State Patrol", "WYOMING", "state", "state police"),
    ("MT", "MT Dept of Justice", "MONTANA", "state", "state agency"),
    ("PA", "Lancaster County District Attorney's Office", "LANCASTER", "county", "attorney"),
    ("TX", "Office of the Attorney General", None, None, "attorney"),
    ("TX", "Saint Hedwig Marshal's Office", "SAINT HEDWIG", None, "marshal"),
    ("TX", "Bexar County Constable Precinct 3", "BEXAR", "county", "constable"),
    ("FL", "University of Central Florida Police Department", None, None, "university police"),
    ("OK", "Texas County Sheriff's Office", "TEXAS", "county", "sheriff"),
    ("IA", "Iowa County Sheriff's Office", "IOWA", "county", "sheriff"),
])
def test_parse_reads_place_kind_and_office(state, name, place, kind, role):
    parsed = parse(name, state)
    assert (parsed.place, parsed.place_kind, parsed.role) == (place, kind, role)
    assert parsed.canonical == canonical(name, state)


@pytest.mark.parametrize("file", ["participatingAgencies05142026am.xlsx", "pendingAgencies02272026am.xlsx"])
def test_every_real_name_parses_and_most_name_their_office(file):
    agreements = normalise_table(read_workbook(workbook(file))).agreements
    parsed = [parse(a.agency, a.key.state) for a in agreements]
    assert {p.role for p in parsed} <= set(ROLES)
    assert all(p.canonical for p in parsed)
    # A sheriff or police department always names its place.
    assert all(p.place for p in parsed if p.role in ("sheriff", "police"))
    other = [p.name for p in parsed if p.role == "other"]
    assert len(other) <= len(parsed) // 100, other
