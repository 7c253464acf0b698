"""The guards, promotions and artefacts on ICE's real history, February to August 2025.

The 315 workbooks of tests/fixtures/ice-287g-2025 (every list the archives kept for those
months, see its SOURCES.md) are backfilled once for this module, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from pipeline.backfill import BackfillResult, collect_files, plan_backfill, run_backfill
from storage.database import create_database_engine, open_database
from storage.models import ChangeEvent, Snapshot
from tests.commands import changes
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


@pytest.fixture(scope="module")
def history(module_db_url: str) -> Iterator[Session]:
    """A session on the backfilled history (read only: tests must not write)."""
    yield from _session(module_db_url)


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
    # a removal seen on the pending list before the participating list promoted the agreement is
    # reverted, linked to the promotion
    promotions = {e.id: e for e in history.scalars(select(ChangeEvent).where(ChangeEvent.kind == "agreement.promoted"))}
    explained = [e for e in removed if e.linked_event_id in promotions]
    assert explained and all(e.status == "reverted" for e in explained)
    assert all(promotions[e.linked_event_id].evidence["pending_key"] == e.subject_key for e in explained)
    promoted_on: dict[str, list[dt.date]] = {}
    for p in promotions.values():
        promoted_on.setdefault(p.evidence["pending_key"], []).append(p.occurred_on)
    unexplained = [e for e in removed if e.status != "reverted" and any(
        e.occurred_on <= day <= e.occurred_on + dt.timedelta(days=6) for day in promoted_on.get(e.subject_key, ()))]
    assert unexplained == []


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


# -- confirmation ---------------------------------------------------------------------------------

def test_the_early_listing_of_2025_08_02_is_one_list_reverted(history):
    listed = snapshot(history, "participatingAgencies08022025pm.xlsx")
    withdrawn = snapshot(history, "participatingAgencies08042025pm.xlsx")
    [batch] = [e for e in events_of(history, withdrawn.id) if e.kind == "list.reverted"]
    # 08-02pm added 89 keys; 4 of them are re-spellings of a board of county commissioners
    # (Escambia, Gulf, Okaloosa, Pasco: "… Board of County Commissioners" → "… /Department of
    # Corrections", "… /Detention Facility", "… / Pasco County Corrections"), which identity
    # tier 2 continues as one agreement (an agency change, not a removal and an addition).
    # That leaves 85 additions, 74 of which 08-04pm withdrew.
    assert batch.summary.startswith("ICE withdrew 74 agreements it had listed")
    assert "2 days earlier" in batch.summary
    assert (batch.evidence["file"], batch.evidence["reverted_file"]) == (withdrawn.file_name, listed.file_name)
    assert batch.evidence["undone"]["agreement.added"] == 74 and batch.evidence["made"]["agreement.added"] == 85
    # of its 101 field changes 83 were undone: 76, and 7 re-spellings spelt back (the 4 boards,
    # and Flathead (MT), Lexington (SC), Waukesha (WI) "Sheriff's Office" ↔ "Sheriff's Department"),
    # each one agreement under two keys, paired by agreement id
    assert batch.evidence["undone"]["agreement.changed"] == 83 and batch.evidence["made"]["agreement.changed"] == 101
    # each withdrawn addition and its removal: both kept, marked reverted, linked to each other
    added = [e for e in events_of(history, listed.id) if e.kind == "agreement.added"]
    removals = {e.id: e for e in events_of(history, withdrawn.id) if e.kind == "agreement.removed"}
    reverted = [e for e in added if e.status == "reverted" and e.linked_event_id in removals]
    assert len(reverted) == 74
    for e in reverted:
        back = removals[e.linked_event_id]
        assert (back.status, back.linked_event_id, back.subject_key) == ("reverted", e.id, e.subject_key)
        assert e.occurred_on == dt.date(2025, 8, 2) and e.status_changed_at is not None   # first seen kept
    # of the 11 additions ICE kept, 10 were confirmed and one undone by a later list
    assert Counter(e.status for e in added) == {"reverted": 75, "confirmed": 10}
    assert [e.occurred_on for e in history.scalars(select(ChangeEvent).where(
        ChangeEvent.kind == "list.reverted", ChangeEvent.list_name == "participating"))] == [dt.date(2025, 8, 4)]


def test_every_confirmable_event_is_settled_or_still_in_its_window(history):
    statuses = Counter((e.kind, e.status) for e in history.scalars(select(ChangeEvent).where(
        ChangeEvent.kind.in_(("agreement.added", "agreement.removed", "agreement.changed")))))
    assert statuses[("agreement.removed", "confirmed")] > 0 and statuses[("agreement.removed", "reverted")] > 0
    last = max(s.as_of for s in history.scalars(select(Snapshot)) if s.as_of)
    window = dt.timedelta(days=7)
    open_events = history.scalars(select(ChangeEvent).where(ChangeEvent.status == "provisional")).all()
    # what is still provisional at the end of the history is at most a week old
    assert all(e.occurred_on > last - window - dt.timedelta(days=7) for e in open_events)
    # other kinds are facts about files, not changes awaiting confirmation
    assert {e.status for e in history.scalars(select(ChangeEvent).where(
        ChangeEvent.kind.in_(("source.anomaly", "list.reverted", "list.first_snapshot"))))} == {"confirmed"}


def test_changes_filters_by_status(history):
    url = history.get_bind().url.render_as_string(hide_password=False)
    everything = changes(url)
    by_status = {status: changes(url, "--status", status) for status in ("provisional", "confirmed", "reverted")}
    assert sum(len(rows) for rows in by_status.values()) == len(everything) == len(changes(url, "--status", "all"))
    for status, rows in by_status.items():
        assert rows and {r["status"] for r in rows} == {status}
    # a reverted change and the change that undid it are both reverted, each naming the other; a
    # pending removal that was a promotion names the promotion
    reverted = {r["id"]: r for r in by_status["reverted"]}
    kinds = {r["id"]: r["kind"] for r in everything}
    assert all(r["linked_event_id"] in reverted or kinds[r["linked_event_id"]] == "agreement.promoted"
               for r in reverted.values())
