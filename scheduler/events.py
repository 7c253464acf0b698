"""Change-log entries, built from diff results, each with its evidence and a neutral summary.

Event kinds (a stable contract, documented in the README):
  list.first_snapshot     the first accepted snapshot of a list (no per-agreement events)
  list.columns_changed    the list gained or lost a column (its values are not reported as
                          changes of every agreement)
  agreement.added         an agreement appears on a list
  agreement.removed       an agreement is no longer on a list
  agreement.changed       one field of an agreement changed (field, old_value, new_value)
  agreement.renamed       proposed: a removed and an added agreement are one agency renamed
  agreement.promoted      an agreement newly participating was on the pending list
  data.duplicate_row      a list holds more than one row with the same key
  data.duplicate_resolved a further row with the same key is gone
  source.anomaly          a document failed or raised a check (reason in field)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from diff.guards import Anomaly
from diff.normalise import Duplicate
from diff.records import MODEL_NAMES, Agreement
from diff.renames import Rename
from diff.rowdiff import FieldChange
from diff.transitions import Promotion
from storage.models import Snapshot


@dataclass(frozen=True)
class DiffContext:
    snapshot: Snapshot
    previous: Snapshot
    previous_file: Callable[[str], str | None]   # key text → file the stored record was read from


def text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _model_name(agreement: Agreement) -> str:
    return MODEL_NAMES.get(agreement.key.model, "unknown support model")


def _who(agreement: Agreement) -> str:
    return f"{agreement.agency} ({agreement.key.state}, {_model_name(agreement)})"


def _base(snapshot: Snapshot, kind: str, summary: str, **fields) -> dict:
    return {
        "kind": kind,
        "list_name": snapshot.list_name,
        "snapshot_id": snapshot.id,
        "occurred_on": snapshot.as_of,
        "summary": summary,
        **fields,
    }


def _row_evidence(snapshot: Snapshot, agreement: Agreement) -> dict:
    evidence = {"file": snapshot.file_name, "row": agreement.row_number, "url": snapshot.source_url}
    if agreement.moa_url:
        evidence["moa_url"] = agreement.moa_url
    return evidence


def _previous_evidence(context: DiffContext, agreement: Agreement) -> dict:
    return {
        "previous_file": context.previous.file_name,
        "previous_row": agreement.row_number,
        "previous_row_file": context.previous_file(agreement.key.as_text()),
    }


def first_snapshot(snapshot: Snapshot) -> dict:
    return _base(
        snapshot, "list.first_snapshot",
        f"First {snapshot.list_name} list recorded: {snapshot.agreements} agreements, "
        f"{snapshot.agencies} agencies, {snapshot.states} states",
        new_value=text(snapshot.agreements),
        evidence={"file": snapshot.file_name, "url": snapshot.source_url, "sha256": snapshot.document_sha256},
    )


def columns_changed(snapshot: Snapshot, previous: Snapshot) -> dict:
    gained = sorted(set(snapshot.columns) - set(previous.columns))
    lost = sorted(set(previous.columns) - set(snapshot.columns))
    parts = ([f"new column{'s' if len(gained) > 1 else ''} {', '.join(c.upper() for c in gained)}"] if gained else []) + (
        [f"column{'s' if len(lost) > 1 else ''} {', '.join(c.upper() for c in lost)} gone"] if lost else [])
    return _base(
        snapshot, "list.columns_changed", f"The {snapshot.list_name} list changed shape: {'; '.join(parts)}",
        old_value=", ".join(previous.columns), new_value=", ".join(snapshot.columns),
        previous_snapshot_id=previous.id, evidence={"file": snapshot.file_name, "previous_file": previous.file_name},
    )


def added(context: DiffContext, agreement: Agreement) -> dict:
    signed = f", signed {agreement.signed.isoformat()}" if agreement.signed else ""
    return _base(
        context.snapshot, "agreement.added",
        f"Added on the {context.snapshot.list_name} list: {_who(agreement)}{signed}",
        subject_key=agreement.key.as_text(), state=agreement.key.state,
        new_value=agreement.agency, previous_snapshot_id=context.previous.id,
        evidence=_row_evidence(context.snapshot, agreement),
    )


def removed(context: DiffContext, agreement: Agreement) -> dict:
    duplicate = agreement.key.occurrence > 1
    return _base(
        context.snapshot,
        "data.duplicate_resolved" if duplicate else "agreement.removed",
        (f"A further row for {_who(agreement)} is gone" if duplicate
         else f"No longer on the {context.snapshot.list_name} list: {_who(agreement)}"),
        subject_key=agreement.key.as_text(), state=agreement.key.state,
        old_value=agreement.agency, previous_snapshot_id=context.previous.id,
        evidence={"file": context.snapshot.file_name, "url": context.snapshot.source_url,
                  **_previous_evidence(context, agreement)},
    )


def changed(context: DiffContext, change: FieldChange) -> dict:
    label = change.field.replace("_", " ")
    return _base(
        context.snapshot, "agreement.changed",
        f"{_who(change.after)}: {label} {text(change.old) or '(blank)'} → {text(change.new) or '(blank)'}",
        subject_key=change.after.key.as_text(), state=change.after.key.state, field=change.field,
        old_value=text(change.old), new_value=text(change.new), previous_snapshot_id=context.previous.id,
        evidence={**_row_evidence(context.snapshot, change.after), **_previous_evidence(context, change.before)},
    )


def renamed(context: DiffContext, rename: Rename) -> dict:
    return _base(
        context.snapshot, "agreement.renamed",
        f"Proposed rename ({rename.basis}): {rename.before.agency} → {rename.after.agency} "
        f"({rename.after.key.state}, {_model_name(rename.after)})",
        subject_key=rename.after.key.as_text(), state=rename.after.key.state, field="agency",
        old_value=rename.before.agency, new_value=rename.after.agency, previous_snapshot_id=context.previous.id,
        evidence={**_row_evidence(context.snapshot, rename.after), **_previous_evidence(context, rename.before),
                  "previous_key": rename.before.key.as_text(), "score": rename.score, "basis": rename.basis},
    )


def promoted(context: DiffContext, promotion: Promotion) -> dict:
    after, before = promotion.participating, promotion.pending
    return _base(
        context.snapshot, "agreement.promoted",
        f"Moved from pending to participating: {_who(after)}",
        subject_key=after.key.as_text(), state=after.key.state,
        old_value="pending", new_value="participating", previous_snapshot_id=context.previous.id,
        evidence={**_row_evidence(context.snapshot, after), "pending_key": before.key.as_text(),
                  "pending_agency": before.agency, "basis": promotion.basis},
    )


def duplicate(snapshot: Snapshot, found: Duplicate) -> dict:
    rows = ", ".join(str(r) for r in found.row_numbers)
    kind = "exact duplicates" if found.exact else "same agency, state and model with different details"
    return _base(
        snapshot, "data.duplicate_row",
        f"{len(found.row_numbers)} rows for {found.key.agency} ({found.key.state}, {found.key.model}): {kind}, rows {rows}; all kept",
        subject_key=found.key.as_text(), state=found.key.state, field="exact" if found.exact else "differing",
        new_value=rows, evidence={"file": snapshot.file_name, "rows": list(found.row_numbers), "exact": found.exact},
    )


def anomaly(snapshot: Snapshot, found: Anomaly) -> dict:
    action = "quarantined" if found.blocking else "recorded"
    return _base(
        snapshot, "source.anomaly", f"{snapshot.file_name or 'document'} ({found.reason}, {action}): {found.message}",
        field=found.reason, new_value=action,
        evidence={"file": snapshot.file_name, "url": snapshot.source_url, "sha256": snapshot.document_sha256,
                  "declared_list": snapshot.declared_list, "recorded_as": snapshot.list_name},
    )
