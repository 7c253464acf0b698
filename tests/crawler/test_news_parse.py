"""Reading feeds and pages (crawler/news.py), dedup and relevance (diff/news.py), and the feed
spider's items as the child process writes them (crawler.run on loopback)."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc

import pytest

from crawler.items import NewsArticle, NewsPage
from crawler.news import FeedError, parse_article, parse_date, parse_feed
from crawler.run import item_from_json, item_to_json, run_crawl
from diff.news import (
    AgencyIndex,
    ListedAgency,
    StoryKey,
    find_duplicate,
    relevance,
    title_key,
    url_key,
)
from diff.normalise import agency_key
from scheduler.demo.loopback import LoopbackServer, Reply
from tests.files import FIXTURES

NEWS = FIXTURES / "news"
UTC = dt.UTC
EST = dt.timezone(dt.timedelta(hours=-5))


def feed(name: str, **kwargs):
    return parse_feed((NEWS / name).read_bytes(), url="https://example.org/feed", **kwargs)


# -- feeds --------------------------------------------------------------------------------------

def test_rss_with_rfc822_dates():
    parsed = feed("ice_news_releases.rss")
    assert (parsed.format, parsed.title, parsed.link) == ("rss", "ICE News Releases", "https://www.ice.gov/")
    first = parsed.entries[0]
    assert first.title == "ICE adds 287(g) agreements with 12 Tennessee sheriff’s offices"
    assert first.link == "https://www.ice.gov/news/releases/ice-adds-287g-agreements-12-tennessee-sheriffs-offices"
    assert first.guid == "341207 at https://www.ice.gov"
    assert first.published == dt.datetime(2026, 2, 3, 10, 12, 44, tzinfo=EST)
    assert first.published_raw == "Tue, 03 Feb 2026 10:12:44 -0500"
    assert first.summary == ("NASHVILLE, Tenn. — Twelve more sheriff's offices in Tennessee signed agreements "
                             "under the 287(g) program.")
    assert (first.publisher, first.publisher_url) == (None, None)


def test_google_news_items_keep_title_and_publisher():
    entries = feed("google_news_287g.rss").entries
    assert [e.publisher for e in entries] == ["U.S. Immigration and Customs Enforcement (.gov)", "Houston Chronicle",
                                              "San Antonio Express-News", "Knoxville News Sentinel"]
    assert entries[1].title == "Texas sheriffs sign 287(g) deals as state total reaches 310 agreements"
    assert entries[1].link.startswith("https://news.google.com/rss/articles/CBMihwFB")
    assert entries[1].publisher_url == "https://www.houstonchronicle.com"
    assert entries[1].published == dt.datetime(2026, 2, 4, 12, 0, tzinfo=UTC)


def test_atom_entries():
    parsed = feed("valley_ledger.atom")
    assert (parsed.format, parsed.title) == ("atom", "The Valley Ledger: Public safety")
    first, second = parsed.entries
    assert first.link == ("https://valleyledger.example/2026/02/05/knox-deputies-finish-training"
                          "?utm_source=atom&utm_medium=feed")
    assert first.published == dt.datetime(2026, 2, 5, 9, 0, tzinfo=EST)
    assert first.summary.startswith("The first class of deputies trained")
    assert second.published_raw == "2026-02-03T18:00:00Z"      # no <published>: <updated>


def test_rss_1_0():
    body = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://example.org/"><title>County news</title></channel>
      <item rdf:about="https://example.org/a"><title>Jail joins 287(g)</title><link>https://example.org/a</link>
      <dc:date>2026-02-01T08:00:00Z</dc:date></item></rdf:RDF>"""
    parsed = parse_feed(body, url="https://example.org/rdf")
    assert parsed.format == "rdf" and parsed.entries[0].published == dt.datetime(2026, 2, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize("name, body, content_type", [
    ("declared windows-1252", b'<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel>'
                              b"<title>Caf\xe9 \x93news\x94</title></channel></rss>", None),
    ("utf-16 with BOM", '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>Café “news”'
                        '</title></channel></rss>'.encode("utf-16"), None),
    ("HTTP charset only", '<rss version="2.0"><channel><title>Café “news”</title></channel></rss>'.encode("cp1252"),
     "application/rss+xml; charset=windows-1252"),
])
def test_odd_encodings(name, body, content_type):
    assert parse_feed(body, url="https://example.org/f", content_type=content_type).title == "Café “news”"


def _bomb(levels: int = 9) -> bytes:
    entities = "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e0 "{"x" * 64}">{entities}]>'
            f'<rss version="2.0"><channel><title>&e{levels};</title></channel></rss>').encode()


