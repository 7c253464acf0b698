"""FBI registry coverage and index time, on every real ICE list.

    .venv/bin/python bench/registry.py [FOLDER] [--sample N]

Reads every workbook under FOLDER (default: ../shared/data/ice-287g, else the fixtures), takes
each distinct (state, agency name) once, and prints: the time to build the registry index and
the gazetteer in a fresh process, the share of names matched to an FBI record by office
(diff.agency_names role), the bases used, and a random sample of matches to check by eye.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_FOLDERS = (ROOT.parent / "shared" / "data" / "ice-287g", ROOT / "tests" / "fixtures" / "ice-287g")

TIMING = """
import time
start = time.perf_counter()
from diff.registry import Registry
from diff.gazetteer import load
imported = time.perf_counter()
Registry.load()
indexed = time.perf_counter()
load()
done = time.perf_counter()
print(f"{imported - start:.3f} {indexed - imported:.3f} {done - indexed:.3f}")
"""


def names(folder: Path) -> set[tuple[str, str]]:
    from crawler.workbook import UnreadableWorkbook, read_workbook
    from diff.normalise import normalise_table

    found = set()
    for path in sorted(folder.rglob("*.xlsx")):
        try:
            table = read_workbook(path)
        except UnreadableWorkbook:
            continue
        found.update((a.key.state, a.agency) for a in normalise_table(table).agreements if a.agency)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--sample", type=int, default=25)
    args = parser.parse_args()
    folder = args.folder or next(f for f in DEFAULT_FOLDERS if f.exists())

    timing = subprocess.run([sys.executable, "-c", TIMING], cwd=ROOT, capture_output=True, text=True, check=True)
    imported, indexed, gazetteer = timing.stdout.split()
    print(f"fresh process: import {imported} s, registry index {indexed} s, gazetteer {gazetteer} s")

    from diff.agency_names import parse
    from diff.registry import Registry

    registry = Registry.load()
    distinct = sorted(names(folder))
    total, matched, bases = Counter(), Counter(), Counter()
    matches = []
    for state, name in distinct:
        role = parse(name, state).role
        total[role] += 1
        match = registry.match(state, name)
        if match:
            matched[role] += 1
            bases[match.basis] += 1
            matches.append((state, name, match))
    print(f"\n{len(distinct)} distinct (state, agency name) in {folder}")
    print(f"{'office':<18} {'matched':>8} {'names':>6} {'share':>6}")
    for role, count in total.most_common():
        print(f"{role:<18} {matched[role]:>8} {count:>6} {matched[role] / count:>6.1%}")
    print(f"{'all':<18} {sum(matched.values()):>8} {sum(total.values()):>6} "
          f"{sum(matched.values()) / sum(total.values()):>6.1%}")
    print("\nbases:", ", ".join(f"{basis} {n}" for basis, n in bases.most_common()))
    print(f"\nsample of {args.sample} matches (ICE name -> FBI name, type, ORI, confidence):")
    for state, name, match in random.Random(287).sample(matches, min(args.sample, len(matches))):
        print(f"  {state} {name!r} -> {match.name!r} ({match.agency_type}) {match.ori} {match.confidence}")


if __name__ == "__main__":
    main()
