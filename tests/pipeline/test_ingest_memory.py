"""What an Ingestor keeps between ingests (each list's last accepted snapshot, the list as it
stands, the list's provisional events) only saves reading them again: the real workbooks
ingested one after another by one Ingestor give the very history that a fresh Ingestor per
document gives, which reads all of it from the database."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from pipeline.backfill import plan_backfill, run_backfill
from storage.database import open_database
from storage.models import Agency, Agreement, AgreementKeyLabel, AgreementVersion, ChangeEvent, Snapshot, table_of
from tests.files import WORKBOOKS

WALL_CLOCK = {"recorded_at", "status_changed_at"}


def history(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the lists' history, without the wall-clock columns."""
    tables = {}
    with engine.connect() as connection:
        for model in (Snapshot, Agreement, AgreementVersion, AgreementKeyLabel, Agency, ChangeEvent):
            table = table_of(model)
            columns = [c for c in table.columns if c.name not in WALL_CLOCK]
            tables[table.name] = [tuple(row) for row in connection.execute(select(*columns).order_by(table.c.id))]
    return tables


def test_one_ingestor_records_what_a_fresh_ingestor_per_document_records(tmp_path: Path):
    plan = plan_backfill([WORKBOOKS])
    kept = open_database(f"sqlite:///{tmp_path / 'kept.sqlite'}")
    fresh = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    try:
        run_backfill(kept, plan, read_ahead=False)                 # one Ingestor for all
        for planned in plan:
            run_backfill(fresh, [planned], read_ahead=False)       # a new Ingestor each time
        remembered, read_again = history(kept), history(fresh)
    finally:
        kept.dispose()
        fresh.dispose()
    assert remembered == read_again
    # the memory had something to get wrong: lists compared, changes made provisional, then
    # confirmed or reverted
    status = [c.name for c in table_of(ChangeEvent).columns if c.name not in WALL_CLOCK].index("status")
    statuses = Counter(row[status] for row in remembered["change_event"])
    assert len(remembered["snapshot"]) == len(plan) and len(remembered["agreement_version"]) > 1000
    assert statuses["confirmed"] and statuses["provisional"] and statuses["reverted"], statuses
