"""Downloader middleware of our own: waiting before a retry."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from crawler.settings import RETRY_BACKOFF_BASE, RETRY_BACKOFF_MAX

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

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
