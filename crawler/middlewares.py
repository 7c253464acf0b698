"""Downloader middleware of our own: waiting before a retry; telling a download cut short."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from crawler.settings import RETRY_BACKOFF_BASE, RETRY_BACKOFF_MAX

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

INCOMPLETE_META = "tracker287g_incomplete"   # request.meta key: why the body is not the whole file

logger = logging.getLogger(__name__)


class RetryBackoffMiddleware:
    """Waits before each retry: base, 2 x base, 4 x base ... capped at ``RETRY_BACKOFF_MAX``.

    Scrapy's RetryMiddleware re-schedules a failed request at once; against a struggling
    server that is the wrong thing to do.  Retried requests carry ``meta["retry_times"]``.
    """

    def __init__(self, base: float, ceiling: float):
        self.base = base
        self.ceiling = ceiling

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryBackoffMiddleware:
        return cls(
            crawler.settings.getfloat(RETRY_BACKOFF_BASE, 5.0),
            crawler.settings.getfloat(RETRY_BACKOFF_MAX, 60.0),
        )

    def backoff_seconds(self, retry_times: int) -> float:
        if retry_times <= 0 or self.base <= 0:
            return 0.0
        return min(self.base * 2 ** (retry_times - 1), self.ceiling)

    async def process_request(self, request: Request) -> None:
        wait = self.backoff_seconds(request.meta.get("retry_times", 0))
        if wait:
            logger.info("Backing off %.1f s before retry of %s", wait, request.url)
            await asyncio.sleep(wait)


class DownloadCompletenessMiddleware:
    """Marks a response whose body is not the whole file: flagged ``partial`` by Scrapy (the
    connection closed with no Content-Length to say the body was complete) or ``dataloss``, or
    shorter than its Content-Length.  The spider turns it into a failed fetch.

    It sits just outside HttpCompressionMiddleware (590), so it sees the body as it came over
    the wire, which is what Content-Length counts.
    """

    def process_response(self, request: Request, response: Response) -> Response:
        why = incomplete_reason(response.flags, response.headers.get("Content-Length"), len(response.body),
                                status=response.status)
        if why is not None:
            request.meta[INCOMPLETE_META] = why
        return response


def incomplete_reason(flags: list[str], content_length: bytes | str | None, received: int, *,
                      status: int = 200) -> str | None:
    """Why a body is not the whole file, or None when nothing says so."""
    if status == 304:
        return None
    if "partial" in flags:
        return f"download cut short: the connection closed after {received} bytes with no Content-Length to confirm it"
    if "dataloss" in flags:
        return f"download cut short: {received} bytes received, data lost"
    if content_length is not None:
        text = content_length.decode("latin-1") if isinstance(content_length, bytes) else content_length
        if text.strip().isdigit() and received < int(text):
            return f"download cut short: {received} of {int(text)} bytes (Content-Length)"
    return None
