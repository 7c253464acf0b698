"""The gazetteer: counties and places by state, and which agency names name different places.

The distinct pairs are those issue 9 names and those found in ../shared/data/ice-287g: a removed
and an added agreement in one diff whose names look alike but name two real places (each id
names the file whose diff put them side by side, or the issue).  None of them may ever merge.
"""

from __future__ import annotations

import pytest

from diff.gazetteer import county_fips, distinct_places, is_county, is_place, only_in_new_state, place_key

SO = "Sheriff's Office"


def pair(where: str, state_a: str, name_a: str, state_b: str, name_b: str):
    return pytest.param(state_a, name_a, state_b, name_b, id=f"{where}: {name_a} {state_a} / {name_b} {state_b}")


DISTINCT_PLACES = [
    pair("issue 9 (pendingAgencies05122025pm)", "TX", f"Hill County {SO}", "TX", f"Milam County {SO}"),
    pair("issue 9 (pendingAgencies05122025pm)", "TX", f"Orange County {SO}", "TX", f"Rains County {SO}"),
    pair("issue 9 (pendingAgencies07212025pm)", "AL", f"Madison County {SO}", "AL", f"Marion County {SO}"),
    pair("issue 9 (pendingAgencies04282025pm)", "FL", "Melbourne Police Department", "FL", "West Melbourne Police Department"),
    pair("issue 9 (a peer's edit-distance merge)", "TN", f"Moore County {SO}", "TN", f"Monroe County {SO}"),
    pair("issue 9 (participatingAgencies03022026am)", "MD", f"Carroll County {SO}", "KY", f"Carroll County {SO}"),
    pair("issue 9", "OK", f"Lincoln County {SO}", "WY", f"Lincoln County {SO}"),
    pair("issue 9", "TX", f"Franklin County {SO}", "AR", f"Franklin County {SO}"),
    pair("pendingAgencies08012025pm", "TX", f"Gaines County {SO}", "TX", f"Hale County {SO}"),
    pair("pendingAgencies09222025am", "TX", f"Wise County {SO}", "TX", f"Williamson County {SO}"),
    pair("participatingAgencies12312025am", "TX", f"Henderson County {SO}", "TX", f"Johnson County {SO}"),
    pair("pendingAgencies-20250221214937", "TX", f"Garza County {SO}", "TX", f"Grayson County {SO}"),
    pair("pendingAgencies-20250221214937", "WY", f"Carbon County {SO}", "WY", f"Campbell County {SO}"),
    pair("pendingAgencies-20250221214937", "MD", f"Allegany County {SO}", "MD", f"Carroll County {SO}"),
    pair("participatingAgencies12312025am", "UT", f"Sanpete County {SO}", "UT", f"Sevier County {SO}"),
    pair("participatingAgencies05142026am", "KY", f"Butler County {SO}", "KY", f"Bullitt County {SO}"),
    pair("pendingAgencies06112025pm", "VA", f"Portsmouth County {SO}", "VA", f"Pittsylvania County {SO}"),
    pair("pendingAgencies04282025pm", "FL", "Lantana Police Department", "FL", "Lakeland Police Department"),
    pair("pendingAgencies04282025pm", "FL", "Orange City Police Department", "FL", "Lake City Police Department"),
    pair("pendingAgencies04282025pm", "FL", "Havana Police Department", "FL", "Hialeah Police Department"),
    pair("pendingAgencies04282025pm", "FL", "Stuart Police Department", "FL", "Sanford Police Department"),
    pair("participatingAgencies05142026am", "PA", "Milford Borough Police Department", "PA", "Milton Borough Police Department"),
    pair("pendingAgencies09222025am", "TN", "Bradley County Constable District 7", "TN", "Monroe County Constable District 2"),
    pair("participatingAgencies12312025am", "AL", f"Lawrence County {SO}", "MO", f"Lawrence County {SO}"),
    pair("participatingAgencies05142026am", "KY", f"Daviess County {SO}", "MO", f"Daviess County {SO}"),
    pair("participatingAgencies12312025am", "MN", f"Jackson County {SO}", "TX", f"Jackson County {SO}"),
    pair("participatingAgencies12312025am", "NE", f"Brown County {SO}", "KS", f"Brown County {SO}"),
    pair("pendingAgencies05122025pm", "NC", f"Union County {SO}", "KY", f"Union County {SO}"),
    pair("pendingAgencies-20250221214937", "PA", f"Washington County {SO}", "FL", f"Washington County {SO}"),
    pair("pendingAgencies-20250221214937", "PA", f"Butler County {SO}", "OH", f"Butler County {SO}"),
    pair("pendingAgencies-20250221214937", "MS", f"Monroe County {SO}", "GA", f"Monroe County {SO}"),
]


@pytest.mark.parametrize("state_a, name_a, state_b, name_b", DISTINCT_PLACES)
def test_names_of_two_real_places_are_distinct(state_a, name_a, state_b, name_b):
    assert distinct_places(state_a, name_a, state_b, name_b)
    assert distinct_places(state_b, name_b, state_a, name_a)


