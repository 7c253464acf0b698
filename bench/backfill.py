"""Backfill of every real ICE workbook, against merely reading the same files with python-calamine.

    .venv/bin/python bench/backfill.py [FOLDER] [--runs N] [--postgres URL]

Both sides run in the same invocation, each repetition in a fresh child process so that no
cache carries over from one run to the next (the cleaning caches would otherwise make later
backfills look cheaper than a real first import).  The backfill side is the in-process work
of `tracker287g backfill`: read, clean, classify, check, diff and write to a new SQLite file
(schema created beforehand and timed apart).  Prints figures and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = (ROOT.parent / "shared" / "data" / "ice-287g", ROOT / "tests" / "fixtures" / "ice-287g")


def child_calamine(folder: Path) -> dict:
    from python_calamine import CalamineWorkbook

    files = sorted(folder.rglob("*.xlsx"))
    start = time.perf_counter()
    rows = 0
    for path in files:
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            rows += len(book.get_sheet_by_name(name).to_python())
    return {"seconds": time.perf_counter() - start, "files": len(files), "rows": rows}


def child_backfill(folder: Path, url: str | None) -> dict:
    from pipeline.backfill import plan_backfill, run_backfill
    from storage.database import open_database

    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        engine = open_database(url or f"sqlite:///{Path(scratch) / 'bench.sqlite'}")
        schema = time.perf_counter() - start
        start = time.perf_counter()
        results = run_backfill(engine, plan_backfill([folder]))
        seconds = time.perf_counter() - start
        engine.dispose()
    statuses: dict[str, int] = {}
    for result in results:
        status = result.outcome.status if result.outcome else "error"
        statuses[status] = statuses.get(status, 0) + 1
    return {"seconds": seconds, "schema_seconds": schema, "files": len(results), "statuses": statuses}


def run_child(kind: str, folder: Path, url: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", kind, str(folder)] + (["--postgres", url] if url else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_postgres_schema(url: str) -> str:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = "bench_" + uuid.uuid4().hex[:10]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="also time the backfill into this PostgreSQL database")
    parser.add_argument("--child", choices=["calamine", "backfill"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.folder or next(f for f in DEFAULT_FOLDERS if f.is_dir())
    if args.child == "calamine":
        print(json.dumps(child_calamine(folder)))
        return
    if args.child == "backfill":
        print(json.dumps(child_backfill(folder, args.postgres)))
        return

    print(f"workbooks: {folder} ({len(list(folder.rglob('*.xlsx')))} files), {args.runs} runs each, "
          f"each in a fresh process")
    calamine, backfill = [], []
    for _ in range(args.runs):  # interleaved, so that machine noise hits both sides alike
        calamine.append(run_child("calamine", folder))
        backfill.append(run_child("backfill", folder))
    read = statistics.median(r["seconds"] for r in calamine)
    full = statistics.median(r["seconds"] for r in backfill)
    schema = statistics.median(r["schema_seconds"] for r in backfill)
    fastest_read = min(r["seconds"] for r in calamine) * 1000
    print(f"calamine read of every sheet : median {read * 1000:7.1f} ms  (min {fastest_read:.1f})"
          f"  {calamine[0]['rows']} rows")
    fastest_backfill = min(r["seconds"] for r in backfill) * 1000
    print(f"backfill into new SQLite     : median {full * 1000:7.1f} ms  (min {fastest_backfill:.1f})"
          f"  statuses {backfill[0]['statuses']}")
    print(f"schema creation (apart)      : median {schema * 1000:7.1f} ms")
    print(f"ratio backfill / calamine    : {full / read:.2f}x  (target <= 3x)")
    if args.postgres:
        runs = [run_child("backfill", folder, fresh_postgres_schema(args.postgres)) for _ in range(args.runs)]
        pg = statistics.median(r["seconds"] for r in runs)
        print(f"backfill into PostgreSQL     : median {pg * 1000:7.1f} ms  ratio {pg / read:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
