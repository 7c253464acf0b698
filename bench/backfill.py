"""Backfill and rebuild of the real ICE workbooks, against merely reading the same files with
python-calamine, in the same run.

    .venv/bin/python bench/backfill.py [FOLDER] [--files N] [--runs N] [--postgres URL | --no-postgres]

FOLDER defaults to the shared history (../shared/data/ice-287g, 328 workbooks), else the
project's fixtures.  ``--files N`` takes the first N files in publication order, for a quick run.

Each measurement runs in a fresh child process, so that no cache carries over (the cleaning
caches would otherwise make later backfills look cheaper than a real first import); the sides
are interleaved, so that noise from other work on the machine hits them alike.  Printed: the
calamine read of every sheet of the files; the in-process work of ``tracker287g backfill``
(read, clean, classify, check, diff, write) into a new SQLite file and into a new schema of a
PostgreSQL database (schema creation timed apart); ``tracker287g rebuild`` of the backfilled
SQLite file; each as the ratio of medians to the read; and where the backfill's time goes, by
stage.  The load average is printed with the figures: on a busy machine they mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the shared history beside the project (or beside the folder of its worktrees), else the fixtures
DEFAULT_FOLDERS = (*(up / "shared" / "data" / "ice-287g" for up in ROOT.parents[:2]),
                   ROOT / "tests" / "fixtures" / "ice-287g")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def chosen_files(folder: Path, count: int | None) -> list[Path]:
    """The folder's list files in publication order (as the backfill plans them), the first
    ``count`` of them."""
    from pipeline.backfill import plan_backfill

    return [planned.path for planned in plan_backfill([folder])][:count]


def child_calamine(files: list[Path]) -> dict:
    from python_calamine import CalamineWorkbook

    start, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for path in files:
        if path.suffix.lower() != ".xlsx":
            continue
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            rows += len(book.get_sheet_by_name(name).to_python())
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "rows": rows}


class StageClock:
    """Time spent in the ingest's stages, by wrapping them (the wrappers cost a few µs a call)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        inner: Callable[..., Any] = getattr(owner, name)
        seconds, cpu_seconds = self.seconds, self.cpu_seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start
                cpu_seconds[stage] += time.process_time() - cpu

        setattr(owner, name, timed)

    def install(self) -> None:
        import pipeline.ingest as ingest
        from pipeline.reading import ReadAhead

        self.wrap(ReadAhead, "get", "read-ahead: wait for the child, unpickle")
        self.wrap(ingest.Ingestor, "ingest", "ingest (all)")
        self.wrap(ingest, "read_document", "read in this process (read-ahead missed)")
        self.wrap(ingest, "classify_document", "clean rows and classify")
        self.wrap(ingest, "content_hash", "content hash")
        self.wrap(ingest, "compute_metrics", "metrics")
        self.wrap(ingest.Ingestor, "_load_diff_inputs", "load the list as it stands")
        self.wrap(ingest, "diff_document", "diff")
        self.wrap(ingest.Ingestor, "_write_accepted", "write snapshot, versions, events")
        self.wrap(ingest.Ingestor, "_write_unchanged", "write snapshot, versions, events")
        self.wrap(ingest.Ingestor, "_write_quarantine", "write snapshot, versions, events")
        self.wrap(ingest, "settle", "settle (provisional, confirmed, reverted)")


def child_backfill(files: list[Path], url: str | None, rebuild: bool, stages: bool) -> dict:
    from pipeline.backfill import plan_backfill, run_backfill
    from storage.database import open_database

    clock = StageClock()
    if stages:
        clock.install()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        engine = open_database(url or f"sqlite:///{Path(scratch) / 'bench.sqlite'}")
        out["schema_seconds"] = time.perf_counter() - start
        plan = plan_backfill(files)
        start, cpu = time.perf_counter(), time.process_time()
        results = run_backfill(engine, plan)
        out["seconds"] = time.perf_counter() - start
        out["cpu_seconds"] = time.process_time() - cpu
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["child_cpu_seconds"] = children.ru_utime + children.ru_stime
        if rebuild:
            from pipeline.rebuild import rebuild as rebuild_history

            start = time.perf_counter()
            rebuilt = rebuild_history(engine)
            out["rebuild_seconds"] = time.perf_counter() - start
            out["rebuild_documents"] = rebuilt.documents
        engine.dispose()
    statuses: dict[str, int] = {}
    for result in results:
        status = result.outcome.status if result.outcome else "error"
        statuses[status] = statuses.get(status, 0) + 1
    out.update(files=len(results), statuses=statuses, stages=dict(clock.seconds), stages_cpu=dict(clock.cpu_seconds))
    return out