@pytest.mark.parametrize("name, body, reason", [
    ("entity bomb", _bomb(), "EntitiesForbidden"),
    ("external entity", b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b'<rss version="2.0"><channel><title>&x;</title></channel></rss>', "EntitiesForbidden"),
    ("over the cap", b"<rss>" + b" " * (5 * 1024 * 1024) + b"</rss>", "over the cap"),
    ("invalid bytes", b'<?xml version="1.0" encoding="utf-8"?><rss><channel><title>\xff\xfe</title></channel></rss>',
     "not well-formed"),
    ("truncated", b'<?xml version="1.0"?><rss version="2.0"><channel><title>half', "not well-formed"),
    ("empty", b"  ", "empty"),
    ("not a feed", b"<html><body>hello</body></html>", "not a feed"),
])
def test_hostile_feeds_are_refused_quickly_and_in_bounded_memory(name, body, reason):
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(FeedError, match=reason):
        parse_feed(body, url="https://example.org/f")
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 64 * 1024 * 1024


def test_dates_in_every_feed_form():
    assert parse_date("Tue, 03 Feb 2026 10:12:44 GMT") == dt.datetime(2026, 2, 3, 10, 12, 44, tzinfo=UTC)
    assert parse_date("2026-02-03T10:12:44Z") == dt.datetime(2026, 2, 3, 10, 12, 44, tzinfo=UTC)
    assert parse_date("2026-02-03") == dt.datetime(2026, 2, 3, tzinfo=UTC)
    assert parse_date("next Tuesday") is None and parse_date(None) is None


# -- pages --------------------------------------------------------------------------------------

def test_an_entity_bomb_in_a_page_is_not_expanded():
    page = b"<!DOCTYPE html [" + _bomb()[40:].split(b"]>")[0] + b"]><html><body><p>&e9;</p></body></html>"
    tracemalloc.start()
    parsed = parse_article(page, url="https://example.org/a")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(parsed.text) < 100 and peak < 64 * 1024 * 1024


def test_page_fields_fall_back_in_order():
    page = b"""<html><head><title>Plain title | Site</title></head><body>
      <div class="post-date">Posted March 4, 2026</div><main><p>First.</p><ul><li><p>Item</p></li></ul></main></body></html>"""
    parsed = parse_article(page, url="https://news.example.org/story?utm_source=x&id=7#top")
    assert parsed.canonical_url == "https://news.example.org/story?id=7"
    assert (parsed.title, parsed.publisher) == ("Plain title | Site", "news.example.org")
    assert parsed.published == dt.datetime(2026, 3, 4, tzinfo=UTC) and parsed.published_raw == "March 4, 2026"
    assert parsed.text == "First.\nItem"


# -- dedup and relevance ------------------------------------------------------------------------

def test_url_and_title_keys():
    assert url_key("https://WWW.ice.gov/news/releases/a/?utm_source=rss&fbclid=1#x") == "ice.gov/news/releases/a"
    assert url_key("http://ice.gov/news/releases/a") == url_key("https://www.ice.gov/news/releases/a/")
    assert url_key("https://x.org/a?b=2&a=1") == url_key("https://x.org/a?a=1&b=2")
    assert title_key("Texas sheriffs sign 287(g) deals - Houston Chronicle", "Houston Chronicle") == \
        "texas sheriffs sign 287 g deals"
    assert title_key("ICE adds agreements with 12 Tennessee offices | ICE") == \
        "ice adds agreements with 12 tennessee offices"


def test_duplicates_by_url_or_by_story_within_days():
    day = dt.date(2026, 2, 4)
    stored = [StoryKey(1, "ice.gov/news/releases/a", "ice adds agreements with 12 tennessee offices", day),
              StoryKey(2, "x.org/b", "county fair opens", day)]
    same_url = find_duplicate(StoryKey(None, "ice.gov/news/releases/a", "other words", day), stored)
    assert (same_url.of, same_url.basis) == (1, "same_url")
    same_story = find_duplicate(StoryKey(None, "y.org/c", "ice adds new agreements with 12 tennessee offices",
                                         day + dt.timedelta(days=2)), stored)
    assert (same_story.of, same_story.basis, same_story.days_apart) == (1, "same_story", 2)
    too_late = StoryKey(None, "y.org/c", "ice adds agreements with 12 tennessee offices", day + dt.timedelta(days=9))
    assert find_duplicate(too_late, stored) is None
    # short titles say too little to merge on
    assert find_duplicate(StoryKey(None, "z.org/d", "county fair opens", day), stored) is None


