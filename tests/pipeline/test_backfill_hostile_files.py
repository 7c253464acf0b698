"""`backfill` of what is not a list file: a device that never ends, a FIFO with no writer, a
folder of junk.  Each is refused before it costs memory or time, reported as skipped, and never
stored as a document; the exit status says not everything was imported."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.backfill import NotAListFile, plan_backfill, read_list_file, run_backfill
from storage.database import open_database
from storage.models import Document
from tests.commands import run
from tests.files import workbook


def documents(url: str) -> int:
    engine = open_database(url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Document))
    engine.dispose()
    return count or 0


def backfill_json(url: str, *args: str):
    result = run(url, "backfill", *args, "--format", "json")
    return result, json.loads(result.stdout)["files"]


def test_dev_zero_is_refused_without_reading_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'z.sqlite'}"
    result, files = backfill_json(url, "/dev/zero", "--as-of", "2025-05-29")
    assert result.exit_code == 1
    assert [(f["status"], f["reason"]) for f in files] == [
        ("skipped", "not a regular file (a device, FIFO or socket)")]
    assert documents(url) == 0


def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "participatingAgencies05292025am.xlsx"
    os.mkfifo(fifo)                               # nobody ever writes to it
    url = f"sqlite:///{tmp_path / 'f.sqlite'}"
    result, files = backfill_json(url, str(fifo))
    assert result.exit_code == 1
    assert [f["status"] for f in files] == ["skipped"]
    assert documents(url) == 0


def junk_folder(folder, files: int):
    """``files`` junk files under the names the backfill collects, 200 under other names, and
    one real workbook."""
    folder.mkdir()
    for n in range(files):
        (folder / f"junk{n:05d}{('.xlsx', '.html', '.htm')[n % 3]}").write_bytes(os.urandom(64) + b"junk")
    for n in range(200):                          # not collected at all
        (folder / f"junk{n:05d}.bin").write_bytes(os.urandom(64))
    shutil.copy(workbook("participatingAgencies05292025am.xlsx"), folder / "real.xlsx")
    return folder


def test_a_folder_of_10000_junk_files_stores_none_of_it(tmp_path):
    """The probe's case: 10,000 junk files with --as-of stored 5,001 junk documents and exited 0.
    (bench/junk_folder.py times it.)"""
    folder = junk_folder(tmp_path / "archive", 10_000)
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    result, files = backfill_json(url, str(folder), "--as-of", "2025-05-29")
    assert result.exit_code == 1                  # not everything named was imported
    statuses = [f["status"] for f in files]
    assert statuses.count("skipped") == 10_000 and statuses.count("accepted") == 1 and len(files) == 10_001
    reasons = {f["reason"] for f in files if f["status"] == "skipped"}
    assert reasons == {"not an xlsx workbook (no zip signature)", "not a saved page with a table"}
    assert documents(url) == 1
    # one warning for them all, not one per file
    [warning] = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert warning.endswith("WARNING source=- run=- pipeline.backfill: skipped 10000 files that hold no list "
                            "(nothing of them stored): 3334 not an xlsx workbook (no zip signature); 6666 not a "
                            "saved page with a table")


def test_many_junk_files_are_summed_up_in_the_table(tmp_path):
    folder = junk_folder(tmp_path / "archive", 30)
    result = run(f"sqlite:///{tmp_path / 'j.sqlite'}", "backfill", str(folder), "--as-of", "2025-05-29")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("skipped, not stored")] == [
        "skipped, not stored: 10 files, not an xlsx workbook (no zip signature) (junk00000.xlsx, junk00003.xlsx, "
        "junk00006.xlsx, ...)",
        "skipped, not stored: 20 files, not a saved page with a table (junk00001.html, junk00002.htm, "
        "junk00004.html, ...)"]
    assert not any("junk" in line and "│" in line for line in lines)   # no row per junk file
    assert lines[-1] == "1 accepted, 30 skipped"


@pytest.mark.parametrize(("content", "media", "why"), [
    (b"", "xlsx", "no zip signature"),
    (b"PK\x03\x04" + b"\x00" * 2000, "xlsx", None),           # a zip's start: the reader decides
    (b"<html><body>no list here</body></html>", "html", "not a saved page with a table"),
    (b"<HTML><TABLE><tr><td>x</td></tr></TABLE>", "html", None),
    (b"PK\x03\x04" + b"x" * 100, "xlsx-over-limit", "over the 50-byte limit"),
])
def test_read_list_file(tmp_path, content, media, why):
    path = tmp_path / "file"
    path.write_bytes(content)
    limit = 50 if media.endswith("over-limit") else 10_000
    if why is None:
        assert read_list_file(path, media, limit) == content
    else:
        with pytest.raises(NotAListFile, match=why):
            read_list_file(path, media.split("-")[0], limit)


def test_the_real_workbooks_still_pass(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    results = run_backfill(engine, plan_backfill([workbook("participatingAgencies05292025am.xlsx")],
                                                 as_of=dt.date(2025, 5, 29)))
    engine.dispose()
    assert [(r.skipped, r.error, r.outcome.status) for r in results] == [(None, None, "accepted")]
