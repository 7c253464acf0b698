"""Tests for diff.normalise, with cases taken from ICE's real 287(g) workbooks.

The workbooks are read here with python-calamine directly (and their hyperlinks from the
sheet XML), not through crawler/workbook.py, so these tests depend only on diff/.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
from defusedxml import ElementTree
from python_calamine import CalamineWorkbook

from diff.normalise import (
    STATE_NAMES,
    TERRITORIES,
    UNKNOWN_MODEL,
    UNKNOWN_STATE,
    Duplicate,
    NormalisedList,
    agency_display,
    agency_key,
    agency_loose,
    agency_type,
    clean_url,
    county_name,
    is_state,
    link_cell,
    model_code,
    normalise_row,
    normalise_table,
    signed_date,
    state_code,
)
from diff.records import (
    ADDENDUM,
    AGENCY,
    AGENCY_TYPE,
    COUNTY,
    MOA,
    MODEL,
    SIGNED,
    STATE,
    AgreementKey,
    RawRow,
    SourceTable,
)
from tests.files import WORKBOOKS

FIXTURES = WORKBOOKS
ALL_FIXTURES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.xlsx"))
HEADER_COLUMNS = {
    "STATE": STATE, "LAW ENFORCEMENT AGENCY": AGENCY, "TYPE": AGENCY_TYPE, "COUNTY": COUNTY,
    "SUPPORT TYPE": MODEL, "SIGNED": SIGNED, "MOA": MOA, "ADDENDUM": ADDENDUM,
}
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _cell_links(path: Path) -> dict[tuple[int, int], str]:
    """(row, column), both 1-based -> hyperlink target, for the workbook's first sheet."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        sheet_id = workbook.find("m:sheets/m:sheet", _NS).get(_REL_ID)
        workbook_rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next(rel.get("Target") for rel in workbook_rels if rel.get("Id") == sheet_id)
        sheet_path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        rels_path = posixpath.join(posixpath.dirname(sheet_path), "_rels",
                                   posixpath.basename(sheet_path) + ".rels")
        sheet = ElementTree.fromstring(archive.read(sheet_path))
        names = archive.namelist()
        rels = ElementTree.fromstring(archive.read(rels_path)) if rels_path in names else []
    targets = {rel.get("Id"): rel.get("Target") for rel in rels}
    links = {}
    for link in sheet.iterfind("m:hyperlinks/m:hyperlink", _NS):
        if link.get(_REL_ID) not in targets:
            continue
        first, _, last = link.get("ref").partition(":")
        (c1, r1), (c2, r2) = _cell_ref(first), _cell_ref(last or first)
        for row in range(r1, r2 + 1):
            for column in range(c1, c2 + 1):
                links[row, column] = targets[link.get(_REL_ID)]
    return links


def _cell_ref(ref: str) -> tuple[int, int]:
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", ref).groups()
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - ord("A") + 1
    return column, int(digits)


@cache
def read_fixture(name: str) -> SourceTable:
    """The first sheet of a fixture workbook as the reader would give it: header in row 1."""
    path = FIXTURES / name
    workbook = CalamineWorkbook.from_path(str(path))
    sheet = workbook.get_sheet_by_index(0)
    grid = sheet.to_python(skip_empty_area=False)
    header = tuple(str(h).strip() for h in grid[0])
    columns = tuple(HEADER_COLUMNS.get(h.upper()) for h in header)
    links = _cell_links(path)
    rows, blank = [], 0
    for row_number, values in enumerate(grid[1:], start=2):
        if all(v == "" for v in values):
            blank += 1
            continue
        cells = {col: (None if v == "" else v) for col, v in zip(columns, values) if col}
        row_links = {col: links[row_number, i] for i, col in enumerate(columns, start=1)
                     if col and (row_number, i) in links}
        rows.append(RawRow(row_number, cells, row_links))
    return SourceTable(sheet.name, header, columns, tuple(rows), tuple(workbook.sheet_names),
                       1, blank)


def all_rows() -> list[tuple[str, RawRow]]:
    return [(name, row) for name in ALL_FIXTURES for row in read_fixture(name).rows]


def seen(file: str, row: int, value: object) -> str:
    """A test id naming where a value was seen: "<workbook> row <n>: <value>"."""
    return f"{file} row {row}: {value!r}"


def real(file: str, row: int, value: object, *expected: object):
    """A case taken from a real workbook: the cell value, what it should give, and where seen."""
    return pytest.param(value, *expected, id=seen(file, row, value))


# ---------------------------------------------------------------------------------------------
# state_code

