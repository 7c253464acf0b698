"""`tracker287g rebuild` on a database backfilled before agreement identity (a recorded dump,
see tests/fixtures/databases/README.md): the same change log as a fresh backfill of the same
files, with the review decisions and the notification ledger kept.  SQLite only: the fixture is
a SQLite dump."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.database import open_database
from storage.models import ChangeEvent, NotificationSent
from tests.commands import changes, run
from tests.files import FIXTURES, WORKBOOKS

DUMP = FIXTURES / "databases" / "backfilled-before-identity.sql.gz"


def load_dump(path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(gzip.decompress(DUMP.read_bytes()).decode("utf-8"))
    connection.close()
    return f"sqlite:///{path}"


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ids and the time a status was last changed are not the history itself
    return [{k: v for k, v in row.items() if k not in ("id", "review", "status_changed_at", "linked_event_id")}
            for row in rows]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("rebuild")
    old = load_dump(folder / "old.sqlite")
    assert run(old, "upgrade").exit_code == 0     # the commands that read never upgrade the schema
    before = changes(old)
    result = run(old, "rebuild", "--yes")
    assert result.exit_code == 0, result.output
    fresh = f"sqlite:///{folder / 'fresh.sqlite'}"
    assert run(fresh, "backfill", str(WORKBOOKS)).exit_code == 0
    return {"old": old, "before": before, "after": changes(old), "fresh": changes(fresh), "output": result.output}


def test_the_rebuilt_log_is_the_log_of_a_fresh_backfill(rebuilt):
    assert comparable(rebuilt["after"]) == comparable(rebuilt["fresh"])
    assert comparable(rebuilt["before"]) != comparable(rebuilt["after"])     # the old rules gave another log
    assert all(row["match_basis"] is None for row in rebuilt["before"])
    assert all(row["agreement_id"] for row in rebuilt["after"] if row["kind"].startswith("agreement."))


def test_review_decisions_move_to_the_events_that_replace_theirs(rebuilt):
    decided = {(row["kind"], row["subject_key"]): (row["review"]["status"], row["review"]["reviewer"])
               for row in rebuilt["after"] if row["review"]}
    assert decided[("agreement.renamed", "NC|ALBEMARLE DISTRICT JAIL|WSO")] == ("rename", "tester")
    assert decided[("agreement.added", "FL|OSCEOLA COUNTY SHERIFFS OFFICE|TFM")] == ("confirmed", "tester")
    kept = len(decided)
    assert f"{kept} review decisions kept" in rebuilt["output"]
    assert kept + rebuilt["output"].count("not kept:") == 4


def test_a_sent_notification_is_not_sent_again(rebuilt):
    engine = open_database(rebuilt["old"])
    try:
        with Session(engine) as session:
            sent = session.execute(select(ChangeEvent.kind, ChangeEvent.subject_key)
                                   .join(NotificationSent, NotificationSent.event_id == ChangeEvent.id)).all()
    finally:
        engine.dispose()
    assert sent == [("agreement.added", "FL|OSCEOLA COUNTY SHERIFFS OFFICE|TFM")]


def test_rebuild_asks_before_it_replaces_the_history(tmp_path):
    old = load_dump(tmp_path / "old.sqlite")
    assert run(old, "upgrade").exit_code == 0
    before = changes(old)
    result = run(old, "rebuild", input="n\n")
    assert result.exit_code != 0
    assert changes(old) == before
