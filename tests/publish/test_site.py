"""The static site from a backfill of the real workbooks: a page per state and per agency,
every agency's timeline equal to the change log's events for its agreements, every state's
counts equal to `metrics`, the map's shapes and the search index, checked page by page."""

from __future__ import annotations

import json

import lxml.html
import pytest

from tests.commands import changes, expected_timeline, run


@pytest.fixture
def site(backfilled_url, tmp_path):
    result = run(backfilled_url, "report", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    return tmp_path / "site"


def parse(path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def participating_metrics(url: str) -> dict:
    result = run(url, "metrics", "--format", "json")
    return {i["list"]: i for i in json.loads(result.output)["lists"]}["participating"]["metrics"]


def test_every_agency_has_a_page_whose_timeline_is_the_change_log(site, backfilled_url):
    agencies = {row["agency_id"]: row for row in json.loads((site / "data" / "agencies.json").read_text())["rows"]}
    pages = {p.stem: p for p in (site / "agencies").glob("*.html") if p.name != "index.html"}
    assert set(pages) == set(agencies) and len(pages) > 1500
    log = changes(backfilled_url)
    with_events = 0
    for slug, path in pages.items():
        html = parse(path)
        assert html.cssselect("#agency-facts")[0].get("data-agency") == slug
        agreements = {(r.get("data-list"), r.get("data-key")) for r in html.cssselect("#agreements tr[data-key]")}
        assert {key.rsplit("|", 1)[0] for _, key in agreements} >= {f"{agencies[slug]['state']}|{agencies[slug]['agency_key']}"}
        timeline = [int(r.get("data-event")) for r in html.cssselect("#timeline tr[data-event]")]
        assert timeline == expected_timeline(log, agreements), slug
        with_events += bool(timeline)
        assert html.cssselect(".status")[0].text == agencies[slug]["status"]
    assert with_events > 1000
    no_script = parse(site / "agencies" / "index.html")           # the list readers without the script get
    assert {a.get("href")[:-5] for a in no_script.cssselect("li a")} == set(pages)


def test_an_agency_page_shows_the_latest_of_a_long_timeline(backfilled_url):
    """A page does not grow with the log: past ``agency_recent`` changes an agency page shows the
    latest of its timeline and says where the others are."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from publish.report import build_pages

    log = changes(backfilled_url)
    engine = create_engine(backfilled_url)
    with Session(engine) as session:
        pages = build_pages(session, (), agency_recent=2)
    engine.dispose()
    long = 0
    for name, page in pages.items():
        if not name.startswith("agencies/") or name.endswith("index.html"):
            continue
        html = lxml.html.fromstring(page)
        agreements = {(r.get("data-list"), r.get("data-key")) for r in html.cssselect("#agreements tr[data-key]")}
        whole = expected_timeline(log, agreements)
        assert [int(r.get("data-event")) for r in html.cssselect("#timeline tr[data-event]")] == whole[-2:], name
        note = html.cssselect("#timeline-bounded")
        assert bool(note) == (len(whole) > 2), name
        if note:
            long += 1
            assert f"The 2 latest of the {len(whole)} changes" in " ".join(note[0].text_content().split())
            assert note[0].cssselect("a")[0].get("href") == "../data/changes.csv"
    assert long > 100


def test_every_state_page_counts_what_metrics_counts(site, backfilled_url):
    participating = participating_metrics(backfilled_url)
    pages = {p.stem: p for p in (site / "states").glob("*.html")}
    assert {code.lower() for code in participating["by_state"]} <= set(pages)
    for code, count in participating["by_state"].items():
        html = parse(pages[code.lower()])
        facts = html.cssselect("#state-counts")[0]
        assert facts.get("data-state") == code
        assert int(facts.cssselect(".agreements")[0].get("data-value")) == count
        for cell in facts.cssselect(".model"):
            assert int(cell.get("data-value")) == participating["by_state_model"][code].get(cell.get("data-model"), 0)
        models = html.cssselect('#agencies tr[data-status="participating"] td.models')
        assert sum(len((m.text or "").split()) for m in models) == count, code
    florida = parse(pages["fl"])
    assert florida.cssselect(".baseline")[0].get("data-value") == "324"
    coverage = florida.cssselect("#coverage")[0]
    assert 0 < int(coverage.get("data-covered")) < int(coverage.get("data-total"))
    assert "a sheriff's figure is the\ncounty's unincorporated area" in florida.text_content()
    county = florida.cssselect("#county-12001")[0]                     # Alachua County
    assert "Alachua County Sheriff's Office" in county.text_content()
    dots = {c.get("data-key"): int(c.get("data-value")) for c in florida.cssselect("#state-map circle.dot")}
    assert dots == {li.get("id")[7:]: int(li.get("data-agreements")) for li in florida.cssselect("#counties li")}


def test_front_page_map_search_and_downloads(site, backfilled_url):
    participating = participating_metrics(backfilled_url)
    html = parse(site / "index.html")
    shapes = html.cssselect("#map path.state")
    assert len(shapes) == 51
    assert {s.get("data-state"): int(s.get("data-count")) for s in shapes if int(s.get("data-count"))} == {
        code: n for code, n in participating["by_state"].items() if code in {s.get("data-state") for s in shapes}}
    for shape in shapes:
        assert shape.getparent().get("href") == f"states/{shape.get('data-state').lower()}.html"
    small = html.cssselect("#map-over-time svg")
    assert len(small) == 4 and all(len(s.cssselect("use.state")) == 51 for s in small)
    index = json.loads(html.cssselect("#search-index")[0].text)
    agencies = [e for e in index if e[1] not in ("state", "county")]
    assert {e[2] for e in agencies} == {p.stem for p in (site / "agencies").glob("*.html")} - {"index"}
    assert all((site / e[2].split("#")[0]).exists() for e in index if e[1] in ("state", "county"))
    downloads = [a.get("href") for a in html.cssselect("#download-list a")]
    assert len(downloads) == 15 and all((site / href).exists() for href in downloads)
