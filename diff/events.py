"""Change-log entries, each with its evidence and a neutral summary: every event builder.

Builders are pure: they take plain values (the facts of a snapshot, an article, a figure, a
source) and return the columns of one ``change_event`` row as a mapping.  The pipeline turns
stored rows into these facts; nothing here knows the database.

Event kinds (a stable contract, documented in the README):
  list.first_snapshot     the first accepted snapshot of a list (no per-agreement events)
  list.columns_changed    the list gained or lost a column (its values are not reported as
                          changes of every agreement)
  list.reverted           one list undid a large share of an earlier list's changes
  agreement.added         an agreement appears on a list
  agreement.removed       an agreement is no longer on a list
  agreement.changed       one field of an agreement changed (field, old_value, new_value)
  agreement.renamed       proposed: a removed and an added agreement are one agency renamed
  agreement.promoted      an agreement newly participating was on the pending list
  data.duplicate_row      a list holds more than one row with the same key
  data.duplicate_resolved a further row with the same key is gone
  source.anomaly          a document failed or raised a check (reason in field)
  source.failed           a source failed N times in a row (diff.health)
  source.stale            no success of a source for too long (diff.health)
  source.recovered        the first success after either
  news.article            a new relevant article
  news.figure             each figure of a new relevant article
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diff.confirmation import BatchReversal
from diff.figures import FigureLink
from diff.guards import Anomaly
from diff.identity import FUZZY_NAME
from diff.metrics import ListMetrics
from diff.news import Relevance
from diff.normalise import Duplicate
from diff.records import MODEL_NAMES, Agreement
from diff.renames import Rename
from diff.rowdiff import FieldChange
from diff.transitions import Promotion

Event = dict[str, Any]   # the columns of one change_event row


@dataclass(frozen=True)
class SnapshotFacts:
    """What events say about the snapshot they belong to."""

    id: int
    list_name: str
    file_name: str | None
    source_url: str | None
    as_of: dt.date | None
    document_sha256: str | None = None
    declared_list: str | None = None
    agreements: int | None = None
    agencies: int | None = None
    states: int | None = None
    columns: Sequence[str] | None = None


@dataclass(frozen=True)
class DiffContext:
    snapshot: SnapshotFacts
    previous: SnapshotFacts
    previous_files: Mapping[str, str | None]   # key text → file the stored record was read from


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


def _base(snapshot: SnapshotFacts, kind: str, summary: str, **fields: Any) -> Event:
    return {
        "kind": kind,
        "list_name": snapshot.list_name,
        "snapshot_id": snapshot.id,
        "occurred_on": snapshot.as_of,
        "summary": summary,
        **fields,
    }


def _row_evidence(snapshot: SnapshotFacts, agreement: Agreement) -> dict[str, Any]:
    evidence = {"file": snapshot.file_name, "row": agreement.row_number, "url": snapshot.source_url}
    if agreement.moa_url:
        evidence["moa_url"] = agreement.moa_url
    return evidence


def _previous_evidence(context: DiffContext, agreement: Agreement) -> dict[str, Any]:
    return {
        "previous_file": context.previous.file_name,
        "previous_row": agreement.row_number,
        "previous_row_file": context.previous_files.get(agreement.key.as_text()),
    }


def first_snapshot(snapshot: SnapshotFacts) -> Event:
    return _base(
        snapshot, "list.first_snapshot",
        f"First {snapshot.list_name} list recorded: {snapshot.agreements} agreements, "
        f"{snapshot.agencies} agencies, {snapshot.states} states",
        new_value=text(snapshot.agreements),
        evidence={"file": snapshot.file_name, "url": snapshot.source_url, "sha256": snapshot.document_sha256},
    )


def columns_changed(snapshot: SnapshotFacts, previous: SnapshotFacts) -> Event:
    columns, previous_columns = snapshot.columns or (), previous.columns or ()
    gained = sorted(set(columns) - set(previous_columns))
    lost = sorted(set(previous_columns) - set(columns))
    parts = [f"new column{'s' if len(gained) > 1 else ''} {', '.join(c.upper() for c in gained)}"] if gained else []
    parts += [f"column{'s' if len(lost) > 1 else ''} {', '.join(c.upper() for c in lost)} gone"] if lost else []
    return _base(
        snapshot, "list.columns_changed", f"The {snapshot.list_name} list changed shape: {'; '.join(parts)}",
        old_value=", ".join(previous_columns), new_value=", ".join(columns),
        previous_snapshot_id=previous.id, evidence={"file": snapshot.file_name, "previous_file": previous.file_name},
    )


def added(context: DiffContext, agreement: Agreement) -> Event:
    signed = f", signed {agreement.signed.isoformat()}" if agreement.signed else ""
    return _base(
        context.snapshot, "agreement.added",
        f"Added on the {context.snapshot.list_name} list: {_who(agreement)}{signed}",
        subject_key=agreement.key.as_text(), state=agreement.key.state,
        new_value=agreement.agency, previous_snapshot_id=context.previous.id,
        evidence=_row_evidence(context.snapshot, agreement),
    )


def removed(context: DiffContext, agreement: Agreement) -> Event:
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


def changed(context: DiffContext, change: FieldChange) -> Event:
    label = change.field.replace("_", " ")
    return _base(
        context.snapshot, "agreement.changed",
        f"{_who(change.after)}: {label} {text(change.old) or '(blank)'} → {text(change.new) or '(blank)'}",
        subject_key=change.after.key.as_text(), state=change.after.key.state, field=change.field,
        old_value=text(change.old), new_value=text(change.new), previous_snapshot_id=context.previous.id,
        match_basis=change.basis,
        evidence={**_row_evidence(context.snapshot, change.after), **_previous_evidence(context, change.before),
                  **({"previous_key": change.before.key.as_text()} if change.before.key != change.after.key else {})},
    )


def renamed(context: DiffContext, rename: Rename) -> Event:
    return _base(
        context.snapshot, "agreement.renamed",
        f"Proposed rename ({rename.basis}): {rename.before.agency} → {rename.after.agency} "
        f"({rename.after.key.state}, {_model_name(rename.after)})",
        subject_key=rename.after.key.as_text(), state=rename.after.key.state, field="agency",
        old_value=rename.before.agency, new_value=rename.after.agency, previous_snapshot_id=context.previous.id,
        match_basis=FUZZY_NAME,
        evidence={**_row_evidence(context.snapshot, rename.after), **_previous_evidence(context, rename.before),
                  "previous_key": rename.before.key.as_text(), "score": rename.score, "basis": rename.basis},
    )


def promoted(context: DiffContext, promotion: Promotion) -> Event:
    after, before = promotion.participating, promotion.pending
    return _base(
        context.snapshot, "agreement.promoted",
        f"Moved from pending to participating: {_who(after)}",
        subject_key=after.key.as_text(), state=after.key.state,
        old_value="pending", new_value="participating", previous_snapshot_id=context.previous.id,
        evidence={**_row_evidence(context.snapshot, after), "pending_key": before.key.as_text(),
                  "pending_agency": before.agency, "basis": promotion.basis},
    )


def duplicate(snapshot: SnapshotFacts, found: Duplicate) -> Event:
    rows = ", ".join(str(r) for r in found.row_numbers)
    kind = "exact duplicates" if found.exact else "same agency, state and model with different details"
    return _base(
        snapshot, "data.duplicate_row",
        f"{len(found.row_numbers)} rows for {found.key.agency} ({found.key.state}, {found.key.model}): {kind}, "
        f"rows {rows}; all kept",
        subject_key=found.key.as_text(), state=found.key.state, field="exact" if found.exact else "differing",
        new_value=rows, evidence={"file": snapshot.file_name, "rows": list(found.row_numbers), "exact": found.exact},
    )


def anomaly(snapshot: SnapshotFacts, found: Anomaly) -> Event:
    action = "quarantined" if found.blocking else "recorded"
    return _base(
        snapshot, "source.anomaly", f"{snapshot.file_name or 'document'} ({found.reason}, {action}): {found.message}",
        field=found.reason, new_value=action,
        evidence={"file": snapshot.file_name, "url": snapshot.source_url, "sha256": snapshot.document_sha256,
                  "declared_list": snapshot.declared_list, "recorded_as": snapshot.list_name},
    )


# -- news ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArticleFacts:
    """A stored article, as its events tell it."""

    id: int
    title: str
    url: str
    canonical_url: str
    publisher: str | None
    published_at: dt.datetime | None
    dated_on: dt.date
    source: str


@dataclass(frozen=True)
class FigureFacts:
    """A stored figure an article reports."""

    id: int
    value: float
    unit: str
    counts: str
    scope: str
    state: str | None
    as_of_start: dt.date | None
    as_of_end: dt.date | None
    as_of_precision: str | None
    raw: str
    qualifier: str | None
    per: str | None
    change: bool
    sentence: str
    location: Mapping[str, Any]


@dataclass(frozen=True)
class MeasuredList:
    """The participating list a figure is set beside: its latest accepted snapshot."""

    snapshot_id: int | None
    snapshot_as_of: dt.date | None
    snapshot_file: str | None
    metrics: ListMetrics | None


def number_text(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def figure_text(unit: str, value: float | None) -> str:
    if unit == "USD":
        return f"${number_text(value)}"
    if unit == "percent":
        return f"{number_text(value)}%"
    return f"{number_text(value)} {unit}"


def _span(figure: FigureFacts) -> str:
    return f"{figure.as_of_start.isoformat() if figure.as_of_start else ''}/" \
           f"{figure.as_of_end.isoformat() if figure.as_of_end else ''}"


def _jsonable(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence is stored as JSON: dates as ISO text."""
    return {key: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
            for key, value in evidence.items()}


