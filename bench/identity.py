"""Agreement identity on a whole history: how many removals are real, and what was matched.

    .venv/bin/python bench/identity.py [FOLDER...]   (default: /work/shared/data/ice-287g)

Backfills every dated workbook below the folders into a new SQLite file (with today's rules)
and prints, from its change log:

- ``agreement.removed`` events on the participating list;
- how many of them an addition of the same agency undoes within 30 days (the same agreement
  id, or the same state and canonical name; the support type may differ);
- renames proposed (``agreement.renamed``, tier 4);
- state and support-type changes (``agreement.changed``, field ``state`` / ``support_type``),
  and re-spellings continued as one agreement (``canonical_key``);
- same-agency pairs in one diff: a removed and an added row of one snapshot with the same
  canonical name, in the same state (or in two states with the same signing date); the share
  of them left unmatched, as a removal plus an addition.

Figures are from this one run on these files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from crawler.filenames import parse_list_file_name  # noqa: E402
from diff.identity import IdentityRules  # noqa: E402
from pipeline.backfill import collect_files, plan_backfill, run_backfill  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import AgreementVersion, ChangeEvent  # noqa: E402

DEFAULT = Path("/work/shared/data/ice-287g")
UNDO_DAYS = 30


def canonical(rules: IdentityRules, state: str, name: str) -> str:
    return rules.canonical(name, state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT])
    args = parser.parse_args()
    files = [p for p in collect_files(args.folders) if parse_list_file_name(p.name).as_of is not None]
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        started = dt.datetime.now()
        results = run_backfill(engine, plan_backfill(files))
        seconds = (dt.datetime.now() - started).total_seconds()
        with Session(engine) as session:
            events = list(session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)))
            signed = dict(session.execute(select(AgreementVersion.agreement_id, AgreementVersion.signed)
                                          .where(AgreementVersion.present.is_(True))).all())
        engine.dispose()
    report(files, results, seconds, events, signed)


def report(files, results, seconds, events, signed) -> None:
    rules = IdentityRules()
    kinds = Counter((e.kind, e.list_name) for e in events)
    print(f"files: {len(files)} ({sum(1 for r in results if r.error)} not imported); backfill {seconds:.0f} s")

    removed = [e for e in events if e.kind == "agreement.removed" and e.list_name == "participating"]
    additions = defaultdict(list)
    for e in events:
        if e.kind == "agreement.added" and e.list_name == "participating" and e.occurred_on:
            state, _, _ = (e.subject_key or "||").split("|")[:3]
            additions[("id", e.agreement_id)].append(e.occurred_on)
            additions[("name", state, canonical(rules, state, e.new_value or ""))].append(e.occurred_on)

    def undone(e: ChangeEvent) -> bool:
        state = (e.subject_key or "|").split("|")[0]
        keys = (("id", e.agreement_id), ("name", state, canonical(rules, state, e.old_value or "")))
        assert e.occurred_on is not None
        return any(0 <= (day - e.occurred_on).days <= UNDO_DAYS for key in keys for day in additions.get(key, ()))

    undone_count = sum(1 for e in removed if undone(e))
    print(f"agreement.removed on the participating list: {len(removed)}")
    print(f"  undone by an addition of the same agency within {UNDO_DAYS} days: {undone_count}")
    print(f"agreement.removed on the pending list: {kinds[('agreement.removed', 'pending')]}")
    print(f"renames proposed (agreement.renamed): participating {kinds[('agreement.renamed', 'participating')]}, "
          f"pending {kinds[('agreement.renamed', 'pending')]}")
    bases = Counter((e.match_basis, e.field) for e in events if e.kind == "agreement.changed"
                    and e.match_basis not in (None, "exact_key"))
    for (basis, field), count in sorted(bases.items()):
        print(f"agreement.changed by {basis}, field {field}: {count}")
    changes = sum(n for (basis, field), n in bases.items() if field in ("state", "support_type"))
    print(f"state and support-type changes: {changes}")

    by_snapshot = defaultdict(lambda: ([], []))
    for e in events:
        if e.kind in ("agreement.removed", "agreement.added"):
            by_snapshot[e.snapshot_id][e.kind == "agreement.added"].append(e)
    unmatched = 0
    for gone, came in by_snapshot.values():
        for old in gone:
            old_state = (old.subject_key or "|").split("|")[0]
            for new in came:
                new_state = (new.subject_key or "|").split("|")[0]
                if canonical(rules, old_state, old.old_value or "") != canonical(rules, new_state, new.new_value or ""):
                    continue
                if old_state == new_state or (signed.get(old.agreement_id) is not None
                                              and signed.get(old.agreement_id) == signed.get(new.agreement_id)):
                    unmatched += 1
    matched = len({(e.snapshot_id, e.agreement_id) for e in events if e.kind == "agreement.renamed"
                   or (e.kind == "agreement.changed" and e.match_basis not in (None, "exact_key", "reviewed_alias"))})
    total = matched + unmatched
    print(f"same-agency removed+added pairs in one diff: {total}; matched {matched}, left unmatched {unmatched} "
          f"({unmatched / total:.1%})" if total else "same-agency removed+added pairs in one diff: none")


if __name__ == "__main__":
    main()
