"""`tracker287g export`: the files validate against their datapackage.json (Frictionless), read
back with the stdlib csv module with the declared types, and count what `metrics` counts."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.commands import changes, run

TABLES = ("agreements", "agreement_history", "changes", "agencies", "sources")


def metrics(url: str, *args: str) -> dict:
    result = run(url, "metrics", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return {item["list"]: item for item in json.loads(result.output)["lists"]}


def export(url: str, out: Path, *args: str) -> dict:
    result = run(url, "export", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "datapackage.json").read_text(encoding="utf-8"))


def typed_rows(folder: Path, resource: dict) -> list[dict]:
    """A CSV read back with the csv module, each cell converted to the type the package declares."""
    convert = {"integer": int, "date": dt.date.fromisoformat, "boolean": lambda v: {"True": True, "False": False}[v],
               "string": str}
    types = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    with (folder / resource["path"]).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == list(types)
        return [{k: convert[types[k]](v) if v != "" else None for k, v in row.items()} for row in reader]


def test_export_validates_and_counts_what_metrics_counts(backfilled_url, tmp_path):
    from frictionless import validate

    out = tmp_path / "export"
    package = export(backfilled_url, out)
    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "message"])[:5]
    resources = {r["name"]: r for r in package["resources"]}
    assert tuple(resources) == TABLES
    current = metrics(backfilled_url)
    assert package["as_of"] == current["participating"]["as_of"] == "2026-05-14"

    rows = {name: typed_rows(out, resource) for name, resource in resources.items()}
    for name, resource in resources.items():
        assert resource["rows"] == len(rows[name])
        document = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert document["as_of"] == package["as_of"] and len(document["rows"]) == len(rows[name])
    for list_name, item in current.items():
        listed = [r for r in rows["agreements"] if r["list"] == list_name]
        assert len(listed) == item["metrics"]["agreements"]
        assert dict(Counter(r["state"] for r in listed)) == item["metrics"]["by_state"]
        assert dict(Counter(r["model"] for r in listed)) == {
            m: n for m, n in item["metrics"]["by_model"].items() if n}
        assert {(r["state"], r["agency_key"]) for r in listed if list_name == "participating"} <= {
            (a["state"], a["agency_key"]) for a in rows["agencies"] if a["status"] == "participating"}
    participating = current["participating"]["metrics"]
    assert sum(a["agreements_in_force"] for a in rows["agencies"]) == participating["agreements"]
    assert sum(1 for a in rows["agencies"] if a["status"] == "participating") == participating["agencies"]
    assert [c["id"] for c in rows["changes"]] == [c["id"] for c in changes(backfilled_url)]
    assert all(isinstance(r["signed"], dt.date) for r in rows["agreements"] if r["signed"])
    assert all(r["file"].endswith(".xlsx") and r["row"] > 1 for r in rows["agreements"])
    alachua = next(a for a in rows["agencies"] if a["agency_id"] == "fl-alachua-county-sheriffs-office")
    assert (alachua["county_fips"], alachua["ori"], alachua["population"]) == ("12001", "FL0010000", 121845)
    assert sum(1 for a in rows["agencies"] if a["ori"]) > len(rows["agencies"]) / 2


def test_export_as_of_a_day_uses_the_lists_in_force_then(backfilled_url, tmp_path):
    day = "2025-09-22"
    package = export(backfilled_url, tmp_path / "then", "--as-of", day)
    then = metrics(backfilled_url, "--as-of", day)
    resources = {r["name"]: r for r in package["resources"]}
    agreements = typed_rows(tmp_path / "then", resources["agreements"])
    assert package["as_of"] == day
    for list_name, item in then.items():
        assert sum(1 for r in agreements if r["list"] == list_name) == item["metrics"]["agreements"]
    history = typed_rows(tmp_path / "then", resources["changes"])
    assert history and max(c["occurred_on"] for c in history) <= dt.date.fromisoformat(day)
    sources = typed_rows(tmp_path / "then", resources["sources"])
    assert max(s["as_of"] for s in sources if s["as_of"]) <= dt.date.fromisoformat(day)


def test_parquet_files_hold_the_same_rows(backfilled_url, tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet", reason="Parquet is written only when pyarrow is installed")
    package = export(backfilled_url, tmp_path / "export")
    for resource in package["resources"]:
        table = parquet.read_table(tmp_path / "export" / f"{resource['name']}.parquet")
        assert table.num_rows == resource["rows"]
        assert table.schema.metadata[b"as_of"].decode() == package["as_of"]
        assert table.column_names == [f["name"] for f in resource["schema"]["fields"]]
