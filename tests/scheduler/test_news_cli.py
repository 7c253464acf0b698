"""`tracker287g baseline propose` and `tracker287g news`, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from pipeline.backfill import plan_backfill, run_backfill
from pipeline.news import load_context, record_items
from scheduler.seeds import load_baseline
from storage.database import open_database
from tests.commands import run
from tests.files import NEWS, ROOT, workbook
from tests.news_items import OFF_TOPIC, PAGE, STORY, SYNDICATED

SEED = ROOT.parent / "shared" / "seed" / "000_cf7c87887e75a535.txt"

# What a careful reader lists from the seed article: value, unit, scope.
SEED_FIGURES = [
    (950, "percent", "US"), (1168, "agencies", "US"), (135, "agencies", "US"), (150, "agencies", "US"),
    (8, "facilities", "US"), (10000, "beds", "US"), (25_000_000, "USD", "city:Dallas"), (650, "arrests", "state:WV"),
    (7500, "USD", "US"), (100_000, "USD", "US"), (25, "percent", "US"), (39, "states", "US"),
    (324, "agreements", "state:FL"), (296, "agreements", "state:TX"), (63, "agreements", "state:TN"),
    (52, "agreements", "state:AL"), (58, "agreements", "state:PA"),
]


@pytest.fixture(scope="module")
def seed_copy(tmp_path_factory) -> Path:
    if not SEED.exists():
        pytest.skip(f"the seed article is not at {SEED}")
    copy = tmp_path_factory.mktemp("seed") / "article.txt"
    shutil.copy(SEED, copy)
    return copy


def test_propose_on_the_seed_article_finds_what_a_reader_would(seed_copy):
    result = run(None, "baseline", "propose", str(seed_copy), "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["schema"] == "tracker287g.baseline-proposals/1" and document["kind"] == "text"
    proposals = document["proposals"]
    assert [(p["value"], p["unit"], p["scope"]) for p in proposals] == SEED_FIGURES
    # no promotional discount, no date, no "287" of 287(g), no "2.0"
    assert not {60, 26, 16, 2026, 2025, 287, 2.0} & {p["value"] for p in proposals}
    by_value = {p["value"]: p for p in proposals}
    assert (by_value[1168]["as_of"], by_value[1168]["as_of_precision"]) == ("2026-01-26", "day")
    assert by_value[1168]["counts"] == "local agencies" and by_value[1168]["in_baseline"] == (
        "local-agencies-trained-officers-2026-01-26")
    assert by_value[650]["as_of"] == "2026-02-01" and "embedded post" in by_value[650]["as_of_note"]
    assert by_value[25_000_000]["as_of"] == {"start": "2025-10-01", "end": "2025-10-31"}
    assert by_value[7500]["per"] == "officer" and by_value[25]["qualifier"] == "up to"
    assert by_value[950]["change"] is True
    assert by_value[8]["counts"] == "10,000-bed deportation facilities"
    assert by_value[324]["location"]["text"] == "line 12, paragraph 12, sentence 4"
    assert by_value[324]["sentence"].startswith("Not surprisingly")
    assert by_value[324]["measure"] == "participating list, agreements, state FL"
    text = seed_copy.read_text("utf-8")
    assert text[by_value[1168]["location"]["start"]:by_value[1168]["location"]["end"]] == "1,168"
    # every figure of the seed is already in seeds/baseline.toml
    assert all(p["in_baseline"] for p in proposals)


def test_propose_table_for_people(seed_copy):
    result = run(None, "baseline", "propose", str(seed_copy))
    assert result.exit_code == 0
    assert "Proposed baseline entries from article.txt (17)" in result.output
    assert "city:Dallas" in result.output and "25,000,000" in result.output


def test_propose_on_a_saved_html_page(tmp_path):
    page = tmp_path / "release.html"
    page.write_bytes((NEWS / "ice_release_tennessee.html").read_bytes())
    document = json.loads(run(None, "baseline", "propose", str(page), "--format", "json").output)
    assert document["kind"] == "html" and document["published"] == "2026-02-03"
    assert [(p["value"], p["unit"], p["scope"], p["as_of"]) for p in document["proposals"]] == [
        (12, "agencies", "state:TN", "2026-01-30"), (75, "agreements", "state:TN", "2026-02-03"),
        (140, "officers", "state:TN", "2026-02-03"), (1250, "agencies", "US", "2026-01-30"),
        (7500, "USD", "US", "2026-02-03")]
    assert document["proposals"][1]["as_of_note"] == "not stated in the sentence: the publication date"
    assert document["proposals"][2]["unit_in_baseline_format"] is False     # "officers" is not a baseline unit yet


def test_propose_rejects_a_missing_file(tmp_path):
    result = run(None, "baseline", "propose", str(tmp_path / "nothing.txt"))
    assert result.exit_code == 2


@pytest.fixture(scope="module")
def news_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('newscli') / 'news.sqlite'}"
    engine = open_database(url)
    run_backfill(engine, plan_backfill([workbook("participatingAgencies12312025am.xlsx")]))
    with Session(engine) as session:
        context = load_context(session, load_baseline())
    record_items(engine, "times", [PAGE, STORY, SYNDICATED, OFF_TOPIC], context)
    engine.dispose()
    return url


def test_news_json_lists_relevant_articles_with_figures(news_db):
    result = run(news_db, "news", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["schema"] == "tracker287g.news/1"
    [story] = document["articles"]
    assert story["title"] == STORY.title and story["published_at"].startswith("2026-02-03T09:00")
    assert [s["match"] for s in story["sightings"]] == ["first", "same_story"]
    assert story["agencies"] == [{"state": "FL", "agency": "Polk County Sheriff's Office", "ambiguous": False}]
    fl = story["figures"][0]
    assert (fl["value"], fl["baseline_id"], fl["baseline_value"], fl["measured"], fl["snapshot_as_of"]) == (
        341, "agreements-fl", 324, 339, "2025-12-31")


def test_news_since_csv_and_markdown(news_db):
    assert json.loads(run(news_db, "news", "--since", "2026-02-04", "--format", "json").output)[
        "articles"] == []
    rows = list(csv.DictReader(io.StringIO(run(news_db, "news", "--format", "csv").output)))
    assert [r["title"] for r in rows] == [STORY.title]
    assert rows[0]["figures"] == "341 agreements (agreements), state:FL; 60 officers (deputies), state:FL"
    markdown = run(news_db, "news", "--format", "markdown").output
    assert markdown.startswith("| dated_on | publisher | title | url | figures |")
    table = run(news_db, "news").output
    assert "Reported figures beside the baseline" in table and "339" in table


def test_news_on_an_empty_database_says_how_to_collect(tmp_path):
    result = run(str(tmp_path / "empty.sqlite"), "news")
    assert result.exit_code == 0 and "news crawl --contact" in result.output


def test_news_crawl_needs_a_contact_and_a_known_source(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER287G_CONTACT", raising=False)
    db = str(tmp_path / "x.sqlite")
    assert run(db, "news", "crawl").exit_code == 2
    result = run(db, "news", "crawl", "--contact", "me@example.org", "--source", "nope")
    assert result.exit_code == 2 and "unknown news source" in result.output
