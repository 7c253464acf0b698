"""crawler.list_dates: the date a list speaks for, on real workbooks, and dates not believed."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from crawler.filenames import parse_list_file_name
from crawler.list_dates import decide_list_date, workbook_saved_at
from tests.files import FIXTURES, workbook

HISTORY = FIXTURES / "ice-287g-history"
UNDATED = HISTORY / "pending" / "pendingAgencies.xlsx"
UTC = dt.UTC
DOWNLOADED = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def with_core_xml(source: Path, core: bytes) -> bytes:
    """The workbook's bytes with docProps/core.xml replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            new.writestr(info, core if info.filename == "docProps/core.xml" else old.read(info))
    return out.getvalue()


@pytest.mark.parametrize(("path", "saved_at"), [
    pytest.param(UNDATED, dt.datetime(2025, 2, 20, 16, 27, 52, tzinfo=UTC), id="undated-pending"),
    pytest.param(HISTORY / "pending" / "pendingAgencies07112025am_b.xlsx",
                 dt.datetime(2025, 7, 11, 14, 25, 58, tzinfo=UTC), id="am_b-edition"),
    pytest.param(workbook("participatingAgencies05292025am.xlsx"), dt.datetime(2025, 5, 29, 14, 8, 37, tzinfo=UTC),
                 id="dated"),
])
def test_workbook_saved_at_reads_dcterms_modified(path, saved_at):
    assert workbook_saved_at(path.read_bytes()) == saved_at


def test_workbook_saved_at_refuses_entities_and_junk():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            b'xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:modified>&b;</dcterms:modified></cp:coreProperties>')
    assert workbook_saved_at(with_core_xml(UNDATED, bomb)) is None
    assert workbook_saved_at(b"not a zip") is None
    assert workbook_saved_at(with_core_xml(UNDATED, b"<unclosed")) is None


def test_undated_name_takes_the_metadata_date():
    decided = decide_list_date(parse_list_file_name(UNDATED.name), UNDATED.read_bytes(), now=DOWNLOADED)
    assert decided.as_of == dt.date(2025, 2, 20)
    assert decided.basis == "workbook metadata (docProps/core.xml: saved 2025-02-20T16:27:52Z)"
    assert decided.not_believed == ()


def test_order_of_preference():
    name = parse_list_file_name("pendingAgencies.xlsx")
    content = UNDATED.read_bytes()
    by_hand = decide_list_date(name, content, given=dt.date(2025, 2, 21), now=DOWNLOADED)
    assert (by_hand.as_of, by_hand.basis) == (dt.date(2025, 2, 21), "--as-of")
    served = decide_list_date(name, content, downloaded_at=DOWNLOADED, last_modified="Fri, 21 Feb 2025 10:00:00 GMT")
    assert (served.as_of, served.basis) == (dt.date(2025, 2, 21), "HTTP Last-Modified")
    no_metadata = decide_list_date(name, b"not a zip", downloaded_at=DOWNLOADED)
    assert (no_metadata.as_of, no_metadata.basis) == (DOWNLOADED.date(), "date of the download")
    nothing = decide_list_date(name, b"not a zip", now=DOWNLOADED)
    assert nothing.as_of is None and "no date" in nothing.basis


# (file name, Last-Modified, as of, basis starts with, dates not believed): dates from the future
FUTURE_DATES = [
    pytest.param("pendingAgencies.xlsx", "Mon, 01 Dec 2036 00:00:00 GMT", dt.date(2025, 2, 20), "workbook metadata", 1,
                 id="last-modified-2036"),
    pytest.param("pendingAgencies06042025pm.xlsx", None, dt.date(2025, 2, 20), "workbook metadata", 1,
                 id="name-dated-next-week"),
    pytest.param("pendingAgencies06022025am.xlsx", None, dt.date(2025, 6, 2), "file name", 0,
                 id="name-dated-tomorrow-within-slack"),
    pytest.param("pendingAgencies06042025pm.xlsx", "Mon, 01 Dec 2036 00:00:00 GMT", dt.date(2025, 2, 20),
                 "workbook metadata", 2, id="both-in-the-future"),
]


@pytest.mark.parametrize(("file_name", "last_modified", "as_of", "basis", "not_believed"), FUTURE_DATES)
def test_a_date_after_the_download_is_not_believed(file_name, last_modified, as_of, basis, not_believed):
    name = parse_list_file_name(file_name, today=DOWNLOADED.date())
    decided = decide_list_date(name, UNDATED.read_bytes(), downloaded_at=DOWNLOADED, last_modified=last_modified)
    assert decided.as_of == as_of and decided.basis.startswith(basis)
    assert len(decided.not_believed) == not_believed
    assert all("not believed" in why and "2025-06-01" in why for why in decided.not_believed)


def test_metadata_from_the_future_falls_back_to_the_download():
    core = (b'<?xml version="1.0"?><cp:coreProperties '
            b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            b'xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:modified>2036-01-01T00:00:00Z</dcterms:modified>'
            b'</cp:coreProperties>')
    decided = decide_list_date(None, with_core_xml(UNDATED, core), downloaded_at=DOWNLOADED)
    assert decided.as_of == DOWNLOADED.date() and decided.basis.startswith("date of the download")
    assert "metadata gives 2036-01-01" in decided.not_believed[0]
