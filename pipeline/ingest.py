"""Ingest one published document: read → classify → check → diff → write, in one transaction.

Whatever happens, a document either becomes one complete snapshot (accepted, unchanged or
quarantined, with its events) or leaves no trace: a crash rolls the transaction back.

The stages, each a function below:

``read``      bytes → a SourceTable (crawler's workbook and HTML readers)
``classify``  which list the table holds, from its content (diff.guards), its rows cleaned
``check``     the list's contract, date order and row-count drop (diff.guards)
``diff``      against the list as it stands (diff.rowdiff, diff.transitions); everything it
              needs is loaded from the database first (``Ingestor._load_diff_inputs``), so
              the stage itself is pure
``write``     the snapshot, the agreement versions that changed, and the events (diff.events)

A document identical to the list as it stands (the same bytes, the same rows as read, or the
same agreements) is recorded as ``unchanged`` and nothing else is written; one that fails a
blocking check is ``quarantined``: kept, never compared.  The same rows as read are known from
their hash (``diff.records.raw_table_hash``, with a marker of today's rules), before any row is
cleaned and without loading the list from the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from crawler.limits import DEFAULT_LIMITS, ReadLimits
from crawler.workbook import UnreadableWorkbook
from diff import events as ev
from diff.artefacts import find_column_artefacts
from diff.confirmation import DEFAULT_CONFIRMATION, ConfirmationRule, OpenEvent
from diff.guards import (
    DEFAULT_THRESHOLDS,
    Anomaly,
    SnapshotRef,
    Thresholds,
    baseline_reset,
    check_contract,
    check_row_count,
    classify,
    explained_by_promotion,
    stale_copy,
)
from diff.identity import IdentityRules, RegistryKey, registry_lookup
from diff.metrics import ListMetrics, compute_metrics
from diff.normalise import Duplicate, NormalisedList, normalise_table
from diff.records import LIST_NAMES, Agreement, SourceTable, raw_table_hash
from diff.rowdiff import REPORTED_FIELDS, ListDiff, content_hash, diff_lists
from diff.transitions import Promotion, find_promotions
from pipeline.reading import ReadDocument, read_table
from pipeline.settle import SETTLED_LISTS, settle
from storage.agencies import AgencyRepository
from storage.events import EventRepository
from storage.lists import ListRepository, StoredAgreement
from storage.models import Snapshot
from storage.review import ReviewRepository

log = logging.getLogger(__name__)

ListState = dict[str, StoredAgreement]   # a list as it stands: key text → stored agreement

# An agreement leaving the pending list was promoted when it is on the participating list,
# first listed there at most this long before (853 of 966 pending removals of the shared
# history are promotions within 7 days; a month leaves room for ICE's slower batches).
PROMOTION_WINDOW = dt.timedelta(days=30)
ROW_COUNT_REASONS = ("row_drop", "empty")


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
    notes: tuple[Anomaly, ...] = ()    # found before the ingest, e.g. a date not believed
    # read ahead in another process (pipeline.reading); used only when its SHA-256 is that of
    # ``content``
    read_ahead: ReadDocument | None = None


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
    confirmation: Mapping[str, ConfirmationRule] = field(default_factory=lambda: dict(DEFAULT_CONFIRMATION))
    limits: ReadLimits = ReadLimits()


# -- what the stages hand on --------------------------------------------------------------------

@dataclass(frozen=True)
class Classified:
    table: SourceTable
    rows: NormalisedList
    list_name: str | None
    reason: str
    keys: frozenset[str] = frozenset()    # the key text of every row

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return self.rows.agreements

    @property
    def columns(self) -> list[str]:
        return sorted({c for c in self.table.columns if c})


@dataclass(frozen=True)
class DiffInputs:
    """Everything the diff of one list needs from the database, loaded before it runs."""

    current: ListState
    previous_files: Mapping[str, str | None]      # key text → file its stored record was read from
    aliases: frozenset[frozenset[str]]            # key pairs a reviewer confirmed as one agreement
    recent_pending: Sequence[Agreement]           # for promotions: pending now, and just removed from it
    newly_participating: Sequence[Agreement] = () # for the pending list: where its departures went
    # for the pending list: the agencies (state, canonical name) on the participating list now
    participating_agencies: frozenset[tuple[str, str]] = frozenset()
    # reviewers' decisions on registry matches, (state, agency name, ORI): the registry_ori tier
    registry_rejected: frozenset[RegistryKey] = frozenset()
    registry_accepted: frozenset[RegistryKey] = frozenset()


@dataclass(frozen=True)
class DiffResult:
    new_index: dict[str, Agreement]
    changes: ListDiff
    promotions: Sequence[Promotion]
    new_duplicates: Sequence[Duplicate]
    promoted_away: frozenset[str] = frozenset()   # pending keys that left for the participating list


# -- the stages -----------------------------------------------------------------------------------

def read_document(doc: IncomingDocument, limits: ReadLimits = DEFAULT_LIMITS) -> SourceTable:
    """Read: the document's list table.  Raises UnreadableWorkbook when there is none."""
    if doc.table is not None:
        return doc.table
    return read_table(doc.content, doc.media, doc.source_url, **limits.reader_caps())


