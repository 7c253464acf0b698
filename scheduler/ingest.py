"""Ingest one published document: read → classify → check → diff → store, in one transaction.

Whatever happens, a document either becomes one complete snapshot (accepted, unchanged or
quarantined, with its events) or leaves no trace: a crash rolls the transaction back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.html_table import parse_list_tables
from crawler.workbook import UnreadableWorkbook, read_workbook
from diff.guards import DEFAULT_THRESHOLDS, Anomaly, Thresholds, check_contract, check_row_count, classify
from diff.metrics import compute_metrics
from diff.normalise import normalise_table
from diff.records import Agreement, SourceTable
from diff.rowdiff import REPORTED_FIELDS, ListDiff, content_hash, diff_lists
from diff.transitions import find_promotions
from scheduler import events as ev
from storage.models import Snapshot
from storage.events import EventRepository
from storage.lists import ListRepository
from storage.lists import StoredAgreement
from storage.review import ReviewRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingDocument:
    """A document as it arrived, with what we know about where it came from."""

    content: bytes
    file_name: str | None
    declared_list: str | None          # what the file name or link says it is
    origin: str                        # backfill | crawl
    as_of: dt.date | None
    as_of_basis: str | None
    source_url: str | None = None
    fetch_id: int | None = None
    media: str = "xlsx"                # xlsx | html | table (``table`` already parsed)
    table: SourceTable | None = None


@dataclass(frozen=True)
class IngestOutcome:
    status: str                        # accepted | unchanged | quarantined | already_recorded
    snapshot_id: int | None
    list_name: str | None
    reason: str | None = None
    events: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestOptions:
    thresholds: Mapping[str, Thresholds] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    rename_threshold: float = 90.0


class Ingestor:
    """Ingests documents one after another, keeping each list's current state in memory.

    The cache is only an optimisation for long backfills: it is rebuilt from the database
    after any failure, so the result never depends on it.
    """

    def __init__(self, engine: Engine, options: IngestOptions | None = None) -> None:
        self.engine = engine
        self.options = options or IngestOptions()
        # list -> (id of the accepted snapshot the state reflects, state by key text)
        self._current: dict[str, tuple[int | None, dict[str, StoredAgreement]]] = {}
        self._file_names: dict[int, str | None] = {}

    def ingest(self, document: IncomingDocument) -> IngestOutcome:
        log.info("ingesting %s (%d bytes)", document.file_name or document.source_url, len(document.content))
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                outcome, new_state = self._ingest(ListRepository(session), document)
        except BaseException:
            self._current.clear()
            raise
        if new_state is not None:
            list_name, state = new_state
            self._current[list_name] = (outcome.snapshot_id, state)
        log.info("ingested %s: %s as %s%s", document.file_name or document.source_url, outcome.status,
                 outcome.list_name, f" ({outcome.reason})" if outcome.reason else "")
        return outcome

    # -- steps ---------------------------------------------------------------------------------
    def _ingest(self, repo: ListRepository, doc: IncomingDocument):
        repo.take_ingest_lock()
        sha256 = hashlib.sha256(doc.content).hexdigest()
        recorded = repo.find_recorded(sha256, doc.file_name)
        if recorded is not None:
            return IngestOutcome("already_recorded", recorded.id, recorded.list_name, "this file was ingested before"), None
        repo.ensure_document(sha256, doc.content, doc.file_name)
        same_bytes = self._same_bytes_as_current(repo, sha256)
        base = dict(
            declared_list=doc.declared_list, file_name=doc.file_name, source_url=doc.source_url,
            origin=doc.origin, as_of=doc.as_of, as_of_basis=doc.as_of_basis, document_sha256=sha256,
            fetch_id=doc.fetch_id,
        )
        if same_bytes is not None:
            # The very bytes of a list as it stands, under another name: one hash, no parsing.
            anomalies = _swap(doc.declared_list, same_bytes.list_name, "it is byte for byte that list's last file")
            snapshot = repo.add_snapshot(
                **base, list_name=same_bytes.list_name, content_hash=same_bytes.content_hash, status="unchanged",
                columns=same_bytes.columns, row_count=same_bytes.row_count, agreements=same_bytes.agreements,
                agencies=same_bytes.agencies, states=same_bytes.states, metrics=same_bytes.metrics,
                reason="; ".join([f"same file as snapshot {same_bytes.id} ({same_bytes.file_name})",
                                  *(a.message for a in anomalies)]),
                previous_id=same_bytes.id, same_as_id=same_bytes.id,
            )
            events = [ev.anomaly(snapshot, a) for a in anomalies]
            EventRepository(repo.session).add_events(events)
            return IngestOutcome("unchanged", snapshot.id, snapshot.list_name, snapshot.reason, len(events)), None
        try:
            table = self._read(doc)
        except UnreadableWorkbook as error:
            anomaly = Anomaly(f"unreadable:{error.reason}", f"the file cannot be read as a list: {error}", True)
            return self._quarantine(repo, doc, base, doc.declared_list or "unknown", None, [anomaly]), None
        base["columns"] = sorted({c for c in table.columns if c})

        agreements_list = normalise_table(table)
        agreements = agreements_list.agreements
        classification = classify(table, self._overlap(repo, agreements))
        list_name = classification.list_name
        if list_name is None:
            anomaly = Anomaly("unrecognised", f"not a 287(g) list: {classification.reason}", True)
            return self._quarantine(repo, doc, base, doc.declared_list or "unknown", agreements, [anomaly]), None

        anomalies = _swap(doc.declared_list, list_name, classification.reason)
        anomalies += check_contract(list_name, table)
        previous = repo.last_accepted(list_name)
        if previous is not None and doc.as_of and previous.as_of and doc.as_of < previous.as_of:
            anomalies.append(Anomaly(
                "out_of_order",
                f"dated {doc.as_of}, older than the last accepted {list_name} list "
                f"({previous.file_name}, {previous.as_of}); kept but not compared",
                blocking=True,
            ))
        anomalies += check_row_count(
            list_name, len(agreements), previous.agreements if previous else None, self.options.thresholds[list_name]
        )
        if any(a.blocking for a in anomalies):
            return self._quarantine(repo, doc, base, list_name, agreements, anomalies, previous), None

        fingerprint = content_hash(agreements)
        metrics = compute_metrics(agreements)
        counts_fields = _count_fields(metrics, len(agreements))
        if previous is not None and previous.content_hash == fingerprint:
            snapshot = repo.add_snapshot(
                **base, **counts_fields, list_name=list_name, content_hash=fingerprint, status="unchanged",
                reason="; ".join([f"same agreements as snapshot {previous.id} ({previous.file_name})",
                                  *(a.message for a in anomalies)]),
                previous_id=previous.id, same_as_id=previous.id,
            )
            events = [ev.anomaly(snapshot, a) for a in anomalies]
            EventRepository(repo.session).add_events(events)
            return IngestOutcome("unchanged", snapshot.id, list_name, snapshot.reason, len(events)), None

        current = self._current_state(repo, list_name)
        snapshot = repo.add_snapshot(
            **base, **counts_fields, list_name=list_name, content_hash=fingerprint, status="accepted",
            reason="; ".join(a.message for a in anomalies) or None,
            previous_id=previous.id if previous else None,
        )
        self._file_names[snapshot.id] = snapshot.file_name
        new_index = {a.key.as_text(): a for a in agreements}
        shared_columns = set(base["columns"]) & set(previous.columns or ()) if previous else set(base["columns"])
        changes = diff_lists(
            {k: s.record for k, s in current.items()}, new_index, rename_threshold=self.options.rename_threshold,
            fields=[f for f, column in REPORTED_FIELDS.items() if column in shared_columns],
            aliases=ReviewRepository(repo.session).confirmed_aliases(list_name),
        )
        ids = self._write_versions(repo, list_name, snapshot, current, new_index, changes)
        events = self._events(repo, snapshot, previous, current, changes, agreements_list, anomalies)
        EventRepository(repo.session).add_events(events)
        # The cache mirrors the database: what stayed the same keeps its stored version.
        revised = {after.key.as_text() for _, after in changes.revised}
        new_state = {
            k: current[k] if k in current and k not in revised else StoredAgreement(ids[k], a, snapshot.id)
            for k, a in new_index.items()
        }
        counts = {"agreements": len(agreements)}
        if previous is not None:  # a first snapshot has nothing to differ from
            counts.update(added=len(changes.added), removed=len(changes.removed),
                          changed=len(changes.changed), renamed=len(changes.renamed))
        return IngestOutcome("accepted", snapshot.id, list_name, None, len(events), counts), (list_name, new_state)

    @staticmethod
    def _same_bytes_as_current(repo: ListRepository, sha256: str):
        """The last accepted snapshot of a list, if it was made from exactly these bytes."""
        for list_name in ("participating", "pending"):
            last = repo.last_accepted(list_name)
            if last is not None and last.document_sha256 == sha256:
                return last
        return None

    def _read(self, doc: IncomingDocument) -> SourceTable:
        if doc.table is not None:
            return doc.table
        if doc.media == "html":
            tables = parse_list_tables(doc.content, doc.source_url or "https://www.ice.gov/")
            if not tables:
                raise UnreadableWorkbook("no_list_table", "the page holds no 287(g) list table")
            return tables[0]
        return read_workbook(doc.content)

    def _overlap(self, repo: ListRepository, agreements: Sequence[Agreement]) -> dict[str, float]:
        if not agreements:
            return {}
        keys = {a.key.as_text() for a in agreements}
        overlap = {}
        for list_name in ("participating", "pending"):
            current = self._current_state(repo, list_name)
            overlap[list_name] = len(keys & current.keys()) / len(keys) if current else 0.0
        return overlap

    def _current_state(self, repo: ListRepository, list_name: str) -> dict[str, StoredAgreement]:
        """The list after its last accepted snapshot; the cache is used only while it is that
        snapshot's (another process may have ingested meanwhile)."""
        last_id = repo.last_accepted_id(list_name)
        cached = self._current.get(list_name)
        if cached is None or cached[0] != last_id:
            cached = self._current[list_name] = (last_id, repo.current_agreements(list_name))
        return cached[1]

    def _quarantine(self, repo, doc, base, list_name, agreements, anomalies, previous: Snapshot | None = None):
        fields = _count_fields(compute_metrics(agreements), len(agreements)) if agreements is not None else {}
        reason = "; ".join(a.message for a in anomalies if a.blocking)
        snapshot = repo.add_snapshot(
            **base, **fields, list_name=list_name, status="quarantined", reason=reason,
            content_hash=content_hash(agreements) if agreements is not None else None,
            previous_id=previous.id if previous else None,
        )
        events = [ev.anomaly(snapshot, a) for a in anomalies]
        EventRepository(repo.session).add_events(events)
        log.info("quarantined %s as %s: %s", doc.file_name, list_name, reason)
        return IngestOutcome("quarantined", snapshot.id, list_name, reason, len(events))

    def _write_versions(self, repo, list_name, snapshot, current, new_index, changes: ListDiff) -> dict[str, int]:
        updated = {current[after.key.as_text()].agreement_id: after for _, after in changes.revised}
        appeared = [new_index[k] for k in new_index.keys() - current.keys()]
        gone = [current[k].agreement_id for k in current.keys() - new_index.keys()]
        ids = repo.write_versions(list_name, snapshot.id, appeared, updated, gone)
        ids.update((k, s.agreement_id) for k, s in current.items() if k in new_index)
        return ids

    def _events(self, repo, snapshot, previous, current, changes: ListDiff, agreements_list, anomalies) -> list[dict]:
        events = [ev.anomaly(snapshot, a) for a in anomalies]
        if previous is None:
            events.append(ev.first_snapshot(snapshot))
        else:
            if previous.columns is not None and set(previous.columns) != set(snapshot.columns):
                events.append(ev.columns_changed(snapshot, previous))
            def previous_file(key: str) -> str | None:
                snapshot_id = current[key].version_snapshot_id
                if snapshot_id not in self._file_names:
                    found = repo.snapshot(snapshot_id)
                    self._file_names[snapshot_id] = found.file_name if found else None
                return self._file_names[snapshot_id]

            context = ev.DiffContext(snapshot, previous, previous_file)
            # further rows with a known key are reported once, as duplicates, below
            events += [ev.added(context, a) for a in changes.added if a.key.occurrence == 1]
            events += [ev.removed(context, a) for a in changes.removed]
            events += [ev.changed(context, c) for c in changes.changed]
            events += [ev.renamed(context, r) for r in changes.renamed]
            if snapshot.list_name == "participating" and changes.added:
                pending = self._current_state(repo, "pending")
                recent = [s.record for s in pending.values()] + repo.removed_in_last_accepted("pending")
                events += [ev.promoted(context, p) for p in find_promotions(changes.added, recent)]
        known = {k for k in current}
        events += [ev.duplicate(snapshot, d) for d in agreements_list.duplicates if _duplicate_is_new(d, known)]
        return events


def _swap(declared: str | None, actual: str, why: str) -> list[Anomaly]:
    """A non-blocking anomaly when a document holds another list than its name or link says."""
    if not declared or declared == actual:
        return []
    return [Anomaly("swapped", f"published as the {declared} list but holds the {actual} list ({why}); "
                               f"recorded as the {actual} list", blocking=False)]


def _duplicate_is_new(duplicate, known_keys: set[str]) -> bool:
    """Report a duplicate once: when a further occurrence of its key first appears."""
    base = duplicate.key.as_text()
    return any(f"{base}|#{n}" not in known_keys for n in range(2, len(duplicate.row_numbers) + 1))


def _count_fields(metrics, rows: int) -> dict:
    data = metrics.to_dict()
    return {
        "row_count": rows,
        "agreements": data["agreements"],
        "agencies": data["agencies"],
        "states": data["states"],
        "metrics": data,
    }
