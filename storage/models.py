"""Every table, in one module (one metadata, no import cycle).

- Lists: fetch attempts, raw documents, snapshots, agreements and their versions, the change
  log.  History is append-only.  An agreement has a stable id from the day it is first seen;
  its natural key (``STATE|AGENCY|MODEL``) is a label that may change when ICE re-spells or
  corrects a row (``diff.identity``): every key it has had is an ``AgreementKeyLabel``.  What
  it said at each point in time, under which key, is an ``AgreementVersion`` written only
  when its compared values or key change, so the database grows with changes, not with
  fetches.  An ``Agency`` groups the agreements of one agency (its support models), with its
  FBI registry identifier where one matched.
- The service: crawl runs and each source's health.
- News: one ``NewsArticle`` per story; a repeat of a known URL, or the same story syndicated
  under a near-identical title, becomes a further ``NewsSighting`` of it, never a second
  article.  Irrelevant items are stored too (``relevant`` False) so that they are not read
  again, but they have no figures, no agency links and no events.
- Review: decisions on change events (a later one supersedes an earlier one, both are kept)
  and the ledger of notifications sent.

Every datetime column is ``UTCDateTime``: aware, in UTC, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime, utcnow

REVIEW_STATUSES = ("confirmed", "false_positive", "rename", "source_error")


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime()}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk inserts."""
    return cast(Table, model.__table__)


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
    # the rows as read, before cleaning, with the rules that clean them (diff.records.raw_table_hash)
    raw_hash: Mapped[str | None] = mapped_column(String(64))
    # accepted | unchanged | quarantined
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int | None]
    agreements: Mapped[int | None]
    agencies: Mapped[int | None]
    states: Mapped[int | None]
    metrics: Mapped[dict | None] = mapped_column(JSON)
    columns: Mapped[list | None] = mapped_column(JSON)          # canonical columns the source had
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"), index=True)
    same_as_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"), index=True)
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("fetch_attempt.id"), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Agency(Base):
    """One agency (state and canonical name), with its registry identifier where one matched."""

    __tablename__ = "agency"
    __table_args__ = (UniqueConstraint("state", "name", name="uq_agency_state_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(Text)                      # canonical name (diff.identity)
    ori: Mapped[str | None] = mapped_column(String(20), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    basis: Mapped[str | None] = mapped_column(Text)              # how the registry match was made
    registry_record: Mapped[dict | None] = mapped_column(JSON)   # what the registry says of it
    # None: not reviewed; accepted; rejected (then ori, confidence and basis are None, and
    # registry_record keeps the match that was rejected)
    registry_review: Mapped[str | None] = mapped_column(String(20))


class Agreement(Base):
    """One agreement of one list, with a stable id.  ``key`` is the key it was first seen
    under; later keys are in ``agreement_key`` and on each version."""

    __tablename__ = "agreement"
    __table_args__ = (Index("ix_agreement_list_key", "list_name", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_name: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(4), index=True)
    agency_key: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(10))
    first_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)


class AgreementKeyLabel(Base):
    """A key an agreement has had, from the snapshot it first had it, and why it was matched."""

    __tablename__ = "agreement_key"
    __table_args__ = (
        UniqueConstraint("agreement_id", "key", name="uq_agreement_key"),
        Index("ix_agreement_key_list_key", "list_name", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"))
    list_name: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    basis: Mapped[str] = mapped_column(String(40))              # new | a basis of diff.identity


class AgreementVersion(Base):
    """What an agreement said from ``snapshot_id`` on; ``present`` False marks a removal."""

    __tablename__ = "agreement_version"
    # ix_version_agreement_name covers the readers' names over time (ListRepository.agreement_names)
    __table_args__ = (Index("ix_version_agreement", "agreement_id", "id"),
                      Index("ix_version_agreement_name", "agreement_id", "agency", "present", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    key: Mapped[str | None] = mapped_column(Text)                # the row's key then (None on a removal)
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
    # The readers take the log oldest first (day, then id), by state and day or by status
    # (publish.changes; bench/queries.py measures them at a million events).
    __table_args__ = (Index("ix_event_kind_date", "kind", "occurred_on"),
                      Index("ix_event_list_status", "list_name", "status"),
                      Index("ix_event_occurred_on", "occurred_on", "id"),
                      Index("ix_event_state_date", "state", "occurred_on", "id"),
                      Index("ix_event_status_date", "status", "occurred_on", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    list_name: Mapped[str | None] = mapped_column(String(20))
    subject_key: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(4))
    field: Mapped[str | None] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"), index=True)
    previous_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"), index=True)
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)   # as_of of the snapshot
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    evidence: Mapped[dict | None] = mapped_column(JSON)
    # provisional | confirmed | reverted (pipeline.settle); the date first seen stays occurred_on
    status: Mapped[str] = mapped_column(String(20), default="confirmed", server_default="confirmed")
    status_changed_at: Mapped[dt.datetime | None]
    # a reverted event and the event that reverted it point at each other
    linked_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_event.id", name="fk_change_event_linked_event_id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreement.id"), index=True)
    match_basis: Mapped[str | None] = mapped_column(String(40))  # diff.identity; None: no match involved


class CrawlRun(Base):
    """One scheduled (or manual) run of one source: when, how long, and what came of it."""

    __tablename__ = "crawl_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # running | changed | unchanged | not_modified | failed | quarantined | stopped | interrupted
    # | db_unavailable (the span of a database outage during which the source's runs could not start)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    detail: Mapped[str | None] = mapped_column(Text)
    # each list's own outcome, e.g. {"participating": "changed", "pending": "quarantined"}
    list_outcomes: Mapped[dict | None] = mapped_column(JSON)
    duration_ms: Mapped[int | None]
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    pid: Mapped[int | None]
    replica: Mapped[str | None] = mapped_column(String(200))   # the service process that ran it (host:pid:tag)


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


class Lease(Base):
    """A claim by one replica of the service (``source:<id>`` for a source's run, ``job:<name>``
    for a service-wide job), valid until ``expires_at`` unless renewed.  A replica that dies
    simply stops renewing; once the claim expires another replica may take it."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class IngestLock(Base):
    """One row that every ingest updates first, so that ingests into one database (the service
    and a manual backfill, say) take turns: SQLite takes its write lock at once, PostgreSQL a
    row lock.  Each then diffs against the truly last accepted snapshot."""

    __tablename__ = "ingest_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingests: Mapped[int] = mapped_column(BigInteger, default=0)


# -- news ------------------------------------------------------------------------------------

class NewsArticle(Base):
    __tablename__ = "news_article"
    __table_args__ = (Index("ix_news_article_dated", "dated_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))           # id of the source that first brought it
    via: Mapped[str] = mapped_column(String(20))               # feed | listing | file
    url: Mapped[str] = mapped_column(Text)                     # the link as first found
    canonical_url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    publisher_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None]
    published_raw: Mapped[str | None] = mapped_column(Text)
    dated_on: Mapped[dt.date] = mapped_column(Date)             # published, else first seen (UTC day)
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    relevant: Mapped[bool] = mapped_column(Boolean)
    relevance: Mapped[list | None] = mapped_column(JSON)        # the reasons, in words
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NewsSighting(Base):
    """One source carrying an article: the first one, and each duplicate merged into it."""

    __tablename__ = "news_sighting"
    __table_args__ = (UniqueConstraint("article_id", "source", "url", name="uq_news_sighting"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    match: Mapped[str] = mapped_column(String(20))             # first | same_url | same_story
    score: Mapped[float | None] = mapped_column(Float)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NewsFigure(Base):
    """A figure an article reports, with its counterparts when they exist."""

    __tablename__ = "news_figure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    counts: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(4), index=True)
    as_of_start: Mapped[dt.date | None] = mapped_column(Date)
    as_of_end: Mapped[dt.date | None] = mapped_column(Date)
    as_of_precision: Mapped[str | None] = mapped_column(String(10))
    raw: Mapped[str] = mapped_column(Text)
    qualifier: Mapped[str | None] = mapped_column(String(40))
    per: Mapped[str | None] = mapped_column(String(40))
    change: Mapped[bool] = mapped_column(Boolean, default=False)
    sentence: Mapped[str] = mapped_column(Text)
    location: Mapped[dict] = mapped_column(JSON)                # paragraph, sentence, start, end
    baseline_id: Mapped[str | None] = mapped_column(String(100))
    measure: Mapped[dict | None] = mapped_column(JSON)          # list, metric, state, model


class NewsArticleAgency(Base):
    """An agency on the participating list that an article names."""

    __tablename__ = "news_article_agency"
    __table_args__ = (UniqueConstraint("article_id", "state", "agency_key", name="uq_news_article_agency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    state: Mapped[str] = mapped_column(String(4))
    agency_key: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(Text)
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)


# -- review ----------------------------------------------------------------------------------

class ReviewDecision(Base):
    """One person's decision on one change event; ``rename`` links two agreement keys."""

    __tablename__ = "review_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("change_event.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # for status "rename": the list and the two keys that name one agreement
    list_name: Mapped[str | None] = mapped_column(String(20))
    from_key: Mapped[str | None] = mapped_column(Text)
    to_key: Mapped[str | None] = mapped_column(Text)


REGISTRY_REVIEW_STATUSES = ("accepted", "rejected")


class RegistryDecision(Base):
    """One person's decision on an agency's registry match: the agency (state and canonical
    name, as ``Agency``) and the ORI it was matched to.  It outlives the ``agency`` rows (which
    ``rebuild`` recreates): the newest decision on (state, name, ORI) is in force whenever that
    agency is matched to that ORI again."""

    __tablename__ = "registry_decision"
    __table_args__ = (Index("ix_registry_decision_agency", "state", "agency_name", "ori"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(4))
    agency_name: Mapped[str] = mapped_column(Text)
    ori: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))           # accepted | rejected
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationSent(Base):
    """One change event claimed for, then delivered on, one notification target (its ``channel``:
    ``webhook`` or a target's name).  The unique (channel, event) pair is the claim: a second
    process choosing the same event for the same target cannot insert it, so nothing goes out
    twice.  ``status`` is ``claimed`` while the delivery is under way (``claim`` names that
    delivery), then ``sent``; a failed delivery deletes its claimed rows.  ``history``: an event
    the target is never sent, as it was history when the target was added (written by a rebuild,
    which changes event ids; see pipeline.rebuild)."""

    __tablename__ = "notification_sent"
    __table_args__ = (UniqueConstraint("channel", "event_id", name="uq_notification_channel_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[int] = mapped_column(ForeignKey("change_event.id"), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)    # claimed at, then delivered at
    status: Mapped[str] = mapped_column(String(10), default="sent", server_default="sent")
    claim: Mapped[str | None] = mapped_column(String(36), index=True)


class NotificationTarget(Base):
    """A notification target as first seen: events up to ``start_after_event_id`` are history it
    is never sent (``start = "now"``).  Its row is locked while events are chosen and claimed for
    it, and it remembers failed deliveries for the backoff between runs."""

    __tablename__ = "notification_target"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    start_after_event_id: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_after: Mapped[dt.datetime | None]
