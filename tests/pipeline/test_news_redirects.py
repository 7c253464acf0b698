"""Redirects in the news spiders end in a record, as in the list spider
(tests/pipeline/test_crawl_redirects.py): Scrapy's duplicate filter drops a redirect to a URL
already requested (to itself, back and forth, two links to one page) without calling the error
handler, so an article vanished with no fetch record and no line in the report."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.sources import NewsSource
from pipeline.news import crawl_news_source
from scheduler.demo.loopback import Reply
from scheduler.seeds import load_baseline
from storage.database import open_database
from storage.models import FetchAttempt, NewsArticle

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0, "REDIRECT_MAX_TIMES": 5,
        "DOWNLOAD_TIMEOUT": 10}
RSS = "application/rss+xml; charset=utf-8"


def redirect(to: str) -> Reply:
    return Reply(status=302, headers={"Location": to})


def article_page(title: str) -> Reply:
    return Reply.html(f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
                      f"<p>{title}: a release about the 287(g) program.</p></article></body></html>")


def rss(base: str, *paths: str) -> Reply:
    items = "".join(f"<item><title>Release {path.rsplit('/', 1)[-1]}</title><link>{base}{path}</link>"
                    f"<guid>{base}{path}</guid><pubDate>Thu, 05 Feb 2026 12:00:00 GMT</pubDate></item>"
                    for path in paths)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Releases</title>{items}</channel></rss>'
    return Reply(body=body.encode(), headers={"Content-Type": RSS})


def crawl(engine, loopback, source_id: str, kind: str, path: str, **options):
    source = NewsSource.from_mapping({"id": source_id, "kind": kind, "url": loopback.url(path), "enabled": True,
                                      **options})
    return crawl_news_source(engine, source, contact="tests@example.org", baseline=load_baseline(), settings=FAST,
                             timeout=120)


def attempts(engine, source_id: str) -> list[FetchAttempt]:
    with Session(engine) as session:
        return list(session.scalars(select(FetchAttempt).where(FetchAttempt.source == source_id)))


def test_every_redirected_article_ends_in_a_record(tmp_path, loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\n"))
    routes = {
        "/news/self": redirect("/news/self"),                       # to itself
        "/news/ping": redirect("/news/pong"), "/news/pong": redirect("/news/ping"),   # back and forth
        "/news/one": redirect("/news/final"), "/news/two": redirect("/news/final"),   # two links, one page
        "/news/final": article_page("One page behind two links"),
        "/news/plain": article_page("A page without redirects"),
    }
    for path, reply in routes.items():
        loopback.route(path, reply)
    entries = ("/news/self", "/news/ping", "/news/one", "/news/two", "/news/plain")
    loopback.route("/feed.rss", rss(loopback.base_url, *entries))
    engine = open_database(f"sqlite:///{tmp_path / 'news.sqlite'}")
    report = crawl(engine, loopback, "releases", "feed", "/feed.rss")
    records = attempts(engine, "releases")
    with Session(engine) as session:
        kept = set(session.scalars(select(NewsArticle.url)))
    engine.dispose()

    # every entry is kept (from its page, or from the feed when its page could not be read) ...
    assert sorted(line.url for line in report.lines) == sorted(loopback.url(p) for p in entries)
    assert kept >= {loopback.url(p) for p in ("/news/self", "/news/ping", "/news/plain")}
    assert len(kept & {loopback.url("/news/one"), loopback.url("/news/two")}) == 1   # one article, two sightings
    # ... the redirect loops are failed fetches that say so ...
    failed = {a.url: a.error for a in records if a.outcome == "failed"}
    assert set(failed) == {loopback.url("/news/self"), loopback.url("/news/ping")}
    assert all("redirect" in error for error in failed.values()), failed
    details = {line.url: line.detail for line in report.lines}
    assert all("page not read" in details[url] for url in failed)
    # ... and the page behind two links was read for each of them
    downloaded = [a.url for a in records if a.outcome == "downloaded"]
    assert downloaded.count(loopback.url("/news/final")) == 2
    assert loopback.url("/news/plain") in downloaded


def test_a_feed_that_redirects_to_itself_is_a_failed_crawl(tmp_path, loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\n"))
    loopback.route("/loop.rss", redirect("/loop.rss"))
    engine = open_database(f"sqlite:///{tmp_path / 'news.sqlite'}")
    report = crawl(engine, loopback, "looping", "feed", "/loop.rss")
    [record] = attempts(engine, "looping")
    engine.dispose()
    assert report.failed and [line.outcome for line in report.lines] == ["failed"]
    assert record.outcome == "failed" and "redirect" in (record.error or "")


def test_a_next_listing_page_that_loops_is_a_recorded_failure(tmp_path, loopback):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\n"))
    listing = ('<html><body><main><ul><li><a href="/news/releases/first-release">First release</a></li></ul>'
               '<a rel="next" href="/newsroom/page/2">Next</a></main></body></html>')
    loopback.route("/newsroom", Reply.html(listing))
    loopback.route("/newsroom/page/2", redirect("/newsroom/page/2"))
    loopback.route("/news/releases/first-release", article_page("First release"))
    engine = open_database(f"sqlite:///{tmp_path / 'news.sqlite'}")
    report = crawl(engine, loopback, "newsroom", "ice_newsroom", "/newsroom", max_pages=3)
    records = attempts(engine, "newsroom")
    engine.dispose()
    failed = [a for a in records if a.outcome == "failed"]
    assert [a.url for a in failed] == [loopback.url("/newsroom/page/2")]
    assert "redirect" in (failed[0].error or "")
    assert report.failed
    assert loopback.url("/news/releases/first-release") in {line.url for line in report.lines}
