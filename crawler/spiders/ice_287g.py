"""Spider for ICE's 287(g) page: finds the list workbooks, downloads them, reports failures.

It yields ``WorkbookDownload`` for every workbook link (the bytes as served; it never opens
them), ``HtmlListTable`` for lists published as HTML tables (the form used until 2025), and
``FetchFailure`` for everything that went wrong, so that a failed fetch is never mistaken for
an empty list.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import scrapy
from lxml import etree
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.failures import ReportsFailures, utc_now
from crawler.filenames import file_name_from_content_disposition
from crawler.html_table import parse_list_tables
from crawler.items import FetchFailure, HtmlListTable, WorkbookDownload
from crawler.middlewares import INCOMPLETE_META, incomplete_reason
from crawler.settings import PAGE_URL_SETTING
from crawler.sources import ICE_287G_PAGE_URL
from diff.records import SIGNED, ListName, SourceTable

DEFAULT_PAGE_URL = ICE_287G_PAGE_URL

# C0 controls and DEL, dropped from a file name read from a URL path
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
# /doclib/about/offices/ero/287g/participatingAgencies05292025am.xlsx
_DOCLIB_XLSX = re.compile(r"/doclib/.*\.xlsx$", re.IGNORECASE)
# /file-download/download/public/43829 (the file name arrives in Content-Disposition)
_FILE_DOWNLOAD = re.compile(r"/file-download/download/public/\d+/?$", re.IGNORECASE)

# Elements whose text counts as "around" a link, nearest first; a bigger container would mix
# the texts of both lists.
_AROUND = frozenset({"li", "p", "td", "dd", "dt"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# ICE's page links two lists; more than this many workbook links is not the page we know.
MAX_WORKBOOK_LINKS = 10
# Texts read to decide which list a link names; enough for any real link, caption or heading.
_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class WorkbookLink:
    url: str                      # absolute, without fragment
    text: str                     # link text, whitespace tidied
    declared_list: ListName | None


class Ice287gSpider(ReportsFailures, scrapy.Spider):
    name = "ice_287g"

    def __init__(
        self,
        *args: Any,
        page_url: str | None = None,
        validators: Mapping[str, Mapping[str, str | None]] | str | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.page_url = page_url or DEFAULT_PAGE_URL
        if isinstance(validators, str):  # `scrapy crawl -a validators='{...}'`
            validators = json.loads(validators)
        self.validators: dict[str, Mapping[str, str | None]] = dict(validators or {})

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Ice287gSpider:
        if not kwargs.get("page_url"):
            kwargs["page_url"] = crawler.settings.get(PAGE_URL_SETTING) or DEFAULT_PAGE_URL
        return super().from_crawler(crawler, *args, **kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(
            self.page_url,
            callback=self.parse,
            errback=self.page_failed,
            dont_filter=True,
            meta={"stage": "page"},
        )

    # -- the page ---------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            yield self._failure(response.url, "page", response.status, "page is not HTML")
            return
        links = self._parse_links(response)
        # Links that name a list first, and at most MAX_WORKBOOK_LINKS of them: a page padded
        # with thousands of workbook-shaped links must not hide the real ones behind them.
        links = [link for link in links if link.declared_list] + [link for link in links if not link.declared_list]
        if len(links) > MAX_WORKBOOK_LINKS:
            yield self._failure(response.url, "page", response.status,
                                f"the page links {len(links)} workbooks; only the first {MAX_WORKBOOK_LINKS} "
                                "(those that name a list first) are fetched")
            links = links[:MAX_WORKBOOK_LINKS]
        for order, link in enumerate(links):
            yield self._workbook_request(link, priority=len(links) - order)   # in this order
        tables = parse_list_tables(response.body, response.url)
        fetched_at = utc_now()
        for table in tables:
            yield HtmlListTable(
                source_page=self.page_url,
                list_name=self._table_list_name(table),
                fetched_at=fetched_at,
                table=table,
            )
        if not links and not tables:
            yield self._failure(response.url, "page", response.status, "no list links found")

    def _parse_links(self, response: TextResponse) -> list[WorkbookLink]:
        """Workbook links in page order, one per URL (the first text that names a list wins).

        A link counts when its URL has a workbook's shape and either something names the list
        (its text, its title, the text around it, the heading before it) or it lives in ICE's
        287g folder; other spreadsheets on the page are not the lists.  One pass over the page
        (``_page_anchors``), each text read once and capped: a hostile page with thousands of
        links costs time in proportion to its size.
        """
        found: dict[str, WorkbookLink] = {}
        texts: dict[Any, str] = {}

        def text_of(element: Any) -> str:
            if element is None:
                return ""
            if element not in texts:
                texts[element] = _tidy(_capped_text(element))
            return texts[element]

        for anchor, around, heading in _page_anchors(response.selector.root):
            url = urldefrag(response.urljoin(anchor.attrib["href"].strip())).url
            if not _is_workbook_url(url):
                continue
            text = _tidy(_capped_text(anchor))
            declared = self._first_declared(_link_texts(anchor, text, around, heading, url, text_of))
            if declared is None and "/287g/" not in urlsplit(url).path.lower():
                # e.g. a document-library index in the footer: not one of the two lists
                self.logger.info("Ignoring %s: nothing says which list it is", url)
                continue
            earlier = found.get(url)
            if earlier is None:
                found[url] = WorkbookLink(url, text, declared)
            elif earlier.declared_list is None and declared is not None:
                found[url] = WorkbookLink(url, earlier.text or text, declared)
        return list(found.values())

    @classmethod
    def _first_declared(cls, texts: Iterable[str | None]) -> ListName | None:
        """``_declared_list`` of texts read one by one, only as far as needed."""
        for text in texts:
            declared = cls._declared_list(text)
            if declared is not None:
                return declared
        return None

    @staticmethod
    def _declared_list(*texts: str | None) -> ListName | None:
        """The list the first unambiguous text names: "participating" or "pending"."""
        for text in texts:
            lowered = (text or "").lower()
            says_participating = "participating" in lowered
            says_pending = "pending" in lowered
            if says_participating != says_pending:
                return "participating" if says_participating else "pending"
        return None

    def _table_list_name(self, table: SourceTable) -> ListName | None:
        # Caption or heading first; failing that, only the participating list had SIGNED dates.
        named = self._declared_list(table.sheet_name)
        if named is not None:
            return named
        return "participating" if SIGNED in table.columns else None

    def page_failed(self, failure: Failure) -> Iterator[FetchFailure]:
        request = failure.request  # type: ignore[attr-defined]
        yield self._failure_from(failure, url=request.url, stage="page")

    # -- the workbooks ----------------------------------------------------------------------

    def _workbook_request(self, link: WorkbookLink, priority: int = 0) -> scrapy.Request:
        # The links are already one per URL.  Scrapy's duplicate filter would drop a redirect to
        # a URL seen before (to itself, back and forth, two links to one file) without calling
        # the errback: unfiltered, a loop ends at REDIRECT_MAX_TIMES as a recorded failure, and
        # two links to one file are both downloaded (the second ingest: "already recorded").
        return scrapy.Request(
            link.url,
            callback=self.parse_workbook,
            errback=self.workbook_failed,
            dont_filter=True,
            priority=priority,
            headers=self._conditional_headers(link.url),
            cb_kwargs={"link": link},
            meta={"stage": "workbook", "handle_httpstatus_list": [304]},
        )

    def _conditional_headers(self, url: str) -> dict[str, str]:
        known = self.validators.get(url) or {}
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = str(known["etag"])
        if known.get("last_modified"):
            headers["If-Modified-Since"] = str(known["last_modified"])
        return headers

    def parse_workbook(self, response: Response, link: WorkbookLink) -> Iterator[WorkbookDownload | FetchFailure]:
        # A body cut short is a failed fetch: never ingested, and its validators never sent
        # (the intact file behind the same ETag would then be answered with 304s).
        incomplete = response.meta.get(INCOMPLETE_META) or incomplete_reason(
            response.flags, None, len(response.body), status=response.status)
        if incomplete:
            yield self._failure(link.url, "workbook", response.status, incomplete)
            return
        not_modified = response.status == 304
        sent = self.validators.get(link.url) or {}
        body = None if not_modified else response.body
        file_name = self._parse_file_name(response)
        yield WorkbookDownload(
            source_page=self.page_url,
            url=link.url,
            final_url=response.url,
            link_text=link.text,
            declared_list=link.declared_list or self._declared_list(file_name),
            file_name=file_name,
            http_status=response.status,
            etag=_header(response, "ETag") or (sent.get("etag") if not_modified else None),
            last_modified=_header(response, "Last-Modified")
            or (sent.get("last_modified") if not_modified else None),
            content_type=_header(response, "Content-Type"),
            body=body,
            sha256=None if body is None else hashlib.sha256(body).hexdigest(),
            fetched_at=utc_now(),
            not_modified=not_modified,
        )

    @staticmethod
    def _parse_file_name(response: Response) -> str | None:
        from_header = file_name_from_content_disposition(_header(response, "Content-Disposition"))
        return from_header or _url_file_name(response.url) or None

    def workbook_failed(self, failure: Failure) -> Iterator[FetchFailure]:
        request = failure.request  # type: ignore[attr-defined]
        url = request.cb_kwargs["link"].url if "link" in request.cb_kwargs else request.url
        yield self._failure_from(failure, url=url, stage="workbook")


def _is_workbook_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    return bool(_DOCLIB_XLSX.search(parts.path) or _FILE_DOWNLOAD.search(parts.path))


def _url_file_name(url: str) -> str:
    # ``%00`` and other escaped controls never reach a stored name (PostgreSQL refuses NUL)
    return _CONTROLS.sub("", PurePosixPath(unquote(urlsplit(url).path)).name)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    if value is None:
        return None
    return value.decode("latin-1").strip() or None


def _link_texts(anchor: Any, text: str, around: Any, heading: Any, url: str,
                text_of: Callable[[Any], str]) -> Iterator[str | None]:
    """What may say which list a link is, nearest first, each read only when asked for."""
    yield text
    yield anchor.attrib.get("title")
    yield text_of(around)
    yield text_of(heading)
    yield _url_file_name(url) if _DOCLIB_XLSX.search(urlsplit(url).path) else ""


def _page_anchors(root: Any) -> Iterator[tuple[Any, Any, Any]]:
    """Each ``<a href>`` of the page in document order, with the nearest enclosing li/p/td/dd/dt
    (or None) and the last heading that ends before it (or None), found in one walk."""
    container: dict[Any, Any] = {}       # element -> nearest container, itself included
    heading = None
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag
        if not isinstance(tag, str):     # comments, processing instructions
            continue
        if event == "end":
            if tag in _HEADINGS:
                heading = element
            continue
        parent = element.getparent()
        nearest = container.get(parent) if parent is not None else None
        container[element] = element if tag in _AROUND else nearest
        if tag == "a" and "href" in element.attrib:
            yield element, nearest, heading


def _capped_text(element: Any, limit: int = _TEXT_LIMIT) -> str:
    """The element's text nodes joined by spaces, read only up to about ``limit`` characters."""
    parts, size = [], 0
    for text in element.itertext():
        parts.append(text)
        size += len(text)
        if size >= limit:
            break
    return " ".join(parts)


def _tidy(text: str) -> str:
    return " ".join(text.split())
