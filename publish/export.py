"""Citable downloads: the agreements in force, their full history, the change log, the agencies
and the source files, as CSV and JSON (and Parquet when pyarrow is installed), with a
``datapackage.json`` (Frictionless Data) that types and describes every column.

Everything is as of one day: the last accepted snapshot of each list on or before it, and the
changes dated on or before it.  Without a day, the latest snapshots; the stamp is then the day
of the newest of them.  The files hold no time of writing, so the same history and day give
the same bytes.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import io
import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from crawler.sources import ICE_287G_PAGE_URL
from publish.changes import ChangeFilter, ChangeRow, change_rows
from publish.evidence import evidence_text
from publish.history import AGENCY_FIELDS, VERSION_FIELDS, History, agency_items, agency_slug
from publish.places import identify
from publish.render import jsonable, render_csv, write_csv
from publish.snapshots import current_snapshots
from storage.agencies import AgencyRepository

SCHEMA = "tracker287g.export/1"

AGREEMENT_FIELDS = ("list", "agreement_key", "state", "agency_id", "agency", "agency_key", "agency_type", "county",
                    "model", "signed", "moa", "moa_url", "addendum", "addendum_url", "first_seen", "file", "row")
HISTORY_FIELDS = ("agency_id", *VERSION_FIELDS)
CHANGE_FIELDS = ("id", "occurred_on", "kind", "list", "state", "subject_key", "agency_id", "field", "old_value",
                 "new_value", "summary", "snapshot_id", "previous_snapshot_id", "file", "row", "previous_file",
                 "previous_row", "moa_url", "evidence", "review_status", "confirmation", "linked_event_id")
IDENTIFIER_FIELDS = ("county_fips", "ori", "ori_basis", "population", "officers")
SOURCE_FIELDS = ("snapshot_id", "list", "file_name", "as_of", "status", "reason", "agreements", "agencies",
                 "sha256", "source_url")

INTEGER = {"row", "id", "linked_event_id", "snapshot_id", "previous_snapshot_id", "previous_row", "agreements",
           "agencies", "agreement_id", "agreements_in_force", "population", "officers"}
DATE = {"signed", "first_seen", "first_signed", "as_of", "occurred_on"}
BOOLEAN = {"present"}

DESCRIPTIONS = {
    "list": "participating or pending: which of ICE's two lists",
    "agreement_key": "the agreement's natural key on its list: STATE|AGENCY KEY|MODEL",
    "key": "the agreement's natural key on its list: STATE|AGENCY KEY|MODEL",
    "state": "two-letter postal code as read from the list (?? when unreadable)",
    "agency_id": "this export's id of the agency (state and agency key); names the agency's report page",
    "agency": "the agency's name as the list spells it",
    "agency_key": "the agency's name with case, punctuation and common abbreviations evened out",
    "agency_type": "County, Municipality or State Agency, as the list gives it (blank: not given)",
    "county": "county as the list gives it (blank: not given)",
    "model": "support model: JEM (jail enforcement), TFM (task force), WSO (warrant service officer)",
    "signed": "the signature date the list gives",
    "moa": "link or pending: what the list's MOA cell said",
    "moa_url": "address of the memorandum of agreement, as linked from the list",
    "addendum": "link or pending: what the list's addendum cell said",
    "addendum_url": "address of the addendum, as linked from the list",
    "first_seen": "as-of day of the first list file that had the agreement",
    "file": "the list file the values were read from",
    "row": "the row of that file (spreadsheet row number)",
    "agreement_id": "the database's id of the agreement",
    "snapshot_id": "the snapshot (one list file as ingested) the version or change came from",
    "as_of": "the list file's date (from its name)",
    "present": "false when this version marks the agreement's removal from the list",
    "id": "the change's id in the change log",
    "occurred_on": "as-of day of the list file that showed the change",
    "kind": "event kind, e.g. agreement.added, agreement.removed, agreement.changed",
    "subject_key": "the key of the agreement (or other subject) the change concerns",
    "field": "for agreement.changed: the field that changed",
    "old_value": "for agreement.changed: the value before",
    "new_value": "for agreement.changed: the value after",
    "summary": "the change in words",
    "previous_snapshot_id": "the snapshot compared against",
    "previous_file": "the list file compared against",
    "previous_row": "the row the previous values were read from",
    "evidence": "the evidence in words (file, row, previous file, MOA, source)",
    "review_status": "a reviewer's decision on the change (blank: not reviewed)",
    "confirmation": "provisional (not yet held long enough), confirmed (the list kept it) or reverted (the list "
                    "went back)",
    "linked_event_id": "for a reverted change: the change it undid or that undid it",
    "name": "the agency's latest name on the lists",
    "names_seen": "every spelling the lists have used, oldest first, separated by ' | '",
    "status": "participating, pending, no longer listed, or no longer pending",
    "participating_models": "support models on the participating list in force",
    "pending_models": "support models on the pending list in force",
    "agreements_in_force": "agreements on the participating list in force",
    "first_signed": "earliest signature date of its participating agreements",
    "file_name": "the list file's name as published",
    "county_fips": "5-digit FIPS code of the agency's county (blank: not placed; state agencies are not)",
    "ori": "the FBI's ORI of the agency's record in the Law Enforcement Employees data (blank: no match)",
    "ori_basis": "how the FBI record was matched, with its confidence (diff/registry.py)",
    "population": "population the agency serves, per its FBI record",
    "officers": "sworn officers, per its FBI record",
    "reason": "why a file was not accepted, or was the same as an earlier one",
    "agencies": "distinct agencies in the file",
    "agreements": "rows (agreements) in the file",
    "sha256": "SHA-256 of the file's bytes",
    "source_url": "where the file was downloaded (blank: imported from an archive)",
}


@dataclass(frozen=True)
class ExportTable:
    name: str
    title: str
    fields: tuple[str, ...]
    rows: list[dict[str, Any]]
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Export:
    as_of: dt.date | None
    snapshots: dict[str, int]          # the snapshot in force per list
    tables: list[ExportTable]


def field_type(name: str) -> str:
    if name in INTEGER:
        return "integer"
    if name in DATE:
        return "date"
    if name in BOOLEAN:
        return "boolean"
    return "string"


def build_export(session: Session, as_of: dt.date | None = None, *, history: History | None = None,
                 changes: Sequence[ChangeRow] | None = None) -> Export:
    """``history`` (History.load) and ``changes`` (every change row) when the caller has read
    them already (the report reads each once for its pages and this export)."""
    chosen = current_snapshots(session, as_of)
    stamp = as_of or max((s.as_of for s in chosen.values() if s.as_of), default=None)
    history = (history or History.load(session)).until(chosen)
    if changes is None:
        changes = change_rows(session, ChangeFilter(until=as_of))
    elif as_of is not None:
        changes = [c for c in changes if c["occurred_on"] is not None and c["occurred_on"] <= as_of]
    first_seen = history.first_seen()
    agreements = [
        {**v.item(), "agreement_key": v.key, "agency_id": agency_slug(v.state, v.agency_key),
         "first_seen": first_seen.get(v.agreement_id)}
        for v in history.in_force()
    ]
    versions = [{**v.item(), "agency_id": agency_slug(v.state, v.agency_key)} for v in history.versions]
    rejected = AgencyRepository(session).rejected()
    agencies = [{**row, **_identifiers(row, rejected)} for row in agency_items(history)]
    slugs = {(row["state"], row["agency_key"]): row["agency_id"] for row in agencies}
    for row in agreements + versions:      # an id made unique by a suffix wins over the plain slug
        row["agency_id"] = slugs.get((row["state"], row["agency_key"]), row["agency_id"])
    keys = {(v.list, v.key): (v.state, v.agency_key) for v in history.versions}
    limit = max(chosen.values(), key=lambda s: s.id).id if chosen else -1
    changes = [_change_item(c, slugs.get(keys.get((c["list"], c["subject_key"]), ("", "")), ""))
               for c in changes
               if c["snapshot_id"] is None or c["snapshot_id"] <= limit]
    sources = [
        {"snapshot_id": s.id, "list": s.list_name, "file_name": s.file_name, "as_of": s.as_of, "status": s.status,
         "reason": s.reason, "agreements": s.agreements, "agencies": s.agencies, "sha256": s.document_sha256,
         "source_url": s.source_url}
        for s in sorted(history.snapshots.values(), key=lambda s: s.id)
    ]
    return Export(stamp, {name: s.id for name, s in chosen.items()}, [
        ExportTable("agreements", "Agreements in force", AGREEMENT_FIELDS, agreements, ("list", "agreement_key")),
        ExportTable("agreement_history", "Every version of every agreement", HISTORY_FIELDS, versions,
                    ("agreement_id", "snapshot_id")),
        ExportTable("changes", "The change log", CHANGE_FIELDS, changes, ("id",)),
        ExportTable("agencies", "Agencies, with their identifiers", (*AGENCY_FIELDS, *IDENTIFIER_FIELDS), agencies,
                    ("agency_id",)),
        ExportTable("sources", "The list files read, accepted or not", SOURCE_FIELDS, sources, ("snapshot_id",)),
    ])


def _identifiers(agency: Mapping[str, Any], rejected: Collection[tuple[str, str, str]]) -> dict[str, Any]:
    identity = identify(agency["state"], agency["name"], agency["county"], rejected)
    match = identity.match
    return {"county_fips": identity.county_fips, "ori": match.ori if match else None,
            "ori_basis": f"{match.basis} ({match.confidence:g})" if match else None,
            "population": match.population if match else None, "officers": match.officers if match else None}


def _change_item(change: Mapping[str, Any], agency_id: str) -> dict[str, Any]:
    evidence = change["evidence"] or {}
    review = change["review"]
    return {
        **{name: change.get(name) for name in CHANGE_FIELDS if name in change},
        "agency_id": agency_id or None,
        "file": evidence.get("file"), "row": evidence.get("row"),
        "previous_file": evidence.get("previous_row_file") or evidence.get("previous_file"),
        "previous_row": evidence.get("previous_row"), "moa_url": evidence.get("moa_url"),
        "evidence": evidence_text(evidence), "review_status": review["status"] if review else None,
        "confirmation": change.get("status"),
    }


def table_schema(table: ExportTable) -> dict[str, Any]:
    schema: dict[str, Any] = {"fields": [
        {"name": name, "type": field_type(name), "description": DESCRIPTIONS[name]} for name in table.fields]}
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    return schema


def datapackage(export: Export, formats: Sequence[str]) -> dict[str, Any]:
    stamp = export.as_of.isoformat() if export.as_of else None
    return {
        "name": "tracker287g-export",
        "title": "287(g) agreements from ICE's published lists" + (f", as of {stamp}" if stamp else ""),
        "description": "Read from ICE's participating and pending 287(g) lists by tracker287g. Each list file "
                       "is a snapshot; 'as_of' is the day of the newest list file in force on the export's day.",
        "as_of": stamp,
        "snapshots": export.snapshots,
        "sources": [{"title": "ICE, Delegation of Immigration Authority Section 287(g)", "path": ICE_287G_PAGE_URL}],
        "resources": [
            {
                "name": table.name, "title": table.title, "path": f"{table.name}.csv",
                "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                "schema": table_schema(table),
                "rows": len(table.rows),
                "alternates": [f"{table.name}.{fmt}" for fmt in formats if fmt != "csv"],
            }
            for table in export.tables
        ],
    }


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401  (optional)
    except ImportError:
        return False
    return True


def export_files(export: Export, *, parquet: bool | None = None) -> dict[str, bytes]:
    """Every table as CSV and JSON (and Parquet), then datapackage.json: file name -> bytes."""
    parquet = parquet_available() if parquet is None else parquet
    formats = ("csv", "json", "parquet") if parquet else ("csv", "json")
    files = {}
    for table in export.tables:
        files[f"{table.name}.csv"] = render_csv(table.fields, table.rows).encode("utf-8")
        document = {"schema": SCHEMA, "table": table.name, "as_of": export.as_of,
                    "rows": [{name: row.get(name) for name in table.fields} for row in table.rows]}
        # compact: json's C encoder does not indent, and these files are for programs
        files[f"{table.name}.json"] = (json.dumps(document, default=jsonable, ensure_ascii=False,
                                                  separators=(",", ":")) + "\n").encode("utf-8")
        if parquet:
            files[f"{table.name}.parquet"] = _parquet(table, export.as_of)
    package = json.dumps(datapackage(export, formats), indent=2, ensure_ascii=False) + "\n"
    files["datapackage.json"] = package.encode("utf-8")
    return files


def write_export(export: Export, out_dir: Path, *, parquet: bool | None = None) -> list[Path]:
    """The files of ``export_files`` in ``out_dir``, each written as it is encoded (a row at a
    time for CSV, some thousands of rows at a time for JSON) to a temporary file beside it, then
    put in its place; a file that already holds the same bytes is left as it is.  Returns their
    paths."""
    parquet = parquet_available() if parquet is None else parquet
    formats = ("csv", "json", "parquet") if parquet else ("csv", "json")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in export.tables:
        written.append(_put(out_dir / f"{table.name}.csv", partial(_write_csv, table=table)))
        written.append(_put(out_dir / f"{table.name}.json", partial(_write_json, table=table, as_of=export.as_of)))
        if parquet:
            written.append(_put(out_dir / f"{table.name}.parquet",
                                partial(_write_parquet, table=table, as_of=export.as_of)))
    package = json.dumps(datapackage(export, formats), indent=2, ensure_ascii=False) + "\n"
    written.append(_put(out_dir / "datapackage.json", lambda file: file.write(package.encode("utf-8"))))
    return written


def _put(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with temporary.open("wb") as file:
            write(file)
        if path.is_file() and filecmp.cmp(temporary, path, shallow=False):
            temporary.unlink()
        else:
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _write_csv(file: BinaryIO, table: ExportTable) -> None:
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=False)
    write_csv(text, table.fields, table.rows)
    text.flush()
    text.detach()


def _write_parquet(file: BinaryIO, table: ExportTable, as_of: dt.date | None) -> None:
    file.write(_parquet(table, as_of))


_JSON_BATCH = 5000


def _write_json(file: BinaryIO, table: ExportTable, as_of: dt.date | None) -> None:
    """``export_files``'s JSON document of ``table``: the same bytes, encoded in batches of rows."""
    head = json.dumps({"schema": SCHEMA, "table": table.name, "as_of": as_of}, default=jsonable,
                      ensure_ascii=False, separators=(",", ":"))
    file.write((head[:-1] + ',"rows":[').encode("utf-8"))
    fields, rows = table.fields, table.rows
    for start in range(0, len(rows), _JSON_BATCH):
        batch = [{name: row.get(name) for name in fields} for row in rows[start:start + _JSON_BATCH]]
        text = json.dumps(batch, default=jsonable, ensure_ascii=False, separators=(",", ":"))[1:-1]
        file.write(((",") if start else "").encode("utf-8") + text.encode("utf-8"))
    file.write(b"]}\n")


def _parquet(table: ExportTable, as_of: dt.date | None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"integer": pa.int64(), "date": pa.date32(), "boolean": pa.bool_(), "string": pa.string()}
    schema = pa.schema([(name, types[field_type(name)]) for name in table.fields],
                       metadata={"as_of": as_of.isoformat() if as_of else "", "schema": SCHEMA})
    columns = {name: [row.get(name) for row in table.rows] for name in table.fields}
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns, schema=schema), sink)
    return bytes(sink.getvalue().to_pybytes())
