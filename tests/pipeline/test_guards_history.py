"""A quarantine never blocks the lists after it: the second consistent list re-establishes the
baseline, with an event saying so (real workbook, cut short twice)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.workbook import read_workbook
from pipeline.ingest import IncomingDocument, Ingestor
from storage.models import ChangeEvent
from tests.files import workbook

NAME = "participatingAgencies05282025am.xlsx"


def cut(rows: int, day: int, name: str) -> IncomingDocument:
    """The real 628-row list with only its first ``rows`` rows, as if ICE published that."""
    table = read_workbook(workbook(NAME).read_bytes())
    return IncomingDocument(content=f"{name}:{rows}".encode(), file_name=name, declared_list="participating",
                            origin="backfill", as_of=dt.date(2025, 6, day), as_of_basis="test", media="table",
                            table=dataclasses.replace(table, rows=table.rows[:rows]))


def test_two_consistent_lists_after_a_quarantine_re_establish_the_baseline(engine):
    ingestor = Ingestor(engine)
    full = ingestor.ingest(cut(628, 1, "full.xlsx"))
    first = ingestor.ingest(cut(300, 2, "cut1.xlsx"))
    assert (full.status, first.status) == ("accepted", "quarantined")
    second = ingestor.ingest(cut(305, 3, "cut2.xlsx"))
    assert second.status == "accepted"
    assert second.counts["removed"] == 628 - 305
    with Session(engine) as session:
        notes = session.scalars(select(ChangeEvent).where(ChangeEvent.snapshot_id == second.snapshot_id,
                                                          ChangeEvent.kind == "source.anomaly")).all()
        assert sorted((e.field, e.new_value) for e in notes) == [("baseline_reset", "recorded"),
                                                                 ("row_drop", "recorded")]
        [reset] = [e for e in notes if e.field == "baseline_reset"]
        assert f"snapshot {first.snapshot_id} (cut1.xlsx, 300 rows)" in reset.summary
    # a list inconsistent with both stays quarantined
    assert ingestor.ingest(cut(100, 4, "cut3.xlsx")).status == "quarantined"
