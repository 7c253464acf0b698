"""pipeline.reading: workbooks read ahead in a child process give the history an in-process
read gives, on real files; whatever the child cannot do is left to the ingest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import logging
import pickle
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from crawler.workbook import UnreadableWorkbook
from diff.normalise import normalise_table
from diff.records import SIGNED, RawRow, raw_table_hash
from pipeline.backfill import collect_files, plan_backfill, run_backfill
from pipeline.ingest import IncomingDocument, Ingestor, rules_marker
from pipeline.reading import ReadAhead, ReadDocument, RowTable, Source, _RowSender, read_in_child, read_table
from storage.database import create_database_engine, migrate, open_database
from storage.models import Snapshot
from tests.files import FIXTURES, PAGES, workbook

HISTORY = FIXTURES / "ice-287g-2025"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
# the history tables, without the columns that hold the time of writing
TABLES = ("snapshot", "agreement", "agreement_version", "agreement_key", "change_event")


def dated_history(count: int) -> list[Path]:
    """The first ``count`` dated files of the real 2025 history, in publication order."""
    files = [p for p in collect_files([HISTORY]) if parse_list_file_name(p.name).as_of is not None]
    return [planned.path for planned in plan_backfill(files, now=NOW)][:count]


def history_rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as connection:
        dump = {}
        for table in TABLES:
            columns = [row[1] for row in connection.execute(f"pragma table_info({table})")
                       if not row[1].endswith("_at")]
            dump[table] = connection.execute(f"select {', '.join(columns)} from {table} order by id").fetchall()
    return dump


def test_the_history_is_the_same_with_and_without_reading_ahead(tmp_path: Path) -> None:
    files = dated_history(40)
    dumps = []
    for read_ahead in (True, False):
        database = tmp_path / f"ahead-{read_ahead}.sqlite"
        engine = open_database(f"sqlite:///{database}")
        try:
            results = run_backfill(engine, plan_backfill(files, now=NOW), read_ahead=read_ahead)
        finally:
            engine.dispose()
        assert not [r.error for r in results if r.error]
        dumps.append(history_rows(database))
    with_child, in_process = dumps
    assert len(with_child["snapshot"]) == 40
    assert len(with_child["change_event"]) > 40         # real changes, not only first snapshots
    for table in TABLES:
        assert with_child[table] == in_process[table], table


def sources(paths: list[Path]) -> list[Source]:
    return [(p.read_bytes(), "html" if p.suffix == ".html" else "xlsx", None) for p in paths]


def test_each_document_read_ahead_is_what_the_read_stage_gives() -> None:
    paths = dated_history(6) + [PAGES / "ice_287g_2024_table.html", workbook("participatingAgencies05292025am.xlsx")]
    documents = sources(paths)
    with ReadAhead(len(documents), documents.__getitem__, depth=2, wait_for_start=True) as ahead:
        read = [ahead.get(index) for index in range(len(documents))]
    for (content, media, url), got in zip(documents, read):
        assert got is not None
        assert got.sha256 == hashlib.sha256(content).hexdigest()
        assert got.table == read_table(content, media, url)


def test_an_unreadable_document_is_left_to_the_ingest() -> None:
    documents = sources(dated_history(8))
    documents[3] = (b"PK\x03\x04 not a zip at all", "xlsx", None)
    with ReadAhead(len(documents), documents.__getitem__, wait_for_start=True) as ahead:
        read = [ahead.get(index) for index in range(len(documents))]
    assert read[3] is None
    assert all(r is not None for i, r in enumerate(read) if i != 3)
    with pytest.raises(UnreadableWorkbook) as raised:   # the ingest reads it again and records this
        read_table(*documents[3])
    assert raised.value.reason == "corrupt"


def test_a_child_that_dies_leaves_the_reading_to_the_ingest() -> None:
    documents = sources(dated_history(10))
    with ReadAhead(len(documents), documents.__getitem__, depth=1, wait_for_start=True) as ahead:
        assert ahead.get(0) is not None
        assert ahead._child is not None
        ahead._child.kill()
        ahead.get(1)                   # sent before the kill: its reply may have come
        assert [ahead.get(index) for index in range(2, len(documents))] == [None] * (len(documents) - 2)
        assert ahead._child is None    # stopped, not waiting on a dead child


def test_without_waiting_for_the_start_each_result_is_the_read_stages_or_none() -> None:
    # which documents the child reads in time depends on the machine: each one it gives is right
    documents = sources(dated_history(10))
    with ReadAhead(len(documents), documents.__getitem__) as ahead:
        read = [ahead.get(index) for index in range(len(documents))]
    for (content, media, url), got in zip(documents, read):
        assert got is None or got.table == read_table(content, media, url)


def test_too_few_documents_start_no_child() -> None:
    documents = sources(dated_history(3))
    with ReadAhead(len(documents), documents.__getitem__) as ahead:
        assert ahead._child is None
        assert ahead.get(0) is None


def test_the_ingest_reads_for_itself_when_the_read_ahead_is_of_other_bytes(tmp_path: Path) -> None:
    first, second = dated_history(2)
    other = ReadDocument(hashlib.sha256(second.read_bytes()).hexdigest(), read_table(second.read_bytes(), "xlsx"))
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    content = first.read_bytes()
    outcome = Ingestor(engine).ingest(IncomingDocument(
        content=content, file_name=first.name, declared_list=None, origin="backfill", as_of=dt.date(2025, 2, 21),
        as_of_basis="test", read_ahead=other))
    with Session(engine) as session:
        stored = session.scalars(select(Snapshot).where(Snapshot.id == outcome.snapshot_id)).one()
    expected = read_table(content, "xlsx")
    assert stored.row_count == len(expected.rows) != len(other.table.rows)
    engine.dispose()


def with_unreadable_hyperlink_ref(path: Path) -> bytes:
    """The workbook with its first hyperlink's ref made unreadable (the reader warns and
    ignores that link)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as edited:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<hyperlink ref="[A-Z]+[0-9]+"', b'<hyperlink ref="G3:?"', data, count=1)
            edited.writestr(info, data)
    return out.getvalue()


