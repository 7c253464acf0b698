"""Collected news as rows for readers (`tracker287g news`, tracker287g.news/1): each relevant
article with every source that carried it, the listed agencies it names, and each figure beside
the baseline figure it matches and the latest participating list's count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from diff.baseline import BaselineFigure, Measure
from diff.metrics import ListMetrics
from storage.lists import ListRepository
from storage.models import NewsFigure, Snapshot
from storage.news import NewsRepository

NEWS_SCHEMA = "tracker287g.news/1"
ARTICLE_FIELDS = ("id", "dated_on", "published_at", "publisher", "title", "url", "canonical_url", "source", "via",
                  "relevance", "sightings", "agencies", "figures")


def news_rows(session: Session, baseline: Sequence[BaselineFigure],
              since: dt.date | None = None) -> list[dict[str, Any]]:
    repo = NewsRepository(session)
    articles = repo.articles(since)
    ids = [a.id for a in articles]
    figures, sightings, agencies = repo.figures(ids), repo.sightings(ids), repo.agencies(ids)
    latest = ListRepository(session).last_accepted("participating")
    by_id = {b.id: b for b in baseline}
    return [
        {
            "id": article.id, "dated_on": article.dated_on, "published_at": article.published_at,
            "publisher": article.publisher, "title": article.title, "url": article.url,
            "canonical_url": article.canonical_url, "source": article.source, "via": article.via,
            "relevance": list(article.relevance or []),
            "sightings": [{"source": s.source, "url": s.url, "publisher": s.publisher, "title": s.title,
                           "match": s.match, "score": s.score, "seen_at": s.seen_at} for s in sightings[article.id]],
            "agencies": [{"state": a.state, "agency": a.agency, "ambiguous": a.ambiguous}
                         for a in agencies[article.id]],
            "figures": [figure_row(f, by_id, latest) for f in figures[article.id]],
        }
        for article in articles
    ]


def figure_row(figure: NewsFigure, baseline: Mapping[str, BaselineFigure], latest: Snapshot | None) -> dict[str, Any]:
    """A stored figure beside its baseline figure and what the latest participating list measures."""
    measure = Measure(**figure.measure) if figure.measure else None
    metrics = ListMetrics.from_dict(latest.metrics) if latest is not None and latest.metrics else None
    measured = measure.read(metrics) if measure is not None and metrics is not None else None
    matched = baseline.get(figure.baseline_id) if figure.baseline_id else None
    value = int(figure.value) if float(figure.value).is_integer() else figure.value
    return {
        "value": value, "unit": figure.unit, "counts": figure.counts, "scope": figure.scope, "state": figure.state,
        "as_of_start": figure.as_of_start, "as_of_end": figure.as_of_end, "as_of_precision": figure.as_of_precision,
        "raw": figure.raw, "qualifier": figure.qualifier, "per": figure.per, "change": figure.change,
        "sentence": figure.sentence, "location": figure.location,
        "baseline_id": figure.baseline_id, "baseline_value": matched.value if matched else None,
        "baseline_as_of": matched.as_of if matched else None,
        "measure": measure.describe() if measure else None, "measured": measured,
        "snapshot_id": latest.id if measured is not None and latest is not None else None,
        "snapshot_as_of": latest.as_of if measured is not None and latest is not None else None,
    }
