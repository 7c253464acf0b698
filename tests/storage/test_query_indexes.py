"""The change log's reader indexes (migration 0012): present after migrate on SQLite and
PostgreSQL, and chosen by SQLite's planner for the readers' queries (bench/queries.py times
them at a million events)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from storage.events import EventFilter, event_query
from storage.lists import ListRepository

READER_INDEXES = {
    "ix_event_occurred_on": ["occurred_on", "id"],
    "ix_event_state_date": ["state", "occurred_on", "id"],
    "ix_event_status_date": ["status", "occurred_on", "id"],
}


def test_the_reader_indexes_exist_after_migrate(engine):
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("change_event")}
    assert {name: indexes.get(name) for name in READER_INDEXES} == READER_INDEXES
    # the state-only index is the first column of the state-and-day one: not kept twice
    assert "ix_change_event_state" not in indexes
    versions = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("agreement_version")}
    assert versions.get("ix_version_agreement_name") == ["agreement_id", "agency", "present", "id"]


def _plan(engine, query) -> str:
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        return " | ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


@pytest.mark.parametrize(("where", "index"), [
    (EventFilter(state="TX", since=dt.date(2025, 6, 1)), "ix_event_state_date"),
    (EventFilter(statuses=("provisional",)), "ix_event_status_date"),
    (EventFilter(since=dt.date(2025, 6, 1)), "ix_event_occurred_on"),
    (EventFilter(), "ix_event_occurred_on"),
])
def test_sqlite_reads_the_log_in_order_through_an_index(engine, where, index):
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL chooses by its statistics (bench/queries.py --explain)")
    plan = _plan(engine, event_query(where))
    assert index in plan
    assert "TEMP B-TREE" not in plan      # no sort of the whole selection


def test_the_last_accepted_snapshots_are_chosen_by_the_database(engine):
    with Session(engine) as session:
        repo = ListRepository(session)
        made = {}
        for list_name, day, status in [("participating", dt.date(2025, 5, 1), "accepted"),
                                       ("participating", dt.date(2025, 6, 1), "accepted"),
                                       ("participating", dt.date(2025, 6, 2), "quarantined"),
                                       ("pending", dt.date(2025, 5, 15), "accepted"),
                                       ("participating", dt.date(2025, 8, 1), "accepted")]:
            made[(list_name, day)] = repo.insert_snapshot(list_name=list_name, file_name=f"{list_name}{day}.xlsx",
                                                       origin="backfill", status=status, as_of=day).id
        assert {k: s.id for k, s in repo.last_accepted_each(dt.date(2025, 7, 1)).items()} == {
            "participating": made[("participating", dt.date(2025, 6, 1))],
            "pending": made[("pending", dt.date(2025, 5, 15))]}
        assert {k: s.id for k, s in repo.last_accepted_each().items()} == {
            "participating": made[("participating", dt.date(2025, 8, 1))],
            "pending": made[("pending", dt.date(2025, 5, 15))]}
        assert repo.last_accepted_each(dt.date(2025, 4, 30)) == {}


def test_names_over_time_are_ordered_by_their_last_listing(engine):
    """A name given again moves to the end; removals, blanks and other agreements do not count."""
    from sqlalchemy import insert

    from storage.models import Agreement, AgreementVersion, Snapshot

    with Session(engine) as session:
        snapshot = ListRepository(session).insert_snapshot(list_name="participating", file_name="a.xlsx",
                                                        origin="backfill", status="accepted",
                                                        as_of=dt.date(2025, 5, 1)).id
        for agreement_id in (1, 2):
            session.execute(insert(Agreement).values(id=agreement_id, list_name="participating", key=f"TX|A{agreement_id}|JEM",
                                                     state="TX", agency_key=f"A{agreement_id}", model="JEM",
                                                     first_snapshot_id=snapshot))
        spellings = [(1, "St Johns", True), (2, "Other", True), (1, "St. Johns", True), (1, "", True),
                     (1, "St Johns", True), (1, "Gone Name", False), (1, None, True)]
        for agreement_id, agency, present in spellings:
            session.execute(insert(AgreementVersion).values(agreement_id=agreement_id, snapshot_id=snapshot,
                                                            present=present, agency=agency))
        assert session.get(Snapshot, snapshot) is not None
        assert ListRepository(session).agreement_names([1, 2, 3]) == {1: ["St. Johns", "St Johns"], 2: ["Other"]}
