"""Every failed request becomes a FetchFailure item: one way to say what went wrong, for all spiders."""

from __future__ import annotations

import datetime as dt

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_error
from twisted.python.failure import Failure

from crawler.items import FailureStage, FetchFailure

ERROR_KINDS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((DownloadTimeoutError, twisted_error.TimeoutError), "timeout"),
    ((DownloadConnectionRefusedError, twisted_error.ConnectionRefusedError), "connection refused"),
    ((CannotResolveHostError, twisted_error.DNSLookupError), "DNS lookup failed"),
    ((DownloadCancelledError,), "download cancelled"),  # e.g. larger than DOWNLOAD_MAXSIZE
)
MAX_ERROR_CHARS = 300


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def describe_error(exc: BaseException) -> str:
    """Short text for a failure: its kind, then the exception's own words."""
    kind = next((name for types, name in ERROR_KINDS if isinstance(exc, types)), type(exc).__name__)
    detail = " ".join(str(exc).split())
    if not detail:
        return kind
    return (detail if detail.lower().startswith(kind.lower()) else f"{kind}: {detail}")[:MAX_ERROR_CHARS]


class ReportsFailures:
    """Spider mixin: ``_failure`` builds a FetchFailure, ``_failure_from`` reads a Twisted failure.

    The spider provides ``page_url`` (the source page) and Scrapy's ``logger``.
    """

    page_url: str

    def _failure(self, url: str, stage: FailureStage, status: int | None, error: str) -> FetchFailure:
        self.logger.warning("%s failed (%s): %s", url, stage, error)
        return FetchFailure(url=url, source_page=self.page_url, stage=stage, http_status=status,
                            error=error[:MAX_ERROR_CHARS], fetched_at=utc_now())

    def _failure_from(self, failure: Failure, *, url: str, stage: FailureStage) -> FetchFailure:
        exc = failure.value
        if isinstance(exc, HttpError):
            return self._failure(url, stage, exc.response.status, f"HTTP {exc.response.status}")
        if isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc):
            return self._failure(url, "robots", None, "forbidden by robots.txt")
        return self._failure(url, stage, None, describe_error(exc))