@pytest.mark.parametrize(("raw", "code", "noted"), [
    real("participatingAgencies-20250221214937", 2, "ALABAMA", "AL", False),
    real("participatingAgencies01052025pm", 473, "GEORGIA ", "GA", False),
    real("participatingAgencies01052025pm", 1239, "WEST VIRGINIA ", "WV", False),
    real("participatingAgencies-20250318045215", 347, "VIRGINIA", "VA", False),
    real("participatingAgencies-20250221214937", 75, "KANSAS", "KS", False),
    real("participatingAgencies-20250221214937", 11, "ARKANSAS", "AR", False),
    real("participatingAgencies01052025pm", 476, "GUAM", "GU", False),
    real("participatingAgencies01262026pm", 773, "NORTHERN MARIANA ISLANDS", "MP", False),
    pytest.param("PENNSLYVANIA", "PA", True, id="SOURCES.md STATE typo: 'PENNSLYVANIA'"),
    pytest.param("WEST VIRIGINIA", "WV", True, id="SOURCES.md STATE typo: 'WEST VIRIGINIA'"),
    pytest.param("Texas", "TX", False, id="mixed case: 'Texas'"),
    pytest.param("FL", "FL", False, id="already a code: 'FL'"),
    pytest.param("d.c.", "DC", False, id="dotted code: 'd.c.'"),
    pytest.param("Puerto Rico", "PR", False, id="territory: 'Puerto Rico'"),
    pytest.param("U.S. Virgin Islands", "VI", False, id="territory: 'U.S. Virgin Islands'"),
    pytest.param("American Samoa", "AS", False, id="territory: 'American Samoa'"),
    pytest.param("CNMI", "MP", False, id="alias: 'CNMI'"),
    pytest.param("N. Dakota", "ND", False, id="compass abbreviation: 'N. Dakota'"),
    pytest.param("VIRGINA", "VA", True, id="typo one edit from VIRGINIA, six from WEST VIRGINIA"),
    pytest.param("ARKANSA", "AR", True, id="typo one edit from ARKANSAS, three from KANSAS"),
    pytest.param("AKANSAS", None, True, id="typo one edit from ARKANSAS but two from KANSAS: refused"),
    pytest.param("XX", None, True, id="unknown code: 'XX'"),
    pytest.param("ATLANTIS", None, True, id="unknown name: 'ATLANTIS'"),
    pytest.param("", None, True, id="blank"),
    pytest.param(None, None, True, id="empty cell"),
])
def test_state_code(raw, code, noted):
    result, note = state_code(raw)
    assert result == code
    assert (note is not None) == noted


def test_state_tables():
    assert len(STATE_NAMES) == 56
    assert {"GU", "MP", "PR", "VI", "AS"} == TERRITORIES
    assert sum(is_state(code) for code in STATE_NAMES) == 50
    assert not is_state("DC") and "DC" not in TERRITORIES
    assert not any(is_state(code) for code in TERRITORIES)
    assert not is_state("??") and not is_state(None)
    for code, name in STATE_NAMES.items():
        assert state_code(name) == (code, None)
        assert state_code(code.lower()) == (code, None)


# ---------------------------------------------------------------------------------------------
# model_code, agency_type, county_name

@pytest.mark.parametrize(("raw", "code"), [
    real("participatingAgencies-20250221214937", 2, "Jail Enforcement Model", "JEM"),
    real("participatingAgencies01052025pm", 2, "Jail Enforcement Model ", "JEM"),
    real("participatingAgencies-20250221214937", 62, "Task Force Model", "TFM"),
    real("participatingAgencies08202025pm", 49, "Task Force Model ", "TFM"),
    real("participatingAgencies-20250221214937", 3, "Warrant Service Officer", "WSO"),
    real("participatingAgencies05142026am", 656, "Warrant Service Officer ", "WSO"),
    real("participatingAgencies01052025pm", 87, "Warrant Service Office", "WSO"),
    pytest.param("Warrant Services Officer", "WSO", id="SOURCES.md SUPPORT TYPE variant: 'Warrant Services Officer'"),
    pytest.param("Jail Enforcment Model", "JEM", id="SOURCES.md SUPPORT TYPE variant: 'Jail Enforcment Model'"),
    pytest.param("TASK FORCE MODEL", "TFM", id="case: 'TASK FORCE MODEL'"),
    pytest.param("wso", "WSO", id="abbreviation: 'wso'"),
    pytest.param("J.E.M.", "JEM", id="dotted abbreviation: 'J.E.M.'"),
    pytest.param("", None, id="SOURCES.md SUPPORT TYPE blank"),
    pytest.param(None, None, id="empty cell"),
    pytest.param("Model", None, id="unknown: 'Model'"),
])
def test_model_code(raw, code):
    assert model_code(raw) == code


@pytest.mark.parametrize(("raw", "kind"), [
    real("participatingAgencies-20250221214937", 2, "County", "County"),
    real("participatingAgencies01052025pm", 2, "County ", "County"),
    real("participatingAgencies-20250221214937", 3, "Municipality", "Municipality"),
    real("participatingAgencies01052025pm", 44, "Municipality ", "Municipality"),
    real("participatingAgencies-20250221214937", 4, "State Agency", "State Agency"),
    real("participatingAgencies01262026pm", 773, "State", "State Agency"),
    pytest.param("Muncipality ", "Municipality", id="SOURCES.md TYPE variant: 'Muncipality '"),
    pytest.param("#NA", None, id="SOURCES.md TYPE variant: '#NA'"),
    pytest.param("#N/A", None, id="Excel error text: '#N/A'"),
    pytest.param("", None, id="blank"),
    pytest.param("Tribal", None, id="unknown: 'Tribal'"),
])
def test_agency_type(raw, kind):
    assert agency_type(raw) == kind


