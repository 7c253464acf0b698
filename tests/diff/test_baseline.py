"""diff.baseline: the real seeds file, validation errors, and comparisons with list counts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from python_calamine import CalamineWorkbook

from diff.baseline import WORKBOOK_ERA_START, compare, parse_baseline
from diff.metrics import compute_metrics
from diff.records import Agreement, AgreementKey
from tests.files import ROOT, workbook

BASELINE = ROOT / "seeds" / "baseline.toml"
PARTICIPATING_2026_01_26 = workbook("participatingAgencies01262026pm.xlsx")


def agreement(state: str, agency: str, model: str = "TFM", agency_type: str | None = "County") -> Agreement:
    return Agreement(
        key=AgreementKey(state, agency.upper(), model),
        agency=agency, agency_type=agency_type, county=None, signed=None, moa=None, moa_url=None,
        addendum=None, addendum_url=None, row_number=1, raw={},
    )


@pytest.fixture(scope="module")
def seed_figures():
    return {figure.id: figure for figure in parse_baseline(BASELINE.read_text(encoding="utf-8"))}


# --- the real seeds file ----------------------------------------------------------------------

# Every figure of the seed article: id -> (value, unit, scope, credited_to, measurable by a list)
SEED_FIGURES = {
    "local-agencies-trained-officers-2026-01-26": (1168, "agencies", "US", "FWD.us", True),
    "local-agencies-trained-officers-biden-term": (135, "agencies", "US", "FWD.us", True),
    "local-agencies-trained-officers-2021-01-20": (150, "agencies", "US", "FWD.us", True),
    "local-officer-arrests-change-first-year-second-term": (950, "percent", "US", "FWD.us", False),
    "states-with-agreements": (39, "states", "US", "article", True),
    "agreements-fl": (324, "agreements", "state:FL", "article", True),
    "agreements-tx": (296, "agreements", "state:TX", "article", True),
    "agreements-tn": (63, "agreements", "state:TN", "article", True),
    "agreements-al": (52, "agreements", "state:AL", "article", True),
    "agreements-pa": (58, "agreements", "state:PA", "article", True),
    "program-equipment-usd-per-officer": (7500, "USD", "US", "article", False),
    "program-vehicles-usd": (100000, "USD", "US", "article", False),
    "program-overtime-max-percent-of-salary": (25, "percent", "US", "article", False),
    "wv-operation-arrests-2026-02-01": (650, "arrests", "state:WV", "ICE", False),
    "dallas-declined-partnership-usd-2025-10": (25_000_000, "USD", "city:Dallas", "article", False),
    "louisiana-executive-order-2025-05": (1, "orders", "state:LA", "article", False),
    "planned-detention-facilities": (8, "facilities", "US", "article", False),
    "planned-detention-facility-beds-each": (10000, "beds", "US", "article", False),
}


def test_seed_file_holds_every_article_figure(seed_figures):
    assert set(seed_figures) == set(SEED_FIGURES)
    for figure_id, (value, unit, scope, credited_to, has_measure) in SEED_FIGURES.items():
        figure = seed_figures[figure_id]
        assert (figure.value, figure.unit, figure.scope, figure.credited_to) == (value, unit, scope, credited_to), figure_id
        assert (figure.measure is not None) == has_measure, figure_id


AS_OF = {
    "local-agencies-trained-officers-2026-01-26": ("day", "2026-01-26", "2026-01-26"),
    "local-agencies-trained-officers-biden-term": ("period", "2021-01-20", "2025-01-20"),
    "local-agencies-trained-officers-2021-01-20": ("day", "2021-01-20", "2021-01-20"),
    "local-officer-arrests-change-first-year-second-term": ("period", "2025-01-20", "2026-01-20"),
    "agreements-fl": ("period", "2026-02-16", "2026-02-28"),
    "wv-operation-arrests-2026-02-01": ("day", "2026-02-01", "2026-02-01"),
    "dallas-declined-partnership-usd-2025-10": ("month", "2025-10-01", "2025-10-31"),
    "louisiana-executive-order-2025-05": ("month", "2025-05-01", "2025-05-31"),
}


@pytest.mark.parametrize("figure_id, expected", AS_OF.items(), ids=AS_OF.keys())
def test_seed_as_of(seed_figures, figure_id, expected):
    figure = seed_figures[figure_id]
    assert (figure.as_of_precision, figure.as_of_start.isoformat(), figure.as_of_end.isoformat()) == expected


def test_seed_source_is_the_article(seed_figures):
    sources = {figure.source for figure in seed_figures.values()}
    assert len(sources) == 1
    (source,) = sources
    assert (source.publisher, source.role, source.seed_file) == ("RedState", "seed article", "000_cf7c87887e75a535.txt")
    assert (source.published_start, source.published_end) == (dt.date(2026, 2, 16), dt.date(2026, 2, 28))


def test_seed_state_measures_match_scope(seed_figures):
    for figure in seed_figures.values():
        if figure.measure and figure.measure.state:
            assert figure.scope == f"state:{figure.measure.state}"
            assert "up to three" in figure.definition_note


# --- validation -------------------------------------------------------------------------------

VALID = """
schema = 1
[sources.src]
publisher = "P"
role = "seed article"
published = 2026-02-16

