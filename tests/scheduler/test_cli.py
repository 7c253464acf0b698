"""The command line as a user runs it: real workbooks, a real SQLite file, every output format."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from click.testing import CliRunner

from scheduler.cli import main
from tests.commands import run
from tests.files import WORKBOOKS


@pytest.fixture(scope="module")
def db(backfill_templates, tmp_path_factory) -> str:
    """A copy of the session's backfill of the 22 real workbooks (conftest), one for this module:
    its tests only read it."""
    return backfill_templates.sqlite_copy(tmp_path_factory.mktemp("cli") / "cli.sqlite")


def test_backfill_reports_every_file(db):
    again = run(db, "backfill", str(WORKBOOKS), "--format", "json")
    assert again.exit_code == 0
    files = json.loads(again.output)["files"]
    assert len(files) == 22 and {f["status"] for f in files} == {"already_recorded"}


def test_snapshots_json_contract(db):
    result = run(db, "snapshots", "--format", "json")
    document = json.loads(result.output)
    assert document["schema"] == "tracker287g.snapshots/1"
    rows = document["snapshots"]
    assert len(rows) == 22
    assert {"id", "list", "file_name", "as_of", "status", "reason", "agreements", "agencies", "states"} <= rows[0].keys()
    statuses = {r["file_name"]: (r["list"], r["status"]) for r in rows}
    assert statuses["pendingAgencies11142025pm.xlsx"] == ("pending", "quarantined")
    assert statuses["participatingAgencies09222025pm.xlsx"] == ("pending", "accepted")
    only_pending = json.loads(run(db, "snapshots", "--list", "pending", "--format", "json").output)["snapshots"]
    assert {r["list"] for r in only_pending} == {"pending"}


def test_changes_filters_and_formats(db):
    as_json = json.loads(run(db, "changes", "--kind", "agreement.added", "--state", "tx", "--since", "2025-05-29",
                             "--until", "2025-05-29", "--list", "participating", "--format", "json").output)
    assert as_json["schema"] == "tracker287g.changes/1"
    changes = as_json["changes"]
    assert changes and {(c["kind"], c["state"], c["occurred_on"]) for c in changes} == {
        ("agreement.added", "TX", "2025-05-29")}
    assert all(c["evidence"]["file"] == "participatingAgencies05292025am.xlsx" for c in changes)

    as_csv = run(db, "changes", "--kind", "agreement.added", "--state", "TX", "--since", "2025-05-29",
                 "--until", "2025-05-29", "--list", "participating", "--format", "csv").output
    assert len(list(csv.DictReader(io.StringIO(as_csv)))) == len(changes)
    markdown = run(db, "changes", "--kind", "source.", "--format", "markdown").output
    assert markdown.startswith("| occurred_on | kind |") and "swapped" in markdown
    table = run(db, "changes", "--kind", "source.anomaly")
    assert table.exit_code == 0 and "quarantined" in table.output


def test_a_changes_table_shows_the_latest_changes_and_says_how_many_there_are(db):
    """A terminal table shows the latest 100 changes (the log's order: day, then id) and a footer
    saying how to see the rest; JSON, CSV and Markdown hold every change unless --limit is given."""
    log = json.loads(run(db, "changes", "--format", "json").output)["changes"]
    assert len(log) > 100
    def ids(table: str) -> list[int]:
        return [int(line.split("│")[1]) for line in table.splitlines()
                if line.count("│") > 3 and line.split("│")[1].strip().isdigit()]

    table = run(db, "changes").output
    assert f"100 of {len(log):,} changes shown, the latest; --limit 0 shows all" in table
    assert ids(table) == [c["id"] for c in log[-100:]]
    # more rows than rich lays out (PLAIN_TABLE_ROWS): the same box, a row per change
    everything = run(db, "changes", "--limit", "0").output
    assert "shown, the latest" not in everything and f"Changes ({len(log)})" in everything
    assert ids(everything) == [c["id"] for c in log]
    header = next(line for line in everything.splitlines() if line.startswith("┃"))
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "id", "occurred_on", "kind", "status", "state", "summary", "evidence"]
    first = log[0]
    row = next(line for line in everything.splitlines() if line.startswith(f"│ {first['id']} "))
    assert [cell.strip() for cell in row.split("│")[1:-1]][:5] == [
        str(first["id"]), first["occurred_on"], first["kind"], first["status"], first["state"] or ""]
    assert json.loads(run(db, "changes", "--format", "json", "--limit", "7").output)["changes"] == log[-7:]
    added = [c for c in log if c["kind"].startswith("agreement.")]
    by_prefix = json.loads(run(db, "changes", "--kind", "agreement.", "--format", "json", "--limit", "5").output)
    assert by_prefix["changes"] == added[-5:]
    assert len(list(csv.DictReader(io.StringIO(run(db, "changes", "--format", "csv").output)))) == len(log)


def test_metrics_as_of_a_day(db):
    document = json.loads(run(db, "metrics", "--as-of", "2025-05-29", "--format", "json").output)
    lists = {item["list"]: item for item in document["lists"]}
    assert lists["participating"]["file_name"] == "participatingAgencies05292025am.xlsx"
    metrics = lists["participating"]["metrics"]
    assert (metrics["agreements"], metrics["by_model"]["JEM"], metrics["by_model"]["TFM"], metrics["by_model"]["WSO"]) \
        == (635, 100, 307, 228)
    assert lists["pending"]["metrics"]["agreements"] == 68


def test_baseline_for_the_snapshots_around_the_article(db):
    document = json.loads(run(db, "baseline", "--as-of", "2026-01-26", "--as-of", "2026-02-02",
                              "--format", "json").output)
    snapshots = {s["file_name"]: s for s in document["snapshots"]}
    assert set(snapshots) == {"participatingAgencies01262026pm.xlsx", "participatingAgencies02022026am.xlsx"}
    for snapshot in snapshots.values():
        by_id = {c["figure"]["id"]: c for c in snapshot["comparisons"]}
        trained = by_id["local-agencies-trained-officers-2026-01-26"]
        assert trained["measurable"] and trained["measured"] != 1168 and trained["definition_note"]
        measurable = [c for c in snapshot["comparisons"] if c["measurable"]]
        assert all(c["delta"] == c["measured"] - c["figure"]["value"] for c in measurable)
        assert any(not c["measurable"] and c["reason"] for c in snapshot["comparisons"])
    table = run(db, "baseline", "--as-of", "2026-01-26")
    assert table.exit_code == 0 and "cannot measure" in table.output
    default = json.loads(run(db, "baseline", "--format", "json").output)["snapshots"]
    assert [s["as_of"] for s in default] == ["2026-01-26", "2026-02-02", "2026-05-14"]
    every = json.loads(run(db, "baseline", "--all", "--format", "json").output)["snapshots"]
    accepted = [s for s in json.loads(run(db, "snapshots", "--list", "participating", "--format", "json").output)[
        "snapshots"] if s["status"] == "accepted"]
    assert [s["snapshot_id"] for s in every] == [s["id"] for s in accepted]
    assert run(db, "baseline", "--all", "--as-of", "2026-01-26").exit_code == 2


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["changes", "--since", "yesterday"], 2),
        (["changes", "--format", "xml"], 2),
        (["snapshots", "--list", "archived"], 2),
        (["frobnicate"], 2),
        (["backfill"], 2),
    ],
)
def test_usage_errors_exit_2(db, args, code):
    assert run(db, *args).exit_code == code


def test_an_unreachable_database_is_a_failure_with_exit_1():
    result = CliRunner().invoke(main, ["--db", "postgresql://nobody@127.0.0.1:1/none", "snapshots"])
    assert result.exit_code == 1 and "cannot open database" in result.output


def test_an_undated_file_takes_its_metadata_date_and_one_without_is_reported(tmp_path):
    source = WORKBOOKS / "participating" / "participatingAgencies05292025am.xlsx"
    undated = tmp_path / "a" / "participatingAgencies.xlsx"
    undated.parent.mkdir()
    undated.write_bytes(source.read_bytes())
    bare = tmp_path / "b" / "pendingAgencies.xlsx"          # the same list without docProps/core.xml
    bare.parent.mkdir()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(bare, "w") as new:
        for info in old.infolist():
            if info.filename != "docProps/core.xml":
                new.writestr(info, old.read(info))
    result = run(f"sqlite:///{tmp_path / 'x.sqlite'}", "backfill", str(undated), str(bare), "--format", "json")
    assert result.exit_code == 1
    files = {f["file"]: f for f in json.loads(result.output)["files"]}
    assert (files["participatingAgencies.xlsx"]["status"], files["participatingAgencies.xlsx"]["as_of"]) == (
        "accepted", "2025-05-29")
    assert files["participatingAgencies.xlsx"]["as_of_basis"].startswith("workbook metadata (docProps/core.xml")
    assert files["pendingAgencies.xlsx"]["status"] == "error" and "--as-of" in files["pendingAgencies.xlsx"]["reason"]


def test_every_command_has_help():
    for command in ("backfill", "snapshots", "changes", "metrics", "baseline", "crawl", "demo"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_drop_threshold_is_configurable(tmp_path):
    folder = WORKBOOKS / "participating"
    big = str(folder / "participatingAgencies05142026am.xlsx")                       # 1,832 rows
    small = tmp_path / "participatingAgencies.xlsx"                                   # 744 rows, undated copy
    small.write_bytes((folder / "participatingAgencies07012025pm.xlsx").read_bytes())
    statuses = {}
    for name, extra in (("default", []), ("loose", ["--drop-threshold", "participating=0.9:25"])):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        assert run(url, *extra, "backfill", big).exit_code == 0
        result = run(url, *extra, "backfill", str(small), "--as-of", "2026-06-01", "--format", "json")
        assert result.exit_code == 0
        statuses[name] = json.loads(result.output)["files"][0]["status"]
    assert statuses == {"default": "quarantined", "loose": "accepted"}
    assert CliRunner().invoke(main, ["--drop-threshold", "participating=lots", "snapshots"]).exit_code == 2


def test_config_show_and_status(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER287G__HEALTH__STALE_AFTER_HOURS", "12")
    config = tmp_path / "c.toml"
    config.write_text('[crawler]\ncontact = "me@example.org"\n[sources.ice_287g]\nschedule = { interval_minutes = 30 }\n')
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    shown = run(url, "--config", str(config), "config", "show")
    assert shown.exit_code == 0
    assert 'contact = "me@example.org"' in shown.output and "stale_after_hours = 12" in shown.output
    assert "health.stale_after_hours <- environment" in shown.output
    as_json = json.loads(run(url, "--config", str(config), "config", "show", "--format", "json").output)
    assert as_json["config"]["sources"]["ice_287g"]["schedule"] == {"interval_minutes": 30}
    status = json.loads(run(url, "--config", str(config), "status", "--format", "json").output)
    [ice] = [s for s in status["sources"] if s["source"] == "ice_287g"]
    assert ice["schedule"] == "every 1800 s" and ice["last_success"] is None and ice["consecutive_failures"] == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[crawler]\ncontcat = 1\n")
    result = run(url, "--config", str(bad), "status")
    assert result.exit_code == 1 and "contcat" in result.output


def test_the_row_cap_setting_reaches_backfill(tmp_path):
    """[limits] max_rows from the environment: a list longer than it is quarantined, with the reason."""
    url = f"sqlite:///{tmp_path / 'capped.sqlite'}"
    path = WORKBOOKS / "participating" / "participatingAgencies05292025am.xlsx"
    result = run(url, "backfill", str(path), "--format", "json", env={"TRACKER287G__LIMITS__MAX_ROWS": "100"})
    assert result.exit_code == 0, result.output
    shown = json.loads(run(url, "snapshots", "--format", "json").output)["snapshots"]
    assert [(s["status"], "row cap (100 rows" in s["reason"]) for s in shown] == [("quarantined", True)]