@pytest.mark.parametrize(("raw", "county"), [
    real("participatingAgencies-20250318045215", 2, "Etowah County", "Etowah County"),
    real("participatingAgencies-20250318045215", 332, "Rusk County  ", "Rusk County"),
    real("participatingAgencies03022026am", 937, "\nSchuylkill County", "Schuylkill County"),
    real("participatingAgencies01052025pm", 73, "#NA", None),
    real("participatingAgencies01052025pm", 504, "N/A", None),
    real("participatingAgencies01052025pm", 476, "Kattan District ", "Kattan District"),
    pytest.param("Guadalupe Conty", "Guadalupe Conty", id="county typos are kept: 'Guadalupe Conty'"),
    pytest.param("#N/A", None, id="SOURCES.md COUNTY: '#N/A'"),
    pytest.param(None, None, id="empty cell"),
])
def test_county_name(raw, county):
    assert county_name(raw) == county


# ---------------------------------------------------------------------------------------------
# Agency names

@pytest.mark.parametrize(("raw", "display"), [
    real("pendingAgencies-20250221214937", 24, "Sarpy County Department of Corrections\xa0\xa0",
         "Sarpy County Department of Corrections"),
    real("participatingAgencies-20250221214937", 77, "Kansas  Bureau Of Investigation",
         "Kansas Bureau Of Investigation"),
    real("participatingAgencies-20250221214937", 113, "Knox County Sheriff’s Office",
         "Knox County Sheriff's Office"),
    real("participatingAgencies01052025pm", 130, "City of Miami Police Department ",
         "City of Miami Police Department"),
    real("participatingAgencies05142026am", 1405, 'Cut "N" Shoot Police Department',
         'Cut "N" Shoot Police Department'),
])
def test_agency_display(raw, display):
    assert agency_display(raw) == display


@pytest.mark.parametrize(("raw", "key"), [
    real("participatingAgencies-20250318045215", 162, "St. Johns County Sheriff's Office",
         "SAINT JOHNS COUNTY SHERIFFS OFFICE"),
    real("participatingAgencies01052025pm", 645, "Ste. Genevieve Police Department ",
         "SAINTE GENEVIEVE POLICE DEPARTMENT"),
    real("participatingAgencies01052025pm", 999, "Galveston County Constable's Office Pct.1",
         "GALVESTON COUNTY CONSTABLES OFFICE PRECINCT 1"),
    pytest.param("Pennsylvania State Constable's Office So Middleton Twp",
                 "PENNSYLVANIA STATE CONSTABLES OFFICE SO MIDDLETON TOWNSHIP",
                 id=seen("participatingAgencies01052025pm", 809, "... So Middleton Twp") + " ('So' is South, not Sheriff's Office)"),
    pytest.param("Florida A&M University Board of Trustees", "FLORIDA A AND M UNIVERSITY BOARD OF TRUSTEES",
                 id=seen("participatingAgencies01052025pm", 168, "Florida A&M University Board of Trustees")),
    pytest.param("Cut \"N\" Shoot Police Department", "CUT N SHOOT POLICE DEPARTMENT",
                 id=seen("participatingAgencies05142026am", 1405, 'Cut "N" Shoot Police Department')),
    pytest.param("Polk Co. S.O.", "POLK COUNTY SHERIFFS OFFICE", id="abbreviations: 'Polk Co. S.O.'"),
    pytest.param("Mt. Pleasant PD", "MOUNT PLEASANT POLICE DEPARTMENT", id="abbreviations: 'Mt. Pleasant PD'"),
    pytest.param("MT Dept of Justice", "MT DEPARTMENT OF JUSTICE",
                 id=seen("participatingAgencies03072025am", 219, "MT Dept of Justice") + " (MT is Montana: no Mount before an abbreviated 'Dept')"),
    pytest.param("Billings MT PD", "BILLINGS MT POLICE DEPARTMENT", id="'MT' before 'PD' inside a name is not Mount"),
    pytest.param("Ft. Myers PD", "FORT MYERS POLICE DEPARTMENT", id="'Ft.' before a place name is Fort"),
    pytest.param("Penn St. University Police", "PENN ST UNIVERSITY POLICE",
                 id="'St.' before a generic word is not Saint: 'Penn St. University Police'"),
    pytest.param("Doña Ana County Sheriff’s Office", "DONA ANA COUNTY SHERIFFS OFFICE", id="accents: 'Doña Ana'"),
    pytest.param("", "", id="blank"),
])
def test_agency_key_canonical_form(raw, key):
    assert agency_key(raw) == key


