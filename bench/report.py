"""Build time and size of the static report (pages and downloads) for a backfilled history.

    .venv/bin/python bench/report.py [--db URL | FOLDER] [--runs N]

Without --db, FOLDER (default: the shared history, else the test fixtures) is backfilled first
into a new SQLite file (not timed).
Each run builds the whole site in memory in a fresh child process, as `tracker287g report`
does before writing, and prints the time, the number of pages and the total size by kind.
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


def backfill(folder: Path, url: str) -> dict:
    from pipeline.backfill import plan_backfill, run_backfill
    from storage.database import open_database

    engine = open_database(url)
    results = run_backfill(engine, plan_backfill([folder]))
    engine.dispose()
    statuses: dict[str, int] = {}
    for result in results:
        status = result.outcome.status if result.outcome else "error"
        statuses[status] = statuses.get(status, 0) + 1
    return {"files": len(results), "statuses": statuses}


def child_build(url: str) -> dict:
    from sqlalchemy.orm import Session

    from publish.report import build_site
    from scheduler.seeds import load_baseline
    from storage.database import open_database

    engine = open_database(url)
    start = time.perf_counter()
    with Session(engine) as session:
        files = build_site(session, load_baseline())
    seconds = time.perf_counter() - start
    engine.dispose()
    sizes: dict[str, int] = {}
    for name, content in files.items():
        kind = name.split("/")[0] if "/" in name else name
        sizes[kind] = sizes.get(kind, 0) + len(content)
    pages = {name: len(c) for name, c in files.items() if name.endswith(".html")}
    largest = max(pages, key=lambda n: pages[n])
    return {"seconds": seconds, "files": len(files), "pages": len(pages), "bytes": sum(sizes.values()),
            "by_kind": sizes, "largest": [largest, pages[largest]], "index": pages["index.html"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_build(args.db)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        url = args.db
        if url is None:
            folder = args.folder or next(f for f in DEFAULT_FOLDERS if f.exists())
            url = f"sqlite:///{Path(scratch) / 'bench.sqlite'}"
            loaded = backfill(folder, url)
            print(f"backfilled {loaded['files']} files from {folder}: {loaded['statuses']}")
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--child", "--db", url], check=True,
                                          capture_output=True, text=True, cwd=ROOT).stdout) for _ in range(args.runs)]
    last = runs[-1]
    print(f"build_site: median {statistics.median(r['seconds'] for r in runs):.2f} s over {args.runs} runs "
          "(" + ", ".join(f"{r['seconds']:.2f}" for r in runs) + ")")
    print(f"{last['files']} files, {last['pages']} pages, {last['bytes'] / 1e6:.1f} MB in all")
    for kind, size in sorted(last["by_kind"].items(), key=lambda item: -item[1]):
        print(f"  {kind:<12} {size / 1e6:8.2f} MB")
    name, size = last["largest"]
    print(f"front page {last['index'] / 1e3:.0f} kB; largest page {name} {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
