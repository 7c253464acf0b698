"""Reading news: RSS 2.0 / RSS 1.0 / Atom feeds and article pages.  No network, no database.

Everything here reads untrusted bytes:

* feeds are parsed by ``defusedxml`` (expat) with entity declarations and external references
  forbidden, so an entity bomb or an XXE is refused before anything expands (``FeedError``);
* sizes are capped before parsing (``MAX_FEED_BYTES``, ``MAX_PAGE_BYTES``) and every text kept
  is cut to a bound (``MAX_TEXT_CHARS`` ...);
* encodings: the XML declaration or byte-order mark wins for feeds, then the HTTP charset;
  pages go through BeautifulSoup's detection (HTTP charset, then ``<meta charset>``).  Bytes that
  are invalid in the declared encoding make a feed unreadable (a recorded failure); in a page
  they become U+FFFD.

``parse_feed`` gives a ``ParsedFeed``; ``parse_article`` gives the canonical URL, title,
publisher, publication time and main text of a page.  Google News items link through
news.google.com redirects: the publisher comes from the item's ``<source>``, and the title
loses its " - Publisher" suffix.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import bs4
from bs4 import BeautifulSoup
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from crawler.sources import MAX_PAGE_BYTES
from diff.news import strip_tracking

MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 300
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 5_000

GOOGLE_NEWS_HOST = "news.google.com"
# Publishers named by the site's host, where the page's own name for itself is an acronym.
KNOWN_PUBLISHERS = {
    "ice.gov": "U.S. Immigration and Customs Enforcement",
    "dhs.gov": "U.S. Department of Homeland Security",
}

_ATOM = "{http://www.w3.org/2005/Atom}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


class FeedError(ValueError):
    """A feed that cannot be read; ``str()`` is the reason, short enough for a fetch record."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    title: str
    link: str | None                  # absolute
    guid: str | None
    published: dt.datetime | None     # aware, UTC when the feed gave no zone
    published_raw: str | None         # as the feed wrote it
    summary: str | None               # plain text
    publisher: str | None             # Google News <source>, else None
    publisher_url: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    format: str                       # rss | rdf | atom
    title: str | None
    link: str | None
    entries: tuple[FeedEntry, ...]


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    canonical_url: str
    title: str | None
    publisher: str | None
    published: dt.datetime | None
    published_raw: str | None
    description: str | None
    text: str                         # main text, one paragraph per line


# ---------------------------------------------------------------------------------------------
# feeds

def parse_feed(body: bytes, *, url: str, content_type: str | None = None,
               max_bytes: int = MAX_FEED_BYTES) -> ParsedFeed:
    if len(body) > max_bytes:
        raise FeedError(f"feed is {len(body):,} bytes, over the cap of {max_bytes:,}")
    if not body.strip():
        raise FeedError("feed is empty")
    body = _declared_encoding(body, content_type)
    try:
        root = defused_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise FeedError(f"refused: {type(error).__name__} (entity declarations and external references "
                        f"are not allowed)") from None
    except ParseError as error:
        raise FeedError(f"not well-formed XML: {error}") from None
    except (ValueError, LookupError) as error:       # e.g. an encoding Python does not know
        raise FeedError(f"unreadable: {error}") from None
    tag = _local(root.tag)
    if tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FeedError("RSS without a <channel>")
        entries = tuple(_rss_entry(item, url) for item in _limited(channel.iter("item")))
        return ParsedFeed("rss", _text(channel.find("title")), _link(_text(channel.find("link")), url), entries)
    if root.tag == f"{_ATOM}feed":
        entries = tuple(_atom_entry(entry, url) for entry in _limited(root.iter(f"{_ATOM}entry")))
        return ParsedFeed("atom", _text(root.find(f"{_ATOM}title")), _atom_link(root, url), entries)
    if root.tag == f"{_RDF}RDF":
        channel = root.find(f"{_RSS1}channel")
        entries = tuple(_rdf_entry(item, url) for item in _limited(root.iter(f"{_RSS1}item")))
        return ParsedFeed("rdf", _text(channel.find(f"{_RSS1}title")) if channel is not None else None,
                          None, entries)
    raise FeedError(f"not a feed: root element <{tag}>")


