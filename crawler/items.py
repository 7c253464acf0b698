"""Typed items the crawler yields.  Scrapy accepts dataclass items as they are.

Three kinds, one per outcome of looking at the 287(g) page:

* ``WorkbookDownload``: one list workbook fetched (or confirmed unchanged by a 304);
* ``HtmlListTable``: one list read from the older HTML-table form of the page;
* ``FetchFailure``: anything that went wrong, as a value (never a silent skip).

The crawler never reads a workbook's contents; ``body`` is the file exactly as served.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from diff.records import ListName, SourceTable

# feed / listing / article: stages of the news spiders (crawler.spiders.news_*).
FailureStage = Literal["page", "workbook", "robots", "feed", "listing", "article"]


@dataclass(kw_only=True)
class WorkbookDownload:
    """A workbook linked from the 287(g) page, as downloaded.

    ``declared_list`` is what ICE *says* the file is (link text, the text around the link or the
    file name); the contents may disagree (ICE swapped the two files on 2025-09-22).
    ``not_modified`` is True when the server answered a conditional request with 304: then
    ``body`` and ``sha256`` are None and the validators are those the server repeated, or else
    the ones that were sent.
    """

    source_page: str
    url: str                                 # the link as found on the page (absolute)
    final_url: str                           # after redirects
    link_text: str
    declared_list: ListName | None
    file_name: str | None                    # Content-Disposition when present, else URL path
    http_status: int
    etag: str | None
    last_modified: str | None                # HTTP-date text, as the server sent it
    content_type: str | None
    body: bytes | None = field(repr=False)   # kept out of repr: Scrapy logs items
    sha256: str | None
    fetched_at: dt.datetime                  # UTC
    not_modified: bool = False


@dataclass(kw_only=True)
class HtmlListTable:
    """A list read from an HTML ``<table>`` on the page (the form used until February 2025)."""

    source_page: str
    list_name: ListName | None               # a guess: heading/caption text, else column shape
    fetched_at: dt.datetime                  # UTC
    table: SourceTable = field(repr=False)


@dataclass(kw_only=True)
class FetchFailure:
    """Something that could not be fetched or read; the service records it, never ignores it."""

    url: str
    source_page: str
    stage: FailureStage
    http_status: int | None
    error: str                               # short text, e.g. "HTTP 500", "forbidden by robots.txt"
    fetched_at: dt.datetime                  # UTC


CrawlItem = WorkbookDownload | HtmlListTable | FetchFailure


# -- news (crawler.spiders.news_feed, crawler.spiders.news_listing) ----------------------------


@dataclass(kw_only=True)
class NewsPage:
    """One fetch of a feed or listing page (or a 304 for it): what the service records so that
    the next request can be conditional.  ``kind`` is rss, rdf, atom or listing."""

    source_page: str                         # the configured URL
    url: str
    final_url: str
    kind: str
    title: str | None                        # the feed's own title
    http_status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    bytes: int | None
    sha256: str | None
    entries: int                             # items (feed) or article links (listing) found
    fetched_at: dt.datetime                  # UTC
    not_modified: bool = False


@dataclass(kw_only=True)
class NewsArticle:
    """A news item: from a feed entry or a listing link, with the article page when it was read.

    ``page_fetched`` is False when nothing but the feed entry is known (Google News items, pages
    already recorded, pages that failed): then ``text`` is None and the page fields are None.
    """

    source_page: str                         # the feed or listing it was found on
    via: str                                 # feed | listing
    url: str                                 # the link as found (absolute)
    final_url: str | None                    # after redirects, when the page was fetched
    canonical_url: str                       # rel=canonical / og:url, tracking parameters removed
    title: str
    publisher: str | None
    publisher_url: str | None
    published: dt.datetime | None            # aware
    published_raw: str | None                # as the feed or page wrote it
    summary: str | None                      # feed description or page description, plain text
    text: str | None = field(repr=False)     # main text of the page, one paragraph per line
    guid: str | None
    page_fetched: bool
    http_status: int | None
    bytes: int | None
    sha256: str | None
    fetched_at: dt.datetime                  # UTC


NewsItem = NewsPage | NewsArticle
