"""Control characters in a real workbook (the xlsx notation ``_x0000_`` reads back as NUL):
the same history on SQLite and PostgreSQL, the raw text kept in that notation, and a document
the database refuses costs that document only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.items import WorkbookDownload
from crawler.spiders.ice_287g import _url_file_name
from diff.normalise import encode_controls
from pipeline.backfill import plan_backfill, run_backfill
from pipeline.crawl import _handle, crawl_and_ingest
from pipeline.ingest import Ingestor
from pipeline.recorder import FetchRecorder
from scheduler.demo.loopback import Reply
from storage.events import EventRepository
from storage.lists import ListRepository
from storage.models import AgreementVersion, FetchAttempt
from tests.files import workbook

NAME = "Colbert County Sheriff's Office"   # rows 2 and 3 of participatingAgencies05292025am.xlsx
COUNTY = "Crenshaw County"                 # row 4's county

# (case, text written into the xlsx, what it reads back as, the raw text stored)
CONTROLS = [
    ("NUL", "_x0000_", "\x00", "_x0000_"),
    ("ESC sequence", "_x001B_[31m", "\x1b[31m", "_x001B_[31m"),
    ("BEL", "_x0007_", "\x07", "_x0007_"),
    ("C1 CSI", "_x009B_", "\x9b", "_x009B_"),
    ("DEL", "_x007F_", "\x7f", "_x007F_"),
]


@pytest.mark.parametrize(("written", "stored"), [(c[1], c[3]) for c in CONTROLS], ids=[c[0] for c in CONTROLS])
def test_a_control_character_is_cleaned_and_its_raw_text_kept_encoded(engine, edit_workbook, written, stored):
    first = "participatingAgencies05292025am.xlsx"
    edited = edit_workbook(first, first, {"Crenshaw County Sheriff's Office": f"Crenshaw County{written} Sheriff's Office",
                                          COUNTY: COUNTY + written})
    [result] = run_backfill(engine, plan_backfill([edited]))
    assert result.error is None and result.outcome.status == "accepted"
    with Session(engine) as session:
        [version] = [v for v in session.scalars(select(AgreementVersion)) if v.raw["county"].startswith(COUNTY)]
        clean_tail = "[31m" if written.startswith("_x001B_") else ""   # only the control goes
        assert version.agency == f"Crenshaw County{clean_tail} Sheriff's Office"
        assert version.county == f"{COUNTY}{clean_tail}"
        assert version.raw["county"] == COUNTY + stored
        assert version.raw["agency"] == f"Crenshaw County{stored} Sheriff's Office"


def test_the_same_list_without_the_control_character_is_unchanged(engine, edit_workbook):
    """A NUL that ICE adds or removes is not a change of the agreement."""
    name = "participatingAgencies05292025am.xlsx"
    edited = edit_workbook(name, "participatingAgencies05282025pm.xlsx", {COUNTY: COUNTY + "_x0000_"})
    results = run_backfill(engine, plan_backfill([edited, workbook(name)]))
    assert [(r.error, r.outcome.status) for r in results] == [(None, "accepted"), (None, "unchanged")]


@pytest.mark.parametrize(("text", "encoded"), [
    ("plain", "plain"),
    ("tab\tand\nline", "tab\tand\nline"),             # whitespace stays raw
    ("a\x00b", "a_x0000_b"),
    ("literal _x0041_ text", "literal _x005F_x0041_ text"),   # as Excel escapes it: reversible
    ("\x1b]8;;http://x\x07", "_x001B_]8;;http://x_x0007_"),
])
def test_encode_controls(text, encoded):
    assert encode_controls(text) == encoded


PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}


def test_a_crawl_of_a_list_holding_a_nul_ingests_both_lists(engine, loopback, edit_workbook):
    participating, pending = "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"
    edited = edit_workbook(participating, participating, {COUNTY: COUNTY + "_x0000_"})
    links = "".join(f'<li><a href="{DOCLIB}{n}">{n[:-18]} agencies</a></li>' for n in (participating, pending))
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    loopback.route(PAGE, Reply.html(f"<html><body><ul>{links}</ul></body></html>"))
    loopback.route(DOCLIB + participating, Reply.file(edited))
    loopback.route(DOCLIB + pending, Reply.file(workbook(pending)))
    report = crawl_and_ingest(engine, loopback.url(PAGE), contact="tests@example.org", settings=FAST, timeout=120)
    assert not report.failed, report
    assert sorted((line.list_name, line.outcome) for line in report.lines) == [
        ("participating", "accepted"), ("pending", "accepted")]


def download(name: str, **fields) -> WorkbookDownload:
    body = workbook(name).read_bytes()
    values = dict(source_page="http://127.0.0.1/page", url=f"http://127.0.0.1{DOCLIB}{name}",
                  final_url=f"http://127.0.0.1{DOCLIB}{name}", link_text="", declared_list=None, file_name=name,
                  http_status=200, etag=None, last_modified=None, content_type=None, body=body, sha256=None,
                  fetched_at=dt.datetime(2025, 5, 29, 12, tzinfo=dt.UTC))
    values.update(fields)
    return WorkbookDownload(**values)


def test_a_document_the_database_refuses_fails_alone(engine, db_url):
    """An item whose text PostgreSQL refuses (a NUL in the address it was served from) is one
    failed line with a one-line reason; the next document of the crawl is still ingested.
    SQLite stores any text, so there the item is accepted: the test shows both behaviours."""
    recorder, ingestor = FetchRecorder(engine, "ice_287g"), Ingestor(engine)
    hostile = download("participatingAgencies05292025am.xlsx", final_url="http://127.0.0.1/x\x00.xlsx")
    lines = [_handle(recorder, ingestor, item) for item in (hostile, download("pendingAgencies05292025am.xlsx"))]
    if db_url.startswith("sqlite"):
        assert [line.outcome for line in lines] == ["accepted", "accepted"]
        return
    assert [line.outcome for line in lines] == ["failed", "accepted"]
    reason = lines[0].detail
    assert reason.startswith("the database refused the document: DataError:") and "NUL" in reason
    assert len(reason) < 300 and "INSERT" not in reason
    with Session(engine) as session:
        failed = session.scalars(select(FetchAttempt).where(FetchAttempt.outcome == "failed")).all()
        assert [f.error for f in failed] == [f"ingest: {reason}"]
        assert [s.list_name for s in ListRepository(session).snapshots()] == ["pending"]
        assert EventRepository(session).events()   # the pending list's first snapshot


def test_a_nul_in_a_workbook_url_leaves_no_nul_in_the_file_name():
    assert _url_file_name(f"http://127.0.0.1{DOCLIB}participating%00Agencies%1b.xlsx") == "participatingAgencies.xlsx"
