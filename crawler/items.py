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

FailureStage = Literal["page", "workbook", "robots"]


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
