"""The readers at a million change events: how long each command takes, and its query plans.

    .venv/bin/python bench/queries.py [--events 1000000] [--runs 3] [--pg] [--explain] [--code DIR]
                                      [--without-new-indexes] [--timeout S] [--only PREFIX]

1. A template: the real history in tests/fixtures/ice-287g-2025 (315 workbooks) backfilled into
   SQLite by the real pipeline (cached, keyed by the files' names and sizes).
2. The synthetic database: the template's history repeated in cycles until it holds about
   ``--events`` change events.  Each cycle copies every snapshot (its status, counts and
   metrics), every agreement version and every event (kind, state, field, values, summary,
   evidence, status) of the template, with new ids and the dates of the cycle's slice of the
   timeline (``--start`` to ``--end``), so the events keep the real mix of kinds, states and
   evidence shapes, on the template's ~2,500 agreements.  Written with Core bulk inserts, and
   cached as a SQLite file named by a hash of the parameters (in the temp folder).  With
   ``--pg`` the same rows go into a schema of the PostgreSQL database ``test`` at 127.0.0.1.
3. Each reader is run as a new user would run it: a child process of the command line
   (``python -m scheduler.cli --db URL ...``), output to a file, wall time over ``--runs`` runs.
   The code run is this checkout, or ``--code DIR`` (another checkout, say main's, for the
   figures before a change); with ``--without-new-indexes`` the indexes of migration 0012 are
   dropped from a copy first and the copy marked as at revision 0009.

``--explain`` prints the query plan of each reader's main query (EXPLAIN QUERY PLAN on SQLite,
EXPLAIN on PostgreSQL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, insert, select, text  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "ice-287g-2025"
CACHE = Path(tempfile.gettempdir()) / "tracker287g-bench"
GENERATOR_VERSION = 1
PG_URL = os.environ.get("TRACKER287G_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 20_000
# The indexes migration 0012 adds (for --without-new-indexes).
NEW_INDEXES = ("ix_event_occurred_on", "ix_event_state_date", "ix_event_status_date", "ix_version_agreement_name")

READERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("changes --state TX --since 2026-10-01", ("changes", "--state", "TX", "--since", "2026-10-01")),
    ("changes --state TX --since 2026-10-01 --format json",
     ("changes", "--state", "TX", "--since", "2026-10-01", "--format", "json")),
    ("changes --state TX --since 2025-06-01", ("changes", "--state", "TX", "--since", "2025-06-01")),
    ("changes --kind agreement.removed", ("changes", "--kind", "agreement.removed")),
    ("changes --kind agreement.removed --format csv", ("changes", "--kind", "agreement.removed", "--format", "csv")),
    ("changes --status confirmed", ("changes", "--status", "confirmed")),
    ("changes --state TX --since 2025-06-01 --limit 0", ("changes", "--state", "TX", "--since", "2025-06-01",
                                                          "--limit", "0")),
    ("changes --state TX --since 2025-06-01 --format json",
     ("changes", "--state", "TX", "--since", "2025-06-01", "--format", "json")),
    ("metrics --as-of 2025-07-01", ("metrics", "--as-of", "2025-07-01")),
    ("status", ("status",)),
    ("feed", ("feed", "--out", "{out}/feed.xml")),
    ("report --out", ("report", "--out", "{out}/site")),
    ("export --out", ("export", "--out", "{out}/export")),
)


# -- the template: the real history ---------------------------------------------------------------

def fixture_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(FIXTURES.rglob("*.xlsx")):
        h.update(f"{path.relative_to(FIXTURES)}:{path.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def template_database() -> Path:
    """The real backfill of the fixtures, into a SQLite file made once."""
    path = CACHE / f"template-{fixture_digest()}.sqlite"
    if path.exists():
        return path
    from pipeline.backfill import plan_backfill, run_backfill
    from storage.database import open_database

    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    start = time.perf_counter()
    engine = open_database(f"sqlite:///{partial}")
    results = run_backfill(engine, plan_backfill([FIXTURES]))
    engine.dispose()
    print(f"template: backfilled {len(results)} real workbooks in {time.perf_counter() - start:.0f} s", flush=True)
    partial.rename(path)
    return path


# -- the synthetic database -------------------------------------------------------------------------

def read_template(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables the generator copies, as Python values (via the models' types)."""
    from sqlalchemy.orm import Session

    from storage.models import (
        Agency,
        Agreement,
        AgreementKeyLabel,
        AgreementVersion,
        ChangeEvent,
        Document,
        Snapshot,
        table_of,
    )

    engine = create_engine(f"sqlite:///{path}")
    rows: dict[str, list[dict[str, Any]]] = {}
    with Session(engine) as session:
        for model in (Document, Snapshot, Agency, Agreement, AgreementKeyLabel, AgreementVersion, ChangeEvent):
            table = table_of(model)
            rows[table.name] = [dict(r._mapping) for r in session.execute(select(table).order_by(*table.primary_key))]
    engine.dispose()
    return rows