def article_event(article: ArticleFacts, about: Relevance, figures: int) -> Event:
    published = article.published_at.date().isoformat() if article.published_at else f"seen {article.dated_on}"
    states = {m.agency.state for m in about.agencies}
    return {
        "kind": "news.article",
        "occurred_on": article.dated_on,
        "subject_key": f"news:{article.id}",
        "state": states.pop() if len(states) == 1 else None,
        "new_value": article.title,
        "summary": f"News: \"{article.title}\" ({article.publisher or 'publisher not given'}, {published}); "
                   f"{figures} figure{'s' if figures != 1 else ''}",
        "evidence": _jsonable({
            "article_id": article.id, "url": article.url, "canonical_url": article.canonical_url,
            "publisher": article.publisher, "published": article.published_at, "source": article.source,
            "relevance": list(about.reasons), "figures": figures,
            "agencies": [{"state": m.agency.state, "agency": m.agency.agency, "ambiguous": m.ambiguous}
                         for m in about.agencies],
        }),
    }


def figure_event(article: ArticleFacts, figure: FigureFacts, link: FigureLink, listed: MeasuredList) -> Event:
    measured = None
    if link.measure is not None and listed.metrics is not None:
        measured = link.measure.read(listed.metrics)
    reported = figure_text(figure.unit, figure.value)
    parts = [f"{article.publisher or 'An article'} reports {figure.qualifier + ' ' if figure.qualifier else ''}"
             f"{reported} ({figure.counts}), {figure.scope}"]
    if figure.as_of_end:
        parts[0] += f", as of {figure.as_of_end.isoformat() if figure.as_of_precision == 'day' else _span(figure)}"
    if link.baseline_id:
        parts.append(f"baseline {link.baseline_id}: {figure_text(figure.unit, link.baseline_value)}"
                     f" as of {link.baseline_as_of}")
    if measured is not None and link.measure is not None:
        parts.append(f"participating list {listed.snapshot_as_of}: {number_text(measured)} "
                     f"({link.measure.describe()})")
    elif link.measure is not None:
        parts.append("no participating list recorded yet")
    shown = measured is not None
    return {
        "kind": "news.figure",
        "occurred_on": article.dated_on,
        "subject_key": f"news:{article.id}",
        "state": figure.state,
        "field": figure.unit,
        "old_value": None if link.baseline_value is None else number_text(link.baseline_value),
        "new_value": number_text(figure.value),
        "summary": "; ".join(parts),
        "evidence": _jsonable({
            "article_id": article.id, "figure_id": figure.id, "url": article.url, "publisher": article.publisher,
            "title": article.title, "raw": figure.raw, "value": figure.value, "unit": figure.unit,
            "counts": figure.counts, "scope": figure.scope, "qualifier": figure.qualifier, "per": figure.per,
            "change": figure.change, "as_of_start": figure.as_of_start, "as_of_end": figure.as_of_end,
            "as_of_precision": figure.as_of_precision, "sentence": figure.sentence, "location": figure.location,
            "baseline_id": link.baseline_id, "baseline_value": link.baseline_value,
            "baseline_as_of": link.baseline_as_of, "baseline_basis": link.basis,
            "measure": link.measure.describe() if link.measure else None, "measured": measured,
            "snapshot_id": listed.snapshot_id if shown else None,
            "snapshot_as_of": listed.snapshot_as_of if shown else None,
            "snapshot_file": listed.snapshot_file if shown else None,
        }),
    }


