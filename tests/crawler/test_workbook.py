"""crawler.workbook: the 22 real ICE workbooks, and hostile or broken workbooks built here.

openpyxl (slow, pure Python, reads hyperlinks itself) is the independent reference for the
hyperlinks; generated workbooks are written with openpyxl and, where Excel never writes what a
test needs, edited part by part in the zip.
"""

from __future__ import annotations

import datetime as dt
import io
import string
import struct
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

import crawler.workbook
from crawler.workbook import UnreadableWorkbook, canonical_column, read_workbook, read_workbook_in_one_thread
from diff.records import SourceTable, raw_table_hash
from tests.files import WORKBOOKS

FEB_2025 = ("state", "agency", "type", "model", "signed", "moa")
MAR_2025 = ("state", "agency", "type", "county", "model", "signed", "moa")
JUL_2025 = ("state", "agency", "type", "county", "model", "signed", "moa", "addendum")
PENDING_FEB_2025 = ("state", "agency", "type", "model")
PENDING_MAR_2025 = ("state", "agency", "type", "county", "model")
PENDING_JAN_2026 = ("state", "agency", "type", "county", "model", "moa")


def fixture_path(name: str) -> Path:
    folder = "pending" if name.startswith("pending") else "participating"
    return WORKBOOKS / folder / name


@cache
def table(name: str) -> SourceTable:
    """Each real workbook is read once per test run."""
    return read_workbook(fixture_path(name))


def row(name: str, row_number: int):
    [found] = [raw for raw in table(name).rows if raw.row_number == row_number]
    return found


# --- the real workbooks ---------------------------------------------------------------------

# (file, data rows, blank rows after the header, columns): data rows checked against openpyxl
# once; blank rows are mostly the styled empty rows at the end (openpyxl's max_row counts them).
REAL_WORKBOOKS = [
    pytest.param("participatingAgencies-20250221214937.xlsx", 151, 0, FEB_2025, id="archive-capture-feb-2025"),
    pytest.param("participatingAgencies-20250226183301.xlsx", 239, 7, FEB_2025, id="archive-capture-151-to-239"),
    pytest.param("participatingAgencies-20250318045215.xlsx", 360, 0, MAR_2025, id="county-column-appears"),
    pytest.param("participatingAgencies05282025am.xlsx", 628, 13, MAR_2025, id="consecutive-mornings-628"),
    pytest.param("participatingAgencies05292025am.xlsx", 635, 13, MAR_2025, id="consecutive-mornings-635"),
    pytest.param("participatingAgencies07012025pm.xlsx", 744, 9, JUL_2025, id="addendum-column-appears"),
    pytest.param("participatingAgencies08202025pm.xlsx", 896, 74, JUL_2025, id="near-duplicate-row"),
    pytest.param("participatingAgencies09222025am.xlsx", 1000, 74, JUL_2025, id="participating-09-22-am"),
    pytest.param("participatingAgencies09222025pm.xlsx", 42, 1, PENDING_MAR_2025, id="swapped-holds-pending-list"),
    pytest.param("participatingAgencies12312025am.xlsx", 1274, 10, JUL_2025, id="new-year-eve"),
    pytest.param("participatingAgencies01052025pm.xlsx", 1274, 10, JUL_2025, id="year-typo-in-name"),
    pytest.param("participatingAgencies01262026pm.xlsx", 1372, 10, JUL_2025, id="around-baseline-date"),
    pytest.param("participatingAgencies02022026am.xlsx", 1381, 10, JUL_2025, id="after-baseline-date"),
    pytest.param("participatingAgencies03022026am.xlsx", 1499, 10, JUL_2025, id="extra-pivot-sheet"),
    pytest.param("participatingAgencies05142026am.xlsx", 1832, 10, JUL_2025, id="recent-1832-rows"),
    pytest.param("pendingAgencies-20250221214937.xlsx", 41, 0, PENDING_FEB_2025, id="pending-archive-capture"),
    pytest.param("pendingAgencies05292025am.xlsx", 68, 0, PENDING_MAR_2025, id="pending-68"),
    pytest.param("pendingAgencies09222025am.xlsx", 39, 1, PENDING_MAR_2025, id="pending-09-22-am"),
    pytest.param("pendingAgencies09222025pm.xlsx", 1000, 74, JUL_2025, id="swapped-holds-participating-list"),
    pytest.param("pendingAgencies11142025pm.xlsx", 0, 8, PENDING_MAR_2025, id="header-only"),
    pytest.param("pendingAgencies01262026pm.xlsx", 3, 46, PENDING_JAN_2026, id="pending-moa-column"),
    pytest.param("pendingAgencies02272026am.xlsx", 2, 69, PENDING_JAN_2026, id="pending-2"),
]