@pytest.mark.parametrize(("first", "second"), [
    pytest.param("Ft. Myers Police Department", "Fort Myers Police Department",
                 id="participatingAgencies05282025am row 103 / 01052025pm row 186: Ft. = Fort"),
    pytest.param("St Johns County Sheriff's Office", "St. Johns County Sheriff's Office",
                 id="participatingAgencies-20250221214937 row 51 / -20250318045215 row 162: St = St."),
    pytest.param("Port Saint Lucie Police Department ", "Port St. Lucie Police Department",
                 id="participatingAgencies01052025pm row 355: Saint = St."),
    pytest.param("Oklahoma Dept. of Public Safety", "Oklahoma Department of Public Safety",
                 id="participatingAgencies-20250221214937 row 108 / 01052025pm row 768: Dept. = Department"),
    pytest.param("Franklin County Sheriffs Office", "Franklin County Sheriff’s Office",
                 id="participatingAgencies-20250318045215 row 285 / pendingAgencies-20250221214937 row 30: Sheriffs = Sheriff’s"),
    pytest.param("Walker County Sheriff’s Department", "Walker County Sheriff's Dept",
                 id="participatingAgencies-20250221214937 row 135: Sheriff’s Department = Sheriff's Dept"),
    pytest.param("Walker County Sheriff Office", "Walker County Sheriff's Office", id="Sheriff Office = Sheriff's Office"),
    pytest.param("Florida Fish & Wildlife Conservation Commission", "Florida Fish and Wildlife Conservation Commission",
                 id="participatingAgencies01052025pm row 177 / -20250226183301 row 140: & = and"),
    pytest.param("Miami Dade Corrections and Rehabilitation", "Miami-Dade Corrections and Rehabilitation",
                 id="participatingAgencies-20250226183301 row 182 / 01052025pm row 293: hyphen = space"),
    pytest.param("Jackson's Gap Police Department", "Jacksons Gap Police Department",
                 id="participatingAgencies03022026am row 30 / 01262026pm row 25: apostrophe dropped"),
    pytest.param("Office of the State Attorney Sixth Judicial Circuit", "Office of the State Attorney, Sixth Judicial Circuit",
                 id="participatingAgencies01052025pm row 316 / 09222025am row 277: comma"),
    pytest.param("Office Of The Attorney General ", "Office of the Attorney General",
                 id="participatingAgencies01052025pm row 476: case"),
    pytest.param("Kansas  Bureau Of Investigation", "Kansas Bureau of Investigation",
                 id="participatingAgencies-20250221214937 row 77: double space"),
    pytest.param("Lower Burrell Fourth Ward Constable", "Lower Burrell 4th Ward Constable", id="ordinal words = numbers"),
    pytest.param("Polk County SO", "Polk County Sheriff's Office", id="SO = Sheriff's Office"),
    pytest.param("Hanover Twp. Police Dept", "Hanover Township Police Department", id="Twp. = Township"),
    pytest.param("Harris County Constable Pct 3", "Harris County Constable Precinct 3", id="Pct = Precinct"),
    pytest.param("Polk Cnty Sheriff's Office", "Polk County Sheriff's Office", id="Cnty = County"),
])
def test_agency_key_same_agency(first, second):
    assert agency_key(first) == agency_key(second)


@pytest.mark.parametrize(("first", "second"), [
    pytest.param("City of St. Cloud Police Department", "St. Cloud Police Department",
                 id="participatingAgencies07012025pm rows 67 and 282: both listed in one file"),
    pytest.param("City of Zephyrhills Police Department", "Zephyrhills Police Department",
                 id="participatingAgencies07012025pm rows 68 and 326: both listed in one file"),
    pytest.param("Pasco County Sheriff's Office", "Pasco County Jail", id="Sheriff's Office vs Jail"),
    pytest.param("Walker County Sheriff’s Department", "Walker County Sheriff's Office",
                 id="participatingAgencies-20250221214937 row 135: Department vs Office"),
    pytest.param("Idaho State Police Department ", "Idaho State Police",
                 id="participatingAgencies01052025pm row 480 / 07012025pm row 359"),
    pytest.param("Galveston County Constable Precinct 2", "Galveston County Constable's Office Pct.1",
                 id="participatingAgencies01052025pm rows 998 and 999: precincts"),
    pytest.param("Ste. Genevieve County Sheriff's Office", "Ste. Genevieve Police Department ",
                 id="participatingAgencies01052025pm rows 643 and 645"),
    pytest.param("Parker County (County) Attorney's Office", "Parker County District Attorney's Office",
                 id="Parker County attorneys"),
    pytest.param("Albemarle District Jail", "Albermarle District Jail", id="typos are not keyed away"),
])
def test_agency_key_different_agencies(first, second):
    assert agency_key(first) != agency_key(second)