# -- source health ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFacts:
    id: str
    kind: str
    url: str


def source_event(kind: str, source: SourceFacts, summary: str, evidence: Mapping[str, Any],
                 now: dt.datetime) -> Event:
    """``source.failed``, ``source.stale`` or ``source.recovered`` (see diff.health)."""
    return {
        "kind": kind, "subject_key": source.id, "field": source.kind, "summary": summary,
        "occurred_on": now.date(), "recorded_at": now,
        "evidence": {"source": source.id, "url": source.url,
                     **{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in evidence.items()}},
    }


def source_failed(source: SourceFacts, failures: int, detail: str | None, run_id: int, now: dt.datetime) -> Event:
    return source_event("source.failed", source,
                        f"{source.id} failed {failures} times in a row: {(detail or '')[:300]}",
                        {"consecutive_failures": failures, "last_error": detail, "run_id": run_id}, now)


def source_recovered(source: SourceFacts, outcome: str, after_failures: int, last_success: dt.datetime | None,
                     run_id: int, now: dt.datetime) -> Event:
    return source_event("source.recovered", source, f"{source.id} fetched successfully again ({outcome})",
                        {"after_failures": after_failures, "last_success_before": last_success, "run_id": run_id}, now)


def source_stale(source: SourceFacts, since: dt.datetime, stale_after: dt.timedelta,
                 last_success: dt.datetime | None, last_error: str | None, now: dt.datetime) -> Event:
    return source_event("source.stale", source,
                        f"No successful fetch of {source.id} since {since:%Y-%m-%d %H:%M} UTC "
                        f"(threshold {stale_after.total_seconds() / 3600:g} h)",
                        {"last_success_at": last_success, "last_error": last_error}, now)


