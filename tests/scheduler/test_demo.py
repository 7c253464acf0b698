"""The offline demo: a loopback publisher, the real spider in child processes, the real diff stage."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from sqlalchemy.orm import Session

from pipeline.backfill import plan_backfill, run_backfill
from scheduler.demo import STEPS, run_demo
from storage.database import open_database
from storage.events import EventRepository
from storage.lists import ListRepository
from tests.files import workbook

DIFF_KINDS = ("agreement.added", "agreement.removed", "agreement.changed", "agreement.renamed")


def _log_by_file(url: str) -> Counter:
    engine = open_database(url)
    with Session(engine) as session:
        files = {s.id: s.file_name for s in ListRepository(session).snapshots()}
        log = Counter((files[e.snapshot_id], e.kind, e.subject_key, e.field, e.old_value, e.new_value)
                      for e in EventRepository(session).events() if e.kind in DIFF_KINDS and e.list_name == "participating")
    engine.dispose()
    return log


def test_demo_crawls_every_step_and_its_log_matches_a_backfill_of_the_same_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "demo.txt", "w") as file:
        url = run_demo(Console(file=file, width=200))
    text = (tmp_path / "demo.txt").read_text()
    assert text.count("Step ") == len(STEPS)
    assert "crawl error" not in text
    # its agreements are on the participating list by then: promoted, an empty list accepted
    assert "pendingAgencies11142025pm.xlsx: pending accepted" in text
    assert "participatingAgencies09222025pm.xlsx: pending accepted" in text          # swapped file recognised
    assert "participatingAgencies01262026pm.xlsx: participating accepted" in text    # name from Content-Disposition
    assert "pendingAgencies05292025am.xlsx: pending not_modified" in text            # a 304

    engine = open_database(url)
    with Session(engine) as session:
        snapshots = ListRepository(session).snapshots()
    engine.dispose()
    published = {name for step in STEPS for name in (step.participating, step.pending)}
    assert {s.file_name for s in snapshots} == published

    participating = sorted({step.participating for step in STEPS if "participating" in step.participating})
    backfill_url = f"sqlite:///{tmp_path / 'backfill.sqlite'}"
    engine = open_database(backfill_url)
    results = run_backfill(engine, plan_backfill([workbook(name) for name in participating]))
    engine.dispose()
    assert not [r.error for r in results if r.error]
    crawled = Counter({k: n for k, n in _log_by_file(url).items() if k[0] in participating})
    assert crawled and crawled == _log_by_file(backfill_url)
