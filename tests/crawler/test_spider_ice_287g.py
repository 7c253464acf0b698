"""The ice_287g spider, its settings and the child-process runner.

Two kinds of tests:

* parse tests, in this process: saved pages turned into Scrapy responses with their real URL
  (city-scrapers' ``file_response``), parsed once per page, one small test per property;
* crawl tests, the way the product runs them: ``run_crawl`` starts ``python -m crawler.run`` in
  a child process against the loopback HTTP server serving ICE's real workbooks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import socket
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from twisted.python.failure import Failure

from crawler.filenames import file_name_from_content_disposition
from crawler.items import FetchFailure, HtmlListTable, WorkbookDownload
from crawler.middlewares import RetryBackoffMiddleware
from crawler.run import CrawlError, _Collector, item_from_json, item_to_json, run_crawl
from crawler.settings import crawler_settings, user_agent
from crawler.spiders.ice_287g import DEFAULT_PAGE_URL, Ice287gSpider
from diff.records import AGENCY, MOA, SIGNED, RawRow, SourceTable
from scheduler.demo.loopback import LoopbackServer, Reply, replies
from tests.files import PAGES, WORKBOOKS

PAGE_PATH = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
CONTACT = "mailto:tracker287g-operator@example.org"

# Delays and back-off shortened; everything else is the production default.
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_BACKOFF_BASE": 0.2, "DOWNLOAD_TIMEOUT": 10}


# -- fixtures -------------------------------------------------------------------------------


def page_html(name: str, server: LoopbackServer | None = None) -> str:
    """A saved page; with a server, its absolute ice.gov links point at the server instead."""
    html = (PAGES / name).read_text("utf-8")
    return html.replace("https://www.ice.gov", server.base_url) if server else html


def workbook(list_dir: str, name: str) -> Path:
    return WORKBOOKS / list_dir / name


def file_response(name: str, url: str = DEFAULT_PAGE_URL) -> HtmlResponse:
    return HtmlResponse(url=url, body=(PAGES / name).read_bytes(), encoding="utf-8", request=Request(url))


def crawl(server: LoopbackServer, tmp_path: Path, **kwargs):
    kwargs.setdefault("contact", CONTACT)
    kwargs["settings"] = {**FAST, **kwargs.get("settings", {})}
    return run_crawl(server.url(PAGE_PATH), tmp_path / "crawl", timeout=60, **kwargs)


# -- parsing saved pages, in process --------------------------------------------------------

spider = Ice287gSpider()
doclib_output = list(spider.parse(file_response("ice_287g_2025_doclib.html")))
doclib_requests = [r for r in doclib_output if isinstance(r, Request)]
file_download_requests = [
    r for r in spider.parse(file_response("ice_287g_2026_file_download.html")) if isinstance(r, Request)
]


def test_doclib_links_found_once_each():
    # The sidebar repeats the participating link with a fragment; the footer's index
    # spreadsheet and the PDFs are not lists.
    assert [r.url for r in doclib_requests] == [
        "https://www.ice.gov/doclib/about/offices/ero/287g/participatingAgencies05292025am.xlsx",
        "https://www.ice.gov/doclib/about/offices/ero/287g/pendingAgencies05292025am.xlsx",
    ]
    assert doclib_output == doclib_requests  # no table, no failure


def test_doclib_declared_lists_and_texts():
    links = [r.cb_kwargs["link"] for r in doclib_requests]
    assert [(link.declared_list, link.text) for link in links] == [
        ("participating", "Participating Agencies"),
        ("pending", "Pending Agencies"),
    ]


def test_workbook_requests_accept_304_and_report_failures():
    for request in doclib_requests:
        assert request.callback == spider.parse_workbook
        assert request.errback == spider.workbook_failed
        assert 304 in request.meta["handle_httpstatus_list"]
        assert b"If-None-Match" not in request.headers  # no validators given


def test_file_download_links():
    assert [(r.url, r.cb_kwargs["link"].declared_list) for r in file_download_requests] == [
        # link text "Download": the heading above it names the list
        ("https://www.ice.gov/file-download/download/public/43829", "participating"),
        ("https://www.ice.gov/doclib/about/offices/ero/287g/pendingAgencies02272026am.xlsx", "pending"),
    ]


def test_validators_become_conditional_headers():
    url = "https://www.ice.gov/doclib/about/offices/ero/287g/participatingAgencies05292025am.xlsx"
    with_validators = Ice287gSpider(
        validators={url: {"etag": '"abc"', "last_modified": "Thu, 29 May 2025 13:00:00 GMT"}}
    )
    request = next(r for r in with_validators.parse(file_response("ice_287g_2025_doclib.html")) if r.url == url)
    assert request.headers["If-None-Match"] == b'"abc"'
    assert request.headers["If-Modified-Since"] == b"Thu, 29 May 2025 13:00:00 GMT"


def test_validators_accepted_as_json_text():
    assert Ice287gSpider(validators='{"u": {"etag": "\\"x\\""}}').validators == {"u": {"etag": '"x"'}}


def test_old_form_page_yields_its_table():
    (item,) = spider.parse(file_response("ice_287g_2024_table.html"))
    assert isinstance(item, HtmlListTable)
    assert item.list_name == "participating"
    assert item.source_page == DEFAULT_PAGE_URL
    assert len(item.table.rows) == 10


def test_page_without_links_is_a_failure():
    (item,) = spider.parse(file_response("ice_287g_no_links.html"))
    assert isinstance(item, FetchFailure)
    assert (item.stage, item.error, item.url) == ("page", "no list links found", DEFAULT_PAGE_URL)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        pytest.param(("Participating Agencies",), "participating", id="link-text"),
        pytest.param(("PENDING AGENCIES (XLSX, 18 KB)",), "pending", id="case"),
        pytest.param(("Download", "", "Pending Agencies"), "pending", id="falls-through-to-heading"),
        pytest.param(("participating and pending agencies", "ParticipatingAgencies01052025pm.xlsx"),
                     "participating", id="ambiguous-then-file-name"),
        pytest.param(("Download", None), None, id="nothing-says"),
    ],
)
def test_declared_list(texts, expected):
    assert Ice287gSpider._declared_list(*texts) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param('attachment; filename="participatingAgencies09152026am.xlsx"',
                     "participatingAgencies09152026am.xlsx", id="quoted"),
        pytest.param("attachment; filename=pendingAgencies.xlsx", "pendingAgencies.xlsx", id="bare"),
        pytest.param("attachment; filename=\"x.xlsx\"; filename*=UTF-8''participatingAgencies%2009.xlsx",
                     "participatingAgencies 09.xlsx", id="rfc5987-wins"),
        pytest.param('attachment; filename="../../etc/pendingAgencies.xlsx"', "pendingAgencies.xlsx", id="no-path"),
        pytest.param("inline", None, id="no-name"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_file_name_from_content_disposition(header, expected):
    assert file_name_from_content_disposition(header) == expected


# -- settings and the runner's file format, in process ---------------------------------------


def test_user_agent_names_project_and_contact():
    agent = crawler_settings(CONTACT)["USER_AGENT"]
    assert agent.startswith("tracker287g/") and agent.endswith(f"(+{CONTACT})")


@pytest.mark.parametrize("contact", ["", "  ", "a\r\nX-Injected: 1", "me (really)"])
def test_user_agent_refuses_bad_contact(contact):
    with pytest.raises(ValueError, match="contact must"):
        user_agent(contact)


def test_settings_are_polite_and_overridable():
    settings = crawler_settings(CONTACT, DOWNLOAD_DELAY=0)
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["COOKIES_ENABLED"] is False
    assert settings["REMOTE_CONTROL_ENABLED"] is False
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert settings["DOWNLOAD_MAXSIZE"] == 50 * 1024 * 1024
    assert settings["DOWNLOAD_DELAY"] == 0


@pytest.mark.parametrize(("retry_times", "seconds"), [(0, 0.0), (1, 5.0), (2, 10.0), (3, 20.0), (10, 60.0)])
def test_backoff_doubles_up_to_ceiling(retry_times, seconds):
    assert RetryBackoffMiddleware(5.0, 60.0).backoff_seconds(retry_times) == seconds


def test_items_round_trip_through_json(tmp_path):
    fetched_at = dt.datetime(2025, 5, 29, 13, 0, tzinfo=dt.UTC)
    table = SourceTable(
        sheet_name="Participating Agencies",
        header=("STATE", "LAW ENFORCEMENT AGENCY", "SIGNED"),
        columns=("state", AGENCY, SIGNED),
        rows=(RawRow(1, {"state": "ALABAMA", AGENCY: None, SIGNED: dt.date(2020, 6, 9)}, {MOA: "https://x/y.pdf"},
                     {"NOTE": dt.datetime(2020, 6, 9, 8, 30)}),),
    )
    body = b"PK\x03\x04 not really a workbook"
    sha256 = hashlib.sha256(body).hexdigest()
    (tmp_path / sha256).write_bytes(body)
    items = [
        HtmlListTable(source_page="p", list_name=None, fetched_at=fetched_at, table=table),
        WorkbookDownload(source_page="p", url="u", final_url="u", link_text="t", declared_list="pending",
                         file_name="f.xlsx", http_status=200, etag='"e"', last_modified=None,
                         content_type=None, body=body, sha256=sha256, fetched_at=fetched_at),
        FetchFailure(url="u", source_page="p", stage="robots", http_status=None, error="e", fetched_at=fetched_at),
    ]
    for item in items:
        body_file = sha256 if isinstance(item, WorkbookDownload) else None
        assert item_from_json(item_to_json(item, body_file), tmp_path) == item


def test_exception_in_a_callback_becomes_a_failure():
    response = HtmlResponse(url="https://www.ice.gov/x.xlsx", status=200, body=b"",
                            request=Request("https://www.ice.gov/x.xlsx", meta={"stage": "workbook"}))
    collector = _Collector(DEFAULT_PAGE_URL)
    collector.spider_error(Failure(ValueError("bad header")), response)
    (failure,) = collector.items
    assert (failure.url, failure.stage, failure.http_status) == ("https://www.ice.gov/x.xlsx", "workbook", 200)
    assert failure.error == "parse error: ValueError: bad header"


# -- crawls in a child process against the loopback server -----------------------------------


@pytest.fixture(scope="module")
def newer_page_crawl(tmp_path_factory):
    """The newer page form: participating via /file-download/ (name only in Content-Disposition),
    pending via an absolute /doclib/ link."""
    with LoopbackServer() as server:
        server.route(PAGE_PATH, Reply.html(page_html("ice_287g_2026_file_download.html", server)))
        server.route("/file-download/download/public/43829", Reply.file(
            workbook("participating", "participatingAgencies05142026am.xlsx"),
            content_disposition="participatingAgencies05142026am.xlsx",
        ))
        server.route(DOCLIB + "pendingAgencies02272026am.xlsx",
                     Reply.file(workbook("pending", "pendingAgencies02272026am.xlsx")))
        result = crawl(server, tmp_path_factory.mktemp("newer"))
        yield result, list(server.requests)


def test_crawl_downloads_both_link_forms(newer_page_crawl):
    result, _ = newer_page_crawl
    assert result.failures == [] and result.tables == []
    by_list = {item.declared_list: item for item in result.downloads}
    assert set(by_list) == {"participating", "pending"}
    participating, pending = by_list["participating"], by_list["pending"]
    assert participating.url.endswith("/file-download/download/public/43829")
    assert participating.file_name == "participatingAgencies05142026am.xlsx"
    assert participating.link_text == "Download"
    assert pending.file_name == "pendingAgencies02272026am.xlsx"


def test_crawl_bodies_are_the_served_bytes(newer_page_crawl):
    result, _ = newer_page_crawl
    served = {
        "participating": workbook("participating", "participatingAgencies05142026am.xlsx").read_bytes(),
        "pending": workbook("pending", "pendingAgencies02272026am.xlsx").read_bytes(),
    }
    for item in result.downloads:
        assert item.body == served[item.declared_list]
        assert item.sha256 == hashlib.sha256(item.body).hexdigest()
        assert (result.out_dir / item.sha256).read_bytes() == item.body
        assert (item.http_status, item.not_modified) == (200, False)
        assert item.etag and item.content_type.startswith("application/vnd.openxmlformats")
        assert item.fetched_at.tzinfo is not None


def test_crawl_identifies_itself_and_reads_robots_first(newer_page_crawl):
    _, requests = newer_page_crawl
    assert requests[0].path == "/robots.txt"
    assert {request.header("User-Agent") for request in requests} == {user_agent(CONTACT)}
    assert all(request.header("Cookie") is None for request in requests)


def test_crawl_log_has_no_warnings(newer_page_crawl):
    result, _ = newer_page_crawl
    log = (result.out_dir / "crawl.log").read_text("utf-8")
    assert not re.search(r"\] (WARNING|ERROR|CRITICAL):|Warning: ", log)


def test_second_crawl_is_conditional_and_304_is_not_modified(loopback, tmp_path):
    participating = DOCLIB + "participatingAgencies05292025am.xlsx"
    pending = DOCLIB + "pendingAgencies05292025am.xlsx"
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2025_doclib.html", loopback)))
    loopback.route(participating, Reply.file(workbook("participating", "participatingAgencies05292025am.xlsx")))
    loopback.route(pending, Reply.file(  # no ETag: only Last-Modified to go by
        workbook("pending", "pendingAgencies05292025am.xlsx"), etag=None,
        last_modified="Thu, 29 May 2025 13:05:00 GMT",
    ))
    first = crawl(loopback, tmp_path)
    validators = {item.url: {"etag": item.etag, "last_modified": item.last_modified} for item in first.downloads}
    assert len(validators) == 2

    loopback.clear_requests()
    second = crawl(loopback, tmp_path, validators=validators)

    assert loopback.requests_to(participating)[0].header("If-None-Match") == validators[loopback.url(participating)]["etag"]
    assert loopback.requests_to(pending)[0].header("If-Modified-Since") == "Thu, 29 May 2025 13:05:00 GMT"
    assert second.failures == []
    for item in second.downloads:
        assert (item.http_status, item.not_modified, item.body, item.sha256) == (304, True, None, None)
        assert item.etag == validators[item.url]["etag"]
        assert item.last_modified == validators[item.url]["last_modified"]
    assert {item.declared_list for item in second.downloads} == {"participating", "pending"}


def test_workbook_500_is_a_failure_after_backed_off_retries(loopback, tmp_path):
    participating = DOCLIB + "participatingAgencies05292025am.xlsx"
    pending = DOCLIB + "pendingAgencies05292025am.xlsx"
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2025_doclib.html", loopback)))
    loopback.route(participating, Reply(status=500, body=b"Internal Server Error"))
    # a transient 503 is retried and then succeeds
    loopback.route(pending, replies(Reply(status=503), Reply.file(workbook("pending", "pendingAgencies05292025am.xlsx"))))
    result = crawl(loopback, tmp_path)

    (failure,) = result.failures
    assert (failure.url, failure.stage, failure.http_status, failure.error) == (
        loopback.url(participating), "workbook", 500, "HTTP 500")
    attempts = [request.received_at for request in loopback.requests_to(participating)]
    assert len(attempts) == 3  # first try + RETRY_TIMES 2
    assert attempts[1] - attempts[0] >= 0.2 and attempts[2] - attempts[1] >= 0.4  # 0.2 s, then doubled
    (download,) = result.downloads
    assert download.declared_list == "pending" and len(loopback.requests_to(pending)) == 2


def test_page_404_is_a_failure(loopback, tmp_path):
    result = crawl(loopback, tmp_path)  # no route for the page
    (failure,) = result.items
    assert isinstance(failure, FetchFailure)
    assert (failure.url, failure.stage, failure.http_status, failure.error) == (
        loopback.url(PAGE_PATH), "page", 404, "HTTP 404")


def test_robots_txt_forbidding_a_workbook(loopback, tmp_path):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /doclib/\n"))
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2026_file_download.html", loopback)))
    loopback.route("/file-download/download/public/43829", Reply.file(
        workbook("participating", "participatingAgencies05142026am.xlsx"), content_disposition="p.xlsx"))
    result = crawl(loopback, tmp_path)

    (failure,) = result.failures
    assert (failure.stage, failure.http_status, failure.error) == ("robots", None, "forbidden by robots.txt")
    assert failure.url == loopback.url(DOCLIB + "pendingAgencies02272026am.xlsx")
    assert not [request for request in loopback.requests if request.path.startswith("/doclib/")]
    assert [item.file_name for item in result.downloads] == ["p.xlsx"]


def test_robots_txt_forbidding_the_page(loopback, tmp_path):
    loopback.route("/robots.txt", Reply.robots("User-agent: tracker287g\nDisallow: /\n"))
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2025_doclib.html", loopback)))
    result = crawl(loopback, tmp_path)
    (failure,) = result.items
    assert isinstance(failure, FetchFailure) and failure.stage == "robots"
    assert loopback.requests_to(PAGE_PATH) == []


def test_old_form_table_through_a_crawl(loopback, tmp_path):
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2024_table.html")))
    result = crawl(loopback, tmp_path)
    (item,) = result.items
    assert isinstance(item, HtmlListTable) and item.list_name == "participating"
    rows = item.table.rows
    assert len(rows) == 10
    assert rows[9].cells[AGENCY] == "Craighead County Sheriff's Office"
    assert rows[0].links[MOA] == "https://www.ice.gov/doclib/287gMOA/287gJEM_%20etowahCoAL_06-09-2020.pdf"
    # relative MOA links resolve against the page actually fetched
    assert rows[2].links[MOA] == loopback.url("/doclib/287gMOA/287gWSO_DeptOfCorrectionsAK_07-24-2020.pdf")


def test_page_without_links_through_a_crawl(loopback, tmp_path):
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_no_links.html")))
    (failure,) = crawl(loopback, tmp_path).items
    assert isinstance(failure, FetchFailure) and failure.error == "no list links found"


def test_workbook_timeout_is_a_failure(loopback, tmp_path):
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2025_doclib.html", loopback)))
    loopback.route(DOCLIB + "participatingAgencies05292025am.xlsx",
                   Reply.file(workbook("participating", "participatingAgencies05292025am.xlsx"), delay=30))
    loopback.route(DOCLIB + "pendingAgencies05292025am.xlsx",
                   Reply.file(workbook("pending", "pendingAgencies05292025am.xlsx")))
    result = crawl(loopback, tmp_path, settings={"DOWNLOAD_TIMEOUT": 1, "RETRY_TIMES": 0})
    (failure,) = result.failures
    assert failure.stage == "workbook" and failure.error.startswith("timeout")
    assert len(result.downloads) == 1


def test_connection_refused_is_a_failure(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{PAGE_PATH}"
    result = run_crawl(url, tmp_path, contact=CONTACT, settings={**FAST, "RETRY_TIMES": 0}, timeout=60)
    (failure,) = result.items
    assert isinstance(failure, FetchFailure)
    assert (failure.url, failure.stage) == (url, "page")
    assert failure.error.startswith("connection refused")


def test_child_crash_is_a_crawl_error(loopback, tmp_path):
    with pytest.raises(CrawlError) as caught:
        run_crawl(loopback.url(PAGE_PATH), tmp_path, contact=CONTACT, spider="no_such_spider", timeout=60)
    assert caught.value.exit_code not in (0, None)
    assert "no_such_spider" in caught.value.stderr_tail
    assert not (tmp_path / "items.jsonl").exists()


def test_hung_child_is_killed_at_the_timeout(loopback, tmp_path):
    loopback.route(PAGE_PATH, Reply.html("late", delay=60))
    with pytest.raises(CrawlError) as caught:
        run_crawl(loopback.url(PAGE_PATH), tmp_path, contact=CONTACT, timeout=4,
                  settings={**FAST, "DOWNLOAD_TIMEOUT": 120})
    assert caught.value.timed_out


def test_redirected_workbook_and_oversized_workbook(loopback, tmp_path):
    participating = DOCLIB + "participatingAgencies05292025am.xlsx"
    pending = DOCLIB + "pendingAgencies05292025am.xlsx"
    moved = "/sites/default/files/2025-05/pendingAgencies05292025am.xlsx"
    loopback.route(PAGE_PATH, Reply.html(page_html("ice_287g_2025_doclib.html", loopback)))
    loopback.route(participating, Reply.file(workbook("participating", "participatingAgencies05292025am.xlsx")))
    loopback.route(pending, Reply(status=302, headers={"Location": moved}))
    loopback.route(moved, Reply.file(workbook("pending", "pendingAgencies05292025am.xlsx")))
    result = crawl(loopback, tmp_path, settings={"DOWNLOAD_MAXSIZE": 50_000})  # participating: 70,503 B

    (download,) = result.downloads
    assert (download.url, download.final_url) == (loopback.url(pending), loopback.url(moved))
    assert download.declared_list == "pending"
    (failure,) = result.failures
    assert (failure.url, failure.stage) == (loopback.url(participating), "workbook")
    assert failure.error.startswith("download cancelled") and "50000" in failure.error