def cycle_dates(snapshots: Sequence[dict[str, Any]], cycles: int, start: dt.date,
                end: dt.date) -> tuple[dt.date, float]:
    """The template's first day, and the factor that maps (cycle, template day) onto start..end."""
    days = [s["as_of"] for s in snapshots if s["as_of"]]
    first, last = min(days), max(days)
    span = (last - first).days + 1
    return first, (end - start).days / (cycles * span)


def synthetic_rows(template: dict[str, list[dict[str, Any]]], events: int, start: dt.date,
                   end: dt.date) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(table, rows) batches of the synthetic history: the template's rows once, then its
    snapshots, versions and events once per cycle with new ids and dates."""
    yield "document", template["document"]
    snapshots, versions, changes = template["snapshot"], template["agreement_version"], template["change_event"]
    cycles = max(1, -(-events // len(changes)))
    first, scale = cycle_dates(snapshots, cycles, start, end)
    span = max(s["as_of"] for s in snapshots if s["as_of"]) - first + dt.timedelta(days=1)
    snapshot_step = max(s["id"] for s in snapshots)
    version_step = max(v["id"] for v in versions)
    event_step = max(e["id"] for e in changes)

    def day(cycle: int, value: dt.date | None) -> dt.date | None:
        if value is None:
            return None
        offset = cycle * span.days + (value - first).days
        return start + dt.timedelta(days=int(offset * scale))

    def moved(value: int | None, cycle: int, step: int) -> int | None:
        return None if value is None else value + cycle * step

    for cycle in range(cycles):
        yield "snapshot", [{**s, "id": moved(s["id"], cycle, snapshot_step),
                            "previous_id": moved(s["previous_id"], cycle, snapshot_step),
                            "same_as_id": moved(s["same_as_id"], cycle, snapshot_step),
                            "as_of": day(cycle, s["as_of"])} for s in snapshots]
        if cycle == 0:
            for name in ("agency", "agreement", "agreement_key"):
                yield name, template[name]
        yield "agreement_version", [{**v, "id": moved(v["id"], cycle, version_step),
                                     "snapshot_id": moved(v["snapshot_id"], cycle, snapshot_step)} for v in versions]
        last = cycle == cycles - 1
        batch = []
        for e in changes:
            if cycle and e["kind"] == "list.first_snapshot":
                continue        # a list has one first snapshot; the later cycles continue it
            batch.append({**e, "id": moved(e["id"], cycle, event_step),
                          "snapshot_id": moved(e["snapshot_id"], cycle, snapshot_step),
                          "previous_snapshot_id": moved(e["previous_snapshot_id"], cycle, snapshot_step),
                          "linked_event_id": moved(e["linked_event_id"], cycle, event_step),
                          "occurred_on": day(cycle, e["occurred_on"]),
                          # only the newest changes can still be provisional
                          "status": e["status"] if last or e["status"] != "provisional" else "confirmed"})
        yield "change_event", batch


def write_rows(engine: Engine, batches: Iterator[tuple[str, list[dict[str, Any]]]]) -> dict[str, int]:
    from storage.models import Base

    tables = Base.metadata.tables
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")   # rows arrive before those they name
        else:
            connection.exec_driver_sql("SET session_replication_role = replica")
        for name, rows in batches:
            for offset in range(0, len(rows), BATCH):
                connection.execute(insert(tables[name]), rows[offset:offset + BATCH])
            counts[name] = counts.get(name, 0) + len(rows)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET session_replication_role = origin")
            for name in ("snapshot", "agreement_version", "change_event"):   # ids were given: move the sequences on
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
    return counts


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {"version": GENERATOR_VERSION, "events": args.events, "start": args.start.isoformat(),
            "end": args.end.isoformat(), "fixtures": fixture_digest()}


def generated_sqlite(args: argparse.Namespace) -> Path:
    params = parameters(args)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = CACHE / f"queries-{digest}.sqlite"
    if path.exists():
        print(f"database: {path} (cached; {params})", flush=True)
        return path
    template = read_template(template_database())
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    counts = generate(f"sqlite:///{partial}", template, args)
    partial.rename(path)
    print(f"database: {path} {counts}", flush=True)
    return path


def generate(url: str, template: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, int]:
    from storage.database import open_database

    engine = open_database(url)
    started = time.perf_counter()
    counts = write_rows(engine, synthetic_rows(template, args.events, args.start, args.end))
    engine.dispose()
    print(f"generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)
    return counts


def postgres_schema(args: argparse.Namespace) -> str:
    """A URL to a schema of the test database holding the synthetic history (made once per
    parameter hash; dropped by hand: DROP SCHEMA q_<hash> CASCADE)."""
    from sqlalchemy.engine import make_url

    params = parameters(args)
    schema = "q_" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    url = make_url(PG_URL).set(drivername="postgresql+psycopg").update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        done = connection.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                                       "AND table_name = 'bench_complete'"), {"s": schema}).first()
        if done:
            print(f"database: PostgreSQL schema {schema} (cached; {params})", flush=True)
            admin.dispose()
            return url
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    counts = generate(url, read_template(template_database()), args)
    migrate_timed(url)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE TABLE "{schema}".bench_complete (done integer)'))
    admin.dispose()
    print(f"database: PostgreSQL schema {schema} {counts}", flush=True)
    return url


def migrate_timed(url: str) -> None:
    """Bring a cached database to this checkout's schema, untimed by the readers (printed apart:
    it is the cost of the upgrade on a large log)."""
    from storage.database import open_database

    started = time.perf_counter()
    open_database(url).dispose()
    seconds = time.perf_counter() - started
    if seconds > 0.5:
        print(f"migrated to this checkout's schema in {seconds:.1f} s", flush=True)


def without_new_indexes(path: Path, scratch: Path) -> Path:
    """A copy of the database as it was before migration 0012: its indexes dropped, at 0009."""
    copy = scratch / "before.sqlite"
    shutil.copyfile(path, copy)
    engine = create_engine(f"sqlite:///{copy}")
    with engine.begin() as connection:
        for name in NEW_INDEXES:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        connection.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_change_event_state ON change_event (state)")
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0009'")
    engine.dispose()
    return copy


# -- timing and plans -------------------------------------------------------------------------------

def run_reader(code: Path, url: str, argv: Sequence[str], out: Path, timeout: float) -> tuple[float, int] | None:
    """One run of the command line in a child process: wall seconds and bytes written to stdout
    (None: stopped after ``timeout`` seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "scheduler.cli", "--db", url, *(a.format(out=out) for a in argv)]
    env = {**os.environ, "PYTHONPATH": str(code), "COLUMNS": "160", "XDG_CONFIG_HOME": str(out)}
    with (out / "stdout").open("wb") as stdout:
        started = time.perf_counter()
        try:
            finished = subprocess.run(command, cwd=code, env=env, stdout=stdout, stderr=subprocess.PIPE,
                                      timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        seconds = time.perf_counter() - started
    if finished.returncode != 0:    # e.g. an option the checkout given by --code does not have
        print(f"  {' '.join(argv)} failed ({finished.returncode}): {finished.stderr.decode()[-300:]}", flush=True)
        return None
    return seconds, (out / "stdout").stat().st_size


def explain(url: str) -> None:
    """The plan of each reader's main query, as the database would run it."""
    from sqlalchemy.dialects import postgresql, sqlite

    from storage.events import EventFilter, event_query
    from storage.lists import ListRepository

    engine = create_engine(url)
    dialect = sqlite.dialect() if engine.dialect.name == "sqlite" else postgresql.dialect()
    queries = {
        "changes --state TX --since 2025-06-01": event_query(EventFilter(state="TX", since=dt.date(2025, 6, 1))),
        "changes --kind agreement.removed": event_query(EventFilter(kinds=("agreement.removed",))),
        "changes --status confirmed": event_query(EventFilter(statuses=("confirmed",))),
        "metrics --as-of 2025-07-01": ListRepository.last_accepted_query(dt.date(2025, 7, 1)),
    }
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        for label, query in queries.items():
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            print(f"\n-- {label}\n{sql}")
            for row in connection.exec_driver_sql(prefix + sql):
                print("   ", " ".join(str(c) for c in row))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 30))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (database test at 127.0.0.1) too")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose command line runs")
    parser.add_argument("--without-new-indexes", action="store_true", help="drop migration 0012's indexes first")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a reader's run is stopped")
    parser.add_argument("--only", action="append", default=[], help="run only readers starting with this")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}; code {args.code}", flush=True)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        path = generated_sqlite(args)
        migrate_timed(f"sqlite:///{path}")
        if args.without_new_indexes:
            path = without_new_indexes(path, scratch)
        urls = {"sqlite": f"sqlite:///{path}"}
        if args.pg:
            urls["postgresql"] = postgres_schema(args)
        for kind, url in urls.items():
            if args.explain:
                explain(url)
            print(f"\n{kind}: each reader's wall time over {args.runs} runs (child process of the command line)")
            readers = [r for r in READERS if not args.only or any(r[0].startswith(o) for o in args.only)]
            for label, argv in readers:
                runs = []
                for _ in range(args.runs):
                    run = run_reader(args.code, url, argv, scratch / kind / label.split()[0], args.timeout)
                    if run is None:
                        break
                    runs.append(run)
                if len(runs) < args.runs:
                    load = os.getloadavg()[0]
                    print(f"  {label:<55} stopped after {args.timeout:.0f} s (load {load:.1f})", flush=True)
                    continue
                times = [seconds for seconds, _ in runs]
                load = os.getloadavg()[0]
                print(f"  {label:<55} median {statistics.median(times):7.2f} s  "
                      f"(min {min(times):.2f}, max {max(times):.2f}; stdout {runs[-1][1] / 1e6:.1f} MB; "
                      f"load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()
