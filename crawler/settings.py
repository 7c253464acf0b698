"""Polite Scrapy settings for tracker287g (the retry back-off they rely on is in crawler.middlewares).

We fetch one public government page and two small files a few times a day: one request at a
time, slowly, with an honest user agent that says who we are and how to reach us, obeying
robots.txt.  ``crawler_settings()`` builds the settings dict; callers (``crawler.run``, tests)
pass overrides as keyword arguments instead of editing this module.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

PROJECT_NAME = "tracker287g"

# Our own settings (Scrapy ignores names it does not know).
RETRY_BACKOFF_BASE = "RETRY_BACKOFF_BASE"  # seconds before the first retry; doubles each time
RETRY_BACKOFF_MAX = "RETRY_BACKOFF_MAX"    # ceiling for one wait, seconds
PAGE_URL_SETTING = "ICE_287G_PAGE_URL"     # the 287(g) page, when no spider argument says


def project_version() -> str:
    try:
        return version(PROJECT_NAME)
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def user_agent(contact: str) -> str:
    """``tracker287g/<version> (+<contact>)``: who we are and how to reach us."""
    contact = contact.strip()
    if not contact:
        raise ValueError("contact must say how to reach the operator (a URL or an e-mail address)")
    if any(ch in contact for ch in "\r\n()"):
        raise ValueError(f"contact must be one line without parentheses: {contact!r}")
    return f"{PROJECT_NAME}/{project_version()} (+{contact})"


def crawler_settings(contact: str, **overrides: Any) -> dict[str, Any]:
    """Scrapy settings for one crawl; ``overrides`` replace any default (tests shorten delays)."""
    settings: dict[str, Any] = {
        "BOT_NAME": PROJECT_NAME,
        "SPIDER_MODULES": ["crawler.spiders"],
        "NEWSPIDER_MODULE": "crawler.spiders",
        # Honest identity; robots.txt rules are matched against the product token only.
        "USER_AGENT": user_agent(contact),
        "ROBOTSTXT_OBEY": True,
        "ROBOTSTXT_USER_AGENT": PROJECT_NAME,
        # Politeness: one request at a time per host, spaced, slowing down when the server does.
        "CONCURRENT_REQUESTS": 4,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 2.0,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 2.0,
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        # Bounded work: the lists are a few hundred KB; anything near 50 MB is not a list.
        "DOWNLOAD_TIMEOUT": 30,
        "DOWNLOAD_MAXSIZE": 50 * 1024 * 1024,
        "DOWNLOAD_WARNSIZE": 10 * 1024 * 1024,
        # Retry transient trouble (timeouts, refused connections, 5xx, 429) twice, backing off.
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        RETRY_BACKOFF_BASE: 5.0,
        RETRY_BACKOFF_MAX: 60.0,
        "DOWNLOADER_MIDDLEWARES": {"crawler.middlewares.RetryBackoffMiddleware": 545,
                                   # sees the body before HttpCompressionMiddleware (590) decodes it
                                   "crawler.middlewares.DownloadCompletenessMiddleware": 595},
        # A failed retry is a FetchFailure item, not an error in the log.
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
        # Stateless: no cookies, no HTTP cache (a stale cached list would hide a change).
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        # No listening sockets in a crawl: Scrapy 2.19's remote-control extension runs Python
        # code sent to it over HTTP and is on by default; the telnet console likewise.
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "FEED_EXPORT_ENCODING": "utf-8",
        # REQUEST_FINGERPRINTER_IMPLEMENTATION is gone in Scrapy 2.19 (the "2.7" fingerprinter
        # is the only one), so it is not set: setting it no longer does anything.
    }
    settings.update(overrides)
    return settings
