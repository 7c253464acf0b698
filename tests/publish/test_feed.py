"""The Atom feed of the change log, built from the real workbooks and read back with feedparser."""

from __future__ import annotations

import json

import feedparser
import pytest
from lxml import etree

from tests.commands import changes, run

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "<script>alert('x')</script> Sheriff & Co"


@pytest.fixture
def backfilled(backfilled_url) -> str:
    """A copy of the session's backfill of the 22 real workbooks (conftest)."""
    return backfilled_url


def build(db: str, out, *args: str) -> bytes:
    result = run(db, "feed", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_the_feed_is_atom_with_one_stable_unique_id_per_change(backfilled, tmp_path):
    first = build(backfilled, tmp_path / "a.xml", "--limit", "0")
    parsed = feedparser.parse(first)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    ids = [entry.id for entry in parsed.entries]
    log = changes(backfilled, "--status", "confirmed")       # the feed's default: confirmed changes
    assert 0 < len(log) < len(changes(backfilled))
    assert len(ids) == len(set(ids)) == len(log)
    assert set(ids) == {f"tag:tracker287g,2025:change/{c['id']}" for c in log}
    assert build(backfilled, tmp_path / "b.xml", "--limit", "0") == first          # a rebuild is the same document

    texas = feedparser.parse(build(backfilled, tmp_path / "tx.xml", "--state", "TX", "--kind", "agreement.added"))
    expected = changes(backfilled, "--state", "TX", "--kind", "agreement.added", "--status", "confirmed")
    assert [e.id for e in texas.entries] == [f"tag:tracker287g,2025:change/{c['id']}" for c in reversed(expected)]
    assert texas.entries[0].title == f"agreement.added: {expected[-1]['summary']}"
    every = feedparser.parse(build(backfilled, tmp_path / "all.xml", "--status", "all", "--limit", "0"))
    assert len(every.entries) == len(changes(backfilled))


def test_the_feed_holds_the_newest_entries_of_the_whole_feed(backfilled, tmp_path):
    """By default the newest 500 changes (by id, the feed's order), as feeds do; each entry is
    the one the whole feed has, and `updated` is the newest day the entries show."""
    whole = etree.fromstring(build(backfilled, tmp_path / "all.xml", "--limit", "0"))
    newest = etree.fromstring(build(backfilled, tmp_path / "new.xml"))
    entries = whole.findall(f"{ATOM}entry")
    assert len(entries) > 500 and len(newest.findall(f"{ATOM}entry")) == 500
    assert [etree.tostring(e, with_tail=False) for e in newest.findall(f"{ATOM}entry")] \
        == [etree.tostring(e, with_tail=False) for e in entries[:500]]
    log = sorted(changes(backfilled, "--status", "confirmed"), key=lambda c: c["id"])[-500:]
    assert newest.findtext(f"{ATOM}updated") == f"{max(c['occurred_on'] for c in log)}T00:00:00+00:00"
    few = feedparser.parse(build(backfilled, tmp_path / "few.xml", "--state", "TX", "--limit", "3"))
    texas = changes(backfilled, "--state", "TX", "--status", "confirmed")
    assert [e.id for e in few.entries] == [f"tag:tracker287g,2025:change/{c['id']}"
                                           for c in sorted(texas, key=lambda c: -c["id"])[:3]]


def test_per_snapshot_digests(backfilled, tmp_path):
    parsed = feedparser.parse(build(backfilled, tmp_path / "s.xml", "--per", "snapshot", "--list", "participating"))
    assert not parsed.bozo
    log = changes(backfilled, "--list", "participating", "--status", "confirmed")
    snapshot_ids = {c["snapshot_id"] for c in log}
    assert sorted(e.id for e in parsed.entries) == sorted(f"tag:tracker287g,2025:snapshot/{i}" for i in snapshot_ids)
    may = next(e for e in parsed.entries if "participatingAgencies05292025am.xlsx" in e.title)
    added = [c for c in log if c["evidence"].get("file") == "participatingAgencies05292025am.xlsx"
             and c["kind"] == "agreement.added"]
    assert f"{len(added)} agreement.added" in may.title
    two = etree.fromstring(build(backfilled, tmp_path / "s2.xml", "--per", "snapshot", "--list", "participating",
                                 "--limit", "2"))
    assert [e.id for e in parsed.entries[:2]] == [e.findtext(f"{ATOM}id") for e in two.findall(f"{ATOM}entry")]


def test_scraped_markup_is_text_in_the_feed(backfilled, edit_workbook, tmp_path):
    hostile = edit_workbook("participatingAgencies05142026am.xlsx", "participatingAgencies06012026am.xlsx",
                            {"Texas Office of the Attorney General": HOSTILE})
    assert run(backfilled, "backfill", str(hostile)).exit_code == 0
    document = build(backfilled, tmp_path / "h.xml", "--since", "2026-06-01", "--status", "all")
    tree = etree.fromstring(document)
    assert tree.findall(f".//{ATOM}script") == [] and b"<script>" not in document
    titles = [t.text for t in tree.iter(f"{ATOM}title")]
    assert any(HOSTILE in title for title in titles)
    parsed = feedparser.parse(document)
    assert any(HOSTILE in entry.title for entry in parsed.entries)
    assert json.loads(run(backfilled, "changes", "--since", "2026-06-01", "--format", "json").output)["changes"]
