"""News sources: crawl one, then record its articles, their figures and the change events.

``crawl_news_source(engine, source, contact=..., baseline=...)`` runs the source's spider in a
child process (``crawler.run``), then handles what came back:

* every fetch is recorded (``fetch_attempt``, ``source`` = the source's id), failures included;
  the feed or listing page last, and with its validators only when all its articles were
  recorded, so that a conditional request never hides an article that failed to be stored;
* each article in its own transaction: a known URL or the same story syndicated is a further
  sighting of the stored article (``duplicate``); an item that is not about 287(g) is stored
  without events (``irrelevant``); otherwise the article, its figures and the listed agencies
  it names are stored with one ``news.article`` event and one ``news.figure`` event per
  figure (``new``).

The kinds of source and their options are in crawler.sources.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.items import FetchFailure, NewsPage
from crawler.items import NewsArticle as ArticleItem
from crawler.run import run_crawl
from crawler.sources import NewsSource
from diff import events as ev
from diff.baseline import BaselineFigure
from diff.figures import Figure, FigureLink, extract_figures, link_figure
from diff.metrics import ListMetrics
from diff.news import (
    SAME_STORY_DAYS,
    AgencyIndex,
    Duplicate,
    ListedAgency,
    StoryKey,
    find_duplicate,
    relevance,
    story_day,
    title_key,
    url_key,
)
from pipeline.crawl import CrawlLine, CrawlReport
from pipeline.recorder import FetchRecorder
from storage.events import EventRepository
from storage.fetches import FetchRepository
from storage.lists import ListRepository
from storage.models import NewsArticle, NewsArticleAgency, NewsFigure, NewsSighting
from storage.news import NewsRepository

log = logging.getLogger(__name__)

Facts = TypeVar("Facts", ev.ArticleFacts, ev.FigureFacts)

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


    def measured_list(self) -> ev.MeasuredList:
        return ev.MeasuredList(self.snapshot_id, self.snapshot_as_of, self.snapshot_file, self.metrics)


def load_context(session: Session, baseline: Sequence[BaselineFigure]) -> NewsContext:
    """What articles are compared with: ``baseline`` and the latest accepted participating list."""
    repo = ListRepository(session)
    snapshot = repo.last_accepted("participating")
    current = repo.current_agreements("participating") if snapshot else {}
    listed = {(s.record.key.state, s.record.key.agency): s.record.agency for s in current.values()}
    index = AgencyIndex(ListedAgency(state, key, name) for (state, key), name in listed.items())
    return NewsContext(
        baseline=tuple(baseline),
        agencies=index,
        snapshot_id=snapshot.id if snapshot else None,
        snapshot_as_of=snapshot.as_of if snapshot else None,
        snapshot_file=snapshot.file_name if snapshot else None,
        metrics=ListMetrics.from_dict(snapshot.metrics) if snapshot and snapshot.metrics else None,
    )


# ---------------------------------------------------------------------------------------------
# crawling

def crawl_news_source(engine: Engine, source: NewsSource, *, contact: str, baseline: Sequence[BaselineFigure],
                      settings: dict[str, Any] | None = None, timeout: float = 600, run_id: int | None = None,
                      stop: threading.Event | None = None) -> CrawlReport:
    """Crawl one news source now and record what it brought.  Never raises for a failed fetch
    or an unreadable feed: those are recorded and reported as ``failed`` lines."""
    spec = source
    report = CrawlReport(spec.url)
    recorder = FetchRecorder(engine, spec.id, run_id)
    with Session(engine) as session:
        validators = FetchRepository(session).page_validators(spec.id)
        known = NewsRepository(session).known_url_keys()
        context = load_context(session, baseline)
    with tempfile.TemporaryDirectory(prefix="tracker287g-news-") as spool:
        known_file = Path(spool) / "known_urls.json"
        known_file.write_text(json.dumps(known), "utf-8")
        try:
            result = run_crawl(spec.url, Path(spool) / "out", spider=spec.spider, validators=validators,
                               contact=contact, settings={**(settings or {}), **spec.spider_settings(known_file)},
                               timeout=timeout, **({"stop": stop} if stop is not None else {}))
        except Exception as error:  # the child died or hung: one failed crawl, recorded
            log.error("crawl of %s failed: %s", spec.url, error)
            recorder.record(url=spec.url, outcome="failed", error=f"{spec.kind}: crawl failed: {error}"[:2000])
            report.crawl_error = str(error)
            return report
        report.lines += record_items(engine, spec.id, result.items, context, recorder=recorder)
    return report


def record_items(engine: Engine, source_id: str, items: Iterable[Any], context: NewsContext, *,
                 recorder: FetchRecorder | None = None) -> list[CrawlLine]:
    """Record the items of one crawl: failures, then articles, then the feed or listing page."""
    recorder = recorder or FetchRecorder(engine, source_id)
    items = list(items)
    lines: list[CrawlLine] = []
    article_failures = {f.url: f for f in items if isinstance(f, FetchFailure) and f.stage == "article"}
    for failure in (i for i in items if isinstance(i, FetchFailure)):
        recorder.record(url=failure.url, attempted_at=failure.fetched_at, http_status=failure.http_status,
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
            recorder.record(url=article.url, outcome="failed", error=f"recording failed: {error}"[:2000])
            line = CrawlLine(article.url, None, "failed", f"recording failed: {type(error).__name__}: {error}")
        if article.url in article_failures:
            note = f"page not read ({article_failures[article.url].error}); kept from the {article.via}"
            line.detail = f"{line.detail}; {note}" if line.detail else note
        lines.append(line)
    for page in (i for i in items if isinstance(i, NewsPage)):
        recorder.record(
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


# ---------------------------------------------------------------------------------------------
# one article

def record_article(engine: Engine, source_id: str, item: ArticleItem, context: NewsContext, *,
                   recorder: FetchRecorder | None = None) -> CrawlLine:
    """Store one article (or a sighting of a stored one) with its figures and events, in one
    transaction."""
    recorder = recorder or FetchRecorder(engine, source_id)
    keys = {url_key(item.canonical_url), url_key(item.url)}
    title = item.title or item.canonical_url
    story = StoryKey(None, url_key(item.canonical_url), title_key(title, item.publisher),
                     story_day(item.published, item.fetched_at))
    with Session(engine) as session, session.begin():
        news = NewsRepository(session)
        if item.page_fetched:
            recorder.record(session, url=item.final_url or item.url, attempted_at=item.fetched_at,
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
        facts = _facts(ev.ArticleFacts, article)
        events = [ev.article_event(facts, about, len(stored))]
        events += [ev.figure_event(facts, _facts(ev.FigureFacts, figure), link, context.measured_list())
                   for figure, link in stored]
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


def _facts(kind: type[Facts], row: object) -> Facts:
    """The plain values an event builder takes, read off a stored row."""
    return kind(**{f.name: getattr(row, f.name) for f in dataclasses.fields(kind)})
