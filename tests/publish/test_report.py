"""The HTML report and `serve`, built from a backfill of the real workbooks; the browser test
drives headless Chromium over the served page and saves a screenshot."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy.orm import Session

from publish.report import SEARCH_SCRIPT, SEARCH_SCRIPT_HASH, SiteCache, build_pages
from publish.serve import make_server
from scheduler.seeds import load_baseline
from storage.models import NewsArticle, NewsFigure
from tests.commands import changes, expected_timeline, run
from tests.files import FIXTURES, ROOT

ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = "<script>document.title='owned'</script> Sheriff"
REQUIRE_BROWSER = os.environ.get("TRACKER287G_REQUIRE_BROWSER") == "1"
FIGURES = load_baseline()


@pytest.fixture
def backfilled(backfilled_engine):
    """An engine on a copy of the session's backfill of the 22 real workbooks (conftest)."""
    return backfilled_engine


def accepted_participating(engine) -> list:
    from publish.report import accepted_participating as chosen

    with Session(engine) as session:
        return chosen(session)


def page(engine) -> lxml.html.HtmlElement:
    with Session(engine) as session:
        return lxml.html.fromstring(build_pages(session, FIGURES)["index.html"])


def test_the_charts_and_tables_show_the_database_figures(backfilled):
    snapshots = accepted_participating(backfilled)
    latest, previous = snapshots[-1], snapshots[-2]
    assert len(snapshots) == 14 and latest.file_name == "participatingAgencies05142026am.xlsx"
    html = page(backfilled)
    tx_points = html.cssselect('#chart-states circle.point[data-series="TX"]')
    assert [(p.get("data-date"), int(p.get("data-value"))) for p in tx_points] == [
        (s.as_of.isoformat(), s.metrics["by_state"].get("TX", 0)) for s in snapshots]
    totals = html.cssselect('#chart-models circle.point[data-series="all agreements"]')
    assert [int(p.get("data-value")) for p in totals] == [s.agreements for s in snapshots]
    markers = {m.get("data-series"): int(m.get("data-value")) for m in html.cssselect("#chart-states .baseline-marker")}
    assert markers == {"FL": 324, "TX": 296, "TN": 63, "AL": 52, "PA": 58}

    rows = {r.get("data-state"): r for r in html.cssselect("#states tr[data-state]")}
    assert set(rows) == set(latest.metrics["by_state"])
    fl = rows["FL"]
    fl_count = latest.metrics["by_state"]["FL"]
    assert int(fl.cssselect(".agreements")[0].text) == fl_count
    assert fl.cssselect(".change")[0].text == f"{fl_count - previous.metrics['by_state'].get('FL', 0):+d}"
    assert fl.cssselect(".baseline-difference")[0].text == f"{fl_count - 324:+d}"
    assert rows["MO"].cssselect(".baseline")[0].text is None          # the baseline names no figure for MO


def test_recent_changes_show_evidence_and_moa_links(backfilled):
    html = page(backfilled)
    rows = html.cssselect("#changes tr[data-event]")
    assert len(rows) == 100
    links = [a.get("href") for a in html.cssselect("#changes a")]
    outside = [href for href in links if not href.startswith(("states/", "agencies/"))]   # the report's own pages
    assert outside and all(href.startswith(("https://", "http://")) for href in outside)
    assert {href.split("/")[0] for href in links} == {"states", "agencies", "https:"}
    assert any(".xlsx, row " in r.text_content() for r in rows)