def test_what_the_reader_logs_in_the_child_is_logged_here(caplog: pytest.LogCaptureFixture) -> None:
    paths = dated_history(60)[50:58]
    documents = sources(paths)
    documents[2] = (with_unreadable_hyperlink_ref(paths[2]), "xlsx", None)
    assert read_table(*documents[2]) != read_table(*sources(paths[2:3])[0])   # the edit took
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crawler.workbook"):
        read_table(*documents[2])
    in_process = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert in_process and "G3:?" in in_process[0][2]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crawler.workbook"), \
            ReadAhead(len(documents), documents.__getitem__, wait_for_start=True) as ahead:
        read = [ahead.get(index) for index in range(len(documents))]
    assert all(r is not None for r in read)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == in_process


def test_the_child_reads_with_the_caps_it_is_given() -> None:
    documents = sources(dated_history(8))
    with pytest.raises(UnreadableWorkbook) as raised:
        read_table(*documents[0], max_rows=10)
    assert raised.value.reason == "too_many_rows"
    with ReadAhead(len(documents), documents.__getitem__, caps={"max_rows": 10}, wait_for_start=True) as capped:
        assert [capped.get(index) for index in range(len(documents))] == [None] * len(documents)


def sent_and_decoded(documents: list[Source], sender: _RowSender, rows: RowTable) -> list[ReadDocument]:
    """Each document read as the child reads it, and decoded here, through the pickle."""
    decoded = []
    for content, media, url in documents:
        reply = read_in_child((content, media, url, {}, "rules"), None, sender)
        assert reply is not None
        decoded.append(rows.decode(pickle.loads(reply)))
    return decoded


def test_rows_sent_once_give_the_table_the_read_stage_gives() -> None:
    paths = dated_history(12)
    documents = sources(paths + [paths[3], PAGES / "ice_287g_2024_table.html", paths[0]])
    # a small row table: the two sides start afresh together, several times
    for sender in (_RowSender(), _RowSender(limit=3000)):
        decoded = sent_and_decoded(documents, sender, RowTable())
        for (content, media, url), got in zip(documents, decoded):
            expected = read_table(content, media, url)
            assert got.sha256 == hashlib.sha256(content).hexdigest()
            assert got.table == expected
            assert got.raw_hash == raw_table_hash(got.table, "rules") == raw_table_hash(expected, "rules")
            assert got.rules == "rules"
            assert normalise_table(got.table) == normalise_table(expected)


def test_each_distinct_row_travels_once_and_is_shared() -> None:
    documents = sources(dated_history(6))
    sender = _RowSender()
    replies = [pickle.loads(read_in_child((*source, {}, None), None, sender) or b"") for source in documents]
    total = sum(len(reply.row_ids) for reply in replies)
    sent = sum(len(reply.new_rows) for reply in replies)
    assert sent < total / 2                       # the later lists repeat most rows of the first
    first_seen: dict[str, RawRow] = {}
    repeated = 0
    for document in sent_and_decoded(documents, _RowSender(), RowTable()):
        for row in document.table.rows:
            seen = first_seen.setdefault(repr((row.cells, row.links, row.extra)), row)
            assert seen.cells is row.cells and seen.links is row.links and seen.extra is row.extra
            repeated += seen is not row
    assert repeated > total / 2


def test_rows_equal_in_python_but_not_as_read_are_sent_apart() -> None:
    content, media, url = sources(dated_history(1))[0]
    table = read_table(content, media, url)
    row = table.rows[0]
    variants = [1, 1.0, True, 0.0, -0.0, "1", dt.datetime(2025, 5, 8), dt.date(2025, 5, 8)]
    rows = tuple(dataclasses.replace(row, row_number=row.row_number + index, cells={**row.cells, SIGNED: value})
                 for index, value in enumerate(variants))
    edited = dataclasses.replace(table, rows=rows)
    reply = _RowSender().encode("sha", edited, ())
    assert len(set(reply.row_ids)) == len(variants)
    got = RowTable().decode(reply)
    assert [repr(r.cells[SIGNED]) for r in got.table.rows] == [repr(v) for v in variants]
    assert raw_table_hash(got.table, "rules") == raw_table_hash(edited, "rules")


def test_a_reply_out_of_step_is_refused() -> None:
    first, second = sources(dated_history(2))
    sender = _RowSender()
    read_in_child((*first, {}, None), None, sender)       # its new rows never reach this side
    reply = read_in_child((*second, {}, None), None, sender)
    with pytest.raises(ValueError, match="out of step"):
        RowTable().decode(pickle.loads(reply or b""))


def test_the_childs_raw_hash_is_used_only_under_todays_rules(tmp_path: Path) -> None:
    first = dated_history(1)[0]
    content = first.read_bytes()
    table = read_table(content, "xlsx")
    stale = ReadDocument(hashlib.sha256(content).hexdigest(), table, raw_hash="0" * 64, rules="older rules")
    engine = create_database_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    outcome = Ingestor(engine).ingest(IncomingDocument(
        content=content, file_name=first.name, declared_list=None, origin="backfill", as_of=dt.date(2025, 2, 21),
        as_of_basis="test", read_ahead=stale))
    with Session(engine) as session:
        stored = session.scalars(select(Snapshot).where(Snapshot.id == outcome.snapshot_id)).one()
    assert stored.raw_hash == raw_table_hash(table, rules_marker())
    engine.dispose()