def test_every_fixture_is_in_the_table():
    assert {path.name for path in WORKBOOKS.glob("*/*.xlsx")} == {case.values[0] for case in REAL_WORKBOOKS}


@pytest.mark.parametrize(("name", "data_rows", "blank_rows", "columns"), REAL_WORKBOOKS)
def test_real_workbook_shape(name, data_rows, blank_rows, columns):
    source = table(name)
    assert len(source.rows) == data_rows
    assert source.skipped_blank_rows == blank_rows
    assert source.columns == columns
    assert source.header_row == 1
    # Rows keep their Excel row numbers: the header is row 1 and no data row is blank.
    assert [raw.row_number for raw in source.rows] == list(range(2, data_rows + 2))


def test_header_texts_are_raw():
    assert table("participatingAgencies-20250221214937.xlsx").header == (
        "STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "sheet_name", "sheet_names"),
    [
        pytest.param("participatingAgencies03022026am.xlsx", "Sheet1", ("Sheet1", "Sheet2"), id="pivot-sheet2-ignored"),
        pytest.param("participatingAgencies09222025pm.xlsx", "Sheet 1", ("Sheet 1",), id="sheet-name-with-space"),
        pytest.param("participatingAgencies05292025am.xlsx", "Sheet1", ("Sheet1",), id="sheet1"),
    ],
)
def test_sheet_choice(name, sheet_name, sheet_names):
    assert (table(name).sheet_name, table(name).sheet_names) == (sheet_name, sheet_names)


# (file, row, column, raw value): one case per quirk of the real files.
RAW_VALUES = [
    pytest.param("participatingAgencies05292025am.xlsx", 605, "signed", "05/082025", id="signed-text-typo-kept"),
    pytest.param("participatingAgencies05282025am.xlsx", 598, "signed", "05/082025", id="signed-text-typo-day-before"),
    pytest.param("participatingAgencies05292025am.xlsx", 2, "signed", dt.date(2025, 5, 8), id="signed-real-excel-date"),
    pytest.param("participatingAgencies05292025am.xlsx", 15, "county", None, id="county-na-error-cell-is-none"),
    pytest.param("participatingAgencies01052025pm.xlsx", 2, "agency", "Autauga County Sheriff's Office ",
                 id="agency-trailing-space-kept"),
    pytest.param("participatingAgencies01052025pm.xlsx", 2, "type", "County ", id="type-trailing-space-kept"),
    pytest.param("participatingAgencies01052025pm.xlsx", 2, "model", "Jail Enforcement Model ",
                 id="model-trailing-space-kept"),
    pytest.param("participatingAgencies01052025pm.xlsx", 2, "addendum", None, id="empty-addendum-is-none"),
    pytest.param("participatingAgencies05292025am.xlsx", 2, "moa", "link pending", id="moa-link-pending"),
    pytest.param("participatingAgencies08202025pm.xlsx", 357, "county", "Volusia County", id="near-duplicate-first"),
    pytest.param("participatingAgencies08202025pm.xlsx", 358, "county", "Volusia County ", id="near-duplicate-second"),
]


@pytest.mark.parametrize(("name", "row_number", "column", "value"), RAW_VALUES)
def test_raw_value(name, row_number, column, value):
    assert row(name, row_number).cells[column] == value


def test_na_cell_really_is_an_error_cell():
    sheet = openpyxl.load_workbook(fixture_path("participatingAgencies05292025am.xlsx")).worksheets[0]
    assert (sheet["D15"].value, sheet["D15"].data_type) == ("#N/A", "e")


def test_calamine_gives_empty_string_for_error_cells(tmp_path):
    # Documents why error cells come out as None: calamine cannot tell them from empty cells.
    path = tmp_path / "errors.xlsx"
    path.write_bytes(built_workbook([["STATE", "AGENCY", "COUNTY"], ["FLORIDA", "Sheriff", "#N/A"]]))
    assert openpyxl.load_workbook(path).active["C2"].data_type == "e"
    assert CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python() == [
        ["STATE", "AGENCY", "COUNTY"], ["FLORIDA", "Sheriff", ""],
    ]  # fmt: skip
    assert read_workbook(path).rows[0].cells["county"] is None


