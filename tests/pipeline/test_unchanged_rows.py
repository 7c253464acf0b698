"""An unchanged list is known from its rows as read, before any row is cleaned: the same
outcome and the same records as the full path, which stays the way for everything else."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy.orm import Session

import pipeline.ingest
from pipeline.ingest import IncomingDocument, Ingestor
from storage.events import EventRepository
from storage.lists import ListRepository
from tests.files import workbook

FIRST, SECOND = "participatingAgencies05282025am.xlsx", "participatingAgencies05292025am.xlsx"


def rezipped(name: str, level: int) -> bytes:
    """The workbook's parts, byte for byte, in a zip compressed at another level: new bytes,
    the same rows."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(workbook(name)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    assert buffer.getvalue() != workbook(name).read_bytes()
    return buffer.getvalue()


def document(content: bytes, file_name: str, as_of: dt.date) -> IncomingDocument:
    return IncomingDocument(content=content, file_name=file_name, declared_list="participating", origin="backfill",
                            as_of=as_of, as_of_basis="test")


def must_not_run(*_args, **_kwargs):
    raise AssertionError("the long way ran")


def recorded(engine, snapshot_id: int) -> tuple[dict, list[tuple]]:
    """What an ingest wrote: the snapshot's fields that do not name the file, and its events."""
    with Session(engine) as session:
        snapshot = ListRepository(session).snapshot(snapshot_id)
        fields = {name: getattr(snapshot, name) for name in (
            "list_name", "status", "content_hash", "raw_hash", "row_count", "agreements", "agencies", "states",
            "metrics", "columns", "previous_id", "same_as_id", "declared_list", "as_of")}
        fields["reason"] = snapshot.reason.split(" (")[0]
        events = [(e.kind, e.field, e.subject_key) for e in EventRepository(session).events()
                  if e.snapshot_id == snapshot_id]
    return fields, events


@pytest.fixture
def two_lists(engine):
    ingestor = Ingestor(engine)
    ingestor.ingest(document(workbook(FIRST).read_bytes(), FIRST, dt.date(2025, 5, 28)))
    second = ingestor.ingest(document(workbook(SECOND).read_bytes(), SECOND, dt.date(2025, 5, 29)))
    assert second.status == "accepted" and second.reason is None
    return engine, second.snapshot_id


def test_the_same_rows_in_new_bytes_are_unchanged_without_cleaning_or_loading_a_row(two_lists, monkeypatch):
    engine, accepted = two_lists
    with monkeypatch.context() as patch:
        patch.setattr(pipeline.ingest, "normalise_table", must_not_run)
        patch.setattr(ListRepository, "current_agreements", must_not_run)
        early = Ingestor(engine).ingest(document(rezipped(SECOND, 1), "copy1.xlsx", dt.date(2025, 5, 30)))
    assert early.status == "unchanged" and f"same agreements as snapshot {accepted}" in early.reason

    # the same again the long way (rows cleaned, the list loaded): the same records
    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "_same_rows_as_current", lambda *_: None)
        full = Ingestor(engine).ingest(document(rezipped(SECOND, 9), "copy9.xlsx", dt.date(2025, 5, 30)))
    assert full.status == "unchanged"
    early_fields, early_events = recorded(engine, early.snapshot_id)
    assert (early_fields, early_events) == recorded(engine, full.snapshot_id)
    assert early_fields["same_as_id"] == accepted and early_events == []
    with Session(engine) as session:
        assert len(ListRepository(session).snapshots()) == 4   # one snapshot per ingest, nothing else


def test_other_rules_send_the_same_rows_the_long_way(two_lists, monkeypatch):
    engine, accepted = two_lists
    cleaned = []
    real = pipeline.ingest.normalise_table
    monkeypatch.setattr(pipeline.ingest, "normalise_table", lambda table: cleaned.append(1) or real(table))
    monkeypatch.setattr(pipeline.ingest, "rules_marker", lambda: "the cleaning rules of tomorrow")
    outcome = Ingestor(engine).ingest(document(rezipped(SECOND, 1), "copy.xlsx", dt.date(2025, 5, 30)))
    assert outcome.status == "unchanged" and cleaned == [1]


def test_the_same_rows_dated_before_the_list_are_still_quarantined(two_lists):
    engine, _ = two_lists
    outcome = Ingestor(engine).ingest(document(rezipped(SECOND, 1), "copy.xlsx", dt.date(2025, 5, 27)))
    assert outcome.status == "quarantined" and "older" in outcome.reason
