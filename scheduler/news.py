"""News sources: crawl one, then record its articles, their figures and the change events.

``crawl_news_source(engine, source, contact=...)`` runs the source's spider in a child process
(``crawler.run``), then handles what came back:

* every fetch is recorded (``fetch_attempt``, ``source`` = the source's id), failures included;
  the feed or listing page last, and with its validators only when all its articles were
  recorded, so that a conditional request never hides an article that failed to be stored;
* each article in its own transaction: a known URL or the same story syndicated is a further
  sighting of the stored article (``duplicate``); an item that is not about 287(g) is stored
  without events (``irrelevant``); otherwise the article, its figures and the listed agencies
  it names are stored with one ``news.article`` event and one ``news.figure`` event per
  figure (``new``).

Source kinds (``seeds/sources.toml``; documented in seeds/README.md):

``feed``                RSS 2.0, RSS 1.0 or Atom at ``url`` (spider ``news_feed``)
``ice_newsroom``        the ICE newsroom listing (spider ``ice_newsroom``)
``dhs_press_releases``  the DHS press-release listing (spider ``dhs_press_releases``)

Optional keys of every kind: ``follow_articles`` (bool), ``max_articles`` (int),
``max_bytes`` (int); listings also take ``article_pattern`` (regex) and ``max_pages`` (int).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.items import FetchFailure, NewsArticle as ArticleItem, NewsPage
from crawler.news import MAX_PAGE_BYTES
from crawler.run import run_crawl
from diff.baseline import BaselineFigure
from diff.figures import Figure, FigureLink, extract_figures, link_figure
from diff.metrics import ListMetrics
from diff.news import (
    SAME_STORY_DAYS,
    AgencyIndex,
    Duplicate,
    ListedAgency,
    Relevance,
    StoryKey,
    find_duplicate,
    relevance,
    story_day,
    title_key,
    url_key,
)
from scheduler.crawl import CrawlLine, CrawlReport
from scheduler.seeds import SEEDS_DIR, load_baseline
from storage.models import Snapshot
from storage.events import EventRepository
from storage.fetches import FetchRepository
from storage.lists import ListRepository
from storage.models import NewsArticle, NewsArticleAgency, NewsFigure, NewsSighting
from storage.news import NewsRepository

log = logging.getLogger(__name__)

SPIDERS: Mapping[str, str] = {"feed": "news_feed", "ice_newsroom": "ice_newsroom",
                              "dhs_press_releases": "dhs_press_releases"}
SOURCE_KINDS: tuple[str, ...] = tuple(SPIDERS)
_OPTIONS: Mapping[str, type] = {"follow_articles": bool, "max_articles": int, "max_bytes": int,
                                "article_pattern": str, "max_pages": int}
_LISTING_ONLY = frozenset({"article_pattern", "max_pages"})
_IGNORED_KEYS = frozenset({"id", "kind", "url", "enabled", "schedule"})


@dataclass(frozen=True)
class NewsSource:
    id: str
    kind: str
    url: str
    follow_articles: bool = True
    max_articles: int = 20
    max_bytes: int = MAX_PAGE_BYTES
    article_pattern: str | None = None
    max_pages: int = 1

    @classmethod
    def from_mapping(cls, source: Mapping[str, Any]) -> NewsSource:
        """A news source from its configuration; ``ValueError`` names the key that is wrong."""
        where = f"news source {source.get('id')!r}"
        for key in ("id", "kind", "url"):
            if not isinstance(source.get(key), str) or not source[key].strip():
                raise ValueError(f"{where}: {key!r} missing or not text")
        if source["kind"] not in SPIDERS:
            raise ValueError(f"{where}: kind {source['kind']!r} is not one of {', '.join(SPIDERS)}")
        options = {}
        for key, value in source.items():
            if key in _IGNORED_KEYS:
                continue
            if key not in _OPTIONS or (key in _LISTING_ONLY and source["kind"] == "feed"):
                raise ValueError(f"{where}: unknown key {key!r} for kind {source['kind']!r}")
            if not isinstance(value, _OPTIONS[key]) or (isinstance(value, bool) and _OPTIONS[key] is not bool):
                raise ValueError(f"{where}: {key!r} must be {_OPTIONS[key].__name__}")
            if _OPTIONS[key] is int and value < 1:
                raise ValueError(f"{where}: {key!r} must be at least 1")
            options[key] = value
        return cls(id=source["id"], kind=source["kind"], url=source["url"], **options)

    def spider_settings(self, known_urls_file: Path) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "NEWS_KNOWN_URLS_FILE": str(known_urls_file),
            "NEWS_FOLLOW_ARTICLES": self.follow_articles,
            "NEWS_MAX_ARTICLES": self.max_articles,
            "NEWS_MAX_BYTES": self.max_bytes,
        }
        if self.kind != "feed":
            settings["NEWS_MAX_PAGES"] = self.max_pages
            if self.article_pattern:
                settings["NEWS_ARTICLE_PATTERN"] = self.article_pattern
        return settings


def news_sources(path: Path | None = None) -> list[dict[str, Any]]:
    """The news entries of seeds/sources.toml (enabled or not), as plain mappings."""
    document = tomllib.loads((path or SEEDS_DIR / "sources.toml").read_text("utf-8"))
    return [dict(entry) for entry in document.get("sources", []) if entry.get("kind") in SPIDERS]


# ---------------------------------------------------------------------------------------------
# what articles are compared with

@dataclass(frozen=True)
class NewsContext:
    """Loaded once per crawl: baseline figures, the current participating list and its counts."""

    baseline: tuple[BaselineFigure, ...]
    agencies: AgencyIndex
    snapshot_id: int | None
    snapshot_as_of: dt.date | None
    snapshot_file: str | None
    metrics: ListMetrics | None


def load_context(session: Session, baseline: Sequence[BaselineFigure] | None = None) -> NewsContext:
    repo = ListRepository(session)
    snapshot: Snapshot | None = repo.last_accepted("participating")
    current = repo.current_agreements("participating") if snapshot else {}
    listed = {(s.record.key.state, s.record.key.agency): s.record.agency for s in current.values()}
    index = AgencyIndex(ListedAgency(state, key, name) for (state, key), name in listed.items())
    return NewsContext(
        baseline=tuple(load_baseline() if baseline is None else baseline),
        agencies=index,
        snapshot_id=snapshot.id if snapshot else None,
        snapshot_as_of=snapshot.as_of if snapshot else None,
        snapshot_file=snapshot.file_name if snapshot else None,
        metrics=ListMetrics.from_dict(snapshot.metrics) if snapshot and snapshot.metrics else None,
    )


# ---------------------------------------------------------------------------------------------
# crawling

def crawl_news_source(engine: Engine, source: Mapping[str, Any], *, contact: str, settings: dict | None = None,
                      timeout: float = 600, run_id: int | None = None,
                      stop: threading.Event | None = None) -> CrawlReport:
    """Crawl one news source now and record what it brought.  Never raises for a failed fetch
    or an unreadable feed: those are recorded and reported as ``failed`` lines."""
    spec = NewsSource.from_mapping(source)
    report = CrawlReport(spec.url)
    recorder = _Recorder(engine, spec.id, run_id)
    with Session(engine) as session:
        validators = FetchRepository(session).page_validators(spec.id)
        known = NewsRepository(session).known_url_keys()
        context = load_context(session)
    with tempfile.TemporaryDirectory(prefix="tracker287g-news-") as spool:
        known_file = Path(spool) / "known_urls.json"
        known_file.write_text(json.dumps(known), "utf-8")
        try:
            result = run_crawl(spec.url, Path(spool) / "out", spider=SPIDERS[spec.kind], validators=validators,
                               contact=contact, settings={**(settings or {}), **spec.spider_settings(known_file)},
                               timeout=timeout, **({"stop": stop} if stop is not None else {}))
        except Exception as error:  # the child died or hung: one failed crawl, recorded
            log.error("crawl of %s failed: %s", spec.url, error)
            recorder.fetch(url=spec.url, outcome="failed", error=f"{spec.kind}: crawl failed: {error}"[:2000])
            report.crawl_error = str(error)
            return report
        report.lines += record_items(engine, spec.id, result.items, context, recorder=recorder)
    return report


def record_items(engine: Engine, source_id: str, items: Iterable[Any], context: NewsContext, *,
                 recorder: _Recorder | None = None) -> list[CrawlLine]:
    """Record the items of one crawl: failures, then articles, then the feed or listing page."""
    recorder = recorder or _Recorder(engine, source_id, None)
    items = list(items)
    lines: list[CrawlLine] = []
    article_failures = {f.url: f for f in items if isinstance(f, FetchFailure) and f.stage == "article"}
    for failure in (i for i in items if isinstance(i, FetchFailure)):
        recorder.fetch(url=failure.url, attempted_at=failure.fetched_at, http_status=failure.http_status,
                       outcome="failed", error=f"{failure.stage}: {failure.error}")
        if failure.stage != "article":     # an article that failed is still kept from its lead
            lines.append(CrawlLine(failure.url, None, "failed", f"{failure.stage}: {failure.error}"))
    all_recorded = True
    for article in (i for i in items if isinstance(i, ArticleItem)):
        try:
            line = record_article(engine, source_id, article, context, recorder=recorder)
        except Exception as error:  # one article's trouble is reported, not raised through the crawl
            log.exception("recording %s failed", article.url)
            all_recorded = False
            recorder.fetch(url=article.url, outcome="failed", error=f"recording failed: {error}"[:2000])
            line = CrawlLine(article.url, None, "failed", f"recording failed: {type(error).__name__}: {error}")
        if article.url in article_failures:
            note = f"page not read ({article_failures[article.url].error}); kept from the {article.via}"
            line.detail = f"{line.detail}; {note}" if line.detail else note
        lines.append(line)
    for page in (i for i in items if isinstance(i, NewsPage)):
        recorder.fetch(
            url=page.url, attempted_at=page.fetched_at, http_status=page.http_status,
            # without every article recorded, the next request must not be conditional
            etag=page.etag if all_recorded else None,
            last_modified=page.last_modified if all_recorded else None,
            bytes=page.bytes, sha256=page.sha256, outcome="not_modified" if page.not_modified else "downloaded",
        )
        if page.not_modified:
            lines.append(CrawlLine(page.url, None, "not_modified", "HTTP 304: unchanged since the last fetch"))
        elif page.entries == 0 and not any(isinstance(i, FetchFailure) for i in items):
            lines.append(CrawlLine(page.url, None, "not_modified", f"the {page.kind} lists no items"))
    return lines


@dataclass(frozen=True)
class _Recorder:
    engine: Engine
    source_id: str
    run_id: int | None

    def fetch(self, session: Session | None = None, **fields: Any) -> None:
        fields = {key: value for key, value in fields.items() if value is not None}
        if session is not None:
            FetchRepository(session).record_fetch(source=self.source_id, run_id=self.run_id, **fields)
            return
        with Session(self.engine) as own, own.begin():
            FetchRepository(own).record_fetch(source=self.source_id, run_id=self.run_id, **fields)


# ---------------------------------------------------------------------------------------------
# one article

def record_article(engine: Engine, source_id: str, item: ArticleItem, context: NewsContext, *,
                   recorder: _Recorder | None = None) -> CrawlLine:
    """Store one article (or a sighting of a stored one) with its figures and events, in one
    transaction."""
    recorder = recorder or _Recorder(engine, source_id, None)
    keys = {url_key(item.canonical_url), url_key(item.url)}
    title = item.title or item.canonical_url
    story = StoryKey(None, url_key(item.canonical_url), title_key(title, item.publisher),
                     story_day(item.published, item.fetched_at))
    with Session(engine) as session, session.begin():
        news = NewsRepository(session)
        if item.page_fetched:
            recorder.fetch(session, url=item.final_url or item.url, attempted_at=item.fetched_at,
                           http_status=item.http_status, bytes=item.bytes, sha256=item.sha256, outcome="downloaded")
        duplicate = _duplicate_of(news, keys, item.url, story)
        if duplicate is not None:
            return _sighting(news, source_id, item, title, duplicate)
        about = relevance("\n".join(filter(None, (title, item.summary, item.text))), context.agencies)
        article = NewsArticle(
            source=source_id, via=item.via, url=item.url, canonical_url=item.canonical_url, url_key=story.url_key,
            title=title, title_key=story.title_key, publisher=item.publisher, publisher_url=item.publisher_url,
            published_at=item.published, published_raw=item.published_raw, dated_on=story.dated,
            summary=item.summary, text=item.text,
            text_sha256=hashlib.sha256(item.text.encode()).hexdigest() if item.text else None,
            relevant=about.relevant, relevance=list(about.reasons),
        )
        news.add(article)
        news.add(NewsSighting(article_id=article.id, source=source_id, url=item.url, title=title,
                              publisher=item.publisher, match="first", score=None))
        if not about.relevant:
            return CrawlLine(item.url, None, "irrelevant", "no mention of 287(g), its models or a listed agency")
        figures = extract_figures(_figure_text_of(item, title),
                                  reference_date=item.published.date() if item.published else None)
        stored = _store_figures(news, article, figures, context)
        news.add_all(NewsArticleAgency(article_id=article.id, state=m.agency.state, agency_key=m.agency.agency_key,
                                       agency=m.agency.agency, ambiguous=m.ambiguous) for m in about.agencies)
        events = [article_event(article, about, len(stored))]
        events += [figure_event(article, figure, link, context) for figure, link in stored]
        EventRepository(session).add_events(events)
        return CrawlLine(item.url, None, "new", "; ".join(about.reasons), counts={
            "figures": len(stored), "agencies": len(about.agencies), "events": len(events)})


def _figure_text_of(item: ArticleItem, title: str) -> str:
    """The page's text; without one, the title and a summary that is more than the title again
    (Google News summaries repeat title and publisher)."""
    if item.text:
        return item.text
    summary = item.summary or ""
    if title_key(summary).startswith(title_key(title)):
        summary = ""
    return "\n".join(filter(None, (title, summary)))


def _duplicate_of(news: NewsRepository, keys: set[str], link: str, story: StoryKey) -> Duplicate | None:
    for stored in [*(news.by_url_key(key) for key in sorted(keys)), news.by_sighting_url(link)]:
        if stored is not None:
            return Duplicate(stored.id, "same_url", 100.0, abs((story.dated - stored.dated_on).days))
    return find_duplicate(story, news.stories_near(story.dated, SAME_STORY_DAYS))


def _sighting(news: NewsRepository, source_id: str, item: ArticleItem, title: str, duplicate: Duplicate) -> CrawlLine:
    if news.has_sighting(duplicate.of, source_id, item.url):
        return CrawlLine(item.url, None, "duplicate", f"already recorded as article {duplicate.of}")
    news.add(NewsSighting(article_id=duplicate.of, source=source_id, url=item.url, title=title,
                          publisher=item.publisher, match=duplicate.basis, score=duplicate.score))
    how = ("same URL" if duplicate.basis == "same_url"
           else f"same story: title {duplicate.score:g}% alike, {duplicate.days_apart} day(s) apart")
    return CrawlLine(item.url, None, "duplicate", f"merged into article {duplicate.of} ({how})")


def _store_figures(news: NewsRepository, article: NewsArticle, figures: Sequence[Figure],
                   context: NewsContext) -> list[tuple[NewsFigure, FigureLink]]:
    stored = []
    for figure in figures:
        link = link_figure(figure, context.baseline)
        row = NewsFigure(
            article_id=article.id, value=float(figure.value), unit=figure.unit, counts=figure.counts,
            scope=figure.scope, state=figure.state,
            as_of_start=figure.as_of.start if figure.as_of else None,
            as_of_end=figure.as_of.end if figure.as_of else None,
            as_of_precision=figure.as_of.precision if figure.as_of else None,
            raw=figure.raw, qualifier=figure.qualifier, per=figure.per, change=figure.change,
            sentence=figure.sentence[:2000],
            location={"paragraph": figure.location.paragraph, "sentence": figure.location.sentence,
                      "start": figure.location.start, "end": figure.location.end},
            baseline_id=link.baseline_id,
            measure=_measure_json(link),
        )
        stored.append((row, link))
    news.add_all(row for row, _ in stored)
    return stored


def _measure_json(link: FigureLink) -> dict | None:
    if link.measure is None:
        return None
    m = link.measure
    return {"list": m.list, "metric": m.metric, "state": m.state, "model": m.model}


# ---------------------------------------------------------------------------------------------
# events

def number_text(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _figure_text(unit: str, value: float, raw: str) -> str:
    if unit == "USD":
        return f"${number_text(value)}"
    if unit == "percent":
        return f"{number_text(value)}%"
    return f"{number_text(value)} {unit}"


def article_event(article: NewsArticle, about: Relevance, figures: int) -> dict:
    published = article.published_at.date().isoformat() if article.published_at else f"seen {article.dated_on}"
    states = {m.agency.state for m in about.agencies}
    return {
        "kind": "news.article",
        "occurred_on": article.dated_on,
        "subject_key": f"news:{article.id}",
        "state": states.pop() if len(states) == 1 else None,
        "new_value": article.title,
        "summary": f"News: \"{article.title}\" ({article.publisher or 'publisher not given'}, {published}); "
                   f"{figures} figure{'s' if figures != 1 else ''}",
        "evidence": _jsonable({
            "article_id": article.id, "url": article.url, "canonical_url": article.canonical_url,
            "publisher": article.publisher, "published": article.published_at, "source": article.source,
            "relevance": list(about.reasons), "figures": figures,
            "agencies": [{"state": m.agency.state, "agency": m.agency.agency, "ambiguous": m.ambiguous}
                         for m in about.agencies],
        }),
    }


def figure_event(article: NewsArticle, figure: NewsFigure, link: FigureLink, context: NewsContext) -> dict:
    measured = None
    if link.measure is not None and context.metrics is not None:
        measured = link.measure.read(context.metrics)
    reported = _figure_text(figure.unit, figure.value, figure.raw)
    parts = [f"{article.publisher or 'An article'} reports {figure.qualifier + ' ' if figure.qualifier else ''}"
             f"{reported} ({figure.counts}), {figure.scope}"]
    if figure.as_of_end:
        parts[0] += f", as of {figure.as_of_end.isoformat() if figure.as_of_precision == 'day' else _span(figure)}"
    if link.baseline_id:
        parts.append(f"baseline {link.baseline_id}: {_figure_text(figure.unit, link.baseline_value, '')}"
                     f" as of {link.baseline_as_of}")
    if measured is not None:
        parts.append(f"participating list {context.snapshot_as_of}: {number_text(measured)} "
                     f"({link.measure.describe()})")
    elif link.measure is not None:
        parts.append("no participating list recorded yet")
    return {
        "kind": "news.figure",
        "occurred_on": article.dated_on,
        "subject_key": f"news:{article.id}",
        "state": figure.state,
        "field": figure.unit,
        "old_value": None if link.baseline_value is None else number_text(link.baseline_value),
        "new_value": number_text(figure.value),
        "summary": "; ".join(parts),
        "evidence": _jsonable({
            "article_id": article.id, "figure_id": figure.id, "url": article.url, "publisher": article.publisher,
            "title": article.title, "raw": figure.raw, "value": figure.value, "unit": figure.unit,
            "counts": figure.counts, "scope": figure.scope, "qualifier": figure.qualifier, "per": figure.per,
            "change": figure.change, "as_of_start": figure.as_of_start, "as_of_end": figure.as_of_end,
            "as_of_precision": figure.as_of_precision, "sentence": figure.sentence, "location": figure.location,
            "baseline_id": link.baseline_id, "baseline_value": link.baseline_value,
            "baseline_as_of": link.baseline_as_of, "baseline_basis": link.basis,
            "measure": link.measure.describe() if link.measure else None, "measured": measured,
            "snapshot_id": context.snapshot_id if measured is not None else None,
            "snapshot_as_of": context.snapshot_as_of if measured is not None else None,
            "snapshot_file": context.snapshot_file if measured is not None else None,
        }),
    }


def _span(figure: NewsFigure) -> str:
    return f"{figure.as_of_start.isoformat()}/{figure.as_of_end.isoformat()}"


def _jsonable(evidence: dict) -> dict:
    """Evidence is stored as JSON: dates as ISO text."""
    return {key: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
            for key, value in evidence.items()}
