"""Rebuild the lists' history with today's rules: every stored document replayed, oldest first,
into a fresh change log, keeping the review decisions and the notification ledger.

Documents are stored (``document``), so the history can always be recomputed: after an upgrade
that changes how rows are read, keyed or matched (agreement identity, say), ``tracker287g
rebuild`` gives the change log a fresh backfill of the same files would give.

What is replaced: every snapshot, agreement, agreement version and key, agency, and every event
that belongs to a snapshot (the lists' events and anomalies).  What stays: documents, fetches,
runs, the sources' health, news and their events.  Review decisions and the ledger of sent
notifications on replaced events move to the event that replaces each one: the same kind, list,
key, field and values, in the snapshot of the same document (or, when the rules now record the
row otherwise, the event of that document about the same agreement key).  A rename decision is
in force again from its event on, as before.  Decisions with no such event are reported.

Event ids change, so each notification target's start (``start_after_event_id``: the events it
is never sent) is carried over by event, not by number: an event of the new log counts, for each
target, as its predecessor did (sent, history never to be sent, or still to be sent); an event
with no predecessor (today's rules record something the old ones did not) is history for a
target if its document was recorded before the target was first seen, and is sent otherwise.
The start is moved as far as the new log's history reaches without passing an event still to be
sent; history after that point gets a ledger row of status ``history`` (never sent).

Everything happens in one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from pipeline.ingest import IncomingDocument, IngestOptions, Ingestor, rules_marker
from pipeline.reading import ReadAhead, Source
from storage.models import (
    Agency,
    Agreement,
    AgreementKeyLabel,
    AgreementVersion,
    ChangeEvent,
    Document,
    NotificationSent,
    NotificationTarget,
    ReviewDecision,
    Snapshot,
    table_of,
)

log = logging.getLogger(__name__)

HISTORY = "history"   # a ledger row for an event a target is never sent (see the module's docstring)


@dataclass(frozen=True)
class StoredIngest:
    """One ingest to replay: a stored document and what was known of it when it came."""

    snapshot_id: int
    sha256: str
    file_name: str | None
    declared_list: str | None
    origin: str
    as_of: Any
    as_of_basis: str | None
    source_url: str | None
    fetch_id: int | None


EventIdentity = tuple   # (document sha256, file name, kind, list, subject key, field, old value, new value)


@dataclass
class RebuildResult:
    documents: int = 0
    snapshots_before: int = 0
    events_before: int = 0
    events_after: int = 0
    decisions_kept: int = 0
    decisions_moved_loosely: int = 0
    decisions_dropped: list[str] = field(default_factory=list)   # why each one found no event
    notifications_kept: int = 0
    notification_history_marked: int = 0     # ledger rows of status "history" written (see the module)


def rebuild(engine: Engine, options: IngestOptions | None = None,
            progress: Callable[[int, int], None] | None = None) -> RebuildResult:
    """Replay every stored ingest into a fresh history, in one transaction."""
    result = RebuildResult()
    with engine.connect() as connection, connection.begin():
        ingests = _stored_ingests(connection)
        decisions, ledger = _saved_reviews(connection)
        old_events = _event_identities(connection)
        first_recorded = _documents_first_recorded(connection)
        targets = _targets(connection)
        result.snapshots_before = len(ingests)
        result.events_before = _count_list_events(connection)
        _clear_history(connection)
        ingestor = Ingestor(connection, options)   # sessions join this transaction
        waiting = list(decisions)
        fetched: dict[int, bytes] = {}             # contents sent to the read-ahead, not yet ingested

        def source(index: int) -> Source:
            content = fetched[index] = _content(connection, ingests[index].sha256)
            return content, _media(content), ingests[index].source_url

        with ReadAhead(len(ingests), source, caps=ingestor.options.limits.reader_caps(),
                       rules=rules_marker()) as ahead:
            for done, stored in enumerate(ingests, start=1):
                read = ahead.get(done - 1)
                content = fetched.pop(done - 1, None) or _content(connection, stored.sha256)
                ingestor.ingest(IncomingDocument(
                    content=content, file_name=stored.file_name, declared_list=stored.declared_list,
                    origin=stored.origin, as_of=stored.as_of, as_of_basis=stored.as_of_basis,
                    source_url=stored.source_url, fetch_id=stored.fetch_id, media=_media(content), read_ahead=read,
                ))
                # a decision is in force again as soon as its event exists (a rename then applies
                # to the next lists, as it did)
                waiting = _attach(connection, waiting, stored, result)
                if progress is not None:
                    progress(done, len(ingests))
        result.decisions_dropped += [f"event {d['event_id']} ({d['identity'][2]}, {d['identity'][4]}) "
                                     f"decided {d['status']}: no such event under the current rules"
                                     for d in waiting]
        successors = _successors(old_events, _event_identities(connection))
        result.notifications_kept = _restore_ledger(connection, ledger, successors)
        result.notification_history_marked = _carry_targets_over(connection, targets, old_events, successors,
                                                                  first_recorded, ledger)
        result.documents = len(ingests)
        result.events_after = _count_list_events(connection)
    log.info("rebuilt %d documents: %d events before, %d after; %d decisions kept, %d dropped",
             result.documents, result.events_before, result.events_after, result.decisions_kept,
             len(result.decisions_dropped))
    return result


def _stored_ingests(connection: Connection) -> list[StoredIngest]:
    rows = connection.execute(
        select(Snapshot.id, Snapshot.document_sha256, Snapshot.file_name, Snapshot.declared_list, Snapshot.origin,
               Snapshot.as_of, Snapshot.as_of_basis, Snapshot.source_url, Snapshot.fetch_id)
        .where(Snapshot.document_sha256.is_not(None)).order_by(Snapshot.id))
    return [StoredIngest(snapshot_id=r[0], sha256=r[1] or "", file_name=r[2], declared_list=r[3], origin=r[4],
                         as_of=r[5], as_of_basis=r[6], source_url=r[7], fetch_id=r[8]) for r in rows]


def _media(content: bytes) -> str:
    return "xlsx" if content[:2] == b"PK" else "html"


def _content(connection: Connection, sha256: str) -> bytes:
    content = connection.execute(select(Document.content).where(Document.sha256 == sha256)).scalar_one()
    return bytes(content)


def _event_identities(connection: Connection, event_ids: Iterable[int] | None = None,
                      snapshot_id: int | None = None) -> dict[int, EventIdentity]:
    query = (select(ChangeEvent.id, Snapshot.document_sha256, Snapshot.file_name, ChangeEvent.kind,
                    ChangeEvent.list_name, ChangeEvent.subject_key, ChangeEvent.field, ChangeEvent.old_value,
                    ChangeEvent.new_value)
             .join(Snapshot, Snapshot.id == ChangeEvent.snapshot_id))
    if event_ids is not None:
        query = query.where(ChangeEvent.id.in_(list(event_ids)))
    if snapshot_id is not None:
        query = query.where(ChangeEvent.snapshot_id == snapshot_id)
    return {row[0]: tuple(row[1:]) for row in connection.execute(query.order_by(ChangeEvent.id))}


def _saved_reviews(connection: Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decisions and ledger rows on list events, with the identity of their event."""
    identities = _event_identities(connection)
    decisions = []
    for decision in connection.execute(select(table_of(ReviewDecision)).order_by(ReviewDecision.id)).mappings():
        if decision["event_id"] in identities:
            decisions.append({**decision, "identity": identities[decision["event_id"]]})
    ledger = [{**row, "identity": identities[row["event_id"]]}
              for row in connection.execute(select(table_of(NotificationSent)).order_by(NotificationSent.id)).mappings()
              if row["event_id"] in identities]
    return decisions, ledger


