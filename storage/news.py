"""News: articles, where each was seen, the figures they report, the agencies they name
(the tables are described in storage.models).  The caller owns the transaction: nothing here
commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from diff.news import StoryKey, url_key
from storage.models import NewsArticle, NewsArticleAgency, NewsFigure, NewsSighting

Row = TypeVar("Row", NewsFigure, NewsSighting, NewsArticleAgency)


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
        return self._by_article(NewsFigure, article_ids, NewsFigure.id)

    def sightings(self, article_ids: Iterable[int]) -> dict[int, list[NewsSighting]]:
        return self._by_article(NewsSighting, article_ids, NewsSighting.id)

    def agencies(self, article_ids: Iterable[int]) -> dict[int, list[NewsArticleAgency]]:
        return self._by_article(NewsArticleAgency, article_ids, NewsArticleAgency.state, NewsArticleAgency.agency_key)

    def _by_article(self, model: type[Row], article_ids: Iterable[int], *order: Any) -> dict[int, list[Row]]:
        """Rows of ``model`` for each article id (every id present, maybe with no rows)."""
        ids = list(article_ids)
        found: dict[int, list[Row]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):   # stay under the bound-parameter limit of SQLite
            query = select(model).where(model.article_id.in_(ids[start:start + 500])).order_by(*order)
            for row in self.session.scalars(query):
                found[row.article_id].append(row)
        return found