[[figures]]
id = "fig-a"
label = "L"
value = 10
unit = "agreements"
as_of = 2026-01-26
as_of_precision = "day"
scope = "state:FL"
counts = "C"
credited_to = "article"
source = "src"
measure = { list = "participating", metric = "agreements", state = "FL" }
definition_note = "D"
"""


def test_minimal_valid_document():
    (figure,) = parse_baseline(VALID)
    assert (figure.id, figure.as_of, figure.measure.describe()) == ("fig-a", dt.date(2026, 1, 26), "participating list, agreements, state FL")


INVALID = {
    "not toml": (("schema = 1", "schema = = 1"), r"not valid TOML"),
    "wrong schema": (("schema = 1", "schema = 2"), r"field 'schema'"),
    "missing value": (('value = 10\n', ''), r"figure 'fig-a': field 'value': missing"),
    "text value": (('value = 10', 'value = "10"'), r"figure 'fig-a': field 'value'"),
    "boolean value": (('value = 10', 'value = true'), r"figure 'fig-a': field 'value'"),
    "bad id": (('id = "fig-a"', 'id = "Fig A"'), r"figure #1: field 'id'"),
    "unknown unit": (('unit = "agreements"', 'unit = "deals"'), r"figure 'fig-a': field 'unit': unknown unit 'deals'"),
    "unknown field": (('label = "L"', 'label = "L"\nas_off = 1'), r"figure 'fig-a': unknown field\(s\) \['as_off'\]"),
    "missing label": (('label = "L"\n', ''), r"figure 'fig-a': field 'label': missing"),
    "empty counts": (('counts = "C"', 'counts = " "'), r"figure 'fig-a': field 'counts': missing or empty"),
    "bad precision": (('as_of_precision = "day"', 'as_of_precision = "year"'), r"field 'as_of_precision'"),
    "datetime as_of": (('as_of = 2026-01-26', 'as_of = 2026-01-26T10:00:00'), r"field 'as_of': precision 'day' needs a date"),
    "period without note": (
        ('as_of = 2026-01-26\nas_of_precision = "day"', 'as_of = { start = 2026-01-01, end = 2026-01-26 }\nas_of_precision = "period"'),
        r"field 'as_of_note': required",
    ),
    "month not a whole month": (
        ('as_of = 2026-01-26\nas_of_precision = "day"', 'as_of = { start = 2026-01-01, end = 2026-01-30 }\nas_of_precision = "month"\nas_of_note = "n"'),
        r"precision 'month' needs the first and last day of one month",
    ),
    "period end before start": (
        ('as_of = 2026-01-26\nas_of_precision = "day"', 'as_of = { start = 2026-01-26, end = 2026-01-01 }\nas_of_precision = "period"\nas_of_note = "n"'),
        r"field 'as_of': end 2026-01-01 is before start 2026-01-26",
    ),
    "bad scope": (('scope = "state:FL"', 'scope = "Florida"'), r"field 'scope'"),
    "unknown source": (('source = "src"', 'source = "other"'), r"field 'source': unknown source 'other'"),
    "unknown metric": (('metric = "agreements"', 'metric = "rows"'), r"field 'measure.metric': unknown metric 'rows'"),
    "unknown list": (('list = "participating"', 'list = "signed"'), r"field 'measure.list'"),
    "metric does not count the unit": (('unit = "agreements"', 'unit = "states"'), r"'agreements' counts agreements, but unit is 'states'"),
    "state filter on an agency metric": (
        ('unit = "agreements"\n', 'unit = "agencies"\n', 'metric = "agreements"', 'metric = "agencies"'),
        r"state/model filters apply only to metric 'agreements'",
    ),
    "measure state differs from scope": (('state = "FL" }', 'state = "TX" }'), r"measures scope 'state:TX', but scope is 'state:FL'"),
    "unknown model": (('state = "FL" }', 'state = "FL", model = "287G" }'), r"field 'measure.model'"),
    "measure without definition note": (('definition_note = "D"\n', ''), r"field 'definition_note': required"),
    "city scope cannot be measured": (('scope = "state:FL"', 'scope = "city:Dallas"'), r"measures scope 'state:FL', but scope is 'city:Dallas'"),
}


@pytest.mark.parametrize("replacements, message", INVALID.values(), ids=INVALID.keys())
def test_invalid_documents_name_entry_and_field(replacements, message):
    text = VALID
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(ValueError, match=message):
        parse_baseline(text)


def test_duplicate_ids_are_rejected():
    figure = VALID[VALID.index("[[figures]]"):]
    with pytest.raises(ValueError, match=r"figure 'fig-a': field 'id': duplicate \(also figure #1\)"):
        parse_baseline(VALID + figure)


# --- compare on lists built for the case ------------------------------------------------------

SNAPSHOT = dt.date(2026, 1, 26)
BUILT_LIST = compute_metrics([
    agreement("FL", "Sheriff A", "JEM"), agreement("FL", "Sheriff A", "TFM"), agreement("FL", "Sheriff A", "WSO"),
    agreement("FL", "Police B", "TFM", "Municipality"), agreement("FL", "Highway Patrol", "TFM", "State Agency"),
    agreement("TX", "Sheriff C", "WSO"), agreement("GU", "Attorney General", "TFM", "State Agency"),
])


def figure_toml(value, unit, measure, as_of="2026-01-26", scope="US"):
    measure_lines = f"measure = {measure}\ndefinition_note = \"D\"\n" if measure else ""
    return (
        'schema = 1\n[sources.src]\npublisher = "P"\nrole = "r"\npublished = 2026-02-16\n'
        f'[[figures]]\nid = "f"\nlabel = "L"\nvalue = {value}\nunit = "{unit}"\nas_of = {as_of}\n'
        f'as_of_precision = "day"\nscope = "{scope}"\ncounts = "C"\ncredited_to = "article"\nsource = "src"\n{measure_lines}'
    )


COMPARE_CASES = {
    "rows of one state": (
        figure_toml(4, "agreements", '{ list = "participating", metric = "agreements", state = "FL" }', scope="state:FL"),
        "participating", (True, 5, 1, 25.0, 0, None),
    ),
    "rows of one state and model": (
        figure_toml(2, "agreements", '{ list = "participating", metric = "agreements", state = "FL", model = "TFM" }', scope="state:FL"),
        "participating", (True, 3, 1, 50.0, 0, None),
    ),
    "state absent from the list measures zero": (
        figure_toml(8, "agreements", '{ list = "participating", metric = "agreements", state = "WY" }', scope="state:WY"),
        "participating", (True, 0, -8, -100.0, 0, None),
    ),
    "distinct agencies": (
        figure_toml(6, "agencies", '{ list = "participating", metric = "agencies" }'),
        "participating", (True, 5, -1, -16.7, 0, None),
    ),
    "local agencies leave out state agencies": (
        figure_toml(3, "agencies", '{ list = "participating", metric = "local_agencies" }'),
        "participating", (True, 3, 0, 0.0, 0, None),
    ),
    "states leave out territories": (
        figure_toml(3, "states", '{ list = "participating", metric = "states" }', as_of="2026-02-28"),
        "participating", (True, 2, -1, -33.3, -33, None),
    ),
    "territories": (
        figure_toml(1, "jurisdictions", '{ list = "participating", metric = "territories" }'),
        "participating", (True, 1, 0, 0.0, 0, None),
    ),
    "zero figure has no percent": (
        figure_toml(0, "jurisdictions", '{ list = "participating", metric = "territories" }'),
        "participating", (True, 1, 1, None, 0, None),
    ),
    "arrests are not list rows": (
        figure_toml(650, "arrests", None, as_of="2026-02-01", scope="state:WV"),
        "participating", (False, None, None, None, -6, "not a count of list rows: arrests"),
    ),
    "figure for the other list": (
        figure_toml(5, "agencies", '{ list = "participating", metric = "agencies" }'),
        "pending", (False, None, None, None, 0, "wrong list: measured on participating, not pending"),
    ),
    "figure before the workbook era": (
        figure_toml(150, "agencies", '{ list = "participating", metric = "local_agencies" }', as_of="2021-01-20"),
        "participating",
        (False, None, None, None, 1832,
         "predates the earliest list we hold: figure as of 2021-01-20, lists from 2025-02-01"),
    ),
    "last day before the workbook era": (
        figure_toml(150, "agencies", '{ list = "participating", metric = "local_agencies" }', as_of="2025-01-31"),
        "participating", (False, None, None, None, 360, "predates the earliest list we hold: figure as of 2025-01-31, lists from 2025-02-01"),
    ),
    "first day of the workbook era": (
        figure_toml(3, "agencies", '{ list = "participating", metric = "local_agencies" }', as_of="2025-02-01"),
        "participating", (True, 3, 0, 0.0, 359, None),
    ),
}


@pytest.mark.parametrize("toml_text, list_name, expected", COMPARE_CASES.values(), ids=COMPARE_CASES.keys())
def test_compare(toml_text, list_name, expected):
    (comparison,) = compare(parse_baseline(toml_text), BUILT_LIST, list_name=list_name, snapshot_as_of=SNAPSHOT)
    got = (comparison.measurable, comparison.measured, comparison.delta, comparison.percent, comparison.days_apart, comparison.reason)
    assert got == expected
    assert comparison.definition_note == comparison.figure.definition_note
    json.dumps(comparison.to_dict())


def test_compare_rejects_unknown_list_name():
    with pytest.raises(ValueError, match="list_name 'signed'"):
        compare((), BUILT_LIST, list_name="signed", snapshot_as_of=SNAPSHOT)


def test_workbook_era_start():
    assert dt.date(2025, 2, 1) == WORKBOOK_ERA_START


# --- compare on the real list of 26 January 2026 ----------------------------------------------

# Minimal cleaning for this test only; the project's own cleaning lives in diff/normalise.py.
STATE_CODES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "FLORIDA": "FL", "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID",
    "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA",
    "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI", "MINNESOTA": "MN",
    "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV",
    "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC",
    "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX",
    "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA", "WEST VIRGINIA": "WV",
    "WISCONSIN": "WI", "WYOMING": "WY",
    "DISTRICT OF COLUMBIA": "DC", "GUAM": "GU", "NORTHERN MARIANA ISLANDS": "MP", "PUERTO RICO": "PR",
    "U.S. VIRGIN ISLANDS": "VI", "AMERICAN SAMOA": "AS",
}
TERRITORY_NAMES = {"GUAM", "NORTHERN MARIANA ISLANDS", "PUERTO RICO", "U.S. VIRGIN ISLANDS", "AMERICAN SAMOA", "DISTRICT OF COLUMBIA"}
MODEL_PREFIXES = {"JAIL": "JEM", "TASK": "TFM", "WARRANT": "WSO"}
TYPE_PREFIXES = {"COUNTY": "County", "MUN": "Municipality", "STATE": "State Agency"}


def _prefixed(text: str, prefixes: dict[str, str]) -> str | None:
    return next((value for prefix, value in prefixes.items() if text.strip().upper().startswith(prefix)), None)


@pytest.fixture(scope="module")
def workbook_rows():
    rows = CalamineWorkbook.from_path(str(PARTICIPATING_2026_01_26)).get_sheet_by_index(0).to_python()
    header = [str(cell).strip() for cell in rows[0]]
    records = [dict(zip(header, (str(cell) for cell in row))) for row in rows[1:]]
    return [r for r in records if any(value.strip() for value in r.values())]


@pytest.fixture(scope="module")
def real_comparisons(workbook_rows, seed_figures):
    agreements = [
        Agreement(
            key=AgreementKey(
                STATE_CODES.get(r["STATE"].strip().upper(), "??"),
                " ".join(r["LAW ENFORCEMENT AGENCY"].split()).upper(),
                _prefixed(r["SUPPORT TYPE"], MODEL_PREFIXES) or "UNKNOWN",
            ),
            agency=" ".join(r["LAW ENFORCEMENT AGENCY"].split()),
            agency_type=_prefixed(r["TYPE"], TYPE_PREFIXES),
            county=r["COUNTY"].strip() or None,
            signed=None, moa=None, moa_url=None, addendum=None, addendum_url=None,
            row_number=number, raw=r,
        )
        for number, r in enumerate(workbook_rows, start=2)
    ]
    assert not [a for a in agreements if a.key.state == "??"], "a state name is missing from STATE_CODES"
    comparisons = compare(
        seed_figures.values(), compute_metrics(agreements), list_name="participating", snapshot_as_of=dt.date(2026, 1, 26)
    )
    return {c.figure.id: c for c in comparisons}


@pytest.mark.parametrize("figure_id, state_name", [
    ("agreements-fl", "FLORIDA"), ("agreements-tx", "TEXAS"), ("agreements-tn", "TENNESSEE"),
    ("agreements-al", "ALABAMA"), ("agreements-pa", "PENNSYLVANIA"),
])
def test_real_state_agreements_are_row_counts(real_comparisons, workbook_rows, figure_id, state_name):
    rows_in_state = sum(1 for r in workbook_rows if r["STATE"].strip().upper() == state_name)
    comparison = real_comparisons[figure_id]
    assert comparison.measurable
    assert comparison.measured == rows_in_state
    assert comparison.delta == rows_in_state - comparison.figure.value
    # dated to 16-28 February 2026: counted from the window's nearest edge, not its end
    assert comparison.days_apart == (dt.date(2026, 1, 26) - dt.date(2026, 2, 16)).days


def test_real_states_leave_out_territories(real_comparisons, workbook_rows):
    names = {r["STATE"].strip().upper() for r in workbook_rows}
    comparison = real_comparisons["states-with-agreements"]
    assert comparison.measured == len(names - TERRITORY_NAMES)
    assert names & TERRITORY_NAMES, "the 26 January 2026 list has territory rows (GU, MP)"
    assert "Territories" in comparison.definition_note


def test_real_trained_agency_figure_is_shown_with_its_definition(real_comparisons, workbook_rows):
    local_agencies = {
        (r["STATE"].strip().upper(), " ".join(r["LAW ENFORCEMENT AGENCY"].split()).upper())
        for r in workbook_rows
        if not r["TYPE"].strip().upper().startswith("STATE")
    }
    comparison = real_comparisons["local-agencies-trained-officers-2026-01-26"]
    assert comparison.measurable and comparison.days_apart == 0
    assert comparison.measured == len(local_agencies)
    assert comparison.measured != 1168
    assert comparison.delta == len(local_agencies) - 1168
    note = comparison.definition_note
    assert "trained officers" in note and "signed agreements" in note and "up to three rows" in note
    # nor is the figure any other plain count of this list: rows, or agencies of every type
    all_agencies = {(r["STATE"].strip().upper(), " ".join(r["LAW ENFORCEMENT AGENCY"].split()).upper()) for r in workbook_rows}
    assert 1168 not in (len(workbook_rows), len(all_agencies))


def test_real_figures_before_the_workbook_era_are_not_measured(real_comparisons):
    for figure_id in ("local-agencies-trained-officers-biden-term", "local-agencies-trained-officers-2021-01-20"):
        comparison = real_comparisons[figure_id]
        assert not comparison.measurable and comparison.measured is None
        assert comparison.reason.startswith("predates the earliest list we hold")


def test_real_figures_that_are_not_list_counts(real_comparisons, seed_figures):
    for figure_id, figure in seed_figures.items():
        if figure.measure is None:
            assert real_comparisons[figure_id].reason == f"not a count of list rows: {figure.unit}"