@pytest.mark.parametrize(("first", "second"), [
    pytest.param("City of St. Cloud Police Department", "St. Cloud Police Department",
                 id="participatingAgencies05282025am row 56 / 01052025pm row 383"),
    pytest.param("Town of Palm Beach Police Department", "Palm Beach Police Department", id="Town of"),
    pytest.param("Walker County Sheriff’s Department", "Walker County Sheriff's Office",
                 id="participatingAgencies-20250221214937 row 135: Department vs Office"),
    pytest.param("Idaho State Police Department ", "Idaho State Police",
                 id="participatingAgencies01052025pm row 480 / 07012025pm row 359"),
    pytest.param("Village of Clearview Police Department", "Clearview Police", id="Village of"),
    pytest.param("Walker County Sheriff", "Walker County Sheriff's Office", id="Sheriff vs Sheriff's Office"),
])
def test_agency_loose_pairs_renames(first, second):
    assert agency_loose(first) == agency_loose(second)
    assert agency_key(first) != agency_key(second)


# ---------------------------------------------------------------------------------------------
# signed_date

@pytest.mark.parametrize(("raw", "date", "noted"), [
    pytest.param(dt.date(2020, 6, 9), dt.date(2020, 6, 9), False,
                 id=seen("participatingAgencies-20250221214937", 2, dt.date(2020, 6, 9))),
    real("participatingAgencies05282025am", 598, "05/082025", dt.date(2025, 5, 8), True),
    pytest.param(dt.datetime(2025, 5, 8, 0, 0), dt.date(2025, 5, 8), False, id="datetime cell"),
    pytest.param(45785, dt.date(2025, 5, 8), False, id="Excel serial number 45785"),
    pytest.param(45785.0, dt.date(2025, 5, 8), False, id="Excel serial number 45785.0"),
    pytest.param("5/8/2025", dt.date(2025, 5, 8), False, id="text '5/8/2025'"),
    pytest.param("2025-05-08", dt.date(2025, 5, 8), False, id="text '2025-05-08'"),
    pytest.param("May 8, 2025", dt.date(2025, 5, 8), False, id="text 'May 8, 2025'"),
    pytest.param("Sept. 8, 2025", dt.date(2025, 9, 8), False, id="text 'Sept. 8, 2025'"),
    pytest.param("8 May 2025", dt.date(2025, 5, 8), False, id="text '8 May 2025'"),
    pytest.param(" 5/8/25 ", dt.date(2025, 5, 8), True, id="text ' 5/8/25 ' (two-digit year)"),
    pytest.param("25/06/2025", dt.date(2025, 6, 25), True, id="text '25/06/2025' (day first)"),
    pytest.param("05/08/0225", dt.date(2025, 5, 8), True, id="year 0225: one swap gives 2025 only"),
    pytest.param("5/8/225", dt.date(2025, 5, 8), True, id="year 225: one insertion gives 2025 only"),
    pytest.param("05/08/2205", None, True, id="year 2205: 2005 and 2025 both one edit away"),
    pytest.param("05/08/1925", None, True, id="year 1925: before 287(g)"),
    pytest.param(dt.date(1990, 1, 1), None, True, id="date cell before 1996"),
    pytest.param(dt.date(3025, 5, 8), dt.date(2025, 5, 8), True, id="date cell in 3025: one substitution gives 2025 only"),
    pytest.param(dt.date(2205, 5, 8), None, True, id="date cell in 2205: far in the future, no unique fix"),
    pytest.param("2/30/2025", None, True, id="no such day"),
    pytest.param("TBD", None, True, id="text 'TBD'"),
    pytest.param(True, None, True, id="boolean cell"),
    pytest.param("", None, False, id="blank"),
    pytest.param(None, None, False, id="empty cell"),
])
def test_signed_date(raw, date, noted):
    result, note = signed_date(raw)
    assert result == date
    assert (note is not None) == noted


# ---------------------------------------------------------------------------------------------
# Links

ICE_PDF = "https://www.ice.gov/doclib/287gMOA/"


