"""pipeline.backfill on files of ICE's continuous history: publication order within a day,
undated names, and files that cannot be dated or read (the others are imported all the same)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.backfill import plan_backfill, run_backfill
from storage.models import ChangeEvent, Snapshot
from tests.files import FIXTURES

HISTORY = FIXTURES / "ice-287g-history"
JULY_11 = sorted(p for p in HISTORY.glob("*/*.xlsx") if "0710" in p.name or "0711" in p.name)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def undone(session: Session, list_name: str) -> list[tuple[str, str, str, str]]:
    """Events of one snapshot that the next snapshot of the list undoes: an addition then a
    removal of the same key (or the reverse), a field changed and changed back."""
    snapshots = session.scalars(select(Snapshot).where(Snapshot.list_name == list_name, Snapshot.status == "accepted")
                                .order_by(Snapshot.id)).all()
    events = session.scalars(select(ChangeEvent).where(ChangeEvent.list_name == list_name)).all()
    by_snapshot: dict[int, list[ChangeEvent]] = {}
    for event in events:
        by_snapshot.setdefault(event.snapshot_id, []).append(event)
    opposite = {"agreement.added": "agreement.removed", "agreement.removed": "agreement.added"}
    found = []
    for first, then in zip(snapshots, snapshots[1:]):
        later = by_snapshot.get(then.id, [])
        for event in by_snapshot.get(first.id, []):
            for other in later:
                same_key = other.subject_key == event.subject_key
                if same_key and opposite.get(event.kind) == other.kind or (
                        same_key and event.kind == other.kind == "agreement.changed" and event.field == other.field
                        and (event.old_value, event.new_value) == (other.new_value, other.old_value)):
                    found.append((first.file_name, event.kind, then.file_name, event.subject_key))
    return found


def test_the_plan_puts_an_edition_after_its_morning_file():
    plan = plan_backfill(JULY_11, now=NOW)
    assert [p.path.name for p in plan] == [
        "pendingAgencies07102025pm.xlsx",
        "participatingAgencies07112025am.xlsx",
        "pendingAgencies07112025am.xlsx",
        "pendingAgencies07112025am_b.xlsx",
        "participatingAgencies07112025pm.xlsx",
        "pendingAgencies07112025pm.xlsx",
    ]


def test_the_am_b_edition_of_2025_07_11_produces_no_event_the_next_file_undoes(engine):
    plan = plan_backfill(JULY_11, now=NOW)
    results = run_backfill(engine, plan)
    assert [r.outcome.status for r in results] == ["accepted"] * 6
    with Session(engine) as session:
        assert undone(session, "pending") == []
        kinds = {(e.kind, e.subject_key) for e in session.scalars(select(ChangeEvent)).all()
                 if e.list_name == "pending" and e.kind.startswith("agreement.")}
    assert ("agreement.added", "PA|GREENE TOWNSHIP CONSTABLESS OFFICE|TFM") in kinds


def test_read_after_the_afternoon_the_edition_undoes_it(engine):
    # The order the name rule gave before: the edition after pm.  The check above can fail.
    plan = plan_backfill(JULY_11, now=NOW)
    edition = next(p for p in plan if p.name.edition == "b")
    run_backfill(engine, [p for p in plan if p is not edition] + [edition])
    with Session(engine) as session:
        assert len(undone(session, "pending")) == 5   # the afternoon's five additions removed again


def test_an_undated_name_takes_the_workbook_metadata_date_and_a_copy_follows_its_original(engine):
    files = [HISTORY / "pending" / name for name in
             ("pendingAgencies06112025pm copy.xlsx", "pendingAgencies.xlsx", "pendingAgencies06112025pm.xlsx")]
    plan = plan_backfill(files, now=NOW)
    assert [(p.path.name, p.as_of, p.as_of_basis) for p in plan] == [
        ("pendingAgencies.xlsx", dt.date(2025, 2, 20), "workbook metadata (docProps/core.xml: saved 2025-02-20T16:27:52Z)"),
        ("pendingAgencies06112025pm.xlsx", dt.date(2025, 6, 11), "file name"),
        ("pendingAgencies06112025pm copy.xlsx", dt.date(2025, 6, 11), "file name"),
    ]
    results = run_backfill(engine, plan)
    assert [r.outcome.status for r in results] == ["accepted", "accepted", "unchanged"]
    with Session(engine) as session:
        undated = session.scalars(select(Snapshot).where(Snapshot.file_name == "pendingAgencies.xlsx")).one()
        assert (undated.as_of, undated.as_of_basis) == (dt.date(2025, 2, 20), plan[0].as_of_basis)


def without_metadata(source: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename != "docProps/core.xml":
                new.writestr(info, old.read(info))
    return out.getvalue()


def test_a_file_that_cannot_be_dated_or_read_does_not_stop_the_others(engine, tmp_path):
    undatable = tmp_path / "a" / "pendingAgencies.xlsx"
    undatable.parent.mkdir()
    undatable.write_bytes(without_metadata(HISTORY / "pending" / "pendingAgencies.xlsx"))
    damaged = tmp_path / "pendingAgencies07092025pm.xlsx"
    damaged.write_bytes((HISTORY / "pending" / "pendingAgencies07102025pm.xlsx").read_bytes()[:5000])
    plan = plan_backfill([undatable, damaged, *JULY_11], now=NOW)
    assert plan[0].as_of is None and "no date" in plan[0].as_of_basis
    results = run_backfill(engine, plan)
    by_name = {r.planned.path.name: r for r in results}
    assert by_name["pendingAgencies.xlsx"].outcome is None and "--as-of" in by_name["pendingAgencies.xlsx"].error
    assert by_name["pendingAgencies07092025pm.xlsx"].outcome.status == "quarantined"
    assert [r.outcome.status for r in results[2:]] == ["accepted"] * 6
