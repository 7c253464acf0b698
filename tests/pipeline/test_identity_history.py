"""Agreement identity on ICE's real history, February to August 2025 (issue 9's acceptance).

The workbooks of tests/fixtures/ice-287g-2025 (every list the archives kept for those months,
see its SOURCES.md) are backfilled once for this module, on SQLite.  Each state correction,
support-type change and re-spelling found in them is one event of the right kind, never a
removal plus an addition; the determinism test backfills the same files in two processes
with different hash seeds and compares the change logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from pipeline.backfill import collect_files, plan_backfill, run_backfill
from storage.database import open_database
from storage.models import AgreementKeyLabel, ChangeEvent
from tests.commands import changes
from tests.files import FIXTURES, ROOT

HISTORY = FIXTURES / "ice-287g-2025"


def history_files() -> list[Path]:
    """The dated files (an undated name and a second save are issue 10's, left out here)."""
    return [p for p in collect_files([HISTORY]) if parse_list_file_name(p.name).as_of is not None]


@dataclass
class History:
    url: str
    events: list[ChangeEvent]
    labels: list[AgreementKeyLabel]     # every key each agreement has had


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    url = f"sqlite:///{tmp_path_factory.mktemp('identity') / 'history.sqlite'}"
    engine = open_database(url)
    try:
        results = run_backfill(engine, plan_backfill(history_files()))
        assert not [r.error for r in results if r.error]
        with Session(engine) as session:
            events = list(session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)))
            session.expunge_all()
            labels = list(session.scalars(select(AgreementKeyLabel)))
            session.expunge_all()
        yield History(url, events, labels)
    finally:
        engine.dispose()


def events_of(history: History, day: str, list_name: str) -> list[ChangeEvent]:
    return [e for e in history.events if e.occurred_on is not None
            and e.occurred_on.isoformat() == day and e.list_name == list_name]


# (day, list, field, old, new, key after): a state correction or support-type change in ICE's lists
FIELD_CHANGES = [
    ("2025-03-07", "participating", "state", "NY", "FL", "FL|LAKE PLACID POLICE DEPARTMENT|TFM"),
    ("2025-03-17", "participating", "state", "MT", "MN", "MN|CASS COUNTY SHERIFFS OFFICE|TFM"),
    ("2025-04-29", "participating", "state", "MA", "MN", "MN|CROW WING COUNTY SHERIFFS OFFICE|WSO"),
    ("2025-05-16", "participating", "state", "OK", "TX", "TX|WICHITA COUNTY SHERIFFS OFFICE|WSO"),
    ("2025-07-14", "participating", "state", "TX", "KS", "KS|ELLIS COUNTY SHERIFFS OFFICE|WSO"),
    ("2025-03-13", "pending", "support_type", "JEM", "WSO", "TX|SAN JACINTO COUNTY SHERIFFS OFFICE|WSO"),
    # the pending list has no dates: the place exists only in the new state
    ("2025-04-08", "pending", "state", "FL", "SC", "SC|KERSHAW COUNTY SHERIFFS OFFICE|TFM"),
    ("2025-08-14", "pending", "state", "TX", "TN", "TN|TROUSDALE COUNTY SHERIFFS OFFICE|WSO"),
]


@pytest.mark.parametrize("day, list_name, field, old, new, key", FIELD_CHANGES,
                         ids=[f"{c[5]} {c[2]} {c[3]}→{c[4]}" for c in FIELD_CHANGES])
def test_a_state_or_support_type_correction_is_one_change(history, day, list_name, field, old, new, key):
    events = events_of(history, day, list_name)
    changed = [e for e in events if e.kind == "agreement.changed" and e.field == field and e.subject_key == key]
    assert [(e.old_value, e.new_value) for e in changed] == [(old, new)]
    previous_key = changed[0].evidence["previous_key"]
    assert not [e for e in events if e.kind in ("agreement.added", "agreement.removed")
                and e.subject_key in (key, previous_key)]
    # the agreement keeps its id under the new key: both keys are its labels
    labels = {label.key for label in history.labels if label.agreement_id == changed[0].agreement_id}
    assert {key, previous_key} <= labels


# (day, list, old name, new name): one agency re-spelled; one event (a change of name, or a
# proposed rename), never a removal plus an addition
RESPELLINGS = [
    ("2025-03-17", "pending", "Spaulding County Sheriff's Office", "Spalding County Sheriff's Office"),
    ("2025-03-17", "pending", "Minehaha County Sheriff's Office", "Minnehaha County Sheriff's Office"),
    ("2025-03-27", "participating", "Albermarle District Jail", "Albemarle District Jail"),
    ("2025-03-31", "participating", "Freedom County Sheriff's Office", "Freeborn County Sheriff's Office"),
    ("2025-04-28", "pending", "City of Hialeah Police Department", "Hialeah Police Department"),
    ("2025-05-15", "pending", "Cartert County Sheriff's Office", "Carteret County Sheriff's Office"),
    ("2025-05-16", "participating", "Macro Island Police Department", "Marco Island Police Department"),
    ("2025-05-20", "participating", "Berrian County Sheriff's Offic", "Berrian County Sheriff's Office"),
    ("2025-07-03", "participating", "Town of Palm Beach Police Department", "Palm Beach Police Department"),
    ("2025-07-09", "participating", "Lake Clark Shores Police Department", "Lake Clarke Shores Police Department"),
    ("2025-07-10", "pending", "Arnaudville Police Department, LA", "Arnaudville Police Department"),
    ("2025-07-22", "pending", "Texas County's Sheriff's Office", "Texas County Sheriff's Office"),
    ("2025-07-15", "participating", "Louisiana State Patrol", "Louisiana State Police Department"),
    ("2025-07-15", "participating", "Quarryville Police Department", "Quarryville Borough Police Department"),
    ("2025-07-23", "participating", "Alachua Police Departent", "Alachua Police Department"),
    ("2025-07-24", "pending", "St. Charles Place Sheriff's Office", "St. Charles Parish Sheriff's Office"),
    ("2025-08-02", "participating", "Flathead County Sheriff's Department", "Flathead County Sheriff's Office"),
    ("2025-08-04", "participating", "Flathead County Sheriff's Office", "Flathead County Sheriff's Department"),
    ("2025-08-11", "participating", "Flathead County Sheriff's Department", "Flathead County Sheriff's Office"),
]