@pytest.mark.parametrize(("text", "url", "status", "clean"), [
    pytest.param("link", ICE_PDF + "287gJEM_%20etowahCoAL_06-09-2020.pdf", "link",
                 ICE_PDF + "287gJEM_%20etowahCoAL_06-09-2020.pdf",
                 id=seen("participatingAgencies-20250221214937", 2, "link")),
    real("participatingAgencies05142026am", 1398, "link ", ICE_PDF + "CommercePoliceDeptTX_TFM_MOA_03242026.pdf",
         "link", ICE_PDF + "CommercePoliceDeptTX_TFM_MOA_03242026.pdf"),
    pytest.param("link  ", "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib"
                 "%2F287gMOA%2FDavenportPoliceDeptFL_TFM_MOA_04282025.pdf&data=05%7C02%7CERO287g%40ice.dhs.gov"
                 "%7C3e0f7275912d48d7a57808ddb3e5e7f7&sdata=x%3D&reserved=0", "link",
                 ICE_PDF + "DavenportPoliceDeptFL_TFM_MOA_04282025.pdf",
                 id=seen("participatingAgencies07012025pm", 81, "link  ") + " SafeLinks"),
    pytest.param("link", "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib"
                 "%2F287gMOA%2F287gJEM_%2520montgomeryCoTX_06-09-2020.pdf&data=05%7C02", "link",
                 ICE_PDF + "287gJEM_%20montgomeryCoTX_06-09-2020.pdf",
                 id=seen("participatingAgencies07012025pm", 646, "link") + " SafeLinks around an encoded space"),
    pytest.param("link", "https:/www.ice.gov/doclib/287gMOA/CherokeePDAL_TFM_%20MOA_02142026.pdf", "link",
                 ICE_PDF + "CherokeePDAL_TFM_%20MOA_02142026.pdf",
                 id=seen("participatingAgencies03022026am", 10, "https:/www.ice.gov")),
    pytest.param("link", "chrome-extension://efaidnbmnnnibpcajpcglclefindmkaj/https:/www.ice.gov/doclib/287gMOA/"
                 "UnivFLPDFL_TFM_MOA_041525.pdf", "link", ICE_PDF + "UnivFLPDFL_TFM_MOA_041525.pdf",
                 id=seen("participatingAgencies01052025pm", 411, "chrome-extension://...")),
    pytest.param("link", "http://www.ice.gov/doclib/287gMOA/DeafSmithCoTX_WSO_MOA_031725.pdf", "link",
                 "http://www.ice.gov/doclib/287gMOA/DeafSmithCoTX_WSO_MOA_031725.pdf",
                 id=seen("participatingAgencies01052025pm", 974, "http://www.ice.gov") + " (scheme kept)"),
    real("participatingAgencies-20250221214937", 62, "link pending", None, "pending", None),
    real("participatingAgencies-20250221214937", 63, "link pending ", None, "pending", None),
    real("participatingAgencies08202025pm", 5, "Link Pending", None, "pending", None),
    real("participatingAgencies-20250221214937", 120, "link\xa0|\xa0addendum", None, "link", None),
    real("participatingAgencies-20250226183301", 190, None, None, None, None),
    pytest.param("", None, None, None, id="blank"),
    pytest.param("", ICE_PDF + "x.pdf", "link", ICE_PDF + "x.pdf", id="blank text with a hyperlink"),
    pytest.param("link", " /doclib/287gMOA/x.pdf ", "link", ICE_PDF + "x.pdf", id="relative '/doclib/...'"),
    pytest.param("link", "HTTPS://WWW.ICE.GOV/doclib/287gMOA/X.pdf", "link", ICE_PDF + "X.pdf",
                 id="scheme and host lower-cased, path kept"),
    pytest.param("link", "javascript:alert(1)", "link", None, id="javascript: refused"),
    pytest.param("link", "file:///etc/passwd", "link", None, id="file: refused"),
    pytest.param("link", "data:text/html,<b>x</b>", "link", None, id="data: refused"),
    pytest.param("link", "https://nam02.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)&data=1", "link",
                 None, id="SafeLinks around javascript: refused"),
])
def test_link_cell(text, url, status, clean):
    assert link_cell(text, url) == (status, clean)


@pytest.mark.parametrize(("url", "noted"), [
    pytest.param(ICE_PDF + "x.pdf", False, id="clean link"),
    pytest.param("https:/www.ice.gov/doclib/287gMOA/x.pdf", True, id="one slash"),
    pytest.param("https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fx.pdf", True,
                 id="SafeLinks"),
    pytest.param("javascript:alert(1)", True, id="javascript:"),
    pytest.param(None, False, id="none"),
])
def test_clean_url_notes(url, noted):
    assert (clean_url(url)[1] is not None) == noted


# ---------------------------------------------------------------------------------------------
# normalise_row

def fixture_row(name: str, row_number: int) -> RawRow:
    return next(row for row in read_fixture(name).rows if row.row_number == row_number)


def test_normalise_row_text_date_typo():
    """participatingAgencies05282025am row 598: SIGNED typed as text '05/082025'."""
    row = fixture_row("participating/participatingAgencies05282025am.xlsx", 598)
    agreement = normalise_row(row)
    assert agreement.signed == dt.date(2025, 5, 8)
    assert agreement.raw[SIGNED] == "05/082025"
    assert any("05/082025" in note for note in agreement.notes)
    assert agreement.key.occurrence == 1 and agreement.row_number == 598


def test_normalise_row_keeps_raw_beside_clean():
    """participatingAgencies07012025pm row 81: "link  " behind an Outlook SafeLink."""
    row = fixture_row("participating/participatingAgencies07012025pm.xlsx", 81)
    agreement = normalise_row(row)
    assert agreement.key == AgreementKey("FL", "DAVENPORT POLICE DEPARTMENT", "TFM")
    assert agreement.moa == "link"
    assert agreement.moa_url == ICE_PDF + "DavenportPoliceDeptFL_TFM_MOA_04282025.pdf"
    assert agreement.raw[MOA] == "link  "
    assert agreement.raw["moa_url"] == row.links[MOA]
    assert agreement.raw[SIGNED] == row.cells[SIGNED].isoformat()
    assert agreement.raw[ADDENDUM] == ""
    assert agreement.notes == ("moa link: Outlook SafeLinks unwrapped",)


