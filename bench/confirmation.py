"""What reaches the change log as a fact: removals, their reversals, and the confirmation rule.

    .venv/bin/python bench/confirmation.py [--history /work/shared/data/ice-287g] [--rules 1:0 2:48 2:168 2:504]

Backfills the whole shared history (every workbook of the folder, undated names dated as a
backfill dates them) into a throwaway SQLite file once per confirmation rule
(``SNAPSHOTS:HOURS`` for the participating list; the pending list keeps its default), then prints:

- participating removals, and the share undone (the same agreement listed again) within 7 and
  30 days of the list that removed it;
- for each rule: removals confirmed, reverted and still provisional, and the share of the
  confirmed ones undone within 30 days (the target is at most 5%);
- the quarantines with their reasons, and the `list.reverted` events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from diff.confirmation import DEFAULT_CONFIRMATION, ConfirmationRule  # noqa: E402
from pipeline.backfill import collect_files, plan_backfill, run_backfill  # noqa: E402
from pipeline.ingest import IngestOptions, Ingestor  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import ChangeEvent, Snapshot  # noqa: E402

SHARED = Path("/work/shared/data/ice-287g")


def backfill(history: Path, rule: ConfirmationRule, folder: Path) -> tuple[list[ChangeEvent], list[Snapshot]]:
    files = collect_files([history])
    engine = open_database(f"sqlite:///{folder / f'history-{rule.snapshots}-{rule.hours:g}.sqlite'}")
    options = IngestOptions(confirmation={**DEFAULT_CONFIRMATION, "participating": rule})
    run_backfill(engine, plan_backfill(files), ingestor=Ingestor(engine, options))
    with Session(engine) as session:
        events = list(session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)))
        snapshots = list(session.scalars(select(Snapshot).order_by(Snapshot.id)))
    engine.dispose()
    return events, snapshots


def undone_within(removal: ChangeEvent, additions: dict[str, list[dt.date]], days: int) -> bool:
    assert removal.occurred_on is not None
    return any(removal.occurred_on < day <= removal.occurred_on + dt.timedelta(days=days)
               for day in additions.get(removal.subject_key or "", ()))


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "0/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=Path, default=SHARED)
    parser.add_argument("--rules", nargs="+", default=["1:0", "2:48", "2:168", "2:504"])
    args = parser.parse_args()
    rules = [ConfirmationRule(int(r.split(":")[0]), float(r.split(":")[1])) for r in args.rules]
    default = DEFAULT_CONFIRMATION["participating"]
    if default not in rules:
        rules.append(default)
    with tempfile.TemporaryDirectory() as folder:
        results = {rule: backfill(args.history, rule, Path(folder)) for rule in rules}
    events, snapshots = results[default]
    participating = [e for e in events if e.list_name == "participating"]
    removals = [e for e in participating if e.kind == "agreement.removed"]
    additions: dict[str, list[dt.date]] = {}
    for e in participating:
        if e.kind == "agreement.added" and e.occurred_on and e.subject_key:
            additions.setdefault(e.subject_key, []).append(e.occurred_on)
    dates = [s.as_of for s in snapshots if s.as_of]
    print(f"history: {args.history} ({len(snapshots)} snapshots, {min(dates)} to {max(dates)})")
    print(f"participating removals: {len(removals)}")
    print(f"  undone within 7 days:  {share(sum(undone_within(e, additions, 7) for e in removals), len(removals))}")
    print(f"  undone within 30 days: {share(sum(undone_within(e, additions, 30) for e in removals), len(removals))}")
    print()
    print("rule (participating)      confirmed  reverted  provisional  confirmed undone within 30 days")
    for rule, (rule_events, _) in results.items():
        rule_removals = [e for e in rule_events if e.list_name == "participating" and e.kind == "agreement.removed"]
        status = Counter(e.status for e in rule_removals)
        confirmed = [e for e in rule_removals if e.status == "confirmed"]
        undone = sum(undone_within(e, additions, 30) for e in confirmed)
        label = f"{rule.snapshots} lists, {rule.hours:g} h" + (" (default)" if rule == default else "")
        print(f"{label:<26}{status['confirmed']:>9}{status['reverted']:>10}{status['provisional']:>13}  "
              f"{share(undone, len(confirmed))}")
    print()
    quarantined = [s for s in snapshots if s.status == "quarantined"]
    reasons = Counter(e.field for e in events if e.kind == "source.anomaly" and e.new_value == "quarantined")
    print(f"quarantines: {len(quarantined)} ({', '.join(f'{k} {n}' for k, n in sorted(reasons.items()))})")
    for s in quarantined:
        print(f"  {s.list_name:<13} {s.file_name}: {s.reason}")
    notes = Counter(e.field for e in events if e.kind == "source.anomaly" and e.new_value == "recorded")
    print(f"anomalies recorded, not quarantined: {', '.join(f'{k} {n}' for k, n in sorted(notes.items()))}")
    print()
    batches = [e for e in events if e.kind == "list.reverted"]
    print(f"list.reverted events: {len(batches)}")
    for e in batches:
        print(f"  {e.occurred_on} {e.summary}")


if __name__ == "__main__":
    main()
