"""News sources end to end on loopback: the spiders in a child process, then dedup, relevance,
figures, events and fetch records in a real SQLite file.

One server and one database for the module: the sources are crawled one after another, as the
service would, so that duplicates *across* feeds and re-runs can be checked.  The feeds and
pages are ours (tests/fixtures/news), written in the formats ICE, DHS, Google News and an
Atom-publishing newspaper use; their links are pointed at the loopback server.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.sources import NewsSource
from pipeline.backfill import plan_backfill, run_backfill
from pipeline.news import crawl_news_source
from scheduler.demo.loopback import LoopbackServer, Reply
from scheduler.seeds import load_baseline
from storage.database import open_database
from storage.models import (
    ChangeEvent,
    FetchAttempt,
    NewsArticle,
    NewsArticleAgency,
    NewsFigure,
    NewsSighting,
)
from tests.files import NEWS, workbook

CONTACT = "tests@example.org"
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0, "DOWNLOAD_TIMEOUT": 10}
RSS = "application/rss+xml; charset=utf-8"
RELEASE_A = "/news/releases/ice-adds-287g-agreements-12-tennessee-sheriffs-offices"
CANONICAL_A = "https://www.ice.gov" + RELEASE_A


def fixture_text(name: str, base: str) -> str:
    text = (NEWS / name).read_text("utf-8")
    return text.replace("https://valleyledger.example", base + "/ledger")


@pytest.fixture(scope="module")
def site():
    with LoopbackServer() as server:
        base = server.base_url
        server.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /private/\n"))
        ice_rss = fixture_text("ice_news_releases.rss", base).replace("https://www.ice.gov/news/", base + "/news/")
        server.route("/rss/news-releases", Reply(body=ice_rss.encode(), headers={"Content-Type": RSS}, etag='"rss-1"'))
        server.route("/google/rss/search", Reply(body=fixture_text("google_news_287g.rss", base).encode(),
                                                 headers={"Content-Type": "application/xml; charset=UTF-8"}))
        server.route("/ledger/feed.atom", Reply(body=fixture_text("valley_ledger.atom", base).encode(),
                                                headers={"Content-Type": "application/atom+xml"},
                                                last_modified="Thu, 05 Feb 2026 19:02:00 GMT"))
        for path, name in ((RELEASE_A, "ice_release_tennessee.html"),
                           ("/news/releases/ice-removes-fugitive-wanted-guatemala", "ice_release_guatemala.html"),
                           ("/news/releases/ice-houston-partners-arrest-1512-texas-operation",
                            "ice_release_houston.html"),
                           ("/newsroom", "ice_newsroom.html"),
                           ("/news-releases/press-releases", "dhs_press_releases.html"),
                           ("/news/2026/02/05/dhs-reports-287g-program-reaches-1300-agencies", "dhs_release_287g.html")):
            server.route(path, Reply.html((NEWS / name).read_text("utf-8"), etag=f'"{name}"'))
        # a page in windows-1252, served without a charset: the <meta charset> has to be read
        server.route("/ledger/2026/02/05/knox-deputies-finish-training",
                     Reply(body=(NEWS / "valley_ledger_knox.html").read_bytes(), headers={"Content-Type": "text/html"}))
        yield server


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    engine = open_database(f"sqlite:///{tmp_path_factory.mktemp('news') / 'news.sqlite'}")
    run_backfill(engine, plan_backfill([workbook("participatingAgencies12312025am.xlsx")]))
    yield engine
    engine.dispose()


def source(site, source_id: str, kind: str, path: str, **options) -> NewsSource:
    return NewsSource.from_mapping({"id": source_id, "kind": kind, "url": site.url(path), "enabled": True, **options})


def crawl(engine, site, source_id, kind, path, **options):
    return crawl_news_source(engine, source(site, source_id, kind, path, **options), contact=CONTACT,
                             baseline=load_baseline(), settings=FAST,
                             timeout=60)


def outcomes(report) -> dict[str, str]:
    return {line.url.rsplit("/", 1)[-1].split("?")[0]: line.outcome for line in report.lines}


def events(engine, kind: str | None = None) -> list[ChangeEvent]:
    with Session(engine) as session:
        query = select(ChangeEvent).where(ChangeEvent.kind.like("news.%")).order_by(ChangeEvent.id)
        if kind:
            query = query.where(ChangeEvent.kind == kind)
        return list(session.scalars(query))


def article(engine, title_start: str) -> NewsArticle:
    with Session(engine) as session:
        return session.scalars(select(NewsArticle).where(NewsArticle.title.startswith(title_start))).one()


@pytest.fixture(scope="module")
def crawled(engine, site):
    """Every source once, in the order the tests below read them."""
    reports = {
        "ice_rss": crawl(engine, site, "ice_rss", "feed", "/rss/news-releases"),
        "google": crawl(engine, site, "google_news", "feed", "/google/rss/search"),
        "ledger": crawl(engine, site, "valley_ledger", "feed", "/ledger/feed.atom"),
        "newsroom": crawl(engine, site, "ice_newsroom", "ice_newsroom", "/newsroom"),
        "dhs": crawl(engine, site, "dhs", "dhs_press_releases", "/news-releases/press-releases"),
    }
    return reports


def test_ice_feed_articles_are_read_from_their_pages(engine, crawled):
    assert outcomes(crawled["ice_rss"]) == {
        "ice-adds-287g-agreements-12-tennessee-sheriffs-offices": "new",
        "ice-removes-fugitive-wanted-guatemala": "irrelevant",
    }
    stored = article(engine, "ICE adds 287(g)")
    assert stored.canonical_url == CANONICAL_A
    assert stored.publisher == "U.S. Immigration and Customs Enforcement"
    assert stored.published_at.isoformat().startswith("2026-02-03T15:12:44")
    assert stored.published_raw == "2026-02-03T15:12:44Z"
    assert stored.dated_on.isoformat() == "2026-02-03"
    assert stored.via == "feed" and stored.source == "ice_rss"
    assert stored.text.startswith("NASHVILLE, Tenn. — U.S. Immigration and Customs Enforcement signed")
    # navigation, banner, related links and footer are not part of the text
    assert "Skip to main content" not in stored.text and "Related news" not in stored.text
    assert "500 12th St SW" not in stored.text
    assert stored.relevant and stored.relevance[0] == "mentions 287(g)"


def test_an_irrelevant_release_is_kept_out_of_the_change_log(engine, crawled):
    stored = article(engine, "ICE removes fugitive")
    assert not stored.relevant
    with Session(engine) as session:
        assert session.scalars(select(NewsFigure).where(NewsFigure.article_id == stored.id)).all() == []
    assert all(e.subject_key != f"news:{stored.id}" for e in events(engine))


def test_figures_are_stored_with_links_and_events(engine, crawled):
    stored = article(engine, "ICE adds 287(g)")
    with Session(engine) as session:
        figures = session.scalars(select(NewsFigure).where(NewsFigure.article_id == stored.id)
                                  .order_by(NewsFigure.id)).all()
        agencies = session.scalars(select(NewsArticleAgency).where(NewsArticleAgency.article_id == stored.id)).all()
    assert [(f.value, f.unit, f.scope) for f in figures] == [
        (12, "agencies", "state:TN"), (75, "agreements", "state:TN"), (140, "officers", "state:TN"),
        (1250, "agencies", "US"), (7500, "USD", "US")]
    seventy_five = figures[1]
    assert seventy_five.baseline_id == "agreements-tn"
    assert seventy_five.measure == {"list": "participating", "metric": "agreements", "state": "TN", "model": None}
    # the release names the Knox County Sheriff's Office and says Tennessee: the TN agency, not TX's namesake
    assert [(a.state, a.agency, a.ambiguous) for a in agencies] == [("TN", "Knox County Sheriff's Office", False)]

    [article_event] = [e for e in events(engine, "news.article") if e.subject_key == f"news:{stored.id}"]
    assert article_event.occurred_on.isoformat() == "2026-02-03"
    assert article_event.evidence["canonical_url"] == CANONICAL_A and article_event.evidence["figures"] == 5
    figure_events = [e for e in events(engine, "news.figure") if e.subject_key == f"news:{stored.id}"]
    assert len(figure_events) == 5
    tn = next(e for e in figure_events if e.evidence["baseline_id"] == "agreements-tn")
    assert (tn.state, tn.field, tn.new_value, tn.old_value) == ("TN", "agreements", "75", "63")
    # the latest participating list we hold (2025-12-31) measures the figure: its Tennessee rows
    assert tn.evidence["measured"] == 56 and tn.evidence["snapshot_as_of"] == "2025-12-31"
    assert tn.summary == ("U.S. Immigration and Customs Enforcement reports 75 agreements (agreements), state:TN; "
                          "baseline agreements-tn: 63 agreements as of 2026-02-28; "
                          "participating list 2025-12-31: 56 (participating list, agreements, state TN)")


def test_google_news_items_keep_publisher_and_title_and_merge_duplicates(engine, site, crawled):
    assert outcomes(crawled["google"]) == {
        "CBMiigFBVV95cUxPdGVubmVzc2VlU2hlcmlmZnNPZmZpY2VzMjg3Zw": "duplicate",   # the ICE release again
        "CBMihwFBVV95cUxNdGV4YXNTaGVyaWZmc1NpZ24yODdnRGVhbHM": "new",
        "CBMihwFBVV95cUxNZXhwcmVzc05ld3NUZXhhc1NoZXJpZmZz": "duplicate",        # syndicated a day later
        "CBMifkFBVV95cUxNbGFkeVZvbHNUb3BHZW9yZ2lh": "irrelevant",
    }
    texas = article(engine, "Texas sheriffs")
    assert texas.title == "Texas sheriffs sign 287(g) deals as state total reaches 310 agreements"
    assert texas.publisher == "Houston Chronicle" and texas.publisher_url == "https://www.houstonchronicle.com"
    assert texas.url.startswith("https://news.google.com/rss/articles/") and texas.text is None
    assert texas.published_raw == "Wed, 04 Feb 2026 12:00:00 GMT"
    with Session(engine) as session:
        sightings = session.scalars(select(NewsSighting).where(NewsSighting.article_id == texas.id)
                                    .order_by(NewsSighting.id)).all()
        [figure] = session.scalars(select(NewsFigure).where(NewsFigure.article_id == texas.id)).all()
    assert [(s.publisher, s.match) for s in sightings] == [("Houston Chronicle", "first"),
                                                           ("San Antonio Express-News", "same_story")]
    assert (figure.value, figure.unit, figure.scope, figure.baseline_id) == (310, "agreements", "state:TX",
                                                                             "agreements-tx")
    # Google's redirect links are never requested: only our own paths were
    assert all(not r.path.startswith("/rss/articles") for r in site.requests)


def test_the_same_story_from_three_feeds_is_one_article(engine, crawled):
    first = article(engine, "ICE adds 287(g)")
    with Session(engine) as session:
        sightings = session.scalars(select(NewsSighting).where(NewsSighting.article_id == first.id)
                                    .order_by(NewsSighting.id)).all()
    assert [(s.source, s.match) for s in sightings] == [
        ("ice_rss", "first"), ("google_news", "same_story"), ("valley_ledger", "same_url"), ("ice_newsroom", "same_url")]
    assert len([e for e in events(engine, "news.article") if e.subject_key == f"news:{first.id}"]) == 1


def test_atom_entry_is_read_from_a_windows_1252_page(engine, crawled):
    assert outcomes(crawled["ledger"])["knox-deputies-finish-training"] == "new"
    ledger = article(engine, "Knox County deputies")
    assert ledger.canonical_url == "https://valleyledger.example/2026/02/05/knox-deputies-finish-training"
    assert ledger.publisher == "The Valley Ledger"
    assert "county’s 287(g) agreement" in ledger.text
    assert "60% off" not in ledger.text          # the newsletter box is not the article
    with Session(engine) as session:
        figures = session.scalars(select(NewsFigure).where(NewsFigure.article_id == ledger.id)
                                  .order_by(NewsFigure.id)).all()
    assert [(f.value, f.unit, f.scope) for f in figures] == [(20, "officers", "county:Knox County, TN"),
                                                             (250000, "USD", "US")]


def test_listings_are_followed_into_their_articles(engine, site, crawled):
    newsroom = outcomes(crawled["newsroom"])
    assert newsroom == {"ice-houston-partners-arrest-1512-texas-operation": "new",
                        "ice-adds-287g-agreements-12-tennessee-sheriffs-offices": "duplicate"}
    houston = article(engine, "ICE Houston")
    assert houston.via == "listing" and houston.published_at.isoformat().startswith("2026-02-06T18:00")
    assert not site.requests_to("/news/releases/this-nav-link-is-ignored")
    assert not site.requests_to("/newsroom?page=1")

    dhs = outcomes(crawled["dhs"])
    assert dhs == {"dhs-reports-287g-program-reaches-1300-agencies": "new",
                   "statement-secretary-port-security": "irrelevant"}
    release = article(engine, "DHS reports")
    assert release.publisher == "U.S. Department of Homeland Security"
    assert release.published_raw == "2026-02-05T07:00:00-05:00"
    port = next(line for line in crawled["dhs"].lines if "port-security" in line.url)
    assert "page not read (HTTP 404)" in port.detail
    assert not crawled["dhs"].failed          # a missing article page is not a failed source
    with Session(engine) as session:
        failed = session.scalars(select(FetchAttempt).where(FetchAttempt.source == "dhs",
                                                            FetchAttempt.outcome == "failed")).all()
    assert [(f.http_status, f.error) for f in failed] == [(404, "article: HTTP 404")]


def test_requests_are_polite(site, crawled):
    agents = {r.header("User-Agent") for r in site.requests}
    assert len(agents) == 1 and agents.pop().endswith(f"(+{CONTACT})")
    assert site.requests_to("/robots.txt")


def test_a_second_run_records_nothing_new(engine, site, crawled):
    before = len(events(engine))
    again = crawl(engine, site, "ice_rss", "feed", "/rss/news-releases")
    assert [line.outcome for line in again.lines] == ["not_modified"]
    assert site.requests_to("/rss/news-releases")[-1].header("If-None-Match") == '"rss-1"'
    ledger = crawl(engine, site, "valley_ledger", "feed", "/ledger/feed.atom")
    assert [line.outcome for line in ledger.lines] == ["not_modified"]
    google = crawl(engine, site, "google_news", "feed", "/google/rss/search")   # no validators: read again
    assert set(outcomes(google).values()) == {"duplicate"}
    assert len(events(engine)) == before


@pytest.mark.parametrize("name, body, reason", [
    ("bomb", b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
             + b"".join(b' <!ENTITY %c "%s">\n' % (ord("b") + i, (b"&%c;" % (ord("a") + i)) * 10) for i in range(9))
             + b']>\n<rss version="2.0"><channel><title>&j;</title></channel></rss>\n', "EntitiesForbidden"),
    ("huge", b'<?xml version="1.0"?><rss version="2.0"><channel><title>' + b"x" * (50 * 1024 * 1024)
             + b"</title></channel></rss>", "download cancelled"),
    ("invalid", b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>caf\xe9 \xff\xfe'
                b"</title></channel></rss>", "not well-formed"),
])
def test_hostile_feeds_end_in_a_recorded_failure(engine, site, name, body, reason):
    site.route(f"/hostile/{name}", Reply(body=body, headers={"Content-Type": RSS}))
    report = crawl(engine, site, f"hostile_{name}", "feed", f"/hostile/{name}")
    # The reason is the evidence that nothing was expanded or held: the entity bomb is refused
    # before any expansion (EntitiesForbidden) and the 50 MB body is cut at the 5 MB cap. (A
    # memory figure of the session's children measured every earlier test's children too, and a
    # time limit is a benchmark's claim, not a test's.)
    assert report.failed and [line.outcome for line in report.lines] == ["failed"]
    assert reason in report.lines[0].detail
    with Session(engine) as session:
        [attempt] = session.scalars(select(FetchAttempt).where(FetchAttempt.source == f"hostile_{name}")).all()
    assert attempt.outcome == "failed" and reason in attempt.error


def test_the_service_runs_a_news_source_like_any_other(engine, site, tmp_path):
    """`tracker287g run` dispatches news kinds to crawl_news_source and records the run."""
    import threading

    from scheduler.config import load_config
    from scheduler.service import Service
    from storage.models import CrawlRun

    seeds = tmp_path / "sources.toml"
    seeds.write_text(f'[[sources]]\nid = "service_feed"\nkind = "feed"\nurl = "{site.url("/rss/news-releases")}"\n'
                     'schedule = { interval_minutes = 60 }\n')
    config_path = tmp_path / "config.toml"
    config_path.write_text('[crawler]\ncontact = "news-service@example.org"\ndownload_delay_seconds = 0\n'
                           'retry_times = 0\n')
    service = Service(load_config(config_path, environ={}, sources_file=seeds), engine, threading.Event())
    service._ensure_states()
    service.run_source("service_feed")
    with Session(engine) as session:
        [run] = session.scalars(select(CrawlRun).where(CrawlRun.source_id == "service_feed")).all()
    assert run.outcome in ("changed", "unchanged"), run.detail
    assert run.finished_at is not None and run.duration_ms > 0
