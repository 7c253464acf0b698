"""The real service process for tests: ``tracker287g run`` as a child process with its log
lines, a configuration that points only the ICE list source at a loopback server, and waits
for finished runs.  Shared by test_service.py and test_service_partial.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.demo.loopback import LoopbackServer, Reply
from storage.models import CrawlRun
from tests.files import ROOT

PAGE = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"


def page(*names: str) -> Reply:
    links = "".join(f'<li><a href="{DOCLIB}{n}">{"Participating" if n.startswith("part") else "Pending"} Agencies'
                    f"</a></li>" for n in names)
    return Reply.html(f"<html><body><h2>287(g) agencies</h2><ul>{links}</ul></body></html>")


def write_config(tmp_path: Path, server: LoopbackServer, db_url: str) -> Path:
    # only the ICE list source, pointed at the loopback server: no other source may reach out
    others = [s["id"] for s in tomllib.loads((ROOT / "seeds" / "sources.toml").read_text())["sources"]
              if s["id"] != "ice_287g"]
    disabled = "".join(f"\n[sources.{source_id}]\nenabled = false\n" for source_id in others)
    config = tmp_path / "tracker287g.toml"
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