def _declared_encoding(body: bytes, content_type: str | None) -> bytes:
    """Feeds without a declared encoding or BOM, served with a non-UTF-8 charset, are re-encoded
    so that expat reads them as the server said (RFC 7303)."""
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or re.match(rb"\s*<\?xml[^>]*encoding=", body):
        return body
    charset = _charset(content_type)
    if not charset or charset in ("utf-8", "utf8", "us-ascii", "ascii"):
        return body
    try:
        return body.decode(charset).encode("utf-8")
    except (LookupError, UnicodeDecodeError) as error:
        raise FeedError(f"cannot decode as {charset}: {error}") from None


def _charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.I)
    return match.group(1).lower() if match else None


def _limited(elements: Iterator[Element]) -> Iterator[Element]:
    for count, element in enumerate(elements):
        if count >= MAX_ENTRIES:
            return
        yield element


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: Element | None, limit: int = MAX_TITLE_CHARS) -> str | None:
    if element is None:
        return None
    text = " ".join("".join(element.itertext()).split())
    return text[:limit] or None


def _link(href: str | None, base: str) -> str | None:
    if not href:
        return None
    absolute = urljoin(base, href.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _rss_entry(item: Element, base: str) -> FeedEntry:
    title = _text(item.find("title")) or ""
    link = _link(_text(item.find("link")), base)
    guid_element = item.find("guid")
    guid = _text(guid_element)
    if link is None and guid and (guid_element.get("isPermaLink", "true").lower() == "true"):
        link = _link(guid, base)
    raw_date = _text(item.find("pubDate")) or _text(item.find(f"{_DC}date"))
    source = item.find("source")
    publisher = _text(source)
    publisher_url = _link(source.get("url"), base) if source is not None else None
    if publisher and link and urlsplit(link).hostname == GOOGLE_NEWS_HOST:
        title = _without_suffix(title, publisher)
    description = _text(item.find(f"{_CONTENT}encoded"), MAX_TEXT_CHARS) or _text(item.find("description"),
                                                                                    MAX_TEXT_CHARS)
    return FeedEntry(title, link, guid, parse_date(raw_date), raw_date, html_to_text(description, MAX_SUMMARY_CHARS),
                     publisher, publisher_url)


def _rdf_entry(item: Element, base: str) -> FeedEntry:
    raw_date = _text(item.find(f"{_DC}date"))
    return FeedEntry(_text(item.find(f"{_RSS1}title")) or "", _link(_text(item.find(f"{_RSS1}link")), base),
                     item.get(f"{_RDF}about"), parse_date(raw_date), raw_date,
                     html_to_text(_text(item.find(f"{_RSS1}description"), MAX_TEXT_CHARS), MAX_SUMMARY_CHARS),
                     None, None)


def _atom_link(element: Element, base: str) -> str | None:
    links = element.findall(f"{_ATOM}link")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return _link(link.get("href"), base)
    return _link(links[0].get("href"), base) if links else None


def _atom_entry(entry: Element, base: str) -> FeedEntry:
    raw_date = _text(entry.find(f"{_ATOM}published")) or _text(entry.find(f"{_ATOM}updated"))
    summary = _text(entry.find(f"{_ATOM}summary"), MAX_TEXT_CHARS) or _text(entry.find(f"{_ATOM}content"),
                                                                          MAX_TEXT_CHARS)
    source = entry.find(f"{_ATOM}source")
    publisher = _text(source.find(f"{_ATOM}title")) if source is not None else None
    return FeedEntry(_text(entry.find(f"{_ATOM}title")) or "", _atom_link(entry, base), _text(entry.find(f"{_ATOM}id")),
                     parse_date(raw_date), raw_date, html_to_text(summary, MAX_SUMMARY_CHARS), publisher, None)


def _without_suffix(title: str, publisher: str) -> str:
    for separator in (" - ", " – ", " — ", " | "):
        suffix = separator + publisher
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[: -len(suffix)].strip()
    return title


def parse_date(text: str | None) -> dt.datetime | None:
    """RFC 822 (RSS) or RFC 3339 / ISO 8601 (Atom, Dublin Core); aware, UTC when no zone is given."""
    if not text:
        return None
    text = text.strip()
    parsed: dt.datetime | None = None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = dt.datetime.combine(dt.date.fromisoformat(text[:10]), dt.time())
            except ValueError:
                return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# HTML

def _soup(markup: bytes | str, content_type: str | None = None, parser: str = "lxml") -> BeautifulSoup:
    with warnings.catch_warnings():
        # Scraped markup often "looks like" a file name or XML to bs4; we parse it as HTML on
        # purpose, and these advisory warnings would be errors under the test settings.
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", bs4.XMLParsedAsHTMLWarning)
        kwargs: dict[str, Any] = {}
        charset = _charset(content_type)
        if isinstance(markup, bytes) and charset:
            kwargs["from_encoding"] = charset
        return BeautifulSoup(markup, parser, **kwargs)


def html_to_text(fragment: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Plain text of an HTML fragment (a feed's description), whitespace tidied."""
    if not fragment:
        return None
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())[:limit] or None
    text = _soup(fragment, parser="html.parser").get_text(" ")
    return " ".join(text.split())[:limit] or None


_NOISE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
               "button", "template", "select", "figure")
_NOISE_ROLES = ("navigation", "banner", "contentinfo", "search", "complementary")
_NOISE_CLASS = re.compile(r"breadcrumb|share|social|related|newsletter|subscribe|menu|sidebar|cookie|skip-link|"
                          r"comment|promo|advert|sr-only|visually-hidden|usa-banner|site-alert", re.I)
_CONTAINERS = ("[itemprop=articleBody]", ".field--name-body", "article", "main", "[role=main]", "#main-content",
               "body")
_BLOCKS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")
_VISIBLE_DATE = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
                           r"December)\s+\d{1,2},\s+(?:19|20)\d{2}\b")


