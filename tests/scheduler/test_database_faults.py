"""Database faults met by the real service and by backfill: PostgreSQL going away and coming
back mid-run, a full disk, and a stop in the middle of a huge ingest."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from scheduler.demo.loopback import Reply
from storage.database import create_database_engine, open_database
from storage.models import CrawlRun, Snapshot
from tests.dropping_proxy import DroppingProxy
from tests.files import ROOT, WORKBOOKS, workbook
from tests.scheduler.service_process import (
    DOCLIB,
    PAGE,
    ServiceProcess,
    backfill_log,
    list_log,
    page,
    serve,
    wait_runs,
    write_config,
)

HUGE = "participatingAgencies06012025am.xlsx"


def snapshot_names(engine) -> set[str]:
    with Session(engine) as session:
        return {s.file_name for s in session.scalars(select(Snapshot))}


def wait_for(condition, what: str, service: ServiceProcess, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if service.process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {what} (exit code {service.process.poll()}):\n" + "\n".join(service.lines[-30:]))


def test_postgresql_dropping_mid_run_is_one_logged_and_recorded_outage_and_the_log_catches_up(
        tmp_path, loopback, pg_url):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    direct = open_database(pg_url)
    url = make_url(pg_url)
    with DroppingProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        service = ServiceProcess(write_config(tmp_path, loopback, via_proxy, scheduler="lease_seconds = 30"))
        first = "participatingAgencies05282025am.xlsx"
        pair = ["participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"]
        try:
            serve(loopback, first)
            wait_for(lambda: first in snapshot_names(direct), first, service)
            serve(loopback, *pair)
            service.wait_for_line(f"ingesting {pair[0]}")
            proxy.drop()                                       # mid-ingest: its transaction cannot commit
            wait_for(lambda: any("database unavailable" in line for line in service.lines), "outage line", service)
            time.sleep(4)                                      # several scheduled runs meet the outage
            proxy.restore()
            wait_for(lambda: set(pair) <= snapshot_names(direct), "the 05/29 pair", service)
            wait_for(lambda: any("database available again" in line for line in service.lines), "back", service)
            code, _ = service.stop()
        finally:
            service.close()
    assert code == 0
    assert list_log(direct) == backfill_log(tmp_path, [first, *pair])
    assert sum("database unavailable" in line for line in service.lines) == 1       # one line per outage
    assert sum("database available again" in line for line in service.lines) == 1
    assert not [line for line in service.lines if "Traceback" in line or " ERROR " in line], service.lines
    with Session(direct) as session:
        runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    outage = [r for r in runs if r.outcome == "db_unavailable"]
    assert len(outage) == 1 and outage[0].finished_at > outage[0].started_at
    assert re.search(r"the database was unavailable from .* UTC \(\d+ s; .*\): [1-9]\d* scheduled run\(s\) could "
                     r"not start", outage[0].detail), outage[0].detail
    cut = [r for r in runs if r.outcome in ("interrupted", "failed")]        # the run whose ingest was cut off
    assert len(cut) == 1 and "database" in cut[0].detail, [(r.outcome, r.detail) for r in runs]
    assert "running" not in {r.outcome for r in runs}
    direct.dispose()


# -- SIGTERM in the middle of a 100,000-row ingest -------------------------------------------------

def huge_workbook(name: str, rows: int) -> bytes:
    """A real workbook grown to ``rows`` agreements: its data rows repeated, each agency name made
    unique by a unit number (the sheet's XML written directly: openpyxl takes a minute for this)."""
    with zipfile.ZipFile(workbook(name)) as source:
        members = {n: source.read(n) for n in source.namelist()}
    sheet = re.sub(r"<hyperlinks>.*?</hyperlinks>", "", members["xl/worksheets/sheet1.xml"].decode(), flags=re.S)
    strings = [escape(re.sub(r"<[^>]+>", "", si)) for si in
               re.findall(r"<si>(.*?)</si>", members["xl/sharedStrings.xml"].decode(), re.S)]
    data = re.search(r"<sheetData>(.*)</sheetData>", sheet, re.S)
    bodies = re.findall(r'(<row r="\d+".*?</row>)', data.group(1), re.S)
    header, body = bodies[0], [b for b in bodies[1:] if '<c r="B' in b]
    forms = []
    for row in body:
        row = re.sub(r'(<row r=")\d+', r"\g<1>{n}", row.replace("{", "{{").replace("}", "}}"), count=1)
        row = re.sub(r'(<c r="[A-Z]+)\d+"', r'\g<1>{n}"', row)
        agency = re.search(r'<c r="B\{n\}"([^>]*?) t="s"><v>(\d+)</v></c>', row)
        if agency:
            text = strings[int(agency.group(2))].replace("{", "{{").replace("}", "}}")
            row = row.replace(agency.group(0), f'<c r="B{{n}}"{agency.group(1)} t="inlineStr"><is><t>{text} Unit {{u}}</t></is></c>')
        forms.append(row)
    out = [header, *(forms[u % len(forms)].format(n=u + 2, u=u) for u in range(rows))]
    sheet = sheet[:data.start(1)] + "".join(out) + sheet[data.end(1):]
    sheet = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:H{rows + 1}"/>', sheet)
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    members.pop("xl/worksheets/_rels/sheet1.xml.rels", None)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def huge_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / HUGE
    path.write_bytes(huge_workbook("participatingAgencies05282025am.xlsx", 99_000))
    return path


def test_sigterm_during_a_100k_row_ingest_stops_the_service_within_its_stop_timeout(tmp_path, loopback, huge_list):
    loopback.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
    db = f"sqlite:///{tmp_path / 'service.sqlite'}"
    engine = open_database(db)
    serve(loopback, "participatingAgencies05282025am.xlsx")
    service = ServiceProcess(write_config(tmp_path, loopback, db))
    try:
        wait_runs(engine, service, 1)
        loopback.route(PAGE, page(HUGE))
        loopback.route(DOCLIB + HUGE, Reply.file(huge_list))
        service.wait_for_line(f"ingesting {HUGE}")
        time.sleep(1)                                   # reading 99,000 rows alone takes longer
        code, seconds = service.stop()                  # stop_timeout_seconds = 8
    finally:
        service.close()
    assert code == 0 and seconds < 10, service.lines[-20:]
    assert not any(f"ingested {HUGE}" in line for line in service.lines)   # it was stopped mid-ingest ...
    assert HUGE not in snapshot_names(engine)                               # ... and nothing of it was kept
    engine.dispose()


# -- backfill meeting a full disk ------------------------------------------------------------------

def _backfill(db: Path, *, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    """`tracker287g backfill` of the 22 real workbooks; with ``file_size_limit``, no file of the
    process may grow past it: writes beyond fail as on a full disk (EFBIG, SIGXFSZ ignored)."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRACKER287G_DB", None)
    return subprocess.run([sys.executable, "-m", "scheduler.cli", "--db", str(db), "backfill", str(WORKBOOKS),
                           "--format", "json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          preexec_fn=cap if file_size_limit else None)


def test_a_full_disk_stops_backfill_in_one_line_and_a_rerun_imports_the_rest_in_order(tmp_path, backfill_templates):
    db = tmp_path / "full.sqlite"
    full = _backfill(db, file_size_limit=3_000_000)             # room for about half of the history
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    assert [line for line in full.stderr.splitlines() if " ERROR " in line] == [
        line for line in full.stderr.splitlines() if "backfill stopped at" in line]
    assert len([line for line in full.stderr.splitlines() if line.strip()]) == 1, full.stderr   # one line
    files = json.loads(full.stdout)["files"]
    imported = [f for f in files if f["status"] != "error"]
    failed = [f for f in files if f["status"] == "error"]
    assert imported and failed and files == imported + failed   # a prefix was imported, in order, then nothing
    assert "the database failed: OperationalError" in failed[0]["reason"]
    assert all(f["reason"].startswith(f"not imported: the backfill stopped at {failed[0]['file']}")
               for f in failed[1:])

    again = _backfill(db)                                       # the disk has room again
    assert again.returncode == 0, again.stderr[-2000:]
    assert [f["status"] for f in json.loads(again.stdout)["files"]][:len(imported)] == ["already_recorded"] * len(
        imported)
    engine = create_database_engine(f"sqlite:///{db}")
    reference = create_database_engine(backfill_templates.sqlite_copy(tmp_path / "reference.sqlite"))
    assert list_log(engine) == list_log(reference)               # no gap, nothing out of order
    engine.dispose()
    reference.dispose()
