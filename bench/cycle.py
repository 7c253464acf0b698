"""What an unchanged cycle costs, and whether the service's memory stays flat over many cycles.

    .venv/bin/python bench/cycle.py [--cycles 50 500] [--unchanged-runs 20]

1. Unchanged cycle, in process: after a first crawl, the loopback ICE page keeps publishing the
   same two workbooks (conditional requests get 304).  For each further run of the ice_287g job
   it reports CPU milliseconds (this process + the crawl's child process) and the rows written
   to each table.
2. Memory: the real `tracker287g run` process, on a one-second schedule against the same
   server; its resident memory (VmRSS) after the first and the last given number of cycles.
Everything runs on 127.0.0.1; figures are measured in this one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, inspect, select, table  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from scheduler.config import load_config  # noqa: E402
from scheduler.demo import Publisher, Step, packaged_workbooks  # noqa: E402
from scheduler.service import Service  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import CrawlRun  # noqa: E402

STEP = Step("steady", "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx")


def config_text(page_url: str, db_url: str) -> str:
    seeds = load_config(environ={})
    disabled = "".join(f"[sources.{s.id}]\nenabled = false\n" for s in seeds.sources if s.id != "ice_287g")
    return f"""{disabled}
[database]
url = "{db_url}"
[crawler]
contact = "bench@127.0.0.1"
download_delay_seconds = 0
retry_times = 0
[crawler.scrapy]
AUTOTHROTTLE_ENABLED = false
[sources.ice_287g]
url = "{page_url}"
schedule = {{ interval_seconds = 1 }}
"""


def row_counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {name: session.scalar(select(func.count()).select_from(table(name)))
                for name in inspect(engine).get_table_names() if name != "alembic_version"}


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished child processes (the crawls)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def unchanged_cycles(publisher: Publisher, scratch: Path, runs: int) -> None:
    config_path = scratch / "inproc.toml"
    db_url = f"sqlite:///{scratch / 'inproc.sqlite'}"
    config_path.write_text(config_text(publisher.page_url, db_url))
    config = load_config(config_path, environ={})
    engine = open_database(db_url)
    service = Service(config, engine, threading.Event())
    service._ensure_states()
    service.run_source("ice_287g")                       # the first crawl ingests both lists
    own_costs, child_costs, writes = [], [], []
    for _ in range(runs):
        before_rows, (own_before, child_before) = row_counts(engine), cpu_seconds()
        service.run_source("ice_287g")
        own_after, child_after = cpu_seconds()
        own_costs.append((own_after - own_before) * 1000)
        child_costs.append((child_after - child_before) * 1000)
        after = row_counts(engine)
        writes.append({t: after[t] - before_rows[t] for t in after if after[t] != before_rows[t]})
    with Session(engine) as session:
        outcomes = [r.outcome for r in session.scalars(select(CrawlRun).order_by(CrawlRun.id))][1:]
    print(f"unchanged cycle ({runs} runs, outcomes {sorted(set(outcomes))}):")
    total = [a + b for a, b in zip(own_costs, child_costs)]
    print(f"  CPU per cycle      : median {statistics.median(total):.0f} ms "
          f"(min {min(total):.0f}, max {max(total):.0f})"
          f" = service process {statistics.median(own_costs):.0f} ms + crawl child process "
          f"{statistics.median(child_costs):.0f} ms")
    print(f"  rows written/cycle : {writes[-1]}  (identical in every run: {all(w == writes[0] for w in writes)})")
    engine.dispose()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory_over_cycles(publisher: Publisher, scratch: Path, marks: list[int]) -> None:
    db_url = f"sqlite:///{scratch / 'service.sqlite'}"
    config_path = scratch / "service.toml"
    config_path.write_text(config_text(publisher.page_url, db_url))
    engine = open_database(db_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRACKER287G_DB", None)
    process = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "--config", str(config_path), "run"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    readings: dict[int, int] = {}
    started = time.monotonic()
    try:
        for mark in sorted(marks):
            while True:
                with Session(engine) as session:
                    done = session.scalar(select(func.count()).select_from(CrawlRun)
                                          .where(CrawlRun.outcome.not_in(("running",))))
                if done >= mark:
                    readings[mark] = rss_kib(process.pid)
                    print(f"  after {done:4d} cycles: RSS {readings[mark] / 1024:.1f} MiB "
                          f"({time.monotonic() - started:.0f} s)")
                    break
                if process.poll() is not None:
                    raise RuntimeError(f"service exited with {process.returncode}")
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(30)
        engine.dispose()
    first, last = readings[min(marks)], readings[max(marks)]
    print(f"  RSS growth from {min(marks)} to {max(marks)} cycles: {(last - first) / first:+.1%} (target within 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--unchanged-runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, Publisher(packaged_workbooks()) as publisher:
        publisher.publish(STEP)
        unchanged_cycles(publisher, Path(scratch), args.unchanged_runs)
        print("memory of the `tracker287g run` process:")
        memory_over_cycles(publisher, Path(scratch), args.cycles)


if __name__ == "__main__":
    main()