def parse_article(body: bytes, *, url: str, content_type: str | None = None,
                  max_bytes: int = MAX_PAGE_BYTES) -> ParsedArticle:
    """Canonical URL, title, publisher, publication time and main text of an HTML page."""
    if len(body) > max_bytes:
        raise ValueError(f"page is {len(body):,} bytes, over the cap of {max_bytes:,}")
    soup = _soup(body, content_type)
    canonical = _canonical(soup, url)
    published_raw, published = _published(soup)
    return ParsedArticle(
        canonical_url=canonical,
        title=_title(soup),
        publisher=_publisher(soup, canonical),
        published=published,
        published_raw=published_raw,
        description=_meta(soup, "og:description", "description"),
        text=main_text(soup),
    )


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name}) or soup.find(
            "meta", attrs={"itemprop": name})
        content = tag.get("content") if tag else None
        if isinstance(content, str) and content.strip():
            return " ".join(content.split())[:MAX_SUMMARY_CHARS]
    return None


def _canonical(soup: BeautifulSoup, url: str) -> str:
    for candidate in (_link_rel(soup, "canonical"), _meta(soup, "og:url")):
        absolute = _link(candidate, url) if candidate else None
        if absolute:
            return strip_tracking(absolute)
    return strip_tracking(url)


def _link_rel(soup: BeautifulSoup, rel: str) -> str | None:
    for tag in soup.find_all("link", href=True):
        if rel in [value.lower() for value in (tag.get("rel") or [])]:
            return tag["href"]
    return None


def _title(soup: BeautifulSoup) -> str | None:
    h1 = soup.find("h1")
    for candidate in (_meta(soup, "og:title", "twitter:title"), h1.get_text(" ") if h1 else None,
                      soup.title.get_text(" ") if soup.title else None):
        if candidate and candidate.strip():
            return " ".join(candidate.split())[:MAX_TITLE_CHARS]
    return None


def _json_ld(soup: BeautifulSoup) -> list[dict]:
    found = []
    for script in soup.find_all("script", type="application/ld+json")[:10]:
        try:
            data = json.loads(script.string or "")
        except ValueError:
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        found += [item for item in items if isinstance(item, dict)]
    return found


def _publisher(soup: BeautifulSoup, canonical: str) -> str | None:
    host = (urlsplit(canonical).hostname or "").removeprefix("www.")
    if host in KNOWN_PUBLISHERS:
        return KNOWN_PUBLISHERS[host]
    name = _meta(soup, "og:site_name", "application-name")
    if name:
        return name[:200]
    for item in _json_ld(soup):
        publisher = item.get("publisher")
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            return publisher["name"][:200]
    return host or None