def classify_document(table: SourceTable, overlap_with: Mapping[str, ListState]) -> Classified:
    """Classify: which list the table holds, by content; its rows cleaned.

    ``overlap_with``: each list as it stands, for tables whose columns do not tell."""
    rows = normalise_table(table)
    keys = frozenset(a.key.as_text() for a in rows.agreements)
    overlap = {name: len(keys & state.keys()) / len(keys) if state else 0.0
               for name, state in overlap_with.items()} if keys else {}
    classification = classify(table, overlap)
    return Classified(table, rows, classification.list_name, classification.reason, keys)


def check_document(doc: IncomingDocument, found: Classified, previous: Snapshot | None,
                   thresholds: Thresholds, *, promoted: int = 0) -> list[Anomaly]:
    """Check: a swapped name, the list's contract, its date against the last accepted list,
    and the row count against it (``promoted``: departures explained by promotions).
    Blocking anomalies quarantine the document."""
    assert found.list_name is not None
    list_name = found.list_name
    anomalies = [*doc.notes, *swap_anomaly(doc.declared_list, list_name, found.reason)]
    anomalies += check_contract(list_name, found.table)
    if previous is not None and doc.as_of and previous.as_of and doc.as_of < previous.as_of:
        anomalies.append(Anomaly(
            "out_of_order",
            f"dated {doc.as_of}, older than the last accepted {list_name} list "
            f"({previous.file_name}, {previous.as_of}); kept but not compared",
            blocking=True,
        ))
    anomalies += check_row_count(list_name, len(found.agreements), previous.agreements if previous else None,
                                 thresholds, promoted=promoted)
    return anomalies


def diff_document(found: Classified, previous_columns: Sequence[str] | None, inputs: DiffInputs,
                  rename_threshold: float) -> DiffResult:
    """Diff: the list against the list as it stands.  Pure: everything comes in ``inputs``."""
    new_index = {a.key.as_text(): a for a in found.agreements}
    columns = set(found.columns)
    # a column the previous list lacked is not reported as a change of every agreement
    shared_columns = columns & set(previous_columns or ()) if previous_columns is not None else columns
    rules = identity_rules(found.list_name)
    if inputs.registry_rejected or inputs.registry_accepted:
        rules = dataclasses.replace(rules, registry_ori=registry_lookup(inputs.registry_rejected,
                                                                        inputs.registry_accepted))
    # a pending entry whose agency is now participating left for that reason: never paired loosely
    promoted = {k for k, s in inputs.current.items()
                if (s.record.key.state, rules.canonical_of(s.record)) in inputs.participating_agencies
                } if inputs.participating_agencies else set()
    changes = diff_lists(
        {k: s.record for k, s in inputs.current.items()}, new_index, rename_threshold=rename_threshold,
        fields=[f for f, column in REPORTED_FIELDS.items() if column in shared_columns], aliases=inputs.aliases,
        rules=rules, not_renamed=promoted,
    )
    promotions = find_promotions(changes.added, inputs.recent_pending) if changes.added else []
    known = set(inputs.current)
    new_duplicates = [d for d in found.rows.duplicates if _duplicate_is_new(d, known)]
    promoted_away = frozenset(p.pending.key.as_text()
                              for p in explained_by_promotion(changes.removed, inputs.newly_participating))
    return DiffResult(new_index, changes, promotions, new_duplicates, promoted_away)


