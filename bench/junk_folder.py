"""How long `backfill --as-of` takes on a folder of junk, at two sizes: the time of a linear
backfill doubles with the number of files.

    .venv/bin/python bench/junk_folder.py [--files 10000]

The folder (built here in a temporary directory) holds N files of 68 random bytes under the
names the backfill collects (.xlsx, .html, .htm in turn) and one real workbook; the probe's
case was 10,000 such files.  Each run is the command as a user types it, in this process
(click's runner), on a fresh SQLite file: listing and dating the files, reading each, refusing
the junk, ingesting the workbook.  A folder with no junk gives the fixed part (the workbook's
ingest), after one small warm-up run (the first backfill of a process imports the readers).
Printed: files, seconds, milliseconds per junk file beyond the fixed part, documents stored
(1: only the workbook), exit status (1: files were skipped), and the ratio of the two sizes'
times beyond the fixed part.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from scheduler.cli import main as tracker287g  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import Document  # noqa: E402

WORKBOOK = ROOT / "tests" / "fixtures" / "ice-287g" / "participating" / "participatingAgencies05292025am.xlsx"


def backfill_junk(folder: Path, files: int) -> tuple[float, int, int]:
    archive = folder / f"archive-{files}"
    archive.mkdir()
    for n in range(files):
        (archive / f"junk{n:05d}{('.xlsx', '.html', '.htm')[n % 3]}").write_bytes(os.urandom(64) + b"junk")
    shutil.copy(WORKBOOK, archive / "real.xlsx")
    url = f"sqlite:///{folder / f'junk-{files}.sqlite'}"
    start = time.perf_counter()
    result = CliRunner().invoke(tracker287g, ["--db", url, "backfill", str(archive), "--as-of", "2025-05-29",
                                              "--format", "json"])
    seconds = time.perf_counter() - start
    engine = open_database(url)
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Document)) or 0
    engine.dispose()
    return seconds, stored, result.exit_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="junk files in the larger folder")
    args = parser.parse_args()
    print(f"{'files':>7} {'seconds':>8} {'ms/file':>8} {'stored':>7} {'exit':>5}")
    times = []
    with tempfile.TemporaryDirectory(prefix="tracker287g-junk-") as scratch:
        backfill_junk(Path(scratch), 10)   # warm-up: the first backfill imports the readers
        for files in (0, args.files // 2, args.files):
            seconds, stored, code = backfill_junk(Path(scratch), files)
            times.append(seconds)
            per_file = f"{1000 * (seconds - times[0]) / files:>8.3f}" if files else f"{'-':>8}"
            print(f"{files:>7} {seconds:>8.2f} {per_file} {stored:>7} {code:>5}")
    ratio = (times[2] - times[0]) / (times[1] - times[0])
    print(f"time beyond the workbook's ingest, twice the files over the files: {ratio:.2f} (linear: 2)")


if __name__ == "__main__":
    main()