# (file, row, column, target): hyperlink targets are kept exactly as written.
LINKS = [
    pytest.param("participatingAgencies05292025am.xlsx", 15, "moa",
                 "https://www.ice.gov/doclib/287gMOA/287gWSO_DeptOfCorrectionsAK_07-24-2020.pdf", id="moa-link"),
    pytest.param("participatingAgencies05142026am.xlsx", 11, "moa",
                 "https:/www.ice.gov/doclib/287gMOA/CherokeePDAL_TFM_%20MOA_02142026.pdf", id="one-slash-typo-kept"),
    pytest.param("participatingAgencies05142026am.xlsx", 163, "addendum",
                 "https://www.ice.gov/doclib/287gMOA/AlachuaCoSheriffsOfficeFL_WSO_MOA_06252025.pdf",
                 id="addendum-link"),
]


@pytest.mark.parametrize(("name", "row_number", "column", "target"), LINKS)
def test_link(name, row_number, column, target):
    assert row(name, row_number).links[column] == target


def test_outlook_safelink_kept():
    target = row("participatingAgencies05142026am.xlsx", 14).links["moa"]
    assert target.startswith(
        "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib"
        "%2F287gMOA%2FColbertCoSheriffsOfficeAL_WSO_MOA_05.08.25.pdf&data="
    )


def test_link_pending_has_no_link():
    assert row("participatingAgencies05292025am.xlsx", 2).links == {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("participatingAgencies05292025am.xlsx", id="moa-links"),
        pytest.param("participatingAgencies07012025pm.xlsx", id="first-addendum-links"),
        pytest.param("participatingAgencies05142026am.xlsx", id="safelinks-and-addendum-links"),
    ],
)
def test_all_links_match_openpyxl(name):
    source = table(name)
    letters = {column: string.ascii_uppercase[index] for index, column in enumerate(source.columns) if column}
    ours = {f"{letters[column]}{raw.row_number}": target for raw in source.rows for column, target in raw.links.items()}
    sheet = openpyxl.load_workbook(fixture_path(name)).worksheets[0]
    reference = {
        cell.coordinate: cell.hyperlink.target for line in sheet.iter_rows() for cell in line if cell.hyperlink
    }
    assert ours == reference
    assert len(ours) > 400


def test_sources_bytes_str_and_path_agree():
    path = fixture_path("pendingAgencies05292025am.xlsx")
    assert read_workbook(path.read_bytes()) == read_workbook(str(path)) == table(path.name)


@pytest.mark.parametrize("name", [case.values[0] for case in REAL_WORKBOOKS])
def test_one_thread_reads_what_two_threads_read(name):
    alone = read_workbook_in_one_thread(fixture_path(name))
    assert alone == table(name)
    assert raw_table_hash(alone, "rules") == raw_table_hash(table(name), "rules")


def test_a_sheet_rels_part_read_before_is_read_by_its_content():
    original = fixture_path("participatingAgencies05142026am.xlsx").read_bytes()
    target = row("participatingAgencies05142026am.xlsx", 163).links["addendum"].encode()
    other = edited(original, {"xl/worksheets/_rels/sheet1.xml.rels": lambda rels: rels.replace(target, b"https://example.org/x.pdf")})
    for data, expected in ((original, target.decode()), (other, "https://example.org/x.pdf"), (original, target.decode())):
        [read] = [raw for raw in read_workbook(data).rows if raw.row_number == 163]
        assert read.links["addendum"] == expected


def test_concurrent_reads_agree():
    names = [case.values[0] for case in REAL_WORKBOOKS[:8]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda name: read_workbook(fixture_path(name)), names)) == [table(n) for n in names]


# --- generated workbooks: layouts ICE might use -----------------------------------------------