def test_relevance_by_program_model_or_listed_agency():
    index = AgencyIndex([ListedAgency("TN", agency_key("Knox County Sheriff's Office"), "Knox County Sheriff's Office"),
                         ListedAgency("TX", agency_key("Knox County Sheriff's Office"), "Knox County Sheriff's Office"),
                         ListedAgency("FL", agency_key("St. Johns County Sheriff's Office"),
                                      "St. Johns County Sheriff's Office")])
    assert relevance("The county joined the 287(g) program.").reasons == ("mentions 287(g)",)
    assert relevance("Deputies will work under the Task Force Model.").reasons == ("mentions the Task Force Model",)
    named = relevance("The Saint Johns County Sheriff’s Office said on Monday.", index)
    assert named.relevant and [m.agency.state for m in named.agencies] == ["FL"]
    # the same name in two states: the state the text names decides; without one, both, flagged
    tennessee = relevance("In Tennessee, the Knox County Sheriffs Office spoke.", index).agencies
    assert [(m.agency.state, m.ambiguous) for m in tennessee] == [("TN", False)]
    assert [(m.agency.state, m.ambiguous) for m in relevance("Knox County Sheriff's Office", index).agencies] == [
        ("TN", True), ("TX", True)]
    assert not relevance("Lady Vols top Georgia in overtime.", index).relevant


# -- the feed spider's items, through the child process -----------------------------------------

def test_feed_spider_items_through_the_child_process(tmp_path):
    with LoopbackServer() as server:
        server.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /news/releases/ice-removes\n"))
        rss = (NEWS / "ice_news_releases.rss").read_text("utf-8").replace("https://www.ice.gov/news/",
                                                                            server.url("/news/"))
        server.route("/rss", Reply(body=rss.encode(), headers={"Content-Type": "application/rss+xml"}, etag='"v1"',
                                   last_modified="Tue, 03 Feb 2026 15:20:00 GMT"))
        server.route("/news/releases/ice-adds-287g-agreements-12-tennessee-sheriffs-offices",
                     Reply.html((NEWS / "ice_release_tennessee.html").read_text("utf-8")))
        result = run_crawl(server.url("/rss"), tmp_path / "out", spider="news_feed", contact="tests@example.org",
                           settings={"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0},
                           timeout=60)
        page_url = server.url("/rss")
        article_url = server.url("/news/releases/ice-adds-287g-agreements-12-tennessee-sheriffs-offices")
        blocked_url = server.url("/news/releases/ice-removes-fugitive-wanted-guatemala")
    [page] = [i for i in result.items if isinstance(i, NewsPage)]
    assert (page.url, page.final_url, page.kind, page.title, page.http_status, page.etag, page.last_modified,
            page.entries, page.not_modified) == (page_url, page_url, "rss", "ICE News Releases", 200, '"v1"',
                                                 "Tue, 03 Feb 2026 15:20:00 GMT", 2, False)
    assert page.bytes == len(rss.encode()) and len(page.sha256) == 64 and page.fetched_at.tzinfo is not None
    read, blocked = sorted((i for i in result.items if isinstance(i, NewsArticle)), key=lambda a: a.title)
    assert (read.source_page, read.via, read.url, read.final_url, read.page_fetched, read.http_status) == (
        page_url, "feed", article_url, article_url, True, 200)
    assert read.canonical_url == "https://www.ice.gov/news/releases/ice-adds-287g-agreements-12-tennessee-sheriffs-offices"
    assert (read.title, read.publisher, read.guid) == ("ICE adds 287(g) agreements with 12 Tennessee sheriff’s offices",
                                                       "U.S. Immigration and Customs Enforcement", "341207 at https://www.ice.gov")
    assert read.published == dt.datetime(2026, 2, 3, 15, 12, 44, tzinfo=UTC)
    assert read.summary.startswith("NASHVILLE, Tenn. — Twelve more") and read.text.count("\n") == 4
    assert read.bytes > 0 and len(read.sha256) == 64
    # robots.txt forbids the other page: kept from the feed entry, and the refusal is an item too
    assert (blocked.page_fetched, blocked.text, blocked.url, blocked.published_raw) == (
        False, None, blocked_url, "Mon, 02 Feb 2026 16:40:02 -0500")
    [refused] = result.failures
    assert (refused.url, refused.stage, refused.error) == (blocked_url, "robots", "forbidden by robots.txt")
    # items survive the trip through items.jsonl unchanged
    assert item_from_json(item_to_json(read), tmp_path) == read
