"""News tables: articles, where each was seen, the figures they report, the agencies they name.

One ``NewsArticle`` per story: a repeat of a known URL, or the same story syndicated under a
near-identical title, becomes a further ``NewsSighting`` of it, never a second article.
Irrelevant items are stored too (``relevant`` False) so that they are not read again, but they
have no figures, no agency links and no events.  The repository never commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from diff.news import StoryKey, url_key
from storage.models import Base, FetchAttempt, utcnow


class NewsArticle(Base):
    __tablename__ = "news_article"
    __table_args__ = (Index("ix_news_article_dated", "dated_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))           # id of the source that first brought it
    via: Mapped[str] = mapped_column(String(20))               # feed | listing | file
    url: Mapped[str] = mapped_column(Text)                     # the link as first found
    canonical_url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(Text)
    title_key: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    publisher_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None]
    published_raw: Mapped[str | None] = mapped_column(Text)
    dated_on: Mapped[dt.date] = mapped_column(Date)             # published, else first seen (UTC day)
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    relevant: Mapped[bool] = mapped_column(Boolean)
    relevance: Mapped[list | None] = mapped_column(JSON)        # the reasons, in words
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NewsSighting(Base):
    """One source carrying an article: the first one, and each duplicate merged into it."""

    __tablename__ = "news_sighting"
    __table_args__ = (UniqueConstraint("article_id", "source", "url", name="uq_news_sighting"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(Text)
    match: Mapped[str] = mapped_column(String(20))             # first | same_url | same_story
    score: Mapped[float | None] = mapped_column(Float)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NewsFigure(Base):
    """A figure an article reports, with its counterparts when they exist."""

    __tablename__ = "news_figure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    counts: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(4), index=True)
    as_of_start: Mapped[dt.date | None] = mapped_column(Date)
    as_of_end: Mapped[dt.date | None] = mapped_column(Date)
    as_of_precision: Mapped[str | None] = mapped_column(String(10))
    raw: Mapped[str] = mapped_column(Text)
    qualifier: Mapped[str | None] = mapped_column(String(40))
    per: Mapped[str | None] = mapped_column(String(40))
    change: Mapped[bool] = mapped_column(Boolean, default=False)
    sentence: Mapped[str] = mapped_column(Text)
    location: Mapped[dict] = mapped_column(JSON)                # paragraph, sentence, start, end
    baseline_id: Mapped[str | None] = mapped_column(String(100))
    measure: Mapped[dict | None] = mapped_column(JSON)          # list, metric, state, model


class NewsArticleAgency(Base):
    """An agency on the participating list that an article names."""

    __tablename__ = "news_article_agency"
    __table_args__ = (UniqueConstraint("article_id", "state", "agency_key", name="uq_news_article_agency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("news_article.id"), index=True)
    state: Mapped[str] = mapped_column(String(4))
    agency_key: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(Text)
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)


class NewsRepository:
    """Reads and writes of the news tables; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_url_key(self, key: str) -> NewsArticle | None:
        return self.session.scalars(select(NewsArticle).where(NewsArticle.url_key == key)).first()

    def stories_near(self, day: dt.date, days: int) -> list[StoryKey]:
        rows = self.session.execute(
            select(NewsArticle.id, NewsArticle.url_key, NewsArticle.title_key, NewsArticle.dated_on)
            .where(NewsArticle.dated_on.between(day - dt.timedelta(days=days), day + dt.timedelta(days=days)))
        )
        return [StoryKey(*row) for row in rows]

    def page_validators(self, source: str) -> dict[str, dict[str, str | None]]:
        """ETag and Last-Modified of each feed or listing of ``source``, from its newest download.
        (``scheduler.news`` stores them only once every article of that download was recorded,
        so a 304 never hides an article that was not stored.)"""
        newest = (
            select(func.max(FetchAttempt.id))
            .where(FetchAttempt.source == source, FetchAttempt.outcome == "downloaded")
            .group_by(FetchAttempt.url)
        )
        rows = self.session.execute(
            select(FetchAttempt.url, FetchAttempt.etag, FetchAttempt.last_modified).where(FetchAttempt.id.in_(newest)))
        return {url: {"etag": etag, "last_modified": last_modified} for url, etag, last_modified in rows
                if etag or last_modified}

    def by_sighting_url(self, url: str) -> NewsArticle | None:
        """The article a link was seen under before (a feed's link may differ from the canonical URL)."""
        article_id = self.session.scalar(select(NewsSighting.article_id).where(NewsSighting.url == url).limit(1))
        return None if article_id is None else self.session.get(NewsArticle, article_id)

    def known_url_keys(self, limit: int = 20_000) -> list[str]:
        """URL keys of stored articles and of every URL they were sighted under, newest first."""
        keys = list(self.session.scalars(select(NewsArticle.url_key).order_by(NewsArticle.id.desc()).limit(limit)))
        urls = self.session.scalars(select(NewsSighting.url).order_by(NewsSighting.id.desc()).limit(limit))
        return list(dict.fromkeys(keys + [url_key(url) for url in urls]))

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def add_all(self, rows: Iterable[object]) -> None:
        self.session.add_all(list(rows))
        self.session.flush()

    def has_sighting(self, article_id: int, source: str, url: str) -> bool:
        return self.session.scalar(
            select(NewsSighting.id).where(NewsSighting.article_id == article_id, NewsSighting.source == source,
                                          NewsSighting.url == url).limit(1)
        ) is not None

    def articles(self, since: dt.date | None = None, *, relevant_only: bool = True) -> list[NewsArticle]:
        query = select(NewsArticle).order_by(NewsArticle.dated_on, NewsArticle.id)
        if since is not None:
            query = query.where(NewsArticle.dated_on >= since)
        if relevant_only:
            query = query.where(NewsArticle.relevant.is_(True))
        return list(self.session.scalars(query))

    def figures(self, article_ids: Iterable[int]) -> dict[int, list[NewsFigure]]:
        ids = list(article_ids)
        found: dict[int, list[NewsFigure]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            query = select(NewsFigure).where(NewsFigure.article_id.in_(ids[start:start + 500])).order_by(NewsFigure.id)
            for figure in self.session.scalars(query):
                found[figure.article_id].append(figure)
        return found

    def sightings(self, article_ids: Iterable[int]) -> dict[int, list[NewsSighting]]:
        ids = list(article_ids)
        found: dict[int, list[NewsSighting]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            query = select(NewsSighting).where(NewsSighting.article_id.in_(ids[start:start + 500])).order_by(
                NewsSighting.id)
            for sighting in self.session.scalars(query):
                found[sighting.article_id].append(sighting)
        return found

    def agencies(self, article_ids: Iterable[int]) -> dict[int, list[NewsArticleAgency]]:
        ids = list(article_ids)
        found: dict[int, list[NewsArticleAgency]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            query = select(NewsArticleAgency).where(NewsArticleAgency.article_id.in_(ids[start:start + 500])).order_by(
                NewsArticleAgency.state, NewsArticleAgency.agency_key)
            for link in self.session.scalars(query):
                found[link.article_id].append(link)
        return found
