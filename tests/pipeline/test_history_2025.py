"""The guards, promotions and artefacts on ICE's real history, February to August 2025.

The 315 workbooks of tests/fixtures/ice-287g-2025 (every list the archives kept for those
months, see its SOURCES.md) are backfilled once for this module, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from pipeline.backfill import BackfillResult, collect_files, plan_backfill, run_backfill
from storage.database import create_database_engine, open_database
from storage.models import ChangeEvent, Snapshot
from tests.conftest import _postgres_schema, _require_postgres
from tests.files import FIXTURES

HISTORY = FIXTURES / "ice-287g-2025"


def backfill_history(url: str) -> list[BackfillResult]:
    # names without a date (pendingAgencies.xlsx) are another part of issue 10: left out here
    files = [p for p in collect_files([HISTORY]) if parse_list_file_name(p.name).as_of is not None]
    engine = open_database(url)
    try:
        return run_backfill(engine, plan_backfill(files))
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A session on the backfilled history (read only: tests must not write)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.sqlite'}"
        yield from _session(url)
        return
    _require_postgres()
    with _postgres_schema() as url:
        yield from _session(url)


def _session(url: str) -> Iterator[Session]:
    results = backfill_history(url)
    assert not [r.error for r in results if r.error]
    engine = create_database_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def snapshot(session: Session, file_name: str) -> Snapshot:
    found = session.scalars(select(Snapshot).where(Snapshot.file_name == file_name)).all()
    assert len(found) == 1, file_name
    return found[0]


def events_of(session: Session, snapshot_id: int) -> list[ChangeEvent]:
    return list(session.scalars(select(ChangeEvent).where(ChangeEvent.snapshot_id == snapshot_id)))


def test_the_hyperlink_less_archive_copy_is_one_anomaly(history):
    copy = snapshot(history, "participatingAgencies-20250301180751.xlsx")
    events = events_of(history, copy.id)
    assert [(e.kind, e.field, e.new_value) for e in events] == [("source.anomaly", "links_missing", "recorded")]
    assert "carried forward" in events[0].summary
    # the links carried forward, the copy is the list as it stood; the next file adds nothing back
    assert copy.status == "unchanged"
    after = snapshot(history, "participatingAgencies-20250301234621.xlsx")
    assert not [e for e in events_of(history, after.id) if e.kind == "agreement.changed"]


def test_no_pending_list_is_quarantined_for_promotions(history):
    quarantined = history.scalars(
        select(Snapshot).where(Snapshot.list_name == "pending", Snapshot.status == "quarantined")).all()
    assert [s.file_name for s in quarantined] == []
    # 2025-08-29: 58 of 78 pending agreements moved to the participating list on the same day
    promoted_day = snapshot(history, "pendingAgencies08292025pm.xlsx")
    assert (promoted_day.status, promoted_day.agreements) == ("accepted", 20)
    removed = {e.subject_key for e in events_of(history, promoted_day.id) if e.kind == "agreement.removed"}
    participating = snapshot(history, "participatingAgencies08292025pm.xlsx")
    promoted = {(e.evidence or {})["pending_key"] for e in events_of(history, participating.id)
                if e.kind == "agreement.promoted"}
    assert len(promoted) == 55
    # the promoted agreements left the pending list as promotions, not as removals
    assert len(removed) == 4
    assert not removed & promoted


def test_pending_removals_are_not_promotions(history):
    removed = history.scalars(select(ChangeEvent).where(
        ChangeEvent.list_name == "pending", ChangeEvent.kind == "agreement.removed")).all()
    on_participating = history.scalars(select(ChangeEvent).where(
        ChangeEvent.list_name == "participating", ChangeEvent.kind.in_(("agreement.added", "agreement.removed")))
        .order_by(ChangeEvent.snapshot_id)).all()

    def listed_as_participating(key: str, before_snapshot: int) -> bool:
        last = [e.kind for e in on_participating if e.subject_key == key and e.snapshot_id < before_snapshot]
        return bool(last) and last[-1] == "agreement.added"

    # a pending removal of an agreement on the participating list at that moment is a promotion
    # told twice
    told_twice = [e.subject_key for e in removed if listed_as_participating(e.subject_key, e.snapshot_id)]
    assert told_twice == []
    assert len(removed) < 200      # 574 before promotions were told apart


def test_an_old_file_served_again_is_a_stale_copy(history):
    stale = snapshot(history, "participatingAgencies04212025am.xlsx")
    original = snapshot(history, "participatingAgencies03062025am.xlsx")
    assert stale.status == "quarantined"
    [anomaly] = events_of(history, stale.id)
    assert (anomaly.kind, anomaly.field) == ("source.anomaly", "stale_copy")
    assert f"same content as snapshot {original.id} from 2025-03-06" in anomaly.summary
    # the list that followed is compared with the real last list, not with the stale copy
    quarantined = history.scalars(select(Snapshot).where(Snapshot.status == "quarantined")).all()
    assert [s.file_name for s in quarantined] == ["participatingAgencies04212025am.xlsx"]
