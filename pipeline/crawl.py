"""One crawl of the ICE 287(g) page, then the diff stage for whatever it brought back.

The spider runs in a child process (``crawler.run``): a Twisted reactor cannot be restarted,
and a crash or a hang inside Scrapy must not take the caller down.  Every fetch attempt is
recorded, failures included; each downloaded document is ingested in its own transaction.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from crawler.items import CrawlItem, FetchFailure, HtmlListTable, WorkbookDownload
from crawler.list_dates import decide_list_date
from crawler.run import run_crawl
from crawler.sources import LIST_SOURCE_KIND
from diff.guards import Anomaly
from pipeline.ingest import IncomingDocument, Ingestor, IngestOutcome
from pipeline.recorder import FetchRecorder
from storage.errors import describe_database_error
from storage.fetches import FetchRepository

log = logging.getLogger(__name__)

SOURCE = LIST_SOURCE_KIND   # the list source's id, unless the configuration names it otherwise


@dataclass
class CrawlLine:
    url: str
    list_name: str | None
    outcome: str                      # downloaded | not_modified | failed | accepted | unchanged | ...
    detail: str | None = None
    snapshot_id: int | None = None
    file_name: str | None = None
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)   # e.g. a date not believed


@dataclass
class CrawlReport:
    page_url: str
    lines: list[CrawlLine] = field(default_factory=list)
    crawl_error: str | None = None
    stopped: bool = False                  # cut short because the service is stopping

    @property
    def failed(self) -> bool:
        return self.crawl_error is not None or any(line.outcome == "failed" for line in self.lines)

    @property
    def warnings(self) -> list[str]:
        """What a person should look at although nothing failed (a list's date not believed)."""
        return [f"{line.file_name or line.url}: {warning}" for line in self.lines for warning in line.warnings]


def crawl_and_ingest(engine: Engine, page_url: str, *, contact: str, timeout: float = 600,
                     settings: dict | None = None, ingestor: Ingestor | None = None,
                     stop: threading.Event | None = None, run_id: int | None = None,
                     source_id: str = SOURCE) -> CrawlReport:
    """Crawl, record every fetch (tagged with ``source_id`` and ``run_id``), ingest each list.

    ``stop`` ends the crawl early (the child is killed) and skips documents not yet ingested;
    a document being ingested finishes its transaction first.
    """
    ingestor = ingestor or Ingestor(engine)
    report = CrawlReport(page_url)
    recorder = FetchRecorder(engine, source_id, run_id)
    with Session(engine) as session:
        validators = FetchRepository(session).known_validators(source_id)
    with tempfile.TemporaryDirectory(prefix="tracker287g-crawl-") as spool:
        try:
            result = run_crawl(page_url, Path(spool), validators=validators, contact=contact,
                               settings=settings, timeout=timeout, stop=stop)
        except Exception as error:  # the child died, hung or was stopped: one failed crawl, recorded
            if stop is not None and stop.is_set():
                report.stopped = True
                return report
            log.error("crawl of %s failed: %s", page_url, error)
            recorder.failure(page_url, "page", f"crawl failed: {error}")
            report.crawl_error = str(error)
            return report
        if not result.items and result.exit_code == 0:
            # Not even a failure came back (a request dropped or refused before it was made):
            # a crawl that saw nothing must not pass for one that found nothing new.
            nothing = "the crawl brought back nothing: no page, no list, no recorded failure"
            log.error("crawl of %s: %s", page_url, nothing)
            recorder.failure(page_url, "page", nothing)
            report.crawl_error = nothing
            return report
        for item in sorted(result.items, key=_processing_order):
            if stop is not None and stop.is_set():
                report.stopped = True
                break
            report.lines.append(_handle(recorder, ingestor, item))
        if result.exit_code != 0:
            report.crawl_error = f"crawler exited with {result.exit_code}: {result.stderr_tail[-500:]}"
    return report


def _processing_order(item: CrawlItem) -> tuple[Any, ...]:
    """Failures first, then the participating list before the pending one, as a backfill orders
    files of one day, so that a crawl and a backfill of the same files give the same log."""
    if isinstance(item, FetchFailure):
        return (0, item.url)
    declared = getattr(item, "declared_list", None) or getattr(item, "list_name", None)
    return (1, {"participating": 0, "pending": 1}.get(declared or "", 2), getattr(item, "file_name", None) or "",
            getattr(item, "url", None) or getattr(item, "source_page", ""))


def _handle(recorder: FetchRecorder, ingestor: Ingestor, item: CrawlItem) -> CrawlLine:
    """One item of the crawl.  A database error while writing it is a recorded failure of this
    document only: the other documents of the crawl are still ingested."""
    try:
        return _handle_item(recorder, ingestor, item)
    except SQLAlchemyError as error:
        url = str(getattr(item, "url", None) or getattr(item, "source_page", ""))
        reason = f"the database refused the document: {describe_database_error(error)}"
        log.error("ingesting %s failed: %s", url, reason)
        try:
            recorder.failure(url, "ingest", reason, attempted_at=getattr(item, "fetched_at", None))
        except SQLAlchemyError as again:  # the database is gone: the report still says it
            log.error("recording the failure of %s failed too: %s", url, describe_database_error(again))
        declared = getattr(item, "declared_list", None) or getattr(item, "list_name", None)
        return CrawlLine(url, declared, "failed", reason, file_name=getattr(item, "file_name", None))


def _handle_item(recorder: FetchRecorder, ingestor: Ingestor, item: CrawlItem) -> CrawlLine:
    if isinstance(item, FetchFailure):
        recorder.failure(item.url, item.stage, item.error, http_status=item.http_status, attempted_at=item.fetched_at)
        return CrawlLine(item.url, None, "failed", item.error)
    if isinstance(item, WorkbookDownload):
        return _handle_workbook(recorder, ingestor, item)
    if isinstance(item, HtmlListTable):
        return _handle_table(ingestor, item)
    raise TypeError(f"unexpected crawl item {type(item).__name__}")


def _handle_workbook(recorder: FetchRecorder, ingestor: Ingestor, item: WorkbookDownload) -> CrawlLine:
    with Session(recorder.engine) as session, session.begin():
        if item.not_modified and not (item.file_name or "").lower().endswith((".xlsx", ".xls")):
            # A 304 carries no Content-Disposition: the name is the one of the last download.
            last_name = FetchRepository(session).last_file_name(item.url)
            item = dataclasses.replace(item, file_name=last_name or item.file_name)
        attempt = recorder.record(
            session, url=item.url, attempted_at=item.fetched_at, http_status=item.http_status,
            etag=item.etag, last_modified=item.last_modified, bytes=len(item.body) if item.body else None,
            sha256=item.sha256, file_name=item.file_name,
            outcome="not_modified" if item.not_modified else "downloaded",
        )
        fetch_id = attempt.id
    if item.not_modified or item.body is None:
        return CrawlLine(item.url, item.declared_list, "not_modified", "HTTP 304: unchanged since last download",
                         file_name=item.file_name)
    decided = decide_list_date(parse_list_file_name(item.file_name, today=item.fetched_at.date())
                               if item.file_name else None, item.body,
                               downloaded_at=item.fetched_at, last_modified=item.last_modified)
    outcome = ingestor.ingest(IncomingDocument(
        content=item.body, file_name=item.file_name, declared_list=item.declared_list, origin="crawl",
        as_of=decided.as_of, as_of_basis=decided.basis, source_url=item.final_url or item.url, fetch_id=fetch_id,
        notes=tuple(Anomaly("date_not_believed", why, blocking=False) for why in decided.not_believed),
    ))
    line = _line(item.url, outcome, item.file_name)
    line.warnings += [f"date not believed: {why}" for why in decided.not_believed]
    return line


def _handle_table(ingestor: Ingestor, item: HtmlListTable) -> CrawlLine:
    content = json.dumps(dataclasses.asdict(item.table), default=str, sort_keys=True).encode()
    outcome = ingestor.ingest(IncomingDocument(
        content=content, file_name=None, declared_list=item.list_name, origin="crawl",
        as_of=item.fetched_at.date(), as_of_basis="date of the fetch (HTML table)", source_url=item.source_page,
        media="table", table=item.table,
    ))
    return _line(item.source_page, outcome)


def _line(url: str, outcome: IngestOutcome, file_name: str | None = None) -> CrawlLine:
    return CrawlLine(url, outcome.list_name, outcome.status, outcome.reason, outcome.snapshot_id, file_name,
                     dict(outcome.counts))