def built_workbook(
    rows: list[list], *, title: str = "Sheet1", links: dict[str, str] | None = None, before: list[list] | None = None
) -> bytes:
    """An xlsx written by openpyxl; ``before`` makes an extra first sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    if before is not None:
        sheet.title = "Pivot"
        for line in before:
            sheet.append(line)
        sheet = book.create_sheet(title)
    else:
        sheet.title = title
    for line in rows:
        sheet.append(line)
    for cell, target in (links or {}).items():
        sheet[cell].hyperlink = target
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def edited(data: bytes, edits: dict[str, Callable[[bytes], bytes]], *, add: dict[str, bytes] | None = None) -> bytes:
    """The zip with some members rewritten (and some added)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, edits[info.filename](content) if info.filename in edits else content)
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return buffer.getvalue()


LIST = [
    ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "MOA"],
    ["FLORIDA", "Alachua County Sheriff's Office", "Warrant Service Officer", "link"],
    ["TEXAS", "Lubbock County Sheriff's Office", "Jail Enforcement Model", "link pending"],
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("STATE", "state", id="state"),
        pytest.param("State\xa0", "state", id="non-breaking-space"),
        pytest.param("  state  ", "state", id="spaces-and-case"),
        pytest.param("LAW  ENFORCEMENT AGENCY ", "agency", id="double-and-trailing-space"),
        pytest.param("Law Enforcement\nAgency:", "agency", id="line-break-and-punctuation"),
        pytest.param("Agency", "agency", id="agency"),
        pytest.param("AGENCY NAME", "agency", id="agency-name"),
        pytest.param("TYPE", "type", id="type"),
        pytest.param("Agency Type", "type", id="agency-type"),
        pytest.param("COUNTY", "county", id="county"),
        pytest.param("SUPPORT TYPE", "model", id="support-type"),
        pytest.param("Model", "model", id="model"),
        pytest.param("SUPPORT MODEL", "model", id="support-model"),
        pytest.param("SIGNED", "signed", id="signed"),
        pytest.param("DATE SIGNED", "signed", id="date-signed"),
        pytest.param("Signed Date", "signed", id="signed-date"),
        pytest.param("MOA", "moa", id="moa"),
        pytest.param("ADDENDUM", "addendum", id="addendum"),
        pytest.param("NOTES", None, id="unknown"),
        pytest.param(dt.date(2025, 1, 1), None, id="not-text"),
    ],
)
def test_canonical_column(header, expected):
    assert canonical_column(header) == expected


def test_header_spellings_unknown_and_headerless_columns():
    data = built_workbook([
        ["State\xa0", "Agency Name ", "Date Signed", "NOTES", None, None],
        ["FLORIDA", "Sheriff", dt.datetime(2025, 5, 8), "see memo", "stray", None],
    ])  # fmt: skip
    source = read_workbook(data)
    assert source.header == ("State\xa0", "Agency Name ", "Date Signed", "NOTES", "")
    assert source.columns == ("state", "agency", "signed", None, None)
    [only] = source.rows
    assert only.cells == {"state": "FLORIDA", "agency": "Sheriff", "signed": dt.date(2025, 5, 8)}  # calamine: a date
    assert only.extra == {"NOTES": "see memo", "column E": "stray"}


def test_second_column_with_a_known_meaning_goes_to_extra():
    source = read_workbook(built_workbook([["STATE", "AGENCY", "STATE"], ["FLORIDA", "Sheriff", "FL"]]))
    assert source.columns == ("state", "agency", None)
    assert (source.rows[0].cells, source.rows[0].extra) == ({"state": "FLORIDA", "agency": "Sheriff"}, {"STATE": "FL"})


def test_header_below_a_title_and_blank_rows_inside():
    data = built_workbook([
        ["287(g) Participating Agencies"], [], LIST[0], LIST[1], [" ", "\xa0", None, ""], [], LIST[2], [],
    ])  # fmt: skip
    source = read_workbook(data)
    assert source.header_row == 3
    assert [raw.row_number for raw in source.rows] == [4, 7]
    assert source.skipped_blank_rows == 2  # rows 5 (whitespace only) and 6; row 8 is not written


def test_header_must_be_in_the_first_ten_rows():
    with pytest.raises(UnreadableWorkbook) as caught:
        read_workbook(built_workbook([[f"title {n}"] for n in range(10)] + LIST))
    assert caught.value.reason == "no_list_sheet"


def test_pivot_sheet_before_the_list_is_skipped():
    pivot = [["Total", "", "JEM", "", "TFM"], ["ALABAMA", "", "ALABAMA", "", "ALABAMA"]]
    source = read_workbook(built_workbook(LIST, title="Sheet 1", before=pivot))
    assert (source.sheet_name, source.sheet_names, len(source.rows)) == ("Sheet 1", ("Pivot", "Sheet 1"), 2)


