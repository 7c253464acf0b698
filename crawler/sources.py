"""What the crawler can be pointed at.

The ICE 287(g) page (source kind ``ice_287g``, spider ``ice_287g``) links the two list
workbooks.  News sources come in the kinds below, each with its options and the spider and
settings it needs; they are checked when the configuration is loaded (scheduler.config), so a
wrong option is found at start, not at the source's first run.

Kinds (``seeds/sources.toml``; documented in seeds/README.md):

``feed``                RSS 2.0, RSS 1.0 or Atom at ``url`` (spider ``news_feed``)
``ice_newsroom``        the ICE newsroom listing (spider ``ice_newsroom``)
``dhs_press_releases``  the DHS press-release listing (spider ``dhs_press_releases``)

Optional keys of every kind: ``follow_articles`` (bool), ``max_articles`` (int),
``max_bytes`` (int); listings also take ``article_pattern`` (regex) and ``max_pages`` (int).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diff.normalise import ICE_ORIGIN

LIST_SOURCE_KIND = "ice_287g"
ICE_287G_PAGE_URL = ICE_ORIGIN + "/identify-and-arrest/287g"
MAX_PAGE_BYTES = 5 * 1024 * 1024      # an article page or listing bigger than this is not read

NEWS_SPIDERS: Mapping[str, str] = {"feed": "news_feed", "ice_newsroom": "ice_newsroom",
                                   "dhs_press_releases": "dhs_press_releases"}
NEWS_KINDS: tuple[str, ...] = tuple(NEWS_SPIDERS)
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
        if source["kind"] not in NEWS_SPIDERS:
            raise ValueError(f"{where}: kind {source['kind']!r} is not one of {', '.join(NEWS_SPIDERS)}")
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

    @property
    def spider(self) -> str:
        return NEWS_SPIDERS[self.kind]

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