def test_scraped_markup_shows_as_text(backfilled, backfilled_url, edit_workbook):
    hostile = edit_workbook("participatingAgencies05142026am.xlsx", "participatingAgencies06012026am.xlsx",
                            {"Texas Office of the Attorney General": HOSTILE})
    assert run(backfilled_url, "backfill", str(hostile)).exit_code == 0
    with Session(backfilled) as session, session.begin():
        article = NewsArticle(source="test", via="file", url="https://example.org/a", canonical_url="javascript:alert(1)",
                              url_key="example.org/a", title=HOSTILE, title_key="x", publisher="<b>Paper</b>",
                              dated_on=dt.date(2026, 6, 2), relevant=True)
        session.add(article)
        session.flush()
        session.add(NewsFigure(article_id=article.id, value=296, unit="agreements", counts="agreements",
                               scope="state:TX", state="TX", raw="296 <i>agreements</i>", sentence="s",
                               location={}, baseline_id="agreements-tx"))
    with Session(backfilled) as session:
        source = build_pages(session, FIGURES)["index.html"]
    html = lxml.html.fromstring(source)
    # the only scripts: the search's data (not run) and the search itself, allowed by its hash
    scripts = html.cssselect("script")
    assert [s.get("type") for s in scripts] == ["application/json", None]
    assert f"script-src '{SEARCH_SCRIPT_HASH}'" in html.cssselect('meta[http-equiv="Content-Security-Policy"]')[0].get(
        "content")
    assert scripts[1].text == SEARCH_SCRIPT and "<script>document" not in source
    assert any(HOSTILE in entry[0] for entry in json.loads(scripts[0].text))     # the data survived, as text
    assert HOSTILE in html.cssselect("#changes")[0].text_content()
    news = html.cssselect("#news li.article")[0]
    assert HOSTILE in news.text_content() and "<b>Paper</b>" in news.text_content()
    assert news.cssselect("a") == []                               # a javascript: link is not a link
    assert "296 <i>agreements</i>: 296 agreements (state:TX)" in news.cssselect("li.figure")[0].text_content()


