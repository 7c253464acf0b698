"""Fetch attempts: every request for a source, whatever its outcome, and the validators
(ETag, Last-Modified) the next conditional request may send.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import FetchAttempt, Snapshot

Validators = dict[str, dict[str, str | None]]   # url -> {"etag": ..., "last_modified": ...}


class FetchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record_fetch(self, **fields: Any) -> FetchAttempt:
        attempt = FetchAttempt(**fields)
        self.session.add(attempt)
        self.session.flush()
        return attempt

    def last_file_name(self, url: str) -> str | None:
        return self.session.scalars(
            select(FetchAttempt.file_name)
            .where(FetchAttempt.url == url, FetchAttempt.outcome == "downloaded", FetchAttempt.file_name.is_not(None))
            .order_by(FetchAttempt.id.desc())
            .limit(1)
        ).first()

    def known_validators(self, source: str) -> Validators:
        """For each list URL of ``source``, the validators of its newest download whose content
        was read and ingested.

        A download whose ingest never committed (a crash, a bug), or whose bytes could not be
        read as a list (a damaged or truncated file: its snapshot has no row count), does not
        count: asking the server "changed since then?" would get a 304 and the intact file
        would never be fetched.
        """
        ingested = select(Snapshot.document_sha256).where(Snapshot.document_sha256.is_not(None),
                                                          Snapshot.row_count.is_not(None))
        return self._newest_validators(source, FetchAttempt.sha256.in_(ingested))

    def page_validators(self, source: str) -> Validators:
        """ETag and Last-Modified of each feed or listing of a news ``source``, from its newest
        download.  (``pipeline.news`` stores them only once every article of that download was
        recorded, so a 304 never hides an article that was not stored.)"""
        return self._newest_validators(source)

    def _newest_validators(self, source: str, *conditions: Any) -> Validators:
        newest = (
            select(func.max(FetchAttempt.id))
            .where(FetchAttempt.source == source, FetchAttempt.outcome == "downloaded", *conditions)
            .group_by(FetchAttempt.url)
        )
        rows = self.session.execute(
            select(FetchAttempt.url, FetchAttempt.etag, FetchAttempt.last_modified).where(FetchAttempt.id.in_(newest))
        )
        return {url: {"etag": etag, "last_modified": last_modified} for url, etag, last_modified in rows
                if etag or last_modified}

    def bytes_of_run(self, run_id: int) -> int:
        """Bytes downloaded by one crawl run."""
        return int(self.session.scalar(select(func.coalesce(func.sum(FetchAttempt.bytes), 0))
                                       .where(FetchAttempt.run_id == run_id)) or 0)