def test_normalise_row_tidies_every_column():
    """participatingAgencies01052025pm row 2: trailing spaces in agency, TYPE and SUPPORT TYPE."""
    agreement = normalise_row(fixture_row("participating/participatingAgencies01052025pm.xlsx", 2))
    assert agreement.key == AgreementKey("AL", "AUTAUGA COUNTY SHERIFFS OFFICE", "JEM")
    assert agreement.agency == "Autauga County Sheriff's Office"
    assert (agreement.agency_type, agreement.county) == ("County", "Autauga County")
    assert agreement.raw[AGENCY] == "Autauga County Sheriff's Office "
    assert agreement.notes == ()


def test_normalise_row_unreadable_state_and_model_still_make_an_agreement():
    row = RawRow(7, {STATE: "ATLANTIS", AGENCY: "Atlantis Police Department", MODEL: "Harbour Patrol Model",
                     SIGNED: "soon"})
    agreement = normalise_row(row)
    assert agreement.key == AgreementKey(UNKNOWN_STATE, "ATLANTIS POLICE DEPARTMENT", UNKNOWN_MODEL)
    assert agreement.signed is None
    assert len(agreement.notes) == 3
    assert agreement.raw == {STATE: "ATLANTIS", AGENCY: "Atlantis Police Department",
                             MODEL: "Harbour Patrol Model", SIGNED: "soon"}


def test_normalise_row_blank_model_is_noted():
    row = RawRow(3, {STATE: "TEXAS", AGENCY: "Hood County Sheriff's Office", MODEL: None})
    agreement = normalise_row(row)
    assert agreement.key.model == UNKNOWN_MODEL
    assert "support type blank" in agreement.notes


def test_normalise_row_refuses_script_links():
    row = RawRow(4, {STATE: "FLORIDA", AGENCY: "X Police Department", MODEL: "Task Force Model", MOA: "link"},
                 links={MOA: "javascript:alert(document.cookie)"})
    agreement = normalise_row(row)
    assert (agreement.moa, agreement.moa_url) == ("link", None)
    assert agreement.raw["moa_url"] == "javascript:alert(document.cookie)"
    assert any("refused" in note for note in agreement.notes)


# ---------------------------------------------------------------------------------------------
# normalise_table

def test_exact_duplicate_row_is_reported_and_both_rows_kept():
    """participatingAgencies08202025pm rows 357 and 358: Volusia County Sheriff's Office twice
    (the second with a trailing space in COUNTY)."""
    table = read_fixture("participating/participatingAgencies08202025pm.xlsx")
    result = normalise_table(table)
    assert len(result.agreements) == len(table.rows) == 896
    key = AgreementKey("FL", "VOLUSIA COUNTY SHERIFFS OFFICE", "TFM")
    assert result.duplicates == (Duplicate(key, (357, 358), exact=True),)
    first, second = (a for a in result.agreements if a.row_number in (357, 358))
    assert (first.key, second.key) == (key, AgreementKey(key.state, key.agency, key.model, 2))
    assert first.compared_values() == second.compared_values()


def test_rows_sharing_a_key_but_differing_are_not_exact():
    base = fixture_row("participating/participatingAgencies08202025pm.xlsx", 357)
    later = RawRow(900, {**base.cells, SIGNED: dt.date(2025, 8, 1)})
    third = RawRow(901, dict(base.cells))
    table = SourceTable("Sheet1", (), (), (base, later, third))
    result = normalise_table(table)
    assert [a.key.occurrence for a in result.agreements] == [1, 2, 3]
    assert result.duplicates == (Duplicate(result.agreements[0].key, (357, 900, 901), exact=False),)


def test_press_figures_for_2025_05_29():
    """635 agreements (JEM 100, TFM 307, WSO 228) and 68 pending, as reported on 2025-05-29."""
    participating = normalise_table(read_fixture("participating/participatingAgencies05292025am.xlsx"))
    pending = normalise_table(read_fixture("pending/pendingAgencies05292025am.xlsx"))
    assert Counter(a.key.model for a in participating.agreements) == {"JEM": 100, "TFM": 307, "WSO": 228}
    assert len(pending.agreements) == 68


def test_header_only_file_gives_an_empty_list():
    assert normalise_table(read_fixture("pending/pendingAgencies11142025pm.xlsx")) == NormalisedList((), ())


# ---------------------------------------------------------------------------------------------
# Every real row of every fixture

