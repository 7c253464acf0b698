"""The diff stage end to end on the real ICE workbooks, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.limits import ReadLimits
from pipeline.backfill import plan_backfill, run_backfill
from pipeline.ingest import IncomingDocument, IngestOptions, Ingestor
from storage.events import EventFilter, EventRepository
from storage.lists import ListRepository
from storage.models import AgreementVersion, ChangeEvent, Document, Snapshot
from tests.files import WORKBOOKS, workbook


def data_rows(path) -> list[list]:
    """Independent reading: calamine, first sheet, header in row 1, rows with any non-blank cell."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return [r for r in rows[1:] if any(str(c).strip() for c in r)]


def document(name: str, **overrides) -> IncomingDocument:
    path = workbook(name)
    fields = dict(content=path.read_bytes(), file_name=name, declared_list=name.split("Agencies")[0].lower(),
                  origin="backfill", as_of=dt.date(2025, 5, 28), as_of_basis="test")
    fields.update(overrides)
    return IncomingDocument(**fields)


def snapshots_by_file(session) -> dict[str, Snapshot]:
    return {s.file_name: s for s in ListRepository(session).snapshots()}


@pytest.fixture
def backfilled(backfilled_engine, backfill_results):
    """The session's backfill of the 22 real workbooks (conftest), this test's own copy."""
    return backfilled_engine, backfill_results


def test_backfill_of_every_real_workbook(backfilled):
    engine, results = backfilled
    assert len(results) == 22
    with Session(engine) as session:
        by_file = snapshots_by_file(session)
        assert len(by_file) == 22
        for path in sorted(WORKBOOKS.glob("*/*.xlsx")):
            snapshot = by_file[path.name]
            # every snapshot, whatever its status, counts exactly the file's data rows
            assert snapshot.agreements == len(data_rows(path)), path.name

        swapped_participating = by_file["participatingAgencies09222025pm.xlsx"]
        assert (swapped_participating.list_name, swapped_participating.status) == ("pending", "accepted")
        swapped_pending = by_file["pendingAgencies09222025pm.xlsx"]
        assert swapped_pending.list_name == "participating"
        assert swapped_pending.status in ("accepted", "unchanged")
        empty = by_file["pendingAgencies11142025pm.xlsx"]
        assert (empty.status, empty.agreements) == ("quarantined", 0)
        assert "no rows" in empty.reason

        special = {swapped_participating.id, swapped_pending.id, empty.id}
        events = session.scalars(select(ChangeEvent).where(ChangeEvent.snapshot_id.in_(special))).all()
        kinds = Counter((e.snapshot_id, e.kind, e.field) for e in events)
        assert kinds[(swapped_participating.id, "source.anomaly", "swapped")] == 1
        assert kinds[(swapped_pending.id, "source.anomaly", "swapped")] == 1
        assert kinds[(empty.id, "source.anomaly", "empty")] == 1
        assert not [e for e in events if e.kind == "agreement.removed" and e.list_name == "participating"]
        # the 1,000-row participating list filed as pending removes nothing from either list
        removed_by_swap = [e for e in events if e.kind == "agreement.removed" and e.snapshot_id == swapped_pending.id]
        assert removed_by_swap == []


def test_the_year_typo_file_is_placed_in_january_2026(backfilled):
    engine, _ = backfilled
    with Session(engine) as session:
        by_file = snapshots_by_file(session)
        typo = by_file["participatingAgencies01052025pm.xlsx"]
        assert typo.as_of == dt.date(2026, 1, 5)
        assert typo.previous_id == by_file["participatingAgencies12312025am.xlsx"].id


def test_running_the_same_backfill_twice_records_nothing_new(backfilled):
    engine, _ = backfilled
    with Session(engine) as session:
        before = (session.scalar(select(func.count(ChangeEvent.id))), session.scalar(select(func.count(Snapshot.id))),
                  session.scalar(select(func.count(AgreementVersion.id))))
    again = run_backfill(engine, plan_backfill([WORKBOOKS]))
    assert {r.outcome.status for r in again} == {"already_recorded"}
    with Session(engine) as session:
        after = (session.scalar(select(func.count(ChangeEvent.id))), session.scalar(select(func.count(Snapshot.id))),
                 session.scalar(select(func.count(AgreementVersion.id))))
    assert after == before


_LINKS: dict[str, dict[int, str]] = {}


def _link(name: str, row: int) -> str | None:
    """The MOA cell's hyperlink target as openpyxl reads it (an independent reader)."""
    if name not in _LINKS:
        import openpyxl

        sheet = openpyxl.load_workbook(workbook(name)).worksheets[0]
        _LINKS[name] = {cell.row: cell.hyperlink.target for cell in sheet["G"] if cell.hyperlink}
    return _LINKS[name].get(row)


def _simple(name: str) -> str:
    kept = "".join(ch for ch in name.upper().replace("'", "") if ch.isalnum() or ch == " ")
    return " ".join(kept.split())


