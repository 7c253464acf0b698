"""Reviewing agencies' FBI registry matches (`review --registry`): a decision takes effect at
once and carries forward, after later lists and after `rebuild`, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.filenames import parse_list_file_name
from storage.database import open_database
from storage.models import Agency
from tests.commands import changes, run
from tests.files import all_workbooks

SPLIT = dt.date(2025, 9, 1)


def workbooks(before: bool) -> list[str]:
    chosen = []
    for path in all_workbooks():
        as_of = parse_list_file_name(path.name).as_of
        if as_of is not None and (as_of < SPLIT) == before:
            chosen.append(str(path))
    return chosen


def agency(url: str, state: str, name: str) -> Agency:
    engine = open_database(url)
    try:
        with Session(engine) as session:
            found = session.scalars(select(Agency).where(Agency.state == state, Agency.name == name)).one()
            session.expunge(found)
            return found
    finally:
        engine.dispose()


def alachua_oris(url: str) -> set[str | None]:
    """The ``ori`` of the change log's events about the Alachua County Sheriff's agreements."""
    return {c["ori"] for c in changes(url) if (c["subject_key"] or "").startswith("FL|ALACHUA COUNTY SHERIFFS OFFICE|")}


def exported_ori(url: str, folder: Path) -> tuple[str, str]:
    """The ``ori`` of the Alachua and Baker County sheriffs in the export's agencies table."""
    assert run(url, "export", "--out", str(folder)).exit_code == 0
    with (folder / "agencies.csv").open(newline="", encoding="utf-8") as handle:
        rows = {(r["state"], r["agency_key"]): r["ori"] for r in csv.DictReader(handle)}
    return rows[("FL", "ALACHUA COUNTY SHERIFFS OFFICE")], rows[("FL", "BAKER COUNTY SHERIFFS OFFICE")]


def test_a_rejected_match_stays_rejected_after_new_lists_and_rebuild(db_url, tmp_path):
    assert run(db_url, "backfill", *workbooks(before=True)).exit_code == 0
    alachua = agency(db_url, "FL", "ALACHUA COUNTY SHERIFFS OFFICE")
    assert (alachua.ori, alachua.registry_review) == ("FL0010000", None)
    listed = run(db_url, "review", "--registry", "--list", "--state", "FL")
    assert listed.exit_code == 0 and f"agency {alachua.id}: FL ALACHUA COUNTY SHERIFFS OFFICE -> Alachua" in listed.output
    assert "BOARD OF COMMISSIONERS" not in listed.output       # no match, nothing to review

    assert alachua_oris(db_url) == {"FL0010000"}

    result = run(db_url, "review", "--registry", str(alachua.id), "--status", "rejected", "--reviewer", "desk")
    assert result.exit_code == 0, result.output
    rejected = agency(db_url, "FL", "ALACHUA COUNTY SHERIFFS OFFICE")
    assert (rejected.ori, rejected.confidence, rejected.basis, rejected.registry_review) == (
        None, None, None, "rejected")
    assert rejected.registry_record is not None and rejected.registry_record["ori"] == "FL0010000"
    assert str(alachua.id) not in run(db_url, "review", "--registry", "--list", "--state", "FL").output.split()

    assert run(db_url, "backfill", *workbooks(before=False)).exit_code == 0      # later lists list it again
    assert agency(db_url, "FL", "ALACHUA COUNTY SHERIFFS OFFICE").ori is None
    result = run(db_url, "rebuild", "--yes")
    assert result.exit_code == 0, result.output
    rebuilt = agency(db_url, "FL", "ALACHUA COUNTY SHERIFFS OFFICE")
    assert (rebuilt.ori, rebuilt.registry_review) == (None, "rejected")
    # readers no longer show it: the change log, and the export's agencies table
    assert alachua_oris(db_url) == {None}
    assert exported_ori(db_url, tmp_path / "rejected") == ("", "FL0020000")
    # accepting it later restores the identifier, and that carries forward too
    assert run(db_url, "review", "--registry", str(rebuilt.id), "--status", "accepted").exit_code == 0
    assert run(db_url, "rebuild", "--yes").exit_code == 0
    accepted = agency(db_url, "FL", "ALACHUA COUNTY SHERIFFS OFFICE")
    assert (accepted.ori, accepted.confidence, accepted.registry_review) == ("FL0010000", 0.95, "accepted")
    assert alachua_oris(db_url) == {"FL0010000"}
    assert exported_ori(db_url, tmp_path / "accepted") == ("FL0010000", "FL0020000")


def test_registry_decisions_are_checked(db_url):
    assert run(db_url, "backfill", *workbooks(before=True)[:2]).exit_code == 0
    engine = open_database(db_url)
    with Session(engine) as session:
        unmatched = session.scalars(select(Agency.id).where(Agency.registry_record.is_(None))).first()
    engine.dispose()
    result = run(db_url, "review", "--registry", str(unmatched), "--status", "rejected")
    assert result.exit_code == 1 and "has no registry match to review" in result.output
    result = run(db_url, "review", "--registry", "999999", "--status", "rejected")
    assert result.exit_code == 1 and "no agency 999999" in result.output
    result = run(db_url, "review", "1", "--status", "rejected")
    assert result.exit_code == 2 and "add --registry" in result.output
    result = run(db_url, "review", "--registry", "1", "--status", "confirmed")
    assert result.exit_code == 2 and "accepted or --status rejected" in result.output


def test_the_interactive_review_asks_least_confident_first(db_url):
    assert run(db_url, "backfill", *workbooks(before=True)[:2]).exit_code == 0
    result = run(db_url, "review", "--registry", "--state", "FL", "--limit", "2", "--reviewer", "desk",
                 input="s\nr\nnot this office\n")
    assert result.exit_code == 0, result.output
    asked = [line for line in result.output.splitlines() if line.startswith("agency ")]
    assert len(asked) == 2 and "1 decision(s) recorded." in result.output
    confidences = [float(line.split("confidence ")[1].split(",")[0]) for line in asked]
    assert confidences == sorted(confidences)
    engine = open_database(db_url)
    with Session(engine) as session:
        rejected = session.scalars(select(Agency).where(Agency.registry_review.is_not(None))).all()
        assert [(a.registry_review, a.ori) for a in rejected] == [("rejected", None)]
        assert f"agency {rejected[0].id}:" in asked[1]
    engine.dispose()