@pytest.mark.parametrize("state_a, name_a, state_b, name_b", [
    pair("participatingAgencies-20250331231039 (misspelt: no Freedom County)", "MN", f"Freedom County {SO}", "MN", f"Freeborn County {SO}"),
    pair("pendingAgencies-20250317231040 (misspelt)", "GA", f"Spaulding County {SO}", "GA", f"Spalding County {SO}"),
    pair("pendingAgencies-20250317231040 (misspelt)", "SD", f"Minehaha County {SO}", "SD", f"Minnehaha County {SO}"),
    pair("pendingAgencies05152025am (misspelt)", "NC", f"Cartert County {SO}", "NC", f"Carteret County {SO}"),
    pair("participatingAgencies09222025am (misspelt)", "TX", f"Lampass County {SO}", "TX", f"Lampasas County {SO}"),
    pair("participatingAgencies01262026pm (misspelt)", "MO", f"Dogulas County {SO}", "MO", f"Douglas County {SO}"),
    pair("participatingAgencies05162025am (misspelt)", "FL", "Macro Island Police Department", "FL", "Marco Island Police Department"),
    pair("participatingAgencies05192025pm (misspelt)", "FL", "Indialantic Police Department", "FL", "Indiatlantic Police Department"),
    pair("participatingAgencies07092025pm (misspelt)", "FL", "Lake Clark Shores Police Department", "FL", "Lake Clarke Shores Police Department"),
    pair("pendingAgencies07242025pm (misspelt)", "LA", f"St. Charles Place {SO}", "LA", f"St. Charles Parish {SO}"),
    pair("participatingAgencies-20250317231040 (state corrected: no Cass County in Montana)", "MT", f"Cass County {SO}", "MN", f"Cass County {SO}"),
    pair("participatingAgencies05162025am (state corrected: no Wichita County in Oklahoma)", "OK", f"Wichita County {SO}", "TX", f"Wichita County {SO}"),
    pair("pendingAgencies-20250408170645 (state corrected)", "FL", f"Kershaw County {SO}", "SC", f"Kershaw County {SO}"),
    pair("pendingAgencies08142025am (state corrected)", "TX", f"Trousdale County {SO}", "TN", f"Trousdale County {SO}"),
    pair("participatingAgencies08022025pm (Hopewell is an independent city)", "VA", f"Hopewell County {SO}", "VA", f"Hopewell {SO}"),
    pair("pendingAgencies05282025am", "LA", f"Lafourche County {SO}", "LA", f"Lafourche Parish {SO}"),
    pair("participatingAgencies05202025pm", "FL", "City of Melbourne Police Department", "FL", "Melbourne Police Department"),
    pair("no place named", "VA", "Department of Corrections", "VA", "Virginia Department of Corrections"),
    pair("state offices", "AK", "Alaska Department of Corrections", "AZ", "Arizona Department of Corrections"),
])
def test_a_misspelling_a_state_correction_or_one_place_is_not_distinct(state_a, name_a, state_b, name_b):
    assert not distinct_places(state_a, name_a, state_b, name_b)


@pytest.mark.parametrize("state, name, fips", [
    ("FL", "St. Johns County", "12109"),
    ("FL", "Saint Johns", "12109"),
    ("LA", "Lafourche Parish", "22057"),
    ("VA", "Hopewell", "51670"),
    ("MD", "Baltimore County", "24005"),
    ("MD", "Baltimore", "24005"),
    ("MD", "Baltimore City", "24510"),
    ("IL", "De Kalb County", "17037"),
    ("IL", "La Salle", "17099"),
    ("NM", "Doña Ana County", "35013"),
    ("MT", "Cass County", None),
    ("MN", "Freedom County", None),
])
def test_county_fips(state, name, fips):
    assert county_fips(state, name) == fips
    assert is_county(state, name) == (fips is not None)


@pytest.mark.parametrize("state, name, known", [
    ("FL", "West Melbourne", True),
    ("FL", "City of Melbourne", True),
    ("FL", "Macro Island", False),
    ("TX", "Milam County", True),
    ("TX", "Smiley", True),
    ("MT", "Cass County", False),
])
def test_is_place(state, name, known):
    assert is_place(state, name) == known


def test_place_key_reads_saints_and_spacing_alike():
    assert place_key("St. Clair") == place_key("SAINT CLAIR") == place_key("St Clair")
    assert place_key("DeKalb") == place_key("De Kalb")
    assert place_key("Prince George's") == place_key("PRINCE GEORGES")


def correction(where: str, old_state: str, old_name: str, new_state: str, new_name: str, evidence: bool):
    return pytest.param(old_state, old_name, new_state, new_name, evidence,
                        id=f"{where}: {old_name} {old_state} -> {new_name} {new_state}")


@pytest.mark.parametrize("old_state, old_name, new_state, new_name, evidence", [
    correction("participatingAgencies-20250317231040: no Cass County in Montana", "MT", f"Cass County {SO}", "MN", f"Cass County {SO}", True),
    correction("participatingAgencies05162025am: no Wichita County in Oklahoma", "OK", f"Wichita County {SO}", "TX", f"Wichita County {SO}", True),
    correction("pendingAgencies-20250408170645: no Kershaw County in Florida", "FL", f"Kershaw County {SO}", "SC", f"Kershaw County {SO}", True),
    correction("pendingAgencies08142025am: no Trousdale County in Texas", "TX", f"Trousdale County {SO}", "TN", f"Trousdale County {SO}", True),
    correction("the other way round", "MN", f"Cass County {SO}", "MT", f"Cass County {SO}", False),
    correction("issue 9: two real Carroll Counties", "MD", f"Carroll County {SO}", "KY", f"Carroll County {SO}", False),
    correction("participatingAgencies07142025am: two real Ellis Counties", "TX", f"Ellis County {SO}", "KS", f"Ellis County {SO}", False),
    correction("participatingAgencies03072025am: Lake Placid exists in both", "NY", "Lake Placid Police Department", "FL", "Lake Placid Police Department", False),
    correction("different places", "MT", f"Cass County {SO}", "MN", f"Clay County {SO}", False),
])
def test_a_place_only_in_the_new_state_is_evidence_of_a_state_correction(old_state, old_name, new_state, new_name, evidence):
    assert only_in_new_state(old_state, old_name, new_state, new_name) is evidence
