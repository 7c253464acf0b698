"""The real service as a child process, and what its tests compare: its configuration against a
loopback ICE, the runs it finished, and its change log beside a backfill of the same files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.backfill import plan_backfill, run_backfill
from scheduler.demo.loopback import LoopbackServer, Reply
from storage.database import open_database
from storage.lists import ListRepository
from storage.models import ChangeEvent, CrawlRun
from tests.files import ROOT, workbook

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
LIST_KINDS = ("agreement.", "list.", "data.", "source.anomaly")


def page(*names: str) -> Reply:
    links = "".join(f'<li><a href="{DOCLIB}{n}">{"Participating" if n.startswith("part") else "Pending"} Agencies'
                    f"</a></li>" for n in names)
    return Reply.html(f"<html><body><h2>287(g) agencies</h2><ul>{links}</ul></body></html>")


def write_config(tmp_path: Path, server: LoopbackServer, db_url: str, *, scheduler: str = "",
                 name: str = "tracker287g.toml") -> Path:
    """The configuration of a service test; ``scheduler`` adds [scheduler] lines."""
    # only the ICE list source, pointed at the loopback server: no other source may reach out
    others = [s["id"] for s in tomllib.loads((ROOT / "seeds" / "sources.toml").read_text())["sources"]
              if s["id"] != "ice_287g"]
    disabled = "".join(f"\n[sources.{source_id}]\nenabled = false\n" for source_id in others)
    config = tmp_path / name
    config.write_text(disabled + f"""
[database]
url = "{db_url}"

[crawler]
contact = "service-tests@example.org"
run_timeout_seconds = 60
download_timeout_seconds = 2
retry_times = 0
download_delay_seconds = 0

[crawler.scrapy]
AUTOTHROTTLE_ENABLED = false

[health]
failures_before_event = 2
stale_after_hours = 24
check_every_seconds = 1

[scheduler]
stop_timeout_seconds = 8
{scheduler}

[sources.ice_287g]
url = "{server.url(PAGE)}"
schedule = {{ interval_seconds = 1, jitter_seconds = 0 }}
""")
    return config


class ServiceProcess:
    """`tracker287g run` as a child process, its stderr collected line by line."""

    def __init__(self, config: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("TRACKER287G_DB", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "--log-level", "INFO", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        )
        self.lines: list[str] = []
        self.seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.process.stderr:
            with self.seen:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())
                self.seen.notify_all()

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.seen:
            while not any(text in line for line in self.lines):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"no log line with {text!r} (exit code {self.process.poll()}); last lines:\n"
                                         + "\n".join(self.lines[-20:]))
                self.seen.wait(0.2)

    def stop(self, signum=signal.SIGTERM) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=30)
        seconds = time.monotonic() - started
        self.close()
        return code, seconds

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.reader.join(5)
        self.process.stderr.close()


def finished_runs(engine) -> list[CrawlRun]:
    with Session(engine) as session:
        return list(session.scalars(select(CrawlRun).where(CrawlRun.outcome != "running").order_by(CrawlRun.id)))


def wait_runs(engine, service: ServiceProcess, count: int, timeout: float = 60) -> list[CrawlRun]:
    """Wait until ``count`` more runs have finished; returns them."""
    before = len(finished_runs(engine))
    deadline = time.monotonic() + timeout
    while True:
        runs = finished_runs(engine)
        if len(runs) >= before + count:
            return runs[before:]
        if service.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("service made no progress:\n" + "\n".join(service.lines[-30:]))
        time.sleep(0.2)


def list_log(engine) -> Counter:
    with Session(engine) as session:
        files = {s.id: s.file_name for s in ListRepository(session).snapshots()}
        return Counter(
            (files.get(e.snapshot_id), e.kind, e.subject_key, e.field, e.old_value, e.new_value)
            for e in session.scalars(select(ChangeEvent)) if e.kind.startswith(LIST_KINDS)
        )


def backfill_log(tmp_path: Path, names: list[str], *then: str) -> Counter:
    """The log of a backfill of ``names`` (in date order), then of each of ``then`` in turn."""
    engine = open_database(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    plan = plan_backfill([workbook(n) for n in names])
    for name in then:
        plan += plan_backfill([workbook(name)])
    results = run_backfill(engine, plan)
    assert not [r.error for r in results if r.error]
    log = list_log(engine)
    engine.dispose()
    return log


def serve(server: LoopbackServer, *names: str, broken: dict | None = None) -> None:
    server.route(PAGE, page(*names))
    for name in names:
        server.route(DOCLIB + name, (broken or {}).get(name) or Reply.file(workbook(name)))
