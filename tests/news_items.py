"""News items as the crawler yields them, for tests of recording and of `tracker287g news`:
a feed page, a relevant story, the same story syndicated, an off-topic item, a failed fetch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crawler.items import FetchFailure, NewsPage
from crawler.items import NewsArticle as ArticleItem

NOW = dt.datetime(2026, 2, 5, 12, tzinfo=dt.UTC)


def item(url: str, title: str, text: str | None, *, publisher: str = "Gulf Coast Times", day: int = 3,
         **fields: Any) -> ArticleItem:
    values = dict(source_page="https://feeds.example/rss", via="feed", url=url, final_url=url, canonical_url=url,
                  title=title, publisher=publisher, publisher_url=None,
                  published=dt.datetime(2026, 2, day, 9, tzinfo=dt.UTC),
                  published_raw=f"Tue, 0{day} Feb 2026 09:00:00 GMT", summary=None, text=text, guid=None,
                  page_fetched=text is not None, http_status=200 if text else None,
                  bytes=len(text) if text else None, sha256="0" * 64 if text else None, fetched_at=NOW)
    values.update(fields)
    return ArticleItem(**values)


PAGE = NewsPage(source_page="https://feeds.example/rss", url="https://feeds.example/rss",
                final_url="https://feeds.example/rss", kind="rss", title="Times", http_status=200, etag='"e1"',
                last_modified=None, content_type="application/rss+xml", bytes=100, sha256="1" * 64, entries=3,
                fetched_at=NOW)
STORY = item("https://times.example/2026/02/03/polk-287g", "Polk County expands its 287(g) work with ICE",
             "LAKELAND — The Polk County Sheriff’s Office signed a task force agreement on Feb. 2.\n"
             "Florida now has 341 agreements, and the county has trained 60 deputies.")
SYNDICATED = item("https://wire.example/polk-287g", "Polk County expands its 287(g) work with ICE.", None,
                  publisher="Wire Service", day=4)
OFF_TOPIC = item("https://times.example/2026/02/03/fair", "County fair opens with record crowds",
                 "LAKELAND — 40,000 visitors came on the first day.")
BROKEN = FetchFailure(url="https://times.example/missing", source_page="https://feeds.example/rss", stage="article",
                      http_status=404, error="HTTP 404", fetched_at=NOW)
