"""The ingest stages on real workbooks, without a database: read, classify, check and diff are
plain functions, and the diff needs nothing but what was loaded before it (DiffInputs)."""

from __future__ import annotations

import datetime as dt

from diff import events as ev
from diff.guards import DEFAULT_THRESHOLDS
from pipeline.ingest import (
    DiffInputs,
    IncomingDocument,
    check_document,
    classify_document,
    diff_document,
    list_events,
    read_document,
)
from storage.lists import StoredAgreement
from tests.files import workbook

FIRST, SECOND = "participatingAgencies05282025am.xlsx", "participatingAgencies05292025am.xlsx"


def document(name: str, declared: str = "participating") -> IncomingDocument:
    return IncomingDocument(content=workbook(name).read_bytes(), file_name=name, declared_list=declared,
                            origin="backfill", as_of=dt.date(2025, 5, 29), as_of_basis="test")


def test_read_classify_check_diff_and_events_without_a_database():
    before = classify_document(read_document(document(FIRST)), {})
    state = {a.key.as_text(): StoredAgreement(n, a, 1) for n, a in enumerate(before.agreements, start=1)}
    doc = document(SECOND, declared="pending")                      # named as the other list
    found = classify_document(read_document(doc), {"participating": state, "pending": {}})
    assert found.list_name == "participating"

    anomalies = check_document(doc, found, None, DEFAULT_THRESHOLDS["participating"])
    assert [(a.reason, a.blocking) for a in anomalies] == [("swapped", False)]

    inputs = DiffInputs(current=state, previous_files=dict.fromkeys(state, FIRST), aliases=frozenset(),
                            recent_pending=[])
    result = diff_document(found, before.columns, inputs, rename_threshold=90.0)
    assert (len(result.changes.added), len(result.changes.removed), len(result.changes.renamed)) == (7, 0, 1)

    snapshot = ev.SnapshotFacts(id=2, list_name="participating", file_name=SECOND, source_url=None,
                                as_of=dt.date(2025, 5, 29), columns=found.columns)
    previous = ev.SnapshotFacts(id=1, list_name="participating", file_name=FIRST, source_url=None,
                                as_of=dt.date(2025, 5, 28), columns=before.columns)
    events = list_events(snapshot, previous, anomalies, inputs, result)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "source.anomaly" and kinds.count("agreement.added") == 7
    [renamed] = [e for e in events if e["kind"] == "agreement.renamed"]
    assert renamed["evidence"]["previous_row_file"] == FIRST and renamed["snapshot_id"] == 2