def test_list_on_a_later_sheet_gets_its_own_links():
    source = read_workbook(built_workbook(LIST, before=[["no list"]], links={"D2": "https://example.org/moa.pdf"}))
    assert source.rows[0].links == {"moa": "https://example.org/moa.pdf"}


def test_links_only_on_data_cells_of_known_columns():
    data = built_workbook(
        [LIST[0] + ["NOTES"], LIST[1] + ["x"], LIST[2] + ["y"]],
        links={"D1": "https://example.org/header", "D2": "https://example.org/moa.pdf", "E3": "https://example.org/n"},
    )
    assert [raw.links for raw in read_workbook(data).rows] == [{"moa": "https://example.org/moa.pdf"}, {}]


def test_link_over_a_range_and_link_to_a_place():
    def hyperlinks(xml: bytes) -> bytes:
        return xml.replace(
            b"</sheetData>",
            b'</sheetData><hyperlinks xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            b'<hyperlink ref="D2:D3" r:id="rIdMoa"/><hyperlink ref="B3" location="Sheet2!A1"/></hyperlinks>',
        )

    rels = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rIdMoa" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'hyperlink" Target="https://example.org/a&amp;b.pdf" TargetMode="External"/></Relationships>'
    )
    data = edited(
        built_workbook(LIST),
        {"xl/worksheets/sheet1.xml": hyperlinks},
        add={"xl/worksheets/_rels/sheet1.xml.rels": rels},
    )
    assert [raw.links for raw in read_workbook(data).rows] == [
        {"moa": "https://example.org/a&b.pdf"},
        {"moa": "https://example.org/a&b.pdf", "agency": "#Sheet2!A1"},
    ]


def test_prefixed_sheet_xml_without_cell_positions():
    # Some writers use a namespace prefix and leave out r=; calamine places such cells in
    # order, and the exact extent scan accepts them.
    sheet = (
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        + b"".join(
            b"<x:row>" + b"".join(b'<x:c t="inlineStr"><x:is><x:t>%s</x:t></x:is></x:c>' % value for value in line)
            + b"</x:row>"
            for line in [(b"STATE", b"AGENCY"), (b"FLORIDA", b"Sheriff")]
        )
        + b"</x:sheetData></x:worksheet>"
    )
    data = edited(built_workbook([["placeholder"]]), {"xl/worksheets/sheet1.xml": lambda _: sheet})
    source = read_workbook(data)
    assert [(raw.row_number, raw.cells) for raw in source.rows] == [(2, {"state": "FLORIDA", "agency": "Sheriff"})]


# --- hostile and broken input -----------------------------------------------------------------

REAL = fixture_path("participatingAgencies05292025am.xlsx")
ENTITIES = b'<!DOCTYPE x [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'


def with_dtd(xml: bytes) -> bytes:
    """The part with a DTD of nested entities, and a use of them in its first text."""
    head, _, body = xml.partition(b"?>") if xml.startswith(b"<?xml") else (b"", b"", xml)
    return (head + b"?>" if head else b"") + ENTITIES + body.replace(b"<t>", b"<t>&b;", 1)