def _published(soup: BeautifulSoup) -> tuple[str | None, dt.datetime | None]:
    candidates: list[str | None] = [
        _meta(soup, "article:published_time", "datePublished", "date", "dcterms.date", "DC.date.issued", "pubdate",
              "publish-date", "sailthru.date"),
    ]
    candidates += [item.get("datePublished") for item in _json_ld(soup) if isinstance(item.get("datePublished"), str)]
    container = _container(soup)
    for scope in (container, soup):
        time_tag = scope.find("time", attrs={"datetime": True}) if scope else None
        if time_tag:
            candidates.append(time_tag["datetime"])
    for raw in candidates:
        parsed = parse_date(raw)
        if parsed:
            return raw, parsed
    for element in soup.find_all(class_=re.compile(r"date", re.I))[:20]:
        match = _VISIBLE_DATE.search(element.get_text(" "))
        if match:
            parsed = dt.datetime.strptime(match.group(), "%B %d, %Y").replace(tzinfo=dt.UTC)
            return match.group(), parsed
    return None, None


def _container(soup: BeautifulSoup):
    for selector in _CONTAINERS:
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup


def main_text(soup: BeautifulSoup) -> str:
    """The page's main text, one block (paragraph, list item, heading) per line."""
    for tag in soup.find_all(_NOISE_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": _NOISE_ROLES}):
        tag.decompose()
    for tag in soup.find_all(class_=_NOISE_CLASS):
        if tag.name not in ("body", "main", "article"):
            tag.decompose()
    container = _container(soup)
    lines: list[str] = []
    size = 0
    blocks = container.find_all(_BLOCKS)
    for block in blocks:
        if block.find_parent(_BLOCKS) is not None:
            continue                     # a paragraph inside a list item is read with the item
        line = " ".join(block.get_text(" ").split())
        if line:
            lines.append(line)
            size += len(line) + 1
            if size >= MAX_TEXT_CHARS:
                break
    if not lines:
        lines = [" ".join(part.split()) for part in container.get_text("\n").split("\n") if part.strip()]
    return "\n".join(lines)[:MAX_TEXT_CHARS]


@dataclass(frozen=True, slots=True)
class PageLink:
    url: str                          # absolute, without fragment
    text: str
    date: str | None                  # a date shown in the listing item around the link
    rel: tuple[str, ...]
    in_chrome: bool                   # inside the site's header, navigation, aside or footer


def page_links(body: bytes, *, url: str, content_type: str | None = None) -> list[PageLink]:
    """Every link of a listing page, in order."""
    soup = _soup(body, content_type)
    links = []
    for anchor in soup.find_all("a", href=True):
        absolute = _link(anchor["href"], url)
        if not absolute:
            continue
        chrome = anchor.find_parent(("nav", "header", "footer", "aside")) is not None or anchor.find_parent(
            attrs={"role": ("navigation", "banner", "contentinfo")}) is not None
        text = " ".join(anchor.get_text(" ").split())[:MAX_TITLE_CHARS]
        links.append(PageLink(absolute.split("#", 1)[0], text, _date_near(anchor),
                              tuple(value.lower() for value in anchor.get("rel") or ()), chrome))
    return links


def _date_near(anchor) -> str | None:
    """A date shown in the listing item around a link: a <time datetime>, else a written date."""
    item = anchor
    for _ in range(4):
        item = item.parent
        if item is None or item.name in ("body", "main", "ul", "ol"):
            return None
        time_tag = item.find("time")
        if time_tag is not None:
            return time_tag.get("datetime") or " ".join(time_tag.get_text(" ").split())
        match = _VISIBLE_DATE.search(item.get_text(" "))
        if match:
            return match.group()
    return None


def parse_listing_date(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    parsed = parse_date(text)
    if parsed:
        return parsed
    match = _VISIBLE_DATE.search(text)
    if match:
        return dt.datetime.strptime(match.group(), "%B %d, %Y").replace(tzinfo=dt.UTC)
    return None


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


# ---------------------------------------------------------------------------------------------
# saved articles (`tracker287g baseline propose`)

@dataclass(frozen=True)
class SavedArticle:
    kind: str                       # html | text
    text: str
    title: str | None
    published: dt.date | None


def read_saved_article(path: Path, max_bytes: int = 20 * 1024 * 1024) -> SavedArticle:
    """Text, title and publication date of a saved article: HTML (by name or content) or plain
    text.  ValueError when the file is too big."""
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise ValueError(f"{path} is {len(data):,} bytes; the limit is {max_bytes:,}")
    head = data[:2048].lstrip().lower()
    if path.suffix.lower() in (".html", ".htm", ".xhtml") or head.startswith((b"<!doctype html", b"<html")):
        page = parse_article(data, url=path.resolve().as_uri(), max_bytes=max_bytes)
        return SavedArticle("html", page.text, page.title, page.published.date() if page.published else None)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return SavedArticle("text", text, None, None)