def _independent_key(row) -> tuple:
    return str(row[0]).strip().upper(), _simple(str(row[1])), str(row[4]).strip().split()[0].upper()


def test_change_log_between_two_consecutive_mornings_matches_an_independent_count(engine):
    first, second = "participatingAgencies05282025am.xlsx", "participatingAgencies05292025am.xlsx"
    ingestor = Ingestor(engine)
    ingestor.ingest(document(first, as_of=dt.date(2025, 5, 28)))
    outcome = ingestor.ingest(document(second, as_of=dt.date(2025, 5, 29)))
    assert outcome.status == "accepted"

    old = {_independent_key(r): r + [_link(first, n)] for n, r in enumerate(data_rows(workbook(first)), start=2)}
    new = {_independent_key(r): r + [_link(second, n)] for n, r in enumerate(data_rows(workbook(second)), start=2)}
    expected_added, expected_removed = new.keys() - old.keys(), old.keys() - new.keys()
    # TYPE, COUNTY and SIGNED compared as plain text after trimming, MOA by its hyperlink target
    expected_changes = Counter()
    for key in old.keys() & new.keys():
        for column, field in ((2, "agency_type"), (3, "county"), (5, "signed"), (7, "moa")):
            if str(old[key][column]).strip() != str(new[key][column]).strip():
                expected_changes[field] += 1

    with Session(engine) as session:
        events = EventRepository(session).events(EventFilter(list_name="participating"))
        log = [e for e in events if e.snapshot_id == outcome.snapshot_id]
    kinds = Counter(e.kind for e in log)
    # Independently: 8 keys appear and 1 disappears.  The diff pairs the one that disappeared
    # with its new spelling as a proposed rename, so 7 agreements are added (635 - 628).
    assert (len(expected_added), len(expected_removed)) == (8, 1)
    assert kinds["agreement.added"] + kinds["agreement.renamed"] == len(expected_added)
    assert kinds["agreement.removed"] + kinds["agreement.renamed"] == len(expected_removed)
    assert kinds["agreement.added"] == 7 and kinds["agreement.renamed"] == 1
    [rename] = [e for e in log if e.kind == "agreement.renamed"]
    assert _simple(rename.old_value) == [k[1] for k in expected_removed][0]
    assert _simple(rename.new_value) in {k[1] for k in expected_added}
    added_names = {_simple(e.new_value) for e in log if e.kind == "agreement.added"}
    assert added_names == {k[1] for k in expected_added} - {_simple(rename.new_value)}
    changed = Counter(e.field for e in log if e.kind == "agreement.changed")
    for field in ("agency_type", "county", "signed", "moa"):
        assert changed[field] == expected_changes[field], field
    for event in log:
        if event.kind == "agreement.added":
            assert event.evidence["file"] == second and event.evidence["row"] >= 2


def test_same_agreements_in_other_bytes_are_unchanged(engine):
    """Re-saved (new bytes, same agreements): parsed, then recorded as unchanged."""
    import io

    import openpyxl

    name = "participatingAgencies05292025am.xlsx"
    resaved = io.BytesIO()
    openpyxl.load_workbook(workbook(name)).save(resaved)
    assert resaved.getvalue() != workbook(name).read_bytes()
    ingestor = Ingestor(engine)
    ingestor.ingest(document(name))
    outcome = ingestor.ingest(document(name, content=resaved.getvalue(), file_name="participatingAgencies.xlsx",
                                       as_of=dt.date(2025, 5, 30)))
    assert outcome.status == "unchanged" and "same agreements as snapshot" in outcome.reason


def test_same_list_under_a_new_name_is_unchanged(engine):
    ingestor = Ingestor(engine)
    ingestor.ingest(document("participatingAgencies05292025am.xlsx"))
    outcome = ingestor.ingest(document("participatingAgencies05292025am.xlsx", file_name="participatingAgencies.xlsx",
                                       as_of=dt.date(2025, 5, 30)))
    assert outcome.status == "unchanged" and "same file as snapshot" in outcome.reason
    with Session(engine) as session:
        assert session.scalar(select(func.count(Document.sha256))) == 1
        assert EventRepository(session).events(EventFilter(kinds=("agreement.added", "agreement.removed"))) == []


