"""The lists' history: documents, snapshots, agreements and their versions.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from diff.records import Agreement as AgreementRecord
from diff.records import AgreementKey
from storage.models import (
    Agreement,
    AgreementKeyLabel,
    AgreementVersion,
    ChangeEvent,
    Document,
    IngestLock,
    Snapshot,
    table_of,
)
from storage.types import utcnow

_LAST_ACCEPTED = (select(Snapshot).where(Snapshot.list_name == bindparam("list_name"), Snapshot.status == "accepted")
                  .order_by(Snapshot.id.desc()).limit(1))
_LAST_ACCEPTED_MEMO = "tracker287g.last_accepted"
_INSERTED_MEMO = "tracker287g.inserted_snapshots"
# Core statements built once: an ingest runs each of them, and building and caching a statement
# costs more than running it on SQLite.
_DOCUMENT_EXISTS = select(Document.sha256).where(Document.sha256 == bindparam("sha256"))
_LOCK = table_of(IngestLock)
_TAKE_INGEST_LOCK = (update(_LOCK).where(_LOCK.c.id == 1).values(ingests=_LOCK.c.ingests + 1)
                     .returning(_LOCK.c.ingests))
_SNAPSHOTS = table_of(Snapshot)
_RECORDED_AS = (select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.list_name)
                .where(_SNAPSHOTS.c.document_sha256 == bindparam("sha256"),
                       _SNAPSHOTS.c.file_name == bindparam("file_name"))
                .order_by(_SNAPSHOTS.c.id).limit(1))
_RECORDED_UNNAMED = (select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.list_name)
                     .where(_SNAPSHOTS.c.document_sha256 == bindparam("sha256"), _SNAPSHOTS.c.file_name.is_(None))
                     .order_by(_SNAPSHOTS.c.id).limit(1))
_FIRST_SETTLED_OF_DOCUMENT = (
    select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.status, _SNAPSHOTS.c.same_as_id)
    .where(_SNAPSHOTS.c.document_sha256 == bindparam("sha256"), _SNAPSHOTS.c.status.in_(("accepted", "unchanged")))
    .order_by(_SNAPSHOTS.c.id).limit(1)
)

_AGREEMENTS = table_of(Agreement)
_VERSIONS = table_of(AgreementVersion)
_LABELS = table_of(AgreementKeyLabel)
_NEWER = _VERSIONS.alias("newer")
# each agreement of a list with its newest version (``first_key``: the key it was first seen under)
_CURRENT_VERSIONS = (
    select(_AGREEMENTS.c.id.label("agreement_id_"), _AGREEMENTS.c.key.label("first_key"), *_VERSIONS.c)
    .join(_VERSIONS, _VERSIONS.c.agreement_id == _AGREEMENTS.c.id)
    .where(_AGREEMENTS.c.list_name == bindparam("list_name"),
           _VERSIONS.c.id == select(func.max(_NEWER.c.id)).where(_NEWER.c.agreement_id == _AGREEMENTS.c.id)
           .scalar_subquery())
)
_REMOVED_IN = select(_VERSIONS.c.agreement_id).where(_VERSIONS.c.snapshot_id == bindparam("snapshot_id"),
                                                     _VERSIONS.c.present.is_(False))
# the last version in which each of the agreements ``ids`` was present
_LAST_PRESENT_VERSIONS = (
    select(_AGREEMENTS.c.key.label("first_key"), *_VERSIONS.c)
    .join(_AGREEMENTS, _AGREEMENTS.c.id == _VERSIONS.c.agreement_id)
    .where(_VERSIONS.c.id.in_(select(func.max(_VERSIONS.c.id))
                              .where(_VERSIONS.c.agreement_id.in_(bindparam("ids", expanding=True)),
                                     _VERSIONS.c.present.is_(True))
                              .group_by(_VERSIONS.c.agreement_id)))
)
_LABELS_OF_KEYS = (select(_LABELS.c.key, _LABELS.c.agreement_id)
                   .where(_LABELS.c.list_name == bindparam("list_name"),
                          _LABELS.c.key.in_(bindparam("keys", expanding=True)))
                   .order_by(_LABELS.c.id))
_KEYS_OF = (select(_LABELS.c.agreement_id, _LABELS.c.key)
            .where(_LABELS.c.agreement_id.in_(bindparam("ids", expanding=True))).order_by(_LABELS.c.id))
_FILE_NAMES = (select(_SNAPSHOTS.c.id, _SNAPSHOTS.c.file_name)
               .where(_SNAPSHOTS.c.id.in_(bindparam("ids", expanding=True))))
_INSERT_SNAPSHOT = insert(_SNAPSHOTS).returning(_SNAPSHOTS.c.id)
_INSERT_AGREEMENTS = insert(_AGREEMENTS).returning(_AGREEMENTS.c.id, _AGREEMENTS.c.key, sort_by_parameter_order=True)
_INSERT_VERSIONS = insert(_VERSIONS)
_INSERT_LABELS = insert(_LABELS)
_FIRST_LISTED_SINCE = (select(_AGREEMENTS.c.key)
                       .join(_SNAPSHOTS, _SNAPSHOTS.c.id == _AGREEMENTS.c.first_snapshot_id)
                       .where(_AGREEMENTS.c.list_name == bindparam("list_name"),
                              _SNAPSHOTS.c.as_of >= bindparam("since")))


@dataclass(frozen=True, slots=True)
class RecordedSnapshot:
    """A snapshot found by ``find_recorded``: what a re-run needs of it."""

    id: int
    list_name: str


@dataclass(frozen=True, slots=True)
class StoredAgreement:
    """An agreement as the history says it is now: its id and its newest version."""

    agreement_id: int
    record: AgreementRecord
    version_snapshot_id: int | None = None   # the snapshot whose file the record was read from


class ListRepository:
    """Reads and writes of the lists' history."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def take_ingest_lock(self) -> int:
        """Serialise ingests: call first in the transaction (released at commit or rollback).

        Returns the number of ingests the database has counted, this one included: every ingest
        takes this lock, so a process that counted N at its last committed ingest and reads N + 1
        now knows that no other ingest wrote in between."""
        counted = self.session.connection().scalar(_TAKE_INGEST_LOCK)
        if counted is None:
            raise RuntimeError("the ingest_lock row is missing: run the migrations (storage.database.migrate)")
        return int(counted)

    # -- documents --------------------------------------------------------------------------
    def ensure_document(self, sha256: str, content: bytes, file_name: str | None) -> None:
        # Core: asking whether the row exists does not load the stored bytes back, and the
        # ORM's unit of work is not needed for an append-only row.
        connection = self.session.connection()
        if connection.scalar(_DOCUMENT_EXISTS, {"sha256": sha256}) is None:
            connection.execute(insert(table_of(Document)).values(
                sha256=sha256, size=len(content), content=content, first_file_name=file_name))

    def document_content(self, sha256: str) -> bytes | None:
        document = self.session.get(Document, sha256)
        return document.content if document else None

    def find_recorded(self, sha256: str, file_name: str | None) -> RecordedSnapshot | None:
        """A snapshot already made from these bytes under this file name (re-runs are no-ops)."""
        if file_name is None:
            row = self.session.connection().execute(_RECORDED_UNNAMED, {"sha256": sha256}).first()
        else:
            row = self.session.connection().execute(_RECORDED_AS, {"sha256": sha256, "file_name": file_name}).first()
        return RecordedSnapshot(row[0], row[1]) if row is not None else None

    # -- snapshots --------------------------------------------------------------------------
    def insert_snapshot(self, **fields: Any) -> Snapshot:
        """A new snapshot, as one Core INSERT: the snapshot returned is not in the session (the
        ORM's flush of one row costs more than the statement), with its id and every field
        given.  The snapshot is its list's last accepted one when it is accepted: ingests take
        turns (``take_ingest_lock``), so no other snapshot can come after it in this transaction."""
        fields.setdefault("recorded_at", utcnow())
        snapshot_id = self.session.connection().scalar(_INSERT_SNAPSHOT, fields)
        snapshot = Snapshot(id=snapshot_id, **fields)
        if fields.get("status") == "accepted":
            self._last_accepted()[fields["list_name"]] = snapshot
        self._inserted()[snapshot_id] = snapshot
        return snapshot

    def snapshot_written(self, snapshot_id: int) -> Snapshot | None:
        """A snapshot of this transaction's (``insert_snapshot``), else as the session reads it."""
        return self._inserted().get(snapshot_id) or self.session.get(Snapshot, snapshot_id)

    def last_accepted(self, list_name: str) -> Snapshot | None:
        known = self._last_accepted()
        if list_name not in known:
            known[list_name] = self.session.scalars(_LAST_ACCEPTED, {"list_name": list_name}).first()
        return known[list_name]

    def known_last_accepted(self) -> dict[str, Snapshot | None]:
        """Each list's last accepted snapshot as this transaction has read or written it so far."""
        return dict(self._last_accepted())

    def remember_last_accepted(self, known: Mapping[str, Snapshot | None]) -> None:
        """Take each list's last accepted snapshot as given instead of reading it: for a caller
        that knows no snapshot was written since it read them (see ``take_ingest_lock``)."""
        self._last_accepted().update(known)

    def last_accepted_id(self, list_name: str) -> int | None:
        last = self.last_accepted(list_name)
        return last.id if last is not None else None

    def _last_accepted(self) -> dict[str, Snapshot | None]:
        """Each list's last accepted snapshot as read in this transaction (an ingest asks a
        dozen times).  Snapshots are only ever added, by insert_snapshot, which records an
        accepted one as its list's last; a new transaction starts afresh."""
        return self._transaction_memo(_LAST_ACCEPTED_MEMO)

    def _inserted(self) -> dict[int, Snapshot]:
        """The snapshots ``insert_snapshot`` wrote in this transaction, by id."""
        return self._transaction_memo(_INSERTED_MEMO)

    def _transaction_memo(self, name: str) -> dict:
        transaction = self.session.get_transaction()
        memo = self.session.info.get(name)
        if memo is None or memo[0] is not transaction:
            memo = self.session.info[name] = (transaction, {})
        return memo[1]

    @staticmethod
    def last_accepted_query(as_of: dt.date | None = None) -> Select[Snapshot]:
        """The last accepted snapshot of each list (the highest id), dated on or before ``as_of``
        when given: one row per list, chosen by the database."""
        newest = select(func.max(Snapshot.id)).where(Snapshot.status == "accepted")
        if as_of is not None:
            newest = newest.where(Snapshot.as_of <= as_of)
        return select(Snapshot).where(Snapshot.id.in_(newest.group_by(Snapshot.list_name))).order_by(Snapshot.id)

    def last_accepted_each(self, as_of: dt.date | None = None) -> dict[str, Snapshot]:
        return {s.list_name: s for s in self.session.scalars(self.last_accepted_query(as_of))}

    def snapshots(self, list_name: str | None = None) -> list[Snapshot]:
        query = select(Snapshot).order_by(Snapshot.id)
        if list_name:
            query = query.where(Snapshot.list_name == list_name)
        return list(self.session.scalars(query))

    def snapshot(self, snapshot_id: int) -> Snapshot | None:
        return self.session.get(Snapshot, snapshot_id)

    def file_names(self, snapshot_ids: Iterable[int]) -> dict[int, str | None]:
        """The file name of each snapshot, by id."""
        ids = sorted(set(snapshot_ids))
        return dict(self.session.connection().execute(_FILE_NAMES, {"ids": ids}).all())

    def older_snapshot_of_document(self, sha256: str) -> Snapshot | None:
        """The accepted snapshot an earlier accepted or unchanged snapshot of these very bytes
        stood for (an old file served again), or None."""
        earlier = self.session.connection().execute(_FIRST_SETTLED_OF_DOCUMENT, {"sha256": sha256}).first()
        if earlier is None:      # the usual case, asked once per document: a column read, no object
            return None
        earlier_id, status, same_as_id = earlier
        return self.session.get(Snapshot, same_as_id if status != "accepted" and same_as_id is not None
                                else earlier_id)

    def quarantined_since_accepted(self, list_name: str, reasons: Iterable[str]) -> list[Snapshot]:
        """The list's snapshots quarantined after its last accepted one for one of ``reasons``
        (anomaly codes), oldest first."""
        last_id = self.last_accepted_id(list_name) or 0
        flagged = (
            select(ChangeEvent.snapshot_id)
            .where(ChangeEvent.kind == "source.anomaly", ChangeEvent.new_value == "quarantined",
                   ChangeEvent.field.in_(tuple(reasons)))
        )
        return list(self.session.scalars(
            select(Snapshot).where(Snapshot.list_name == list_name, Snapshot.status == "quarantined",
                                   Snapshot.id > last_id, Snapshot.id.in_(flagged))
            .order_by(Snapshot.id)
        ))

    def keys_first_listed_since(self, list_name: str, since: dt.date) -> set[str]:
        """Keys of the list's agreements first seen on a list dated ``since`` or later."""
        return set(self.session.connection().scalars(_FIRST_LISTED_SINCE, {"list_name": list_name, "since": since}))

    # -- agreements -------------------------------------------------------------------------
    def version_history(self) -> Sequence[Any]:
        """Every agreement version of every list with its agreement's columns (``key``: the key
        the agreement was first seen under; ``version_key``: the row's key then, None on a
        removal), in the order written: the values readers show, without the raw cells (a JSON document per version,
        which the readers never read and which would be decoded a million times)."""
        return self.session.execute(
            select(Agreement.id.label("agreement_id"), Agreement.list_name, Agreement.key, Agreement.state,
                   Agreement.agency_key, Agreement.model, AgreementVersion.key.label("version_key"),
                   AgreementVersion.snapshot_id, AgreementVersion.present,
                   AgreementVersion.agency, AgreementVersion.agency_type, AgreementVersion.county,
                   AgreementVersion.signed, AgreementVersion.moa, AgreementVersion.moa_url, AgreementVersion.addendum,
                   AgreementVersion.addendum_url, AgreementVersion.row_number)
            .join(AgreementVersion, AgreementVersion.agreement_id == Agreement.id)
            .order_by(AgreementVersion.id)
        ).all()

    def current_agreements(self, list_name: str) -> dict[str, StoredAgreement]:
        """Agreements present on the list after its last accepted snapshot, by key text."""
        # Core rows, not AgreementVersion objects: a list of 100,000 rows is loaded in a
        # fraction of the time (a row gives its columns by name, as the object did)
        current: dict[str, StoredAgreement] = {}
        for version in self.session.connection().execute(_CURRENT_VERSIONS, {"list_name": list_name}):
            if version.present:
                key = version.key or version.first_key
                current[key] = StoredAgreement(version.agreement_id_, _record_from_version(key, version),
                                               version.snapshot_id)
        return current

    def removed_in_last_accepted(self, list_name: str) -> list[AgreementRecord]:
        """What the agreements removed by the list's last accepted snapshot said before."""
        last = self.last_accepted(list_name)
        if last is None:
            return []
        connection = self.session.connection()
        gone = list(connection.scalars(_REMOVED_IN, {"snapshot_id": last.id}))
        records = []
        for start in range(0, len(gone), 500):
            rows = connection.execute(_LAST_PRESENT_VERSIONS, {"ids": gone[start:start + 500]})
            records += [_record_from_version(version.key or version.first_key, version) for version in rows]
        return sorted(records, key=lambda r: (r.key.as_text(), r.row_number))

    def agreement_ids(self, list_name: str, keys: Iterable[str], *, taken: Iterable[int] = ()) -> dict[str, int]:
        """The agreement each key last named (tier 1 of diff.identity: an exact key comes back to
        its agreement), unless that agreement is ``taken``: on the list under another key."""
        keys = list(keys)
        if not keys:
            return {}
        busy = taken if isinstance(taken, (set, frozenset)) else set(taken)
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            rows = self.session.connection().execute(
                _LABELS_OF_KEYS, {"list_name": list_name, "keys": keys[start:start + 500]}).all()
            for key, agreement_id in rows:      # the newest label of a key wins
                if agreement_id not in busy:
                    found[key] = agreement_id
        return found

    def keys_of(self, agreement_ids: Iterable[int]) -> dict[int, list[str]]:
        """Every key each agreement has had, oldest first."""
        ids = sorted(set(agreement_ids))
        keys: dict[int, list[str]] = {}
        for start in range(0, len(ids), 500):
            rows = self.session.connection().execute(_KEYS_OF, {"ids": ids[start:start + 500]})
            for agreement_id, key in rows:
                keys.setdefault(agreement_id, []).append(key)
        return keys

    def agreement_names(self, agreement_ids: Iterable[int]) -> dict[int, list[str]]:
        """Each agreement's names as the lists gave them, oldest first, each once; the last is its
        current name (or, for an agreement no longer listed, its last).  A name given again moves
        to the end: names are ordered by the last version that gave them, which the database
        finds (an agreement has a version per change, so thousands in a long history)."""
        ids = sorted(set(agreement_ids))
        names: dict[int, list[str]] = {}
        last = func.max(AgreementVersion.id)
        for start in range(0, len(ids), 500):
            rows = self.session.execute(
                select(AgreementVersion.agreement_id, AgreementVersion.agency)
                .where(AgreementVersion.agreement_id.in_(ids[start:start + 500]), AgreementVersion.present.is_(True),
                       AgreementVersion.agency.is_not(None), AgreementVersion.agency != "")
                .group_by(AgreementVersion.agreement_id, AgreementVersion.agency)
                .order_by(last))
            for agreement_id, agency in rows:
                if agency:       # the query chose named versions only
                    names.setdefault(agreement_id, []).append(agency)
        return names

    def write_versions(
        self,
        list_name: str,
        snapshot_id: int,
        appeared: Sequence[AgreementRecord],
        updated: Mapping[int, AgreementRecord],
        gone: Sequence[int],
        *,
        relabelled: Mapping[int, str] = {},
        staying: Iterable[int] = (),
    ) -> dict[str, int]:
        """Write only what changed: new versions for appeared/updated agreements, removal marks
        for gone ones.  An appeared key goes back to the agreement it last named, unless that
        agreement is ``staying`` on the list; else it is a new agreement.  ``relabelled``: the
        match basis of each updated agreement whose key changed (its new key is then recorded).
        Returns the ids of every appeared agreement by key text."""
        # which agreements are taken matters only to a key that appeared (most ingests: none)
        taken = set(staying) | set(updated) if appeared else set()
        ids = self.agreement_ids(list_name, (a.key.as_text() for a in appeared), taken=taken)
        new_identities = [a for a in appeared if a.key.as_text() not in ids]
        if new_identities:
            # Core inserts (executemany): the ORM's unit of work is not needed for append-only rows.
            inserted = self.session.connection().execute(
                _INSERT_AGREEMENTS,
                [
                    {
                        "list_name": list_name,
                        "key": a.key.as_text(),
                        "state": a.key.state,
                        "agency_key": a.key.agency,
                        "model": a.key.model,
                        "first_snapshot_id": snapshot_id,
                    }
                    for a in new_identities
                ],
            )
            ids.update((key, agreement_id) for agreement_id, key in inserted)
        labels = [(ids[a.key.as_text()], a.key.as_text(), "new") for a in new_identities]
        labels += [(agreement_id, updated[agreement_id].key.as_text(), basis)
                   for agreement_id, basis in relabelled.items()]
        self._add_labels(list_name, snapshot_id, labels)
        versions = [_version_row(ids[a.key.as_text()], snapshot_id, a) for a in appeared]
        versions += [_version_row(agreement_id, snapshot_id, a) for agreement_id, a in updated.items()]
        versions += [{**_REMOVAL, "agreement_id": agreement_id, "snapshot_id": snapshot_id} for agreement_id in gone]
        if versions:
            self.session.connection().execute(_INSERT_VERSIONS, versions)
        return ids

    def _add_labels(self, list_name: str, snapshot_id: int, labels: Sequence[tuple[int, str, str]]) -> None:
        """Record keys not yet had by their agreement (a key it had before is not repeated)."""
        if not labels:
            return
        known = {(i, k) for i, keys in self.keys_of(i for i, _, _ in labels).items() for k in keys}
        rows = [{"agreement_id": i, "list_name": list_name, "key": k, "snapshot_id": snapshot_id, "basis": basis}
                for i, k, basis in labels if (i, k) not in known]
        if rows:
            self.session.connection().execute(_INSERT_LABELS, rows)