def real_with(edits: dict[str, Callable[[bytes], bytes]]) -> bytes:
    return edited(REAL.read_bytes(), edits)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def with_declared_size(data: bytes, member: str, size: int) -> bytes:
    """The zip with ``member``'s uncompressed size in the central directory set to ``size``."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        position = archive.start_dir
    while patched[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", patched, position + 28)
        if patched[position + 46 : position + 46 + name_length] == member.encode():
            struct.pack_into("<I", patched, position + 24, size)
        position += 46 + name_length + extra_length + comment_length
    return bytes(patched)


def one_more_cell(reference: bytes) -> Callable[[bytes], bytes]:
    row_number = reference.lstrip(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    cell = b'<row r="%s"><c r="%s" t="inlineStr"><is><t>x</t></is></c></row>' % (row_number, reference)
    return lambda xml: xml.replace(b"</sheetData>", cell + b"</sheetData>")


# Calamine would allocate rows x columns cells (~500 GB) for this one and abort the whole process.
far_cell = one_more_cell(b"XFD1000000")
many_rows = one_more_cell(b"A200000")


def bomb_zip() -> bytes:
    return edited(built_workbook(LIST), {}, add={"xl/media/padding.bin": bytes(3_000_000)})


HOSTILE = [
    pytest.param(b"<!DOCTYPE html><html>Access Denied</html>", {}, "not_a_workbook", id="html-error-page"),
    pytest.param(b"", {}, "not_a_workbook", id="empty"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), {}, "not_a_workbook", id="legacy-xls-or-encrypted"),
    pytest.param(zip_of({"word/document.xml": b"<w/>"}), {}, "not_a_workbook", id="zip-but-not-xlsx"),
    pytest.param(REAL.read_bytes()[:30_000], {}, "corrupt", id="truncated-half"),
    pytest.param(REAL.read_bytes()[:-10], {}, "corrupt", id="truncated-end-of-central-directory"),
    pytest.param(REAL.read_bytes()[:100], {}, "corrupt", id="truncated-to-100-bytes"),
    pytest.param(REAL.read_bytes(), {"max_bytes": 50_000}, "too_large", id="oversized-file"),
    pytest.param(bomb_zip(), {"max_uncompressed_bytes": 1_000_000}, "too_large", id="zip-bomb-declared-size"),
    pytest.param(with_declared_size(REAL.read_bytes(), "xl/worksheets/sheet1.xml", 1000), {}, "corrupt",
                 id="zip-bomb-lying-size"),
    pytest.param(zip_of({"xl/workbook.xml": b"<w/>", "xl/Workbook.xml": b"<w/>"}), {}, "corrupt",
                 id="member-twice"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": with_dtd}), {}, "unsafe_xml", id="dtd-in-sheet"),
    pytest.param(real_with({"xl/worksheets/_rels/sheet1.xml.rels": with_dtd}), {}, "unsafe_xml",
                 id="dtd-in-sheet-rels"),
    pytest.param(real_with({"xl/workbook.xml": with_dtd}), {}, "unsafe_xml", id="dtd-in-workbook"),
    pytest.param(real_with({"xl/_rels/workbook.xml.rels": with_dtd}), {}, "unsafe_xml", id="dtd-in-workbook-rels"),
    pytest.param(real_with({"xl/sharedStrings.xml": with_dtd}), {}, "corrupt", id="dtd-in-shared-strings"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": far_cell}), {}, "too_large", id="far-away-cell"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": many_rows}), {"max_rows": 100_000}, "too_many_rows",
                 id="row-200000-over-the-cap"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": many_rows}), {}, "too_large", id="row-200000-sparse"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": one_more_cell(b"A1048576")}), {}, "too_large",
                 id="row-1048576-sparse"),
    pytest.param(REAL.read_bytes(), {"max_rows": 100}, "too_many_rows", id="over-max-rows"),
    pytest.param(built_workbook([["NAME", "CITY"], ["x", "y"]]), {}, "no_list_sheet", id="no-list-sheet"),
    pytest.param(real_with({"xl/worksheets/sheet1.xml": lambda xml: xml[: len(xml) - 300]}), {}, "corrupt",
                 id="sheet-xml-cut-off"),
]


@pytest.mark.parametrize(("data", "options", "reason"), HOSTILE)
def test_hostile_input(data, options, reason):
    started = time.monotonic()
    with pytest.raises(UnreadableWorkbook) as caught:
        read_workbook(data, **options)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError) and str(caught.value)
    assert time.monotonic() - started < 5  # refused, not worked through
    with pytest.raises(UnreadableWorkbook) as in_one_thread:
        read_workbook_in_one_thread(data, **options)
    assert in_one_thread.value.reason == reason


def test_oversized_file_on_disk_is_not_read(tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(200_000))
    with pytest.raises(UnreadableWorkbook) as caught:
        read_workbook(path, max_bytes=100_000)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize("cut", [1_000, 20_000, 40_000, 60_000, 70_000])
def test_any_truncation_is_unreadable_not_a_crash(cut):
    with pytest.raises(UnreadableWorkbook):
        read_workbook(REAL.read_bytes()[:cut])


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_workbook(tmp_path / "absent.xlsx")


# --- the row cap and the quick extent scan on long sheets ---------------------------------------


def long_sheet(last_row: int, *, every: int = 1) -> Callable[[bytes], bytes]:
    """The built LIST sheet continued down to ``last_row`` with cells written as openpyxl
    writes them (each with its position), one row in ``every``."""

    def edit(xml: bytes) -> bytes:
        first = 4 + (last_row - 4) % every
        rows = b"".join(
            b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>FLORIDA</t></is></c>'
            b'<c r="B%d" t="inlineStr"><is><t>Sheriff %d</t></is></c></row>' % (n, n, n, n)
            for n in range(first, last_row + 1, every)
        )
        return xml.replace(b"</sheetData>", rows + b"</sheetData>")

    return edit


def no_exact_scan(*_):
    raise AssertionError("the exact (slow) extent scan ran")


def test_a_sheet_reaching_a_six_digit_row_is_read_by_the_quick_scan(monkeypatch):
    data = edited(built_workbook(LIST), {"xl/worksheets/sheet1.xml": long_sheet(100_002)})
    monkeypatch.setattr(crawler.workbook, "_sheet_extent", no_exact_scan)
    source = read_workbook(data)
    assert len(source.rows) == 100_002 - 1
    assert source.rows[-1].row_number == 100_002
    assert source.rows[-1].cells["state"] == source.rows[0].cells["state"] == "FLORIDA"


def test_the_row_cap_is_decided_from_the_sheet_before_calamine_reads_it(monkeypatch):
    # a real workbook with one more cell at row 1,000,000: its last cell is the refusal
    data = real_with({"xl/worksheets/sheet1.xml": one_more_cell(b"A1000000")})
    monkeypatch.setattr(crawler.workbook, "_sheet_extent", no_exact_scan)
    with pytest.raises(UnreadableWorkbook) as caught:
        read_workbook(data, max_rows=999_000)
    assert caught.value.reason == "too_many_rows"
    assert "1,000,000" in str(caught.value)


@pytest.mark.parametrize("last_row", [100_001, 1_048_576])
def test_the_quick_scan_takes_any_row_excel_allows(monkeypatch, last_row):
    xml = b'<worksheet><sheetData><row r="1"><c r="A1"><v>0</v></c></row>'
    xml += long_sheet(last_row, every=2)(b"</sheetData>") + b"</worksheet>"
    monkeypatch.setattr(crawler.workbook, "_sheet_extent", no_exact_scan)
    crawler.workbook._check_sheet_extent(xml, "sheet1.xml", 2_000_010)
    with pytest.raises(UnreadableWorkbook) as caught:
        crawler.workbook._check_sheet_extent(xml, "sheet1.xml", last_row - 1)
    assert caught.value.reason == "too_many_rows"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        pytest.param(b'<c r="A1048577"><v>1</v></c>', "corrupt", id="beyond-excel"),
        pytest.param(b'<c r="A01000"><v>1</v></c>', None, id="leading-zero"),
    ],
)
def test_rows_excel_cannot_write_go_to_the_exact_scan(cell, reason):
    xml = b'<worksheet><sheetData><row r="1"><c r="A1"><v>0</v></c>' + cell + b"</row></sheetData></worksheet>"
    if reason is None:
        crawler.workbook._check_sheet_extent(xml, "sheet1.xml", 2_000_010)
        return
    with pytest.raises(UnreadableWorkbook) as caught:
        crawler.workbook._check_sheet_extent(xml, "sheet1.xml", 2_000_010)
    assert caught.value.reason == reason


def test_a_cell_out_of_order_below_the_last_is_found():
    # the last cell is row 3; one written earlier sits at row 500,000: the exact scan counts it
    xml = (b'<worksheet><sheetData><row r="1"><c r="A1"><v>0</v></c><c r="B500000"><v>1</v></c></row>'
           b'<row r="3"><c r="A3"><v>2</v></c></row></sheetData></worksheet>')
    with pytest.raises(UnreadableWorkbook) as caught:
        crawler.workbook._check_sheet_extent(xml, "sheet1.xml", 100_000)
    assert caught.value.reason == "too_many_rows"


def test_a_far_styled_empty_cell_is_not_a_refusal():
    xml = b'<worksheet><sheetData><row r="1"><c r="A1"><v>0</v></c></row>'
    xml += b'<row r="1048576"><c r="A1048576" s="3"/></row></sheetData></worksheet>'
    crawler.workbook._check_sheet_extent(xml, "sheet1.xml", 100_010)