# -- confirmation -------------------------------------------------------------------------------

def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _days_earlier(snapshot: SnapshotFacts, earlier: SnapshotFacts) -> str:
    if snapshot.as_of is None or earlier.as_of is None:
        return "earlier"
    days = (snapshot.as_of - earlier.as_of).days
    return "the same day" if days == 0 else "a day earlier" if days == 1 else f"{days} days earlier"


def list_reverted(snapshot: SnapshotFacts, earlier: SnapshotFacts, batch: BatchReversal) -> Event:
    """One list undoing much of an earlier one (diff.confirmation.batch_reversals)."""
    undone, made = batch.undone, batch.made
    parts = []
    if undone.get("agreement.added"):
        parts.append(f"withdrew {_count(undone['agreement.added'], 'agreement', 'agreements')} it had listed")
    if undone.get("agreement.removed"):
        parts.append(f"listed again {_count(undone['agreement.removed'], 'agreement', 'agreements')} it had removed")
    if undone.get("agreement.changed"):
        parts.append(f"undid {_count(undone['agreement.changed'], 'field change', 'field changes')} it had made")
    counts = ", ".join(f"{n} of {made.get(kind, n)} {kind.split('.')[1]}" for kind, n in sorted(undone.items()))
    return _base(
        snapshot, "list.reverted",
        f"ICE {' and '.join(parts)} {_days_earlier(snapshot, earlier)}: the {snapshot.list_name} list "
        f"{snapshot.file_name} undoes {counts} of {earlier.file_name} ({earlier.as_of})",
        old_value=text(earlier.as_of), new_value=str(batch.total_undone), previous_snapshot_id=earlier.id,
        evidence={"file": snapshot.file_name, "reverted_file": earlier.file_name,
                  "reverted_snapshot_id": earlier.id, "undone": dict(undone), "made": dict(made)},
    )