_REMOVAL = {
    "present": False, "key": None, "agency": None, "agency_type": None, "county": None, "signed": None, "moa": None,
    "moa_url": None, "addendum": None, "addendum_url": None, "row_number": None, "raw": None,
}


def _version_row(agreement_id: int, snapshot_id: int, a: AgreementRecord) -> dict:
    return {
        "agreement_id": agreement_id,
        "snapshot_id": snapshot_id,
        "present": True,
        "key": a.key.as_text(),
        "agency": a.agency,
        "agency_type": a.agency_type,
        "county": a.county,
        "signed": a.signed,
        "moa": a.moa,
        "moa_url": a.moa_url,
        "addendum": a.addendum,
        "addendum_url": a.addendum_url,
        "row_number": a.row_number,
        "raw": dict(a.raw),
    }


def _record_from_version(key: str, v: Any) -> AgreementRecord:
    """The record of a version (an AgreementVersion, or a row with its columns)."""
    return AgreementRecord(
        key=AgreementKey.from_text(key),
        agency=v.agency or "",
        agency_type=v.agency_type,
        county=v.county,
        signed=v.signed,
        moa=v.moa,
        moa_url=v.moa_url,
        addendum=v.addendum,
        addendum_url=v.addendum_url,
        row_number=v.row_number or 0,
        raw=v.raw or {},
    )
