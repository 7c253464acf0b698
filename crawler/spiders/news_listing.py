"""Spiders for HTML news listings: the ICE newsroom and DHS press releases.

Each reads its listing page (conditionally, like a feed), takes the links whose path has the
shape of an article on the same site, and follows each into the article (see
``crawler.spiders.news_feed.NewsSpiderBase`` for what is and is not fetched).  Besides the
feed spider's settings:

``NEWS_ARTICLE_PATTERN``  regular expression an article's URL path must match (the site's default)
``NEWS_MAX_PAGES``        listing pages to read, following rel="next" (default 1)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawler.items import FailureStage
from crawler.news import PageLink, page_links, parse_listing_date
from crawler.spiders.ice_287g import _header
from crawler.spiders.news_feed import NewsSpiderBase

PATTERN_SETTING = "NEWS_ARTICLE_PATTERN"
MAX_PAGES_SETTING = "NEWS_MAX_PAGES"


class NewsListingSpider(NewsSpiderBase):
    """A listing of articles; subclasses give ``name`` and ``article_path``."""

    article_path = r".+"
    page_stage: FailureStage = "listing"

    def _configure(self) -> None:
        super()._configure()
        self.pattern = re.compile(self.crawler.settings.get(PATTERN_SETTING) or self.article_path)
        self.max_pages = self.crawler.settings.getint(MAX_PAGES_SETTING, 1)
        self.pages_read = 0
        self.pages_seen: set[str] = set()
        self.leads_seen: set[str] = set()

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if response.status == 304:
            yield self._page_item(response, "listing", 0)
            return
        if not isinstance(response, TextResponse):
            yield self._failure(response.url, "listing", response.status, "listing page is not HTML")
            return
        if response.url in self.pages_seen:   # the next page led back to one already read
            self.logger.info("listing page %s was read already; not read again", response.url)
            return
        self.pages_seen.add(response.url)
        self.pages_read += 1
        content_type = _header(response, "Content-Type")
        links = page_links(response.body, url=response.url, content_type=content_type)
        leads = self._leads(response.url, links)
        if self.pages_read == 1:
            yield self._page_item(response, "listing", len(leads))
        if not leads and self.pages_read == 1:
            yield self._failure(response.url, "listing", response.status, "no article links found")
        for lead in leads:
            if lead["url"] not in self.leads_seen:   # on an earlier page too: one article
                self.leads_seen.add(lead["url"])
                yield self.article_or_request(lead)
        following = self._next_page(response.url, links)
        if following and self.pages_read < self.max_pages:
            # Unfiltered, like the articles (see ``article_or_request``): a next page that loops
            # ends in page_failed, one that leads back to a page read is not read twice (above).
            yield scrapy.Request(following, callback=self.parse, errback=self.page_failed, dont_filter=True,
                                 meta={"stage": "listing", "download_maxsize": self.max_bytes})

    def _leads(self, page: str, links: list[PageLink]) -> list[dict[str, Any]]:
        host = urlsplit(page).hostname
        leads: dict[str, dict[str, Any]] = {}
        for link in links:
            url, text, date_text = link.url, link.text, link.date
            parts = urlsplit(url)
            if link.in_chrome or parts.hostname != host or not self.pattern.fullmatch(parts.path):
                continue
            lead = leads.setdefault(url, {"via": "listing", "url": url, "title": text, "published": None,
                                          "published_raw": None})
            if not lead["title"] and text:
                lead["title"] = text          # an image link first, then the headline link
            if lead["published"] is None and date_text:
                lead["published"] = parse_listing_date(date_text)
                lead["published_raw"] = date_text if lead["published"] else None
        return [lead for lead in leads.values() if lead["title"]]

    @staticmethod
    def _next_page(page: str, links: list[PageLink]) -> str | None:
        for link in links:
            if ("next" in link.rel or link.text.lower().strip(" ›»>") in ("next", "next page")) and link.url != page:
                return link.url
        return None


class IceNewsroomSpider(NewsListingSpider):
    """https://www.ice.gov/newsroom: releases live at /news/releases/<slug>."""

    name = "ice_newsroom"
    article_path = r"/news/releases/[^/]+/?"


class DhsPressReleasesSpider(NewsListingSpider):
    """https://www.dhs.gov/news-releases/press-releases: releases live at /news/YYYY/MM/DD/<slug>."""

    name = "dhs_press_releases"
    article_path = r"/news/\d{4}/\d{2}/\d{2}/[^/]+/?"