def run_child(kind: str, files: list[Path], url: str | None = None, *, rebuild: bool = False,
              stages: bool = False) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(str(p) for p in files))
    command = [sys.executable, __file__, "--child", kind, "--file-list", listing.name]
    command += (["--url", url] if url else []) + (["--rebuild"] if rebuild else [])
    command += ["--stages"] if stages else []
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    finally:
        os.unlink(listing.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_postgres_schema(url: str) -> str | None:
    """A URL to a new schema of the database, or None (with the reason) when it cannot be reached."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = "bench_" + uuid.uuid4().hex[:10]
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as error:  # not reachable, no driver: the PostgreSQL figure is left out
        print(f"PostgreSQL left out: {type(error).__name__}: {str(error).splitlines()[0]}")
        return None
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def drop_postgres_schema(url: str, scoped: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = make_url(scoped).query["options"].removeprefix("-csearch_path=")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def line(what: str, seconds: float, read: float, extra: str = "") -> None:
    print(f"{what:<34} {seconds * 1000:9.1f} ms  {seconds / read:6.2f}x  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--files", type=int, help="only the first N files in publication order")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", default=DEFAULT_POSTGRES,
                        help=f"the PostgreSQL database for the backfill (default {DEFAULT_POSTGRES})")
    parser.add_argument("--no-postgres", action="store_true", help="leave the PostgreSQL backfill out")
    parser.add_argument("--child", choices=["calamine", "backfill"], help=argparse.SUPPRESS)
    parser.add_argument("--file-list", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--rebuild", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        files = [Path(p) for p in args.file_list.read_text().splitlines()]
        child = (child_calamine(files) if args.child == "calamine" else
                 child_backfill(files, args.url, args.rebuild, args.stages))
        print(json.dumps(child))
        return

    folder = args.folder or next(f for f in DEFAULT_FOLDERS if f.is_dir())
    files = chosen_files(folder, args.files)
    load = os.getloadavg()
    print(f"workbooks: {folder}, {len(files)} files; {args.runs} runs of each, each in a fresh process; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    calamine, sqlite, postgres = [], [], []
    pg_url = None if args.no_postgres else args.postgres
    for _ in range(args.runs):  # interleaved, so that machine noise hits every side alike
        calamine.append(run_child("calamine", files))
        sqlite.append(run_child("backfill", files, rebuild=True))
        if pg_url:
            scoped = fresh_postgres_schema(pg_url)
            if scoped is None:
                pg_url = None
                continue
            try:
                postgres.append(run_child("backfill", files, scoped))
            finally:
                drop_postgres_schema(pg_url, scoped)
    read = median(calamine, "seconds")
    print(f"{'':<34} {'median':>12}  {'ratio':>7}")
    line("calamine read of every sheet", read, read, f"{calamine[0]['rows']} rows")
    line("backfill into a new SQLite file", median(sqlite, "seconds"), read, f"{sqlite[0]['statuses']}")
    if postgres:
        line("backfill into PostgreSQL", median(postgres, "seconds"), read, f"{postgres[0]['statuses']}")
    line("rebuild of that SQLite file", median(sqlite, "rebuild_seconds"), read,
         f"{sqlite[0]['rebuild_documents']} documents replayed")
    print(f"schema creation (apart): SQLite {median(sqlite, 'schema_seconds') * 1000:.0f} ms"
          + (f", PostgreSQL {median(postgres, 'schema_seconds') * 1000:.0f} ms" if postgres else ""))
    # CPU time is less at the mercy of other work on the machine than elapsed time
    read_cpu, main_cpu, child_cpu = (median(calamine, "cpu_seconds"), median(sqlite, "cpu_seconds"),
                                     median(sqlite, "child_cpu_seconds"))
    print(f"CPU: calamine {read_cpu:.2f} s; SQLite backfill {main_cpu:.2f} s in its process "
          f"({main_cpu / read_cpu:.2f}x) and {child_cpu:.2f} s in the read-ahead child "
          f"(start-up included; together {(main_cpu + child_cpu) / read_cpu:.2f}x)")
    print("target: backfill into SQLite <= 3x the read")

    staged = run_child("backfill", files, stages=True)
    total = staged["stages"].pop("ingest (all)", 0.0)
    print(f"\nwhere the SQLite backfill's time goes (one more run, stages timed; {staged['seconds']:.2f} s in all, "
          f"{staged['cpu_seconds']:.2f} s CPU):")
    print(f"  {'stage':<50} {'elapsed':>10}  {'share':>6}  {'CPU':>9}")
    shown, shown_cpu = 0.0, 0.0
    waiting = "read-ahead: wait for the child, unpickle"
    for stage, seconds in sorted(staged["stages"].items(), key=lambda item: -item[1]):
        cpu = staged["stages_cpu"][stage]
        if stage != waiting:
            shown, shown_cpu = shown + seconds, shown_cpu + cpu
        print(f"  {stage:<50} {seconds * 1000:7.1f} ms  {seconds / staged['seconds']:6.1%}  {cpu * 1000:6.1f} ms")
    rest = total - shown
    rest_cpu = staged["stages_cpu"].get("ingest (all)", 0.0) - shown_cpu
    print(f"  {'rest of the ingest (lock, bytes, guards, commit)':<50} {rest * 1000:7.1f} ms  "
          f"{rest / staged['seconds']:6.1%}  {rest_cpu * 1000:6.1f} ms")
    outside = staged["seconds"] - total - staged["stages"].get(waiting, 0.0)
    print(f"  {'outside the ingest (file reads, progress)':<50} {outside * 1000:7.1f} ms")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
