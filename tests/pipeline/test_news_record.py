"""Recording news (pipeline.news.record_items) on SQLite and PostgreSQL: articles, sightings,
figures, agency links, events and fetch records; and the migration against the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from diff.news import AgencyIndex, ListedAgency
from diff.normalise import agency_key
from pipeline.news import NewsContext, record_items
from scheduler.seeds import load_baseline
from storage.fetches import FetchRepository
from storage.models import (
    Base,
    ChangeEvent,
    FetchAttempt,
    NewsArticle,
    NewsArticleAgency,
    NewsFigure,
    NewsSighting,
)
from tests.news_items import BROKEN, OFF_TOPIC, PAGE, STORY, SYNDICATED

NEWS_TABLES = {"news_article", "news_sighting", "news_figure", "news_article_agency"}


def context() -> NewsContext:
    agencies = AgencyIndex([ListedAgency("FL", agency_key("Polk County Sheriff's Office"), "Polk County Sheriff's Office")])
    return NewsContext(baseline=load_baseline(), agencies=agencies, snapshot_id=None, snapshot_as_of=None,
                       snapshot_file=None, metrics=None)


def test_articles_figures_agencies_and_events(engine):
    lines = record_items(engine, "times", [PAGE, STORY, SYNDICATED, OFF_TOPIC, BROKEN], context())
    assert [(line.url.rsplit("/", 1)[-1], line.outcome) for line in lines] == [
        ("polk-287g", "new"), ("polk-287g", "duplicate"), ("fair", "irrelevant")]
    with Session(engine) as session:
        articles = session.scalars(select(NewsArticle).order_by(NewsArticle.id)).all()
        assert [(a.title, a.relevant) for a in articles] == [(STORY.title, True), (OFF_TOPIC.title, False)]
        story = articles[0]
        assert story.relevance == ["mentions 287(g)", "names 1 participating agency: Polk County Sheriff's Office (FL)"]
        sightings = session.scalars(select(NewsSighting).order_by(NewsSighting.id)).all()
        assert [(s.article_id, s.publisher, s.match) for s in sightings] == [
            (story.id, "Gulf Coast Times", "first"), (story.id, "Wire Service", "same_story"),
            (articles[1].id, "Gulf Coast Times", "first")]
        figures = session.scalars(select(NewsFigure).order_by(NewsFigure.id)).all()
        assert [(f.value, f.unit, f.scope, f.baseline_id) for f in figures] == [
            (341, "agreements", "state:FL", "agreements-fl"), (60, "officers", "state:FL", None)]
        start = STORY.text.index("341")
        assert figures[0].location == {"paragraph": 2, "sentence": 1, "start": start, "end": start + 3}
        [link] = session.scalars(select(NewsArticleAgency)).all()
        assert (link.state, link.agency) == ("FL", "Polk County Sheriff's Office")
        kinds = session.scalars(select(ChangeEvent.kind).order_by(ChangeEvent.id)).all()
        assert kinds == ["news.article", "news.figure", "news.figure"]
        fl = session.scalars(select(ChangeEvent).where(ChangeEvent.kind == "news.figure")).first()
        assert fl.summary == ("Gulf Coast Times reports 341 agreements (agreements), state:FL; "
                              "baseline agreements-fl: 324 agreements as of 2026-02-28; "
                              "no participating list recorded yet")
        assert fl.evidence["sentence"] == "Florida now has 341 agreements, and the county has trained 60 deputies."
        fetches = session.execute(select(FetchAttempt.url, FetchAttempt.outcome, FetchAttempt.etag)
                                  .order_by(FetchAttempt.id)).all()
        assert [(u.rsplit("/", 1)[-1], o, e) for u, o, e in fetches] == [
            ("missing", "failed", None), ("polk-287g", "downloaded", None), ("fair", "downloaded", None),
            ("rss", "downloaded", '"e1"')]
        assert FetchRepository(session).page_validators("times") == {
            "https://feeds.example/rss": {"etag": '"e1"', "last_modified": None}}


def test_the_same_items_again_record_nothing(engine):
    record_items(engine, "times", [PAGE, STORY, SYNDICATED, OFF_TOPIC], context())
    with Session(engine) as session:
        counts = [session.scalar(select(func.count()).select_from(t)) for t in
                  (NewsArticle, NewsSighting, NewsFigure, ChangeEvent)]
    again = record_items(engine, "times", [STORY, SYNDICATED, OFF_TOPIC], context())
    assert {line.outcome for line in again} == {"duplicate"}
    with Session(engine) as session:
        assert [session.scalar(select(func.count()).select_from(t)) for t in
                (NewsArticle, NewsSighting, NewsFigure, ChangeEvent)] == counts


def test_a_failed_article_keeps_the_feed_unconditional(engine, monkeypatch):
    import pipeline.news as news

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(news, "extract_figures", explode)
    lines = record_items(engine, "times", [PAGE, STORY], context())
    assert [line.outcome for line in lines] == ["failed"] and "disk full" in lines[0].detail
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NewsArticle)) == 0   # rolled back whole
        assert FetchRepository(session).page_validators("times") == {}


def test_migration_matches_the_models(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    news = [d for d in differences if any(table in repr(d) for table in NEWS_TABLES)]
    assert news == []
