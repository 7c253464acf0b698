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

Everything happens in one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from pipeline.ingest import IncomingDocument, IngestOptions, Ingestor
from pipeline.reading import ReadAhead, Source
from storage.models import (
    Agency,
    Agreement,
    AgreementKeyLabel,
    AgreementVersion,
    ChangeEvent,
    Document,
    NotificationSent,
    ReviewDecision,
    Snapshot,
    table_of,
)

log = logging.getLogger(__name__)


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


def rebuild(engine: Engine, options: IngestOptions | None = None,
            progress: Callable[[int, int], None] | None = None) -> RebuildResult:
    """Replay every stored ingest into a fresh history, in one transaction."""
    result = RebuildResult()
    with engine.connect() as connection, connection.begin():
        ingests = _stored_ingests(connection)
        decisions, ledger = _saved_reviews(connection)
        result.snapshots_before = len(ingests)
        result.events_before = _count_list_events(connection)
        _clear_history(connection)
        ingestor = Ingestor(connection, options)   # sessions join this transaction
        waiting = list(decisions)
        fetched: dict[int, bytes] = {}             # contents sent to the read-ahead, not yet ingested

        def source(index: int) -> Source:
            content = fetched[index] = _content(connection, ingests[index].sha256)
            return content, _media(content), ingests[index].source_url

        with ReadAhead(len(ingests), source) as ahead:
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
        result.notifications_kept = _restore_ledger(connection, ledger)
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
    return len(connection.execute(select(ChangeEvent.id).where(ChangeEvent.snapshot_id.is_not(None))).all())


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


def _restore_ledger(connection: Connection, ledger: list[dict[str, Any]]) -> int:
    """A notification sent for a replaced event counts as sent for its replacement (no resend)."""
    if not ledger:
        return 0
    identities = _event_identities(connection)
    new_ids = {identity: event_id for event_id, identity in reversed(list(identities.items()))}
    rows = []
    seen = set()
    for entry in ledger:
        event_id = new_ids.get(entry["identity"])
        if event_id is not None and (entry["channel"], event_id) not in seen:
            seen.add((entry["channel"], event_id))
            rows.append({**{k: v for k, v in entry.items() if k not in ("id", "identity")}, "event_id": event_id})
    if rows:
        connection.execute(insert(table_of(NotificationSent)), rows)
    return len(rows)