def _count_list_events(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(ChangeEvent)
                              .where(ChangeEvent.snapshot_id.is_not(None))).scalar_one()


def _clear_history(connection: Connection) -> None:
    list_events = select(ChangeEvent.id).where(ChangeEvent.snapshot_id.is_not(None))
    connection.execute(delete(ReviewDecision).where(ReviewDecision.event_id.in_(list_events)))
    connection.execute(delete(NotificationSent).where(NotificationSent.event_id.in_(list_events)))
    connection.execute(delete(ChangeEvent).where(ChangeEvent.snapshot_id.is_not(None)))
    connection.execute(delete(AgreementVersion))
    connection.execute(delete(AgreementKeyLabel))
    connection.execute(delete(Agreement))
    connection.execute(delete(Agency))
    connection.execute(delete(Snapshot))


def _new_snapshot_of(connection: Connection, stored: StoredIngest) -> int | None:
    query = select(Snapshot.id).where(Snapshot.document_sha256 == stored.sha256)
    query = query.where(Snapshot.file_name.is_(None) if stored.file_name is None
                        else Snapshot.file_name == stored.file_name)
    return connection.execute(query.order_by(Snapshot.id.desc()).limit(1)).scalar()


def _attach(connection: Connection, waiting: list[dict[str, Any]], stored: StoredIngest,
            result: RebuildResult) -> list[dict[str, Any]]:
    """Move the decisions whose event this ingest re-created; the others wait."""
    mine = [d for d in waiting if d["identity"][:2] == (stored.sha256, stored.file_name)]
    if not mine:
        return waiting
    snapshot_id = _new_snapshot_of(connection, stored)
    new_events = _event_identities(connection, snapshot_id=snapshot_id) if snapshot_id is not None else {}
    exact = {identity: event_id for event_id, identity in reversed(list(new_events.items()))}
    by_key = {(identity[3], identity[4]): event_id for event_id, identity in reversed(list(new_events.items()))
              if identity[4]}
    for decision in mine:
        identity = decision["identity"]
        event_id = exact.get(identity)
        if event_id is None and identity[4]:
            event_id = by_key.get((identity[3], identity[4]))
            result.decisions_moved_loosely += event_id is not None
        if event_id is None:
            result.decisions_dropped.append(
                f"event {decision['event_id']} ({identity[2]}, {identity[4]}) decided {decision['status']}: "
                f"no such event under the current rules")
            continue
        values = {k: v for k, v in decision.items() if k not in ("id", "identity")}
        connection.execute(insert(table_of(ReviewDecision)).values(**{**values, "event_id": event_id}))
        result.decisions_kept += 1
    return [d for d in waiting if d not in mine]


