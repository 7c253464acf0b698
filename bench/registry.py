"""FBI registry coverage and index time, on every real ICE list.

    .venv/bin/python bench/registry.py [FOLDER] [--sample N]

Reads every workbook under FOLDER (default: ../shared/data/ice-287g, else the fixtures), takes
each distinct (state, agency name) once, and prints: the time to build the registry index and
the gazetteer in a fresh process, the share of names matched to an FBI record by office
(diff.agency_names role), the bases used, and a random sample of matches to check by eye.

Then the evidence for identity's ``registry_ori`` tier (diff.identity.REGISTRY_THRESHOLD): each
list is diffed against the previous readable list of the same kind, in backfill order (pure
diffs: no quarantine, so a stale copy counts as a list), with the other tiers; of the removed and
added rows they leave, the pairs in one state and support type whose names match one FBI record
are counted by the lower of the two confidences, with how many the gazetteer vetoes and how many
tier 4 would only have proposed as renames.  Every pair below the threshold is printed, to be
judged by eye; so is every pair the tier would match.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from collections import Counter, defaultdict
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


def read_lists(folder: Path) -> list[tuple[str, str, tuple]]:
    """(list name, file name, agreements) of every readable, dated workbook, in backfill order."""
    from crawler.workbook import UnreadableWorkbook, read_workbook
    from diff.guards import classify
    from diff.normalise import normalise_table
    from pipeline.backfill import collect_files, plan_backfill

    lists = []
    for planned in plan_backfill(collect_files([folder])):
        if planned.as_of is None or planned.path.suffix.lower() != ".xlsx":
            continue
        try:
            table = read_workbook(planned.path)
        except UnreadableWorkbook:
            continue
        list_name = classify(table, {}).list_name or planned.name.declared_list
        if list_name:
            lists.append((list_name, planned.path.name, normalise_table(table).agreements))
    return lists


def same_record_pairs(lists: list[tuple[str, str, tuple]]) -> None:
    from diff.agency_names import canonical
    from diff.identity import REGISTRY_THRESHOLD, IdentityRules, match_rows, registry_lookup
    from diff.renames import propose_renames

    lookup = registry_lookup()
    bands: Counter = Counter()
    vetoed: Counter = Counter()
    proposed: Counter = Counter()
    matched_by_tier: Counter = Counter()
    sharing: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, _, agreements in lists:
        for agreement in agreements:
            found = lookup(agreement.key.state, agreement.agency)
            if found:
                sharing[(agreement.key.state, found[0])].add(canonical(agreement.agency, agreement.key.state))
    shared = {key: names for key, names in sorted(sharing.items()) if len(names) > 1}
    print(f"\nFBI records matched by two or more agency names of one state (canonical forms): {len(shared)}")
    for (state, ori), names in shared.items():
        print(f"  {state} {ori}: {' / '.join(sorted(names))}")
    shown = []
    last: dict[str, dict] = {}
    for list_name, file_name, agreements in lists:
        rules = IdentityRules(dated=list_name != "pending", registry_ori=None)
        index = {a.key.as_text(): a for a in agreements}
        before = last.get(list_name)
        last[list_name] = index
        if before is None:
            continue
        removed = sorted((before[k] for k in before.keys() - index.keys()), key=lambda a: a.key.as_text())
        added = sorted((index[k] for k in index.keys() - before.keys()), key=lambda a: a.key.as_text())
        matched = match_rows(removed, added, rules)
        removed = [a for a in removed if a.key not in {m.before.key for m in matched}]
        added = [a for a in added if a.key not in {m.after.key for m in matched}]
        renames = {(r.before.key, r.after.key) for r in propose_renames(removed, added, veto=rules.distinct_places)}
        tier = {(m.before.key, m.after.key) for m in match_rows(removed, added, IdentityRules(
            dated=list_name != "pending"))}
        for old in removed:
            for new in added:
                if (old.key.state, old.key.model) != (new.key.state, new.key.model) or old.key.occurrence > 1 \
                        or new.key.occurrence > 1:      # a further row of a key is a duplicate, never paired
                    continue
                a, b = lookup(old.key.state, old.agency), lookup(new.key.state, new.agency)
                if not a or not b or a[0] != b[0]:
                    continue
                band = min(a[1], b[1])
                bands[band] += 1
                veto = rules.distinct_places(old.key.state, old.agency, new.key.state, new.agency)
                vetoed[band] += veto
                proposed[band] += (old.key, new.key) in renames
                paired = (old.key, new.key) in tier
                matched_by_tier[band] += paired
                shown.append((band, file_name, old.key.state, old.agency, new.agency, a[0],
                              "matched" if paired else "vetoed" if veto else "left apart"))

    print(f"\nremoved+added pairs left by tiers 1-3 with one FBI record (same state and support type), "
          f"by the lower confidence; threshold {REGISTRY_THRESHOLD}:")
    print(f"{'confidence':>10} {'pairs':>6} {'vetoed':>7} {'tier 4 would propose':>21} {'registry_ori pairs':>19}")
    for band in sorted(bands, reverse=True):
        print(f"{band:>10} {bands[band]:>6} {vetoed[band]:>7} {proposed[band]:>21} {matched_by_tier[band]:>19}")
    for threshold in (0.95, 0.9, 0.85, 0.8):
        left = sum(n for b, n in bands.items() if b >= threshold)
        print(f"  a threshold of {threshold} leaves {left} pair(s) to the tier")
    for band, file_name, state, old_name, new_name, ori, mark in sorted(shown, key=lambda x: (-x[0], x[1])):
        print(f"  {band:<5} {file_name}: {state} {old_name!r} -> {new_name!r} {ori} ({mark})")


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
    lists = read_lists(folder)
    distinct = sorted({(a.key.state, a.agency) for _, _, agreements in lists for a in agreements if a.agency})
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
    same_record_pairs(lists)


if __name__ == "__main__":
    main()