@pytest.mark.parametrize("day, list_name, old, new", RESPELLINGS, ids=[f"{r[0]} {r[3]}" for r in RESPELLINGS])
def test_a_respelling_is_one_event(history, day, list_name, old, new):
    events = events_of(history, day, list_name)
    found = [e for e in events if e.kind in ("agreement.renamed", "agreement.changed") and e.field == "agency"
             and (e.old_value, e.new_value) == (old, new)]
    assert len(found) == 1
    assert found[0].match_basis in ("fuzzy_name", "canonical_key", "registry_ori")
    keys = {found[0].subject_key, found[0].evidence["previous_key"]}
    assert not [e for e in events if e.kind in ("agreement.added", "agreement.removed") and e.subject_key in keys]


# (day, list, name, name): two real places whose names look alike, which the rules of main before
# identity proposed as renames; never one agreement
DISTINCT_PLACES = [
    ("2025-04-28", "pending", "Melbourne Police Department", "West Melbourne Police Department"),
    ("2025-05-12", "pending", "Hill County Sheriff's Office", "Milam County Sheriff's Office"),
    ("2025-05-12", "pending", "Orange County Sheriff's Office", "Rains County Sheriff's Office"),
    ("2025-07-21", "pending", "Madison County Sheriff's Office", "Marion County Sheriff's Office"),
]


@pytest.mark.parametrize("day, list_name, old, new", DISTINCT_PLACES, ids=[f"{p[2]} / {p[3]}" for p in DISTINCT_PLACES])
def test_two_distinct_places_are_never_merged(history, day, list_name, old, new):
    events = events_of(history, day, list_name)
    assert not [e for e in events if e.kind in ("agreement.renamed", "agreement.changed")
                and {e.old_value, e.new_value} == {old, new}]
    # the new one is an agreement of its own (the old one left, or was promoted)
    assert [e.new_value for e in events if e.kind == "agreement.added" and e.new_value == new] == [new]


def test_the_fbi_record_ties_only_the_names_it_should(history):
    """registry_ori pairs on this history: exactly ICE's two re-spellings the other tiers leave
    (bench/registry.py prints them), never a pair of distinct places."""
    tied = sorted((e.occurred_on.isoformat() if e.occurred_on else "", e.old_value, e.new_value)
                  for e in history.events if e.match_basis == "registry_ori")
    assert tied == [
        ("2025-07-15", "Louisiana State Patrol", "Louisiana State Police Department"),
        ("2025-07-15", "Quarryville Police Department", "Quarryville Borough Police Department"),
    ]


def test_every_agreement_event_names_its_agreement(history):
    agreement_events = [e for e in history.events if e.kind.startswith("agreement.")]
    assert agreement_events and all(e.agreement_id is not None for e in agreement_events)
    assert all(e.match_basis for e in agreement_events if e.kind in ("agreement.changed", "agreement.renamed"))


def test_readers_see_an_agreement_by_its_current_name_with_its_earlier_names(history):
    rows = [r for r in changes(history.url, "--state", "FL", "--kind", "agreement.")
            if r["subject_key"] == "FL|SAINT JOHNS COUNTY SHERIFFS OFFICE|TFM"]
    assert rows and {r["agreement_name"] for r in rows} == {"St. Johns County Sheriff's Office"}
    assert {tuple(r["earlier_names"]) for r in rows} == {("St Johns County Sheriff's Office",)}
    assert all(r["summary"].endswith("[names over time: St Johns County Sheriff's Office → "
                                     "St. Johns County Sheriff's Office]") for r in rows)
    # one name only: the sentence as recorded
    plain = [r for r in changes(history.url, "--state", "TX", "--kind", "agreement.added") if not r["earlier_names"]]
    assert plain and all("names over time" not in r["summary"] for r in plain)


def _backfill_log(folder: Path, db: Path, seed: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.Popen([sys.executable, "-m", "scheduler.cli", "--db", str(db), "backfill", str(folder)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_the_same_files_give_the_same_log_whatever_the_hash_seed(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for path in history_files():
        (folder / path.name).symlink_to(path)
    runs = [(_backfill_log(folder, tmp_path / f"seed{seed}.sqlite", seed), tmp_path / f"seed{seed}.sqlite")
            for seed in ("1", "2")]
    logs = []
    for process, db in runs:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr.decode()
        out = subprocess.run([sys.executable, "-m", "scheduler.cli", "--db", str(db), "changes", "--format", "json"],
                             cwd=ROOT, capture_output=True, check=True)
        # when a status last changed is the clock of the run, not the history
        logs.append([{k: v for k, v in row.items() if k != "status_changed_at"}
                     for row in json.loads(out.stdout)["changes"]])
    assert len(logs[0]) > 1000
    assert logs[0] == logs[1]