EXPECTED_NOTES = re.compile(
    r"moa link: Outlook SafeLinks unwrapped"
    r"|addendum link: Outlook SafeLinks unwrapped"
    r"|moa link: slashes after the scheme repaired"
    r"|moa link: browser viewer wrapper removed; slashes after the scheme repaired"
    r"|type 'State' read as State Agency"
    r"|support type 'Warrant Service Office' read as WSO \(Warrant Service Officer\)"
    r"|signed '05/082025' read as 2025-05-08 \(separator missing\)"
)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_real_row_normalises(name):
    table = read_fixture(name)
    result = normalise_table(table)
    assert [a.row_number for a in result.agreements] == [row.row_number for row in table.rows]
    for row, agreement in zip(table.rows, result.agreements):
        where = f"{name} row {row.row_number}"
        assert agreement.key.state in STATE_NAMES, where
        assert agreement.key.model in ("JEM", "TFM", "WSO"), where      # no blank SUPPORT TYPE in these files
        assert agreement.agency and agreement.key.agency, where
        if agency_type(row.cells.get(AGENCY_TYPE)) is None:
            assert (row.cells.get(AGENCY_TYPE) or "").strip() in ("", "#NA", "#N/A"), where
        if row.cells.get(SIGNED) is not None:
            assert agreement.signed is not None, where
        for column in row.links:
            clean = getattr(agreement, f"{column}_url")
            assert clean is not None and re.match(r"https?://www\.ice\.gov/doclib/", clean), where
        assert all(EXPECTED_NOTES.fullmatch(note) for note in agreement.notes), (where, agreement.notes)
    # Distinct agencies never share a key: the only rows sharing one are the same row twice.
    assert all(duplicate.exact for duplicate in result.duplicates), result.duplicates
    expected = 1 if name.endswith("participatingAgencies08202025pm.xlsx") else 0
    assert len(result.duplicates) == expected


def test_distinct_real_values_normalise_sensibly():
    values: dict[str, set] = defaultdict(set)
    for _, row in all_rows():
        for column, value in row.cells.items():
            values[column].add(value)
    assert all(state_code(v)[0] in STATE_NAMES for v in values[STATE])
    assert {model_code(v) for v in values[MODEL]} == {"JEM", "TFM", "WSO"}
    assert {agency_type(v) for v in values[AGENCY_TYPE]} == {"County", "Municipality", "State Agency"}
    for value in values[COUNTY]:
        county = county_name(value)
        assert county is None or (county == county.strip() and "  " not in county and "\n" not in county)
    assert {link_cell(v, None)[0] for v in values[MOA] | values[ADDENDUM]} == {"link", "pending", None}
    assert {link_cell(v, None)[0] for v in values[MOA] | values[ADDENDUM] if v} == {"link", "pending"}


def test_spellings_of_one_agency_across_files_share_a_key():
    """Across all 22 files, the names that share a key are spellings of one agency."""
    names_by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, row in all_rows():
        state = state_code(row.cells.get(STATE))[0]
        names_by_key[state, agency_key(row.cells.get(AGENCY))].add(agency_display(row.cells.get(AGENCY)))
    merged = {key: names for key, names in names_by_key.items() if len(names) > 1}
    assert merged == {
        ("FL", "SAINT JOHNS COUNTY SHERIFFS OFFICE"): {"St Johns County Sheriff's Office", "St. Johns County Sheriff's Office"},
        ("OK", "OKLAHOMA DEPARTMENT OF PUBLIC SAFETY"): {"Oklahoma Dept. of Public Safety", "Oklahoma Department of Public Safety"},
        ("FL", "OFFICE OF THE STATE ATTORNEY 6TH JUDICIAL CIRCUIT"): {
            "Office of the State Attorney Sixth Judicial Circuit", "Office of the State Attorney, Sixth Judicial Circuit"},
        ("FL", "MIAMI DADE SHERIFFS OFFICE"): {"Miami-Dade Sheriff's Office", "Miami Dade Sheriff's Office"},
        ("FL", "MIAMI DADE CORRECTIONS AND REHABILITATION"): {
            "Miami Dade Corrections and Rehabilitation", "Miami-Dade Corrections and Rehabilitation"},
        ("KS", "KANSAS BUREAU OF INVESTIGATION"): {"Kansas Bureau Of Investigation", "Kansas Bureau of Investigation"},
        ("AL", "JACKSONS GAP POLICE DEPARTMENT"): {"Jackson's Gap Police Department", "Jacksons Gap Police Department"},
        ("PA", "FRANKLIN COUNTY SHERIFFS OFFICE"): {"Franklin County Sheriff's Office", "Franklin County Sheriffs Office"},
        ("FL", "FORT MYERS POLICE DEPARTMENT"): {"Fort Myers Police Department", "Ft. Myers Police Department"},
        ("FL", "FLORIDA FISH AND WILDLIFE CONSERVATION COMMISSION"): {
            "Florida Fish and Wildlife Conservation Commission", "Florida Fish & Wildlife Conservation Commission"},
    }
