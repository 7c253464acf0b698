"""SQLAlchemy 2.x models: fetch attempts, raw documents, snapshots, agreement versions, events.

History is append-only.  An agreement is identified by (list, natural key); what it said at
each point in time is an ``AgreementVersion`` written only when its compared values change,
so the database grows with changes, not with fetches.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class FetchAttempt(Base):
    """One HTTP request for a source (page or workbook), whatever its outcome."""

    __tablename__ = "fetch_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)     # e.g. "ice_287g"
    url: Mapped[str] = mapped_column(Text)
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    http_status: Mapped[int | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(Text)
    # downloaded | not_modified | failed
    outcome: Mapped[str] = mapped_column(String(30))
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Document(Base):
    """The bytes of each distinct file we ingested, kept once (quarantined files too)."""

    __tablename__ = "document"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    first_file_name: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Snapshot(Base):
    """One list as published in one document: accepted, unchanged or quarantined."""

    __tablename__ = "snapshot"
    __table_args__ = (
        Index("ix_snapshot_list_status", "list_name", "status", "id"),
        Index("ix_snapshot_document", "document_sha256", "file_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str] = mapped_column(String(20))          # participating | pending
    declared_list: Mapped[str | None] = mapped_column(String(20))  # what the name/link said
    file_name: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(20))              # backfill | crawl
    as_of: Mapped[dt.date | None] = mapped_column(Date, index=True)
    as_of_basis: Mapped[str | None] = mapped_column(Text)        # how as_of was decided
    document_sha256: Mapped[str | None] = mapped_column(ForeignKey("document.sha256"))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # accepted | unchanged | quarantined
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int | None]
    agreements: Mapped[int | None]
    agencies: Mapped[int | None]
    states: Mapped[int | None]
    metrics: Mapped[dict | None] = mapped_column(JSON)
    columns: Mapped[list | None] = mapped_column(JSON)          # canonical columns the source had
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    same_as_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("fetch_attempt.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Agreement(Base):
    """Identity of one agreement in one list: its natural key."""

    __tablename__ = "agreement"
    __table_args__ = (UniqueConstraint("list_name", "key", name="uq_agreement_list_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(4), index=True)
    agency_key: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(10))
    first_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"))


class AgreementVersion(Base):
    """What an agreement said from ``snapshot_id`` on; ``present`` False marks a removal."""

    __tablename__ = "agreement_version"
    __table_args__ = (Index("ix_version_agreement", "agreement_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    agency: Mapped[str | None] = mapped_column(Text)
    agency_type: Mapped[str | None] = mapped_column(String(30))
    county: Mapped[str | None] = mapped_column(Text)
    signed: Mapped[dt.date | None] = mapped_column(Date)
    moa: Mapped[str | None] = mapped_column(String(20))
    moa_url: Mapped[str | None] = mapped_column(Text)
    addendum: Mapped[str | None] = mapped_column(String(20))
    addendum_url: Mapped[str | None] = mapped_column(Text)
    row_number: Mapped[int | None]
    raw: Mapped[dict | None] = mapped_column(JSON)


class ChangeEvent(Base):
    """One entry of the change log, with the evidence that supports it."""

    __tablename__ = "change_event"
    __table_args__ = (Index("ix_event_kind_date", "kind", "occurred_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    list_name: Mapped[str | None] = mapped_column(String(20))
    subject_key: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(4), index=True)
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"), index=True)
    previous_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)   # as_of of the snapshot
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    evidence: Mapped[dict | None] = mapped_column(JSON)


class CrawlRun(Base):
    """One scheduled (or manual) run of one source: when, how long, and what came of it."""

    __tablename__ = "crawl_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # running | changed | unchanged | not_modified | failed | quarantined | stopped | interrupted
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    detail: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    pid: Mapped[int | None]


class SourceState(Base):
    """Health of one source, kept up to date by the service (read by ``tracker287g status``)."""

    __tablename__ = "source_state"

    source_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_attempt_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[dt.datetime | None]
    failure_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    stale_reported: Mapped[bool] = mapped_column(Boolean, default=False)


class IngestLock(Base):
    """One row that every ingest updates first, so that ingests into one database (the service
    and a manual backfill, say) take turns: SQLite takes its write lock at once, PostgreSQL a
    row lock.  Each then diffs against the truly last accepted snapshot."""

    __tablename__ = "ingest_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingests: Mapped[int] = mapped_column(BigInteger, default=0)
import storage.news  # noqa: E402,F401  (news tables share this metadata)
import storage.review  # noqa: E402,F401  (review tables share this metadata)