def _successors(old: dict[int, EventIdentity], new: dict[int, EventIdentity]) -> dict[int, int]:
    """new event id -> the old event it replaces: the same identity (in order, when several events
    share one), else the same document, kind, list and key (what ``_attach`` accepts for a decision)."""
    successors: dict[int, int] = {}
    waiting: dict[EventIdentity, list[int]] = {}
    for old_id, identity in old.items():
        waiting.setdefault(identity, []).append(old_id)
    unmatched = []
    for new_id, identity in new.items():
        if waiting.get(identity):
            successors[new_id] = waiting[identity].pop(0)
        else:
            unmatched.append(new_id)
    loose: dict[tuple, list[int]] = {}
    for identity, old_ids in waiting.items():
        if identity[4]:
            loose.setdefault(_loose(identity), []).extend(old_ids)
    for new_id in unmatched:
        candidates = loose.get(_loose(new[new_id]))
        if candidates:
            successors[new_id] = candidates.pop(0)
    return successors


def _loose(identity: EventIdentity) -> tuple:
    return identity[:5]   # document, file name, kind, list, subject key


def _restore_ledger(connection: Connection, ledger: list[dict[str, Any]], successors: dict[int, int]) -> int:
    """A notification sent for a replaced event counts as sent for its replacement (no resend)."""
    if not ledger:
        return 0
    replaced_by = {old_id: new_id for new_id, old_id in successors.items()}
    rows = []
    seen = set()
    for entry in ledger:
        event_id = replaced_by.get(entry["event_id"])
        if event_id is not None and (entry["channel"], event_id) not in seen:
            seen.add((entry["channel"], event_id))
            rows.append({**{k: v for k, v in entry.items() if k not in ("id", "identity")}, "event_id": event_id})
    if rows:
        connection.execute(insert(table_of(NotificationSent)), rows)
    return len(rows)


def _targets(connection: Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(
        select(NotificationTarget.name, NotificationTarget.start_after_event_id, NotificationTarget.added_at)
        .order_by(NotificationTarget.name)).mappings()]


def _documents_first_recorded(connection: Connection) -> dict[tuple[str | None, str | None], Any]:
    """(document, file name) -> when it was first recorded (before the rebuild replaced its snapshots)."""
    first: dict[tuple[str | None, str | None], Any] = {}
    for sha256, file_name, recorded_at in connection.execute(
            select(Snapshot.document_sha256, Snapshot.file_name, Snapshot.recorded_at).order_by(Snapshot.id)):
        first.setdefault((sha256, file_name), recorded_at)
    return first


def _carry_targets_over(connection: Connection, targets: list[dict[str, Any]], old_events: dict[int, EventIdentity],
                        successors: dict[int, int], first_recorded: dict[tuple[str | None, str | None], Any],
                        ledger: list[dict[str, Any]]) -> int:
    """Each target's start, by event rather than by id (see the module's docstring); returns the
    ledger rows of status ``history`` written."""
    if not targets:
        return 0
    new_list_events = _event_identities(connection)
    other_ids = sorted(connection.execute(select(ChangeEvent.id).where(ChangeEvent.snapshot_id.is_(None))).scalars())
    head = connection.execute(select(ChangeEvent.id).order_by(ChangeEvent.id.desc()).limit(1)).scalar() or 0
    taken = {(entry["channel"], entry["event_id"]) for entry in ledger}
    marked = 0
    for target in targets:
        name, start = target["name"], target["start_after_event_id"] or 0
        history: list[int] = []
        pending: list[int] = []
        for new_id, identity in new_list_events.items():
            old_id = successors.get(new_id)
            if old_id is not None and (name, old_id) in taken:
                continue                                   # sent (or being sent): restored in the ledger
            if old_id is not None:
                is_history = 0 < old_id <= start
            else:
                recorded = first_recorded.get((identity[0], identity[1]))
                is_history = start > 0 and recorded is not None and recorded <= target["added_at"]
            (history if is_history else pending).append(new_id)
        # The news and other events that stay keep their ids: the start must stay between the
        # same two of them.  And no event still to be sent may fall below it.
        limit = min([i - 1 for i in other_ids if i > start] + [i - 1 for i in pending] + [head])
        new_start = max(limit, max([i for i in other_ids if i <= start], default=0))
        beyond = [i for i in history if i > new_start]
        if beyond:
            connection.execute(insert(table_of(NotificationSent)), [
                {"channel": name, "event_id": i, "status": HISTORY, "claim": None} for i in beyond])
            marked += len(beyond)
        connection.execute(update(NotificationTarget).where(NotificationTarget.name == name)
                           .values(start_after_event_id=new_start))
    if marked:
        log.info("rebuild: %d events of the new log marked as history never to be sent", marked)
    return marked