@functools.cache
def rules_marker() -> str:
    """A marker of the rules that turn a read table into a snapshot: the code and data of
    ``diff`` and of this module, and the package version.  Any change to them makes every
    stored ``raw_hash`` differ, so that the next document is cleaned and checked again."""
    import diff

    digest = hashlib.sha256(_package_version().encode())
    files = sorted(p for p in Path(diff.__file__).parent.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in [*files, Path(__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tracker287g")
    except PackageNotFoundError:
        return "unknown"


_RULES: dict[str | None, IdentityRules] = {}


def identity_rules(list_name: str | None) -> IdentityRules:
    """The identity rules of a list (diff.identity); the pending list has no signing dates."""
    if list_name not in _RULES:
        _RULES[list_name] = IdentityRules(dated=list_name != "pending")
    return _RULES[list_name]


def swap_anomaly(declared: str | None, actual: str, why: str) -> list[Anomaly]:
    """A non-blocking anomaly when a document holds another list than its name or link says."""
    if not declared or declared == actual:
        return []
    return [Anomaly("swapped", f"published as the {declared} list but holds the {actual} list ({why}); "
                               f"recorded as the {actual} list", blocking=False)]


def _duplicate_is_new(duplicate: Duplicate, known_keys: set[str]) -> bool:
    """Report a duplicate once: when a further occurrence of its key first appears."""
    base = duplicate.key.as_text()
    return any(f"{base}|#{n}" not in known_keys for n in range(2, len(duplicate.row_numbers) + 1))


def snapshot_facts(snapshot: Snapshot) -> ev.SnapshotFacts:
    return ev.SnapshotFacts(
        id=snapshot.id, list_name=snapshot.list_name, file_name=snapshot.file_name, source_url=snapshot.source_url,
        as_of=snapshot.as_of, document_sha256=snapshot.document_sha256, declared_list=snapshot.declared_list,
        agreements=snapshot.agreements, agencies=snapshot.agencies, states=snapshot.states, columns=snapshot.columns,
    )


def count_fields(metrics: ListMetrics, rows: int) -> dict[str, Any]:
    data = metrics.to_dict()
    return {"row_count": rows, "agreements": data["agreements"], "agencies": data["agencies"],
            "states": data["states"], "metrics": data}


# -- the transaction --------------------------------------------------------------------------------

class Ingestor:
    """Ingests documents one after another, keeping each list's current state in memory.

    The cache is only an optimisation for long backfills: it is checked against the database
    at each ingest and rebuilt after any failure, so the result never depends on it.  What the
    last ingest left (each list's last accepted snapshot) is taken as read only when the
    ingest lock's count proves that no other ingest came in between (``take_ingest_lock``).
    """

    def __init__(self, engine: Engine | Connection, options: IngestOptions | None = None) -> None:
        # a Connection in a transaction: every ingest joins it (``pipeline.rebuild``)
        self.engine = engine
        self.options = options or IngestOptions()
        # list -> (id of the accepted snapshot the state reflects, state by key text)
        self._current: dict[str, tuple[int | None, ListState]] = {}
        self._file_names: dict[int, str | None] = {}
        # (the ingest lock's count after this process's last committed ingest, each list's last
        # accepted snapshot then); None: not known
        self._known: tuple[int, dict[str, Snapshot | None]] | None = None
        self._participating_agencies: tuple[ListState, frozenset[tuple[str, str]]] | None = None
        # each list's provisional events after this process's last settle of it (pipeline.settle),
        # valid with ``_known``
        self._open_events: dict[str, tuple[OpenEvent, ...]] = {}

    def ingest(self, document: IncomingDocument) -> IngestOutcome:
        log.info("ingesting %s (%d bytes)", document.file_name or document.source_url, len(document.content))
        known, self._known = self._known, None     # forgotten unless this ingest commits
        open_events, self._open_events = self._open_events, {}
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                repo = ListRepository(session)
                counted = repo.take_ingest_lock()
                if known is not None and known[0] == counted - 1:
                    repo.remember_last_accepted(known[1])    # no other ingest since ours
                else:
                    self._file_names.clear()    # ids are reused after another process's rebuild
                    open_events = {}
                outcome, new_state = self._ingest(session, document)
                if outcome.status in SETTLED_LISTS and outcome.snapshot_id is not None and outcome.list_name:
                    snapshot = repo.snapshot_written(outcome.snapshot_id)
                    assert snapshot is not None
                    settled = settle(session, snapshot, self.options.confirmation[outcome.list_name], snapshot_facts,
                                     open_before=open_events.get(outcome.list_name))
                    open_events[outcome.list_name] = settled.still_open
                    if settled.pending_reverted and "pending" in open_events:
                        open_events["pending"] = tuple(e for e in open_events["pending"]
                                                       if e.id not in settled.pending_reverted)
                last_accepted = repo.known_last_accepted()
        except BaseException:
            self._current.clear()
            raise
        self._known = (counted, last_accepted)
        self._open_events = open_events
        if new_state is not None and outcome.list_name is not None:
            self._current[outcome.list_name] = (outcome.snapshot_id, new_state)
        log.info("ingested %s: %s as %s%s", document.file_name or document.source_url, outcome.status,
                 outcome.list_name, f" ({outcome.reason})" if outcome.reason else "")
        return outcome

    def _ingest(self, session: Session, doc: IncomingDocument) -> tuple[IngestOutcome, ListState | None]:
        repo = ListRepository(session)
        sha256 = hashlib.sha256(doc.content).hexdigest()
        recorded = repo.find_recorded(sha256, doc.file_name)
        if recorded is not None:
            return IngestOutcome("already_recorded", recorded.id, recorded.list_name,
                                 "this file was ingested before"), None
        repo.ensure_document(sha256, doc.content, doc.file_name)
        origin: dict[str, Any] = dict(
            declared_list=doc.declared_list, file_name=doc.file_name, source_url=doc.source_url,
            origin=doc.origin, as_of=doc.as_of, as_of_basis=doc.as_of_basis, document_sha256=sha256,
            fetch_id=doc.fetch_id,
        )
        same_bytes = _same_bytes_as_current(repo, sha256)
        if same_bytes is not None:
            # The very bytes of a list as it stands, under another name: one hash, no parsing.
            anomalies = [*doc.notes, *swap_anomaly(doc.declared_list, same_bytes.list_name,
                                                   "it is byte for byte that list's last file")]
            return self._write_unchanged(session, origin, same_bytes, "file", anomalies,
                                         list_name=same_bytes.list_name, content_hash=same_bytes.content_hash,
                                         columns=same_bytes.columns, row_count=same_bytes.row_count,
                                         agreements=same_bytes.agreements, agencies=same_bytes.agencies,
                                         states=same_bytes.states, metrics=same_bytes.metrics), None

        ahead = doc.read_ahead if doc.read_ahead is not None and doc.read_ahead.sha256 == sha256 else None
        try:
            # the read-ahead child reads with this ingest's caps (run_backfill, rebuild)
            table = ahead.table if ahead is not None and doc.table is None else read_document(doc, self.options.limits)
        except UnreadableWorkbook as error:
            anomaly = Anomaly(f"unreadable:{error.reason}", f"the file cannot be read as a list: {error}", True)
            return self._write_quarantine(session, doc, origin, doc.declared_list or "unknown", None, [anomaly]), None
        # the read-ahead child hashes the table it read with the rules it was given
        read_ahead_hash = ahead.raw_hash if ahead is not None and doc.table is None and ahead.rules == rules_marker() \
            else None
        origin["raw_hash"] = raw_hash = read_ahead_hash or raw_table_hash(table, rules_marker())
        same_rows = self._same_rows_as_current(repo, doc, table, raw_hash, sha256)
        if same_rows is not None:
            last, anomalies = same_rows
            return self._write_unchanged(session, {**origin, "columns": last.columns}, last, "agreements", anomalies,
                                         list_name=last.list_name, content_hash=last.content_hash,
                                         row_count=last.row_count, agreements=last.agreements,
                                         agencies=last.agencies, states=last.states, metrics=last.metrics), None
        found = classify_document(table, {name: self._current_state(repo, name) for name in LIST_NAMES})
        origin["columns"] = found.columns
        if found.list_name is None:
            anomaly = Anomaly("unrecognised", f"not a 287(g) list: {found.reason}", True)
            return self._write_quarantine(session, doc, origin, doc.declared_list or "unknown", found.agreements,
                                          [anomaly]), None
        list_name = found.list_name

        previous = repo.last_accepted(list_name)
        older = repo.older_snapshot_of_document(sha256)
        if older is not None and previous is not None and older.content_hash != previous.content_hash:
            anomaly = stale_copy(list_name, SnapshotRef(older.id, older.file_name, older.as_of))
            return self._write_quarantine(session, doc, origin, list_name, found.agreements, [anomaly],
                                          previous), None
        current = self._current_state(repo, list_name)
        departed = [s.record for k, s in current.items() if k not in found.keys]
        newly_participating = self._newly_participating(repo, doc.as_of, departed) if list_name == "pending" else []
        promoted = len(explained_by_promotion(departed, newly_participating))
        thresholds = self.options.thresholds[list_name]
        anomalies = check_document(doc, found, previous, thresholds, promoted=promoted)
        if any(a.blocking for a in anomalies):
            anomalies = self._baseline_reset(repo, list_name, found, previous, anomalies, thresholds)
        if any(a.blocking for a in anomalies):
            return self._write_quarantine(session, doc, origin, list_name, found.agreements, anomalies,
                                          previous), None
        artefacts = find_column_artefacts(found.columns, found.agreements, {k: s.record for k, s in current.items()})
        if artefacts.anomalies:
            found = dataclasses.replace(found, rows=dataclasses.replace(found.rows, agreements=artefacts.agreements))
            anomalies += artefacts.anomalies

        fingerprint = content_hash(found.agreements)
        counts = count_fields(compute_metrics(found.agreements), len(found.agreements))
        if previous is not None and previous.content_hash == fingerprint:
            return self._write_unchanged(session, origin, previous, "agreements", anomalies, **counts,
                                         list_name=list_name, content_hash=fingerprint), None

        inputs = dataclasses.replace(self._load_diff_inputs(session, list_name),
                                     newly_participating=newly_participating)
        previous_columns = (previous.columns or ()) if previous else None   # None: no list to compare with
        result = diff_document(found, previous_columns, inputs, self.options.rename_threshold)
        return self._write_accepted(session, origin, list_name, fingerprint, counts, previous, anomalies, inputs,
                                    result)

    def _same_rows_as_current(self, repo: ListRepository, doc: IncomingDocument, table: SourceTable,
                              raw_hash: str, sha256: str) -> tuple[Snapshot, list[Anomaly]] | None:
        """The last accepted snapshot read as exactly these rows, and the document's own notes,
        when that alone decides that the document is unchanged; None sends it the long way.

        The same rows, cleaned by the same rules (both are in ``raw_hash``), give the same
        agreements and the same checks, except for what depends on the document or on the
        history since: its date (an older one is quarantined by the full checks), its notes,
        its declared list, a stale copy of older bytes, and, for a table without a SIGNED
        column, which list it holds (decided by overlap with the lists as they stand).  A last
        snapshot accepted with anomalies also goes the long way, so that they are recorded
        again as they are today."""
        found = classify(table)
        if found.list_name != "participating":    # only a SIGNED column decides without the history
            return None
        last = repo.last_accepted(found.list_name)
        if last is None or last.raw_hash != raw_hash or last.reason is not None:
            return None
        if doc.as_of and last.as_of and doc.as_of < last.as_of:
            return None
        if any(a.blocking for a in doc.notes):
            return None
        older = repo.older_snapshot_of_document(sha256)
        if older is not None and older.content_hash != last.content_hash:
            return None
        return last, [*doc.notes, *swap_anomaly(doc.declared_list, found.list_name, found.reason)]

    # -- guards that need the history ----------------------------------------------------------------
    def _newly_participating(self, repo: ListRepository, as_of: dt.date | None,
                             departed: Sequence[Agreement]) -> list[Agreement]:
        """Where agreements leaving the pending list are expected to go: participating
        agreements first listed within PROMOTION_WINDOW of ``as_of``, and those with the very
        key of a departing one whenever listed (ICE sometimes keeps a promoted agreement on the
        pending list for weeks)."""
        participating = self._current_state(repo, "participating")
        if not participating or not departed:
            return []
        recent = repo.keys_first_listed_since("participating", as_of - PROMOTION_WINDOW) if as_of else set()
        recent |= {a.key.as_text() for a in departed}
        return [s.record for k, s in participating.items() if k in recent]

    def _baseline_reset(self, repo: ListRepository, list_name: str, found: Classified, previous: Snapshot | None,
                        anomalies: list[Anomaly], thresholds: Thresholds) -> list[Anomaly]:
        """Blocking row-count anomalies become notes when the list is the second in a row to
        show the same count (see diff.guards.baseline_reset)."""
        if previous is None or any(a.blocking and a.reason not in ROW_COUNT_REASONS for a in anomalies):
            return anomalies
        quarantined = [SnapshotRef(s.id, s.file_name, s.as_of, s.row_count)
                       for s in repo.quarantined_since_accepted(list_name, ROW_COUNT_REASONS)]
        reset = baseline_reset(list_name, quarantined, len(found.agreements), thresholds,
                               SnapshotRef(previous.id, previous.file_name, previous.as_of, previous.row_count))
        if reset is None:
            return anomalies
        return [dataclasses.replace(a, blocking=False) for a in anomalies] + [reset]

    # -- load (before the diff) ---------------------------------------------------------------------
    def _current_state(self, repo: ListRepository, list_name: str) -> ListState:
        """The list after its last accepted snapshot; the cache is used only while it is that
        snapshot's (another process may have ingested meanwhile)."""
        last_id = repo.last_accepted_id(list_name)
        cached = self._current.get(list_name)
        if cached is None or cached[0] != last_id:
            cached = self._current[list_name] = (last_id, repo.current_agreements(list_name))
        return cached[1]

    def _load_diff_inputs(self, session: Session, list_name: str) -> DiffInputs:
        repo = ListRepository(session)
        current = self._current_state(repo, list_name)
        unknown = {s.version_snapshot_id for s in current.values()} - self._file_names.keys() - {None}
        if unknown:
            self._file_names.update(repo.file_names(i for i in unknown if i is not None))
        recent_pending: list[Agreement] = []
        participating_agencies: frozenset[tuple[str, str]] = frozenset()
        if list_name == "participating":
            recent_pending = ([s.record for _, s in sorted(self._current_state(repo, "pending").items())]
                              + repo.removed_in_last_accepted("pending"))
        else:
            participating_agencies = self._agencies_of(self._current_state(repo, "participating"))
        rejected, accepted = AgencyRepository(session).rejected_and_accepted()
        return DiffInputs(
            current=current,
            registry_rejected=rejected,
            registry_accepted=accepted,
            previous_files={k: self._file_names.get(s.version_snapshot_id) if s.version_snapshot_id else None
                            for k, s in current.items()},
            aliases=ReviewRepository(session).confirmed_aliases(list_name),
            recent_pending=recent_pending,
            participating_agencies=participating_agencies,
        )

    def _agencies_of(self, participating: ListState) -> frozenset[tuple[str, str]]:
        """The agencies (state, canonical name) of the participating list as it stands; taken
        again only when that list's state is another (the pending list asks at every ingest)."""
        if self._participating_agencies is None or self._participating_agencies[0] is not participating:
            rules = identity_rules("participating")
            self._participating_agencies = (participating, frozenset(
                (s.record.key.state, rules.canonical_of(s.record)) for s in participating.values()))
        return self._participating_agencies[1]

    # -- write --------------------------------------------------------------------------------------
    def _write_unchanged(self, session: Session, origin: dict[str, Any], same_as: Snapshot, what: str,
                         anomalies: list[Anomaly], **fields: Any) -> IngestOutcome:
        """The list as it stands again: one ``unchanged`` snapshot pointing at it, nothing else."""
        reason = "; ".join([f"same {what} as snapshot {same_as.id} ({same_as.file_name})",
                            *(a.message for a in anomalies)])
        snapshot = ListRepository(session).insert_snapshot(**origin, **fields, status="unchanged", reason=reason,
                                                        previous_id=same_as.id, same_as_id=same_as.id)
        facts = snapshot_facts(snapshot)
        events = EventRepository(session).add_events([ev.anomaly(facts, a) for a in anomalies])
        return IngestOutcome("unchanged", snapshot.id, snapshot.list_name, snapshot.reason, events)

    def _write_quarantine(self, session: Session, doc: IncomingDocument, origin: dict[str, Any], list_name: str,
                          agreements: Sequence[Agreement] | None, anomalies: list[Anomaly],
                          previous: Snapshot | None = None) -> IngestOutcome:
        fields = count_fields(compute_metrics(agreements), len(agreements)) if agreements is not None else {}
        reason = "; ".join(a.message for a in anomalies if a.blocking)
        snapshot = ListRepository(session).insert_snapshot(
            **origin, **fields, list_name=list_name, status="quarantined", reason=reason,
            content_hash=content_hash(agreements) if agreements is not None else None,
            previous_id=previous.id if previous else None,
        )
        facts = snapshot_facts(snapshot)
        events = EventRepository(session).add_events([ev.anomaly(facts, a) for a in anomalies])
        log.info("quarantined %s as %s: %s", doc.file_name, list_name, reason)
        return IngestOutcome("quarantined", snapshot.id, list_name, reason, events)

    def _write_accepted(self, session: Session, origin: dict[str, Any], list_name: str, fingerprint: str,
                        counts: dict[str, Any], previous: Snapshot | None, anomalies: list[Anomaly],
                        inputs: DiffInputs, result: DiffResult) -> tuple[IngestOutcome, ListState]:
        repo = ListRepository(session)
        snapshot = repo.insert_snapshot(
            **origin, **counts, list_name=list_name, content_hash=fingerprint, status="accepted",
            reason="; ".join(a.message for a in anomalies) or None,
            previous_id=previous.id if previous else None,
        )
        self._file_names[snapshot.id] = snapshot.file_name
        current, changes = inputs.current, result.changes
        # a matched pair (diff.identity) continues the removed row's agreement under the new key
        continued = {m.after.key.as_text(): current[m.before.key.as_text()].agreement_id for m in changes.matched}
        ended = {m.before.key.as_text() for m in changes.matched}
        updated = {current[after.key.as_text()].agreement_id: after for _, after in changes.revised}
        updated.update((continued[m.after.key.as_text()], m.after) for m in changes.matched)
        relabelled = {continued[m.after.key.as_text()]: m.basis for m in changes.matched}
        new_index = result.new_index
        appeared = [new_index[k] for k in sorted(new_index.keys() - current.keys() - continued.keys())]
        gone = [current[k].agreement_id for k in sorted(current.keys() - new_index.keys() - ended)]
        # walked only when a key appeared (write_versions asks then which agreements are taken)
        staying = itertools.chain((s.agreement_id for k, s in current.items() if k in new_index), gone)
        ids = repo.write_versions(list_name, snapshot.id, appeared, updated, gone, relabelled=relabelled,
                                  staying=staying)
        # each agreement written belongs to the agency its row names now (a removal keeps its last)
        named = {ids[a.key.as_text()]: a for a in appeared}
        named.update(updated)
        AgencyRepository(session).link({i: (a.key.state, a.agency or a.key.agency) for i, a in named.items()})
        # ids: the keys that are not on the list as it stood (appeared, or continuing a matched
        # agreement); every other key's agreement is the one it has in ``current``
        ids.update(continued)

        def agreement_of(key: str) -> int | None:
            found = ids.get(key)
            if found is None and (stored := current.get(key)) is not None:
                return stored.agreement_id
            return found

        events = list_events(snapshot_facts(snapshot), snapshot_facts(previous) if previous else None, anomalies,
                             inputs, result)
        for event in events:
            event["agreement_id"] = agreement_of(event.get("subject_key") or "")
            if event["kind"] == "agreement.renamed":
                event["evidence"]["previous_agreement_id"] = agreement_of(event["evidence"]["previous_key"])
        written = EventRepository(session).add_events(events)
        # The cache mirrors the database: what stayed the same keeps its stored version.
        revised = {after.key.as_text() for _, after in changes.revised}
        new_state: ListState = {}
        for k, a in new_index.items():
            stored = current.get(k)
            if stored is None:
                new_state[k] = StoredAgreement(ids[k], a, snapshot.id)
            elif k in revised:
                new_state[k] = StoredAgreement(stored.agreement_id, a, snapshot.id)
            else:
                new_state[k] = stored
        outcome_counts = {"agreements": counts["row_count"]}   # every row, further rows of a key too
        if previous is not None:  # a first snapshot has nothing to differ from
            outcome_counts.update(added=len(changes.added), removed=len(changes.removed),
                                  changed=len(changes.changed), renamed=len(changes.renamed))
        return IngestOutcome("accepted", snapshot.id, list_name, None, written, outcome_counts), new_state


def list_events(snapshot: ev.SnapshotFacts, previous: ev.SnapshotFacts | None, anomalies: Sequence[Anomaly],
                inputs: DiffInputs, result: DiffResult) -> list[ev.Event]:
    """The events of an accepted snapshot, in the order the change log shows them."""
    events = [ev.anomaly(snapshot, a) for a in anomalies]
    if previous is None:
        events.append(ev.first_snapshot(snapshot))
    else:
        if previous.columns is not None and set(previous.columns) != set(snapshot.columns or ()):
            events.append(ev.columns_changed(snapshot, previous))
        context = ev.DiffContext(snapshot, previous, inputs.previous_files)
        changes = result.changes
        # further rows with a known key are reported once, as duplicates, below
        events += [ev.added(context, a) for a in changes.added if a.key.occurrence == 1]
        # an agreement that left the pending list for the participating list is a promotion only
        events += [ev.removed(context, a) for a in changes.removed if a.key.as_text() not in result.promoted_away]
        events += [ev.changed(context, c) for c in changes.changed]
        events += [ev.renamed(context, r) for r in changes.renamed]
        if snapshot.list_name == "participating":
            events += [ev.promoted(context, p) for p in result.promotions]
    events += [ev.duplicate(snapshot, d) for d in result.new_duplicates]
    return events


def _same_bytes_as_current(repo: ListRepository, sha256: str) -> Snapshot | None:
    """The last accepted snapshot of a list, if it was made from exactly these bytes."""
    for list_name in LIST_NAMES:
        last = repo.last_accepted(list_name)
        if last is not None and last.document_sha256 == sha256:
            return last
    return None