def test_report_writes_the_same_files_that_serve_serves(backfilled, backfilled_url, tmp_path):
    result = run(backfilled_url, "report", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    with serving(backfilled) as base:
        for name in ("index.html", "states/fl.html", "agencies/fl-alachua-county-sheriffs-office.html",
                     "agencies/index.html", "data/agreements.csv", "data/datapackage.json"):
            with local_fetch(base + name) as response:
                assert response.read() == (site / name).read_bytes(), name
        for method, path, status in (("POST", "/", 501), ("GET", "/nope", 404), ("GET", "/../pyproject.toml", 404)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                local_fetch(base + path.lstrip("/"), method=method, data=b"" if method == "POST" else None)
            refused.value.close()
            assert refused.value.code == status


def local_fetch(url: str, **request):
    """An HTTP request that can only go to the loopback server."""
    assert url.startswith("http://127.0.0.1:"), url
    return urllib.request.urlopen(urllib.request.Request(url, **request))  # http://127.0.0.1 only (asserted)


class serving:  # noqa: N801  (read as a verb: ``with serving(engine) as base``)
    """The report served on 127.0.0.1 (a free port) in a thread, for the duration of a with block."""

    def __init__(self, engine) -> None:
        self.server = make_server(SiteCache(lambda: Session(engine), FIGURES), 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        assert self.server.server_address[0] == "127.0.0.1"
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def browser_problem() -> str | None:
    missing = [p for p in ("/usr/bin/chromedriver",) if not Path(p).exists()]
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing.append("chromium")
    return f"missing {', '.join(missing)} (apt-get install chromium chromium-driver)" if missing else None


@pytest.fixture
def browser():
    problem = browser_problem()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(problem + " (TRACKER287G_REQUIRE_BROWSER=1 requires it)")
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def test_the_report_renders_in_chromium(backfilled, backfilled_url, browser, edit_workbook):
    from selenium.webdriver.common.by import By

    hostile = edit_workbook("participatingAgencies05142026am.xlsx", "participatingAgencies06012026am.xlsx",
                            {"Texas Office of the Attorney General": HOSTILE})
    assert run(backfilled_url, "backfill", str(hostile)).exit_code == 0
    snapshots = accepted_participating(backfilled)
    latest, previous = snapshots[-1], snapshots[-2]
    with serving(backfilled) as base:
        browser.get(base)
        assert browser.title == "tracker287g report"                # the injected script did not run
        chart = browser.find_element(By.ID, "chart-states")
        assert chart.is_displayed() and chart.size["width"] > 500 and chart.size["height"] > 200
        points = browser.find_elements(By.CSS_SELECTOR, '#chart-states circle.point[data-series="FL"]')
        assert [int(p.get_attribute("data-value")) for p in points] == [
            s.metrics["by_state"].get("FL", 0) for s in snapshots]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-states .baseline-marker")) == 5
        tx = browser.find_element(By.CSS_SELECTOR, '#states tr[data-state="TX"]')
        cells = [c.text for c in tx.find_elements(By.TAG_NAME, "td")]
        tx_count = latest.metrics["by_state"]["TX"]
        assert cells[:2] == ["TX", str(tx_count)]
        assert cells[-1] == f"{tx_count - 296:+d}"
        assert cells[6] == f"{tx_count - previous.metrics['by_state']['TX']:+d}"
        assert HOSTILE in browser.find_element(By.ID, "changes").text
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "report.png"))
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


AXE = FIXTURES / "axe" / "axe.min.js"          # axe-core 4.14.1, see tests/fixtures/axe/SOURCE.md


def axe_violations(browser) -> list:
    """axe-core's serious and critical violations on the page open in ``browser``."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(120)
    found = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document).then(function (r) { done(r.violations.map(function (v) {"
        "  return [v.id, v.impact, v.nodes.length, v.nodes[0].target, v.nodes[0].failureSummary]; })); },"
        "  function (e) { done([['axe failed', 'critical', 0, [], String(e)]]); });")
    return [v for v in found if v[1] in ("serious", "critical")]


def screenshot(browser, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))
    assert (ARTIFACTS / name).stat().st_size > 10_000


def test_a_reader_finds_an_agency_and_its_state_in_chromium(backfilled, backfilled_url, browser):
    """Real clicks: the map's states and counts, the search, an agency's timeline against
    `changes`, its state's counts against `metrics`; axe on each page; a phone-sized layout."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    result = run(backfilled_url, "metrics", "--format", "json")
    participating = {i["list"]: i for i in json.loads(result.output)["lists"]}["participating"]["metrics"]
    log = changes(backfilled_url)
    with serving(backfilled) as base:
        browser.get(base)
        shapes = browser.find_elements(By.CSS_SELECTOR, "#map path.state")
        assert len(shapes) == 51 and len({s.get_attribute("data-state") for s in shapes}) == 51   # 50 states and DC
        for shape in shapes:
            code = shape.get_attribute("data-state")
            title = shape.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            assert title.endswith(f"({code}): {participating['by_state'].get(code, 0)} agreements"), title
        assert axe_violations(browser) == []

        browser.find_element(By.ID, "search").send_keys("alachua sheriff")
        found = WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#search-results a"))
        assert [a.text for a in found] == ["Alachua County Sheriff's Office, FL"]
        screenshot(browser, "search.png")
        found[0].click()
        WebDriverWait(browser, 10).until(lambda b: b.title.startswith("Alachua County Sheriff's Office (FL)"))
        rows = browser.find_elements(By.CSS_SELECTOR, "#agreements tr[data-key]")
        agreements = {(r.get_attribute("data-list"), r.get_attribute("data-key")) for r in rows}
        assert ("participating", "FL|ALACHUA COUNTY SHERIFFS OFFICE|TFM") in agreements
        timeline = [int(r.get_attribute("data-event")) for r in browser.find_elements(By.CSS_SELECTOR, "#timeline tr[data-event]")]
        assert timeline == expected_timeline(log, agreements)
        kinds = [r.find_elements(By.TAG_NAME, "td")[2].text for r in browser.find_elements(By.CSS_SELECTOR, "#timeline tr[data-event]")]
        assert kinds[:3] == ["agreement.added", "agreement.added", "agreement.promoted"]
        assert browser.find_element(By.CSS_SELECTOR, "#agency-facts .ori").text.startswith("FL0010000")
        screenshot(browser, "agency.png")
        assert axe_violations(browser) == []

        browser.find_element(By.LINK_TEXT, "Florida (FL)").click()
        WebDriverWait(browser, 10).until(lambda b: b.title.startswith("Florida (FL)"))
        counts = browser.find_element(By.ID, "state-counts")
        assert int(counts.find_element(By.CSS_SELECTOR, ".agreements").get_attribute("data-value")) == participating["by_state"]["FL"]
        for model in ("JEM", "TFM", "WSO"):
            shown = counts.find_element(By.CSS_SELECTOR, f'.model[data-model="{model}"]').get_attribute("data-value")
            assert int(shown) == participating["by_state_model"]["FL"].get(model, 0)
        listed = browser.find_elements(By.CSS_SELECTOR, '#agencies tr[data-status="participating"] td.models')
        assert sum(len(m.text.split()) for m in listed) == participating["by_state"]["FL"]
        screenshot(browser, "state.png")
        assert axe_violations(browser) == []
        for quiet in ("states/ca.html", "agencies/index.html"):   # no agency ever; the list for readers without script
            browser.get(base + quiet)
            assert axe_violations(browser) == [], quiet

        browser.set_window_size(390, 844)                       # a phone
        browser.get(base)
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(browser, "phone.png")


def _files(site: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(site).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(site.rglob("*")) if p.is_file()}


def test_report_again_rewrites_nothing_and_rebuilds_the_downloads_only_when_the_log_changed(
        backfilled, backfilled_url, tmp_path, monkeypatch):
    import publish.report

    site = tmp_path / "site"
    assert run(backfilled_url, "report", "--out", str(site)).exit_code == 0
    for path in site.rglob("*"):
        os.utime(path, ns=(10**18, 10**18))          # a time no write would give
    first = _files(site)

    def no_export(*args, **kwargs):
        raise AssertionError("the downloads were built again")

    # the same database: the downloads are not built, and no file is written
    with monkeypatch.context() as patched:
        patched.setattr(publish.report, "build_export", no_export)
        again = run(backfilled_url, "report", "--out", str(site))
        assert again.exit_code == 0, again.output
    assert _files(site) == first
    with Session(backfilled) as session:
        built = publish.report.build_site(session, FIGURES)
    assert {name: content for name, (content, _) in first.items() if not name.endswith(".build-key.json")} == built

    # a reviewer's decision changes the change log's download, and the pages that show the change
    event = changes(backfilled_url, "--kind", "agreement.added")[0]
    decided = run(backfilled_url, "review", str(event["id"]), "--status", "false_positive", "--reviewer", "desk")
    assert decided.exit_code == 0, decided.output
    with monkeypatch.context() as patched:
        patched.setattr(publish.report, "build_export", no_export)
        with pytest.raises(AssertionError, match="built again"):
            publish.report.write_report(Session(backfilled), FIGURES, site)
    assert run(backfilled_url, "report", "--out", str(site)).exit_code == 0
    after = _files(site)
    with Session(backfilled) as session:
        rebuilt = publish.report.build_site(session, FIGURES)
    assert {name: content for name, (content, _) in after.items() if not name.endswith(".build-key.json")} == rebuilt
    changed = {name for name in rebuilt if rebuilt[name] != first[name][0]}
    assert "data/changes.csv" in changed and "data/agreements.csv" not in changed
    assert {name for name in rebuilt if after[name][1] != 10**18} == changed      # only those were written

    # a download removed from the folder is built again
    (site / "data" / "sources.csv").unlink()
    assert run(backfilled_url, "report", "--out", str(site)).exit_code == 0
    assert (site / "data" / "sources.csv").read_bytes() == rebuilt["data/sources.csv"]
