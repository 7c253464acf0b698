"""Spider for news feeds (RSS 2.0, RSS 1.0, Atom): ICE's release feeds, a Google News search,
or any feed a user adds.

It yields one ``NewsPage`` for the feed (or its 304), one ``NewsArticle`` per entry and a
``FetchFailure`` for whatever went wrong.  An entry's article page is read when that is useful
and allowed: not for Google News (its links are redirects through news.google.com; the item's
title and ``<source>`` publisher are kept instead), not for pages the service already holds,
and at most ``NEWS_MAX_ARTICLES`` per crawl.

Settings (``crawler.run --setting``), besides ``crawler.settings.crawler_settings``:

``NEWS_KNOWN_URLS_FILE``   JSON list of ``diff.news.url_key``s already recorded (not re-read)
``NEWS_FOLLOW_ARTICLES``   read article pages (default true)
``NEWS_MAX_ARTICLES``      article pages per crawl (default 20)
``NEWS_MAX_BYTES``         cap for one response, feed or page (default 5 MB)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.failures import ReportsFailures, utc_now
from crawler.items import FailureStage, FetchFailure, NewsArticle, NewsPage
from crawler.news import GOOGLE_NEWS_HOST, FeedError, parse_article, parse_feed
from crawler.sources import MAX_PAGE_BYTES
from crawler.spiders.ice_287g import _header
from diff.news import strip_tracking, url_key

KNOWN_URLS_SETTING = "NEWS_KNOWN_URLS_FILE"
FOLLOW_SETTING = "NEWS_FOLLOW_ARTICLES"
MAX_ARTICLES_SETTING = "NEWS_MAX_ARTICLES"
MAX_BYTES_SETTING = "NEWS_MAX_BYTES"


class NewsSpiderBase(ReportsFailures, scrapy.Spider):
    """What feed and listing spiders share: conditional first request, article pages, failures."""

    page_stage: FailureStage = "feed"

    def __init__(self, *args: Any, page_url: str | None = None,
                 validators: Mapping[str, Mapping[str, str | None]] | str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not page_url:
            raise ValueError(f"{self.name}: page_url is required")
        self.page_url = page_url
        if isinstance(validators, str):
            validators = json.loads(validators)
        self.validators: dict[str, Mapping[str, str | None]] = dict(validators or {})
        self.articles_requested = 0

    def _configure(self) -> None:
        settings = self.crawler.settings
        self.follow_articles = settings.getbool(FOLLOW_SETTING, True)
        self.max_articles = settings.getint(MAX_ARTICLES_SETTING, 20)
        self.max_bytes = settings.getint(MAX_BYTES_SETTING, MAX_PAGE_BYTES)
        known_file = settings.get(KNOWN_URLS_SETTING)
        self.known: set[str] = set(json.loads(Path(known_file).read_text("utf-8"))) if known_file else set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._configure()
        known = self.validators.get(self.page_url) or {}
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = str(known["etag"])
        if known.get("last_modified"):
            headers["If-Modified-Since"] = str(known["last_modified"])
        yield scrapy.Request(
            self.page_url, callback=self.parse, errback=self.page_failed, headers=headers, dont_filter=True,
            meta={"stage": self.page_stage, "handle_httpstatus_list": [304], "download_maxsize": self.max_bytes},
        )

    # -- the feed or listing page -------------------------------------------------------------

    def _page_item(self, response: Response, kind: str, entries: int, title: str | None = None) -> NewsPage:
        not_modified = response.status == 304
        sent = self.validators.get(self.page_url) or {}
        return NewsPage(
            source_page=self.page_url, url=self.page_url, final_url=response.url, kind=kind, title=title,
            http_status=response.status,
            etag=_header(response, "ETag") or (sent.get("etag") if not_modified else None),
            last_modified=_header(response, "Last-Modified") or (sent.get("last_modified") if not_modified else None),
            content_type=_header(response, "Content-Type"),
            bytes=None if not_modified else len(response.body),
            sha256=None if not_modified else hashlib.sha256(response.body).hexdigest(),
            entries=entries, fetched_at=utc_now(), not_modified=not_modified,
        )

    def page_failed(self, failure: Failure) -> Iterator[FetchFailure]:
        yield self._failure_from(failure, url=_first_url(failure.request), stage=self.page_stage)  # type: ignore[attr-defined]

    # -- articles -----------------------------------------------------------------------------

    def article_or_request(self, lead: dict[str, Any]) -> scrapy.Request | NewsArticle:
        """The article from its lead alone, or a request for its page when that is worth it."""
        link = lead["url"]
        if (not self.follow_articles or urlsplit(link).hostname == GOOGLE_NEWS_HOST or url_key(link) in self.known
                or self.articles_requested >= self.max_articles):
            return self.lead_article(lead)
        self.articles_requested += 1
        # Not through Scrapy's duplicate filter: it would drop a redirect to a URL requested before
        # (to itself, back and forth, two links to one page) without calling the errback, and the
        # article would vanish unrecorded.  Unfiltered, a loop ends at REDIRECT_MAX_TIMES in
        # article_failed (the article is kept from its lead), and a page behind two links is read
        # for each; the recording merges them.  A link listed twice is one lead (``_leads``,
        # ``parse``), so nothing is fetched twice for that.
        return scrapy.Request(
            link, callback=self.parse_article_page, errback=self.article_failed, cb_kwargs={"lead": lead},
            meta={"stage": "article", "download_maxsize": self.max_bytes}, dont_filter=True,
        )

    def lead_article(self, lead: dict[str, Any]) -> NewsArticle:
        return NewsArticle(
            source_page=self.page_url, via=lead["via"], url=lead["url"], final_url=None,
            canonical_url=strip_tracking(lead["url"]), title=lead["title"], publisher=lead.get("publisher"),
            publisher_url=lead.get("publisher_url"), published=lead.get("published"),
            published_raw=lead.get("published_raw"), summary=lead.get("summary"), text=None, guid=lead.get("guid"),
            page_fetched=False, http_status=None, bytes=None, sha256=None, fetched_at=utc_now(),
        )

    def parse_article_page(self, response: Response, lead: dict[str, Any]) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            yield self._failure(response.url, "article", response.status, "article page is not HTML")
            yield self.lead_article(lead)
            return
        page = parse_article(response.body, url=response.url, content_type=_header(response, "Content-Type"),
                             max_bytes=self.max_bytes)
        yield NewsArticle(
            source_page=self.page_url, via=lead["via"], url=lead["url"], final_url=response.url,
            canonical_url=page.canonical_url, title=page.title or lead["title"],
            publisher=lead.get("publisher") or page.publisher, publisher_url=lead.get("publisher_url"),
            published=page.published or lead.get("published"),
            published_raw=page.published_raw if page.published else lead.get("published_raw"),
            summary=lead.get("summary") or page.description, text=page.text, guid=lead.get("guid"),
            page_fetched=True, http_status=response.status, bytes=len(response.body),
            sha256=hashlib.sha256(response.body).hexdigest(), fetched_at=utc_now(),
        )

    def article_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        # under the link the entry gave, wherever its redirects led
        yield self._failure_from(failure, url=request.cb_kwargs["lead"]["url"], stage="article")
        # The entry is still news: it is kept with what the feed or listing said.
        yield self.lead_article(request.cb_kwargs["lead"])


def _first_url(request: scrapy.Request) -> str:
    """The URL a request was made for, before any redirect (Scrapy keeps the chain in its meta)."""
    return (request.meta.get("redirect_urls") or [request.url])[0]


class NewsFeedSpider(NewsSpiderBase):
    name = "news_feed"
    page_stage: FailureStage = "feed"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if response.status == 304:
            yield self._page_item(response, "feed", 0)
            return
        try:
            feed = parse_feed(response.body, url=response.url, content_type=_header(response, "Content-Type"),
                              max_bytes=self.max_bytes)
        except FeedError as error:
            yield self._failure(self.page_url, "feed", response.status, f"unreadable feed: {error}")
            return
        yield self._page_item(response, feed.format, len(feed.entries), feed.title)
        links: set[str] = set()
        for entry in feed.entries:
            if not entry.link:
                self.logger.info("feed entry %r has no link; skipped", entry.title[:80])
                continue
            if entry.link in links:   # the same link twice in one feed: one article
                continue
            links.add(entry.link)
            yield self.article_or_request({
                "via": "feed", "url": entry.link, "title": entry.title, "publisher": entry.publisher,
                "publisher_url": entry.publisher_url, "published": entry.published,
                "published_raw": entry.published_raw, "summary": entry.summary, "guid": entry.guid,
            })