def test_a_truncated_download_is_quarantined_and_kept(engine):
    ingestor = Ingestor(engine)
    ingestor.ingest(document("participatingAgencies05282025am.xlsx"))
    content = workbook("participatingAgencies05292025am.xlsx").read_bytes()
    outcome = ingestor.ingest(document("participatingAgencies05292025am.xlsx", content=content[: len(content) // 2],
                                       as_of=dt.date(2025, 5, 29)))
    assert outcome.status == "quarantined"
    with Session(engine) as session:
        repo = ListRepository(session)
        snapshot = repo.snapshot(outcome.snapshot_id)
        assert repo.document_content(snapshot.document_sha256) == content[: len(content) // 2]
        kinds = [e.kind for e in EventRepository(session).events() if e.snapshot_id == outcome.snapshot_id]
        assert kinds == ["source.anomaly"]
        assert repo.last_accepted("participating").file_name == "participatingAgencies05282025am.xlsx"


def test_a_crash_mid_ingest_leaves_no_snapshot_and_a_retry_gives_the_same_log(engine, monkeypatch):
    ingestor = Ingestor(engine)
    ingestor.ingest(document("participatingAgencies05282025am.xlsx"))

    def crash(self, events):
        raise RuntimeError("power cut while writing events")

    with monkeypatch.context() as patch:
        patch.setattr(EventRepository, "add_events", crash)
        with pytest.raises(RuntimeError):
            ingestor.ingest(document("participatingAgencies05292025am.xlsx", as_of=dt.date(2025, 5, 29)))
    with Session(engine) as session:
        assert [s.file_name for s in ListRepository(session).snapshots()] == ["participatingAgencies05282025am.xlsx"]
    outcome = Ingestor(engine).ingest(document("participatingAgencies05292025am.xlsx", as_of=dt.date(2025, 5, 29)))
    assert outcome.status == "accepted" and outcome.counts["added"] == 7


def test_an_older_file_after_a_newer_one_is_not_diffed(engine):
    ingestor = Ingestor(engine)
    ingestor.ingest(document("participatingAgencies05292025am.xlsx", as_of=dt.date(2025, 5, 29)))
    outcome = ingestor.ingest(document("participatingAgencies05282025am.xlsx", as_of=dt.date(2025, 5, 28)))
    assert outcome.status == "quarantined" and "older" in outcome.reason


def test_a_drop_beyond_the_threshold_is_quarantined_not_removed(engine):
    ingestor = Ingestor(engine)
    ingestor.ingest(document("participatingAgencies05142026am.xlsx", as_of=dt.date(2026, 5, 14)))
    outcome = ingestor.ingest(document("participatingAgencies07012025pm.xlsx", as_of=dt.date(2026, 5, 15)))
    assert outcome.status == "quarantined" and "drop" in outcome.reason
    with Session(engine) as session:
        assert EventRepository(session).events(EventFilter(kinds=("agreement.removed",))) == []


def test_two_ingestors_on_one_database_never_diff_against_a_stale_state(engine):
    """The service and a manual backfill may share a database: each ingest re-reads what
    another one wrote since (the in-memory state is only a cache)."""
    service, manual = Ingestor(engine), Ingestor(engine)
    service.ingest(document("participatingAgencies05282025am.xlsx", as_of=dt.date(2025, 5, 28)))
    manual.ingest(document("participatingAgencies05292025am.xlsx", as_of=dt.date(2025, 5, 29)))
    outcome = service.ingest(document("participatingAgencies07012025pm.xlsx", as_of=dt.date(2025, 7, 1)))
    with Session(engine) as session:
        repo = ListRepository(session)
        snapshot = repo.snapshot(outcome.snapshot_id)
        assert snapshot.previous_id == repo.last_accepted("participating").previous_id
        added_then = {e.subject_key for e in EventRepository(session).events(EventFilter(kinds=("agreement.added",)))
                      if e.occurred_on == dt.date(2025, 5, 29)}
        added_now = {e.subject_key for e in EventRepository(session).events(EventFilter(kinds=("agreement.added",)))
                     if e.snapshot_id == outcome.snapshot_id}
    assert len(added_then) == 7 and not (added_then & added_now)


def test_a_snapshot_accepted_despite_an_anomaly_says_why(backfilled):
    engine, _ = backfilled
    with Session(engine) as session:
        by_file = snapshots_by_file(session)
    assert "holds the pending list" in by_file["participatingAgencies09222025pm.xlsx"].reason
    assert "holds the participating list" in by_file["pendingAgencies09222025pm.xlsx"].reason
    assert by_file["participatingAgencies05292025am.xlsx"].reason is None


def test_a_list_longer_than_the_row_cap_is_quarantined_with_the_reason_not_removed(engine):
    ingestor = Ingestor(engine)
    first = ingestor.ingest(document("participatingAgencies05282025am.xlsx"))
    capped = Ingestor(engine, IngestOptions(limits=ReadLimits(max_rows=100)))
    outcome = capped.ingest(document("participatingAgencies05292025am.xlsx", as_of=dt.date(2025, 5, 29)))
    assert outcome.status == "quarantined"
    assert "beyond the row cap (100 rows" in outcome.reason
    with Session(engine) as session:
        events = [e for e in EventRepository(session).events() if e.snapshot_id == outcome.snapshot_id]
        assert [(e.kind, e.field) for e in events] == [("source.anomaly", "unreadable:too_many_rows")]
        assert EventRepository(session).events(EventFilter(kinds=("agreement.removed",))) == []
        assert ListRepository(session).last_accepted("participating").id == first.snapshot_id
    # the same file under the default cap is read and diffed
    outcome = Ingestor(engine).ingest(document("participatingAgencies05292025am.xlsx", file_name="copy.xlsx",
                                               as_of=dt.date(2025, 5, 29)))
    assert outcome.status == "accepted" and outcome.counts["added"] == 7
