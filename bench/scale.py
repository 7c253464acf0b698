"""How the cost grows with the list: synthetic participating lists of 10k, 100k and 1M rows.

    .venv/bin/pip install -e '.[bench]'                  # csv-diff, the yardstick
    .venv/bin/python bench/scale.py [--sizes 10000 100000 1000000] [--seed 287] [--cache DIR] [--diff-only]

Each list is a real .xlsx in ICE's format (the header, shared strings, dates as Excel dates,
the MOA and ADDENDUM "link" cells with their hyperlinks), its values drawn from the real
participating workbooks in tests/fixtures (states, agency names, types, counties, support
models, signing dates, link addresses).  The second version differs from the first as ICE's
lists do: 1% of the agreements added, 1% removed, 2% with a field changed, 0.2% renamed.  The
same pair is also written as CSV (with a key column) for csv-diff.

For each size, each measurement runs in a fresh child process, all in this one run, and prints
its elapsed and CPU time and its peak memory (the child's peak resident set, and what the
measured step added to the resident set it started from):

  read           python-calamine reading the second version (the floor every ratio uses)
  our read       crawler.workbook.read_workbook of the same file
  our diff       diff.rowdiff.diff_lists on our two cleaned row sets, already in memory
    +load rows   the whole child: unpickling both cleaned row sets into key -> Agreement
                 indexes (each agreement's fingerprint is made again as it is unpickled),
                 then our diff
  csv compare    csv_diff.compare on both CSVs, already loaded
    +load CSVs   the whole child: csv_diff.load_csv of both CSVs, then csv_diff.compare
  ingest v1      the first version into a new SQLite file (a first import)
  ingest v2      the second version after it: read, clean, check, diff, write
  unchanged      the second version again, in new bytes (re-zipped): recorded as unchanged

The memory of the two diffs is compared like for like: the peak resident set of each whole
child process (``+load`` lines), which imports its code, loads both versions from the files
the bench keeps for it and diffs them; nothing else runs in it.  Our row sets are the cleaned
agreements, read and cleaned once per size in a child of their own and cached as pickles: the
time that took (read, then clean, which builds each agreement's fingerprint and compact raw
texts) is printed above each size's table, since the diff's speed rests on it.  The time
ratio the issue asks for is csv-diff's whole run (load and compare, as its command does)
against our diff of the cleaned rows; the ratios of compare to diff alone and of the whole
children are printed beside it.

``--diff-only`` runs the floor and the two diffs only.  A single child can be run by hand on a
prepared folder, as the 1M figures are: ``bench/scale.py --child our_diff FOLDER`` (also
``csv_diff``, ``clean``).

Generated files are cached under the cache folder (default: the system's temp folder), keyed
by size and seed, since writing a million-row workbook takes a while.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "ice-287g-2025" / "participating"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SHARES = {"added": 0.01, "removed": 0.01, "changed": 0.02, "renamed": 0.002}
BIG_LIMITS = {"max_rows": 2_000_000, "max_file_bytes": 4_000_000_000, "max_uncompressed_bytes": 8_000_000_000}
COLUMNS = ("state", "agency", "type", "county", "model", "signed", "moa", "addendum")
EXCEL_EPOCH = dt.date(1899, 12, 30)


# -- value distributions of the real lists -------------------------------------------------------------

@dataclass
class Distributions:
    header: tuple[str, ...]
    values: dict[str, list]          # column -> every real value seen (repeats kept: the distribution)
    places: list[str]                # the words before an agency name's tail ("Harris County")
    tails: list[str]                 # "Sheriff's Office", "Police Department", ...
    link_folders: dict[str, list[str]]


def real_distributions() -> Distributions:
    from crawler.workbook import read_workbook

    files = sorted(FIXTURES.glob("*.xlsx"))
    latest = read_workbook(files[-1])
    values: dict[str, list] = {c: [] for c in COLUMNS}
    link_folders: dict[str, list[str]] = {"moa": [], "addendum": []}
    for path in files[-12:]:   # the last weeks of the 2025 history: every column, thousands of rows
        for row in read_workbook(path).rows:
            for column in COLUMNS:
                value = row.cells.get(column)
                if value is not None:
                    values[column].append(value)
            for column in link_folders:
                target = row.links.get(column)
                if target and target.startswith("https://www.ice.gov/"):   # not the Outlook safelinks
                    link_folders[column].append(target.rsplit("/", 1)[0])
    places, tails = [], []
    for name in values["agency"]:
        words = str(name).split()
        if len(words) >= 3:
            places.append(" ".join(words[:-2]))
            tails.append(" ".join(words[-2:]))
    return Distributions(latest.header, values, places, tails, link_folders)


# -- two versions of a list ---------------------------------------------------------------------------

def make_versions(size: int, seed: int, real: Distributions) -> tuple[list[dict], list[dict], Counter]:
    """Rows of the first and second version, and what was changed between them."""
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()

    def new_row(serial: int) -> dict:
        while True:
            state = rng.choice(real.values["state"])
            place = rng.choice(real.places)
            if rng.random() < 0.7:   # real place names repeat; a second word makes a million distinct
                place = f"{place} {rng.choice(real.places).split()[0]}"
            agency = f"{place} {rng.choice(real.tails)}"
            if (state, agency.lower()) not in seen:
                seen.add((state, agency.lower()))
                break
        signed = rng.choice(real.values["signed"])
        row = {"state": state, "agency": agency, "type": rng.choice(real.values["type"]),
               "county": rng.choice(real.values["county"]), "model": rng.choice(real.values["model"]),
               "signed": signed, "moa": "link", "addendum": "link" if rng.random() < 0.3 else None}
        slug = re.sub(r"[^A-Za-z0-9]", "", agency)[:40]
        row["moa_link"] = f"{rng.choice(real.link_folders['moa'])}/287g-moa-{slug}-{serial}.pdf"
        row["addendum_link"] = (f"{rng.choice(real.link_folders['addendum'] or real.link_folders['moa'])}"
                                f"/287g-addendum-{slug}-{serial}.pdf") if row["addendum"] else None
        return row

    first = [new_row(n) for n in range(size)]
    second = [dict(r) for r in first]
    picked = rng.sample(range(size), int(size * (SHARES["removed"] + SHARES["changed"] + SHARES["renamed"])))
    removed_n, changed_n = int(size * SHARES["removed"]), int(size * SHARES["changed"])
    removed = set(picked[:removed_n])
    counts: Counter = Counter(removed=len(removed))
    for index in picked[removed_n : removed_n + changed_n]:
        field = rng.choice(("type", "county", "signed", "moa_link"))
        row = second[index]
        while True:
            if field == "moa_link":
                new_value = row["moa_link"].replace(".pdf", "-amended.pdf")
            else:
                new_value = rng.choice(real.values[field])
            if _clean(new_value) != _clean(row[field]):   # a change the cleaning keeps
                row[field] = new_value
                break
        counts["changed"] += 1
    for index in picked[removed_n + changed_n :]:
        row = second[index]
        # a corrected spelling of the place: one letter of its first word doubled
        word, _, rest = row["agency"].partition(" ")
        row["agency"] = f"{word}{word[-1]} {rest}"
        counts["renamed"] += 1
    second = [r for i, r in enumerate(second) if i not in removed]
    added = [new_row(size + n) for n in range(int(size * SHARES["added"]))]
    counts["added"] = len(added)
    second += added
    order = lambda r: (r["state"], r["agency"].lower())   # noqa: E731  ICE sorts by state, then agency
    return sorted(first, key=order), sorted(second, key=order), counts


def _clean(value: object) -> object:
    return " ".join(value.split()).casefold() if isinstance(value, str) else value


# -- writing: xlsx as Excel writes it, and CSV ---------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_STYLES = (   # style 1: a date (number format 14), as Excel marks the SIGNED cells
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '</styleSheet>'
)
_QUOTE = {'"': "&quot;"}
_HYPERLINK_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def write_xlsx(path: Path, header: tuple[str, ...], rows: list[dict], *, level: int = 1) -> None:
    strings: dict[str, int] = {}

    def shared(text: str) -> int:
        index = strings.get(text)
        if index is None:
            index = strings[text] = len(strings)
        return index

    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    links: list[tuple[str, str]] = []
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                        b'<dimension ref="A1:%s%d"/><sheetData>' % (letters[len(header) - 1].encode(), len(rows) + 1))
            cells = "".join(f'<c r="{letters[i]}1" t="s"><v>{shared(h)}</v></c>' for i, h in enumerate(header))
            chunk = [f'<row r="1">{cells}</row>']
            for number, row in enumerate(rows, start=2):
                cells = []
                for i, column in enumerate(COLUMNS):
                    value = row[column]
                    if value is None:
                        continue
                    ref = f"{letters[i]}{number}"
                    if isinstance(value, dt.date):
                        cells.append(f'<c r="{ref}" s="1"><v>{(value - EXCEL_EPOCH).days}</v></c>')
                    else:
                        cells.append(f'<c r="{ref}" t="s"><v>{shared(str(value))}</v></c>')
                    if column in ("moa", "addendum") and row[f"{column}_link"]:
                        links.append((ref, row[f"{column}_link"]))
                chunk.append(f'<row r="{number}">{"".join(cells)}</row>')
                if len(chunk) >= 5000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            chunk.append("</sheetData><hyperlinks>")
            chunk += [f'<hyperlink ref="{ref}" r:id="rId{n}"/>' for n, (ref, _) in enumerate(links, start=1)]
            chunk.append("</hyperlinks></worksheet>")
            sheet.write("".join(chunk).encode())
        with archive.open("xl/worksheets/_rels/sheet1.xml.rels", "w", force_zip64=True) as rels:
            rels.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                       b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">')
            for start in range(0, len(links), 5000):
                rels.write("".join(
                    f'<Relationship Id="rId{n}" Type="{_HYPERLINK_TYPE}" Target="{escape(target, _QUOTE)}" '
                    f'TargetMode="External"/>'
                    for n, (_, target) in enumerate(links[start : start + 5000], start=start + 1)).encode())
            rels.write(b"</Relationships>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
            table.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" '
                        b'uniqueCount="%d">' % (len(strings), len(strings)))
            texts = list(strings)
            for start in range(0, len(texts), 5000):
                table.write("".join(f'<si><t xml:space="preserve">{escape(t)}</t></si>'
                                    for t in texts[start : start + 5000]).encode())
            table.write(b"</sst>")
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
    partial.rename(path)


def write_csv(path: Path, header: tuple[str, ...], rows: list[dict]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(("key", *header))
        for row in rows:
            values = [row[c] if c not in ("moa", "addendum") else row[f"{c}_link"] for c in COLUMNS]
            writer.writerow((f"{row['state']}|{row['agency'].lower()}|{row['model']}",
                             *("" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in values)))


def prepare(size: int, seed: int, cache: Path) -> Path:
    """The folder of the size's files, made once: v1/v2 as xlsx and CSV, v2 re-zipped, counts."""
    folder = cache / f"{size}-{seed}"
    if (folder / "expected.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    real = real_distributions()
    first, second, counts = make_versions(size, seed, real)
    write_xlsx(folder / "v1.xlsx", real.header, first)
    write_xlsx(folder / "v2.xlsx", real.header, second)
    write_xlsx(folder / "v2-again.xlsx", real.header, second, level=6)   # new bytes, the same rows
    write_csv(folder / "v1.csv", real.header, first)
    write_csv(folder / "v2.csv", real.header, second)
    (folder / "expected.json").write_text(json.dumps(dict(counts)))
    print(f"  generated {size:,} rows (seed {seed}) in {time.perf_counter() - started:.0f} s: {folder}",
          flush=True)
    return folder


# -- measurements, each in its own child process ------------------------------------------------------

def _memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes (Linux)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            found[line.split(":")[0]] = int(line.split()[1]) * 1024
    return found


def _measured(step) -> dict:
    """Time ``step()`` (elapsed and CPU) and the peak memory it reaches, from a peak reset just
    before it; ``process_peak`` is the peak of the whole process so far, the reset included."""
    earlier_peak = _memory()["VmHWM"]
    with contextlib.suppress(OSError):   # Linux: resets VmHWM to the current VmRSS
        Path("/proc/self/clear_refs").write_text("5")
    before = _memory()["VmRSS"]
    started, cpu = time.perf_counter(), time.process_time()
    result = step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _memory()["VmHWM"]
    return {"seconds": seconds, "cpu": cpu, "peak": peak, "added": max(0, peak - before),
            "process_peak": max(peak, earlier_peak), "result": result}


def _whole(load: dict, step: dict) -> dict:
    """A child's load and step as one: their times added, the process's peak over both."""
    return {"seconds": load["seconds"] + step["seconds"], "cpu": load["cpu"] + step["cpu"],
            "peak": step["process_peak"], "added": 0, "result": step["result"]}


def child(kind: str, folder: Path) -> dict:
    if kind == "read":
        from python_calamine import CalamineWorkbook

        return _measured(lambda: len(CalamineWorkbook.from_path(str(folder / "v2.xlsx"))
                                     .get_sheet_by_index(0).to_python()))
    if kind == "our_read":
        from crawler.workbook import read_workbook

        return _measured(lambda: len(read_workbook(folder / "v2.xlsx", **_read_limits()).rows))
    if kind == "clean":   # the two row sets our diff compares, cleaned once and cached
        from crawler.workbook import read_workbook
        from diff.normalise import normalise_table

        times = {}
        for version in ("v1", "v2"):
            read = _measured(lambda version=version: read_workbook(folder / f"{version}.xlsx", **_read_limits()))
            table = read.pop("result")
            clean = _measured(lambda table=table: normalise_table(table).agreements)
            agreements = clean.pop("result")
            del table
            _rows_pickle(folder, version).write_bytes(pickle.dumps(agreements, pickle.HIGHEST_PROTOCOL))
            times[version] = {"read": read, "clean": clean, "rows": len(agreements)}
        _clean_times(folder).write_text(json.dumps(times))
        return {}
    if kind == "our_diff":
        from diff.identity import IdentityRules
        from diff.rowdiff import REPORTED_FIELDS, diff_lists

        def load() -> tuple[dict, ...]:
            indexes = []
            for version in ("v1", "v2"):
                with _rows_pickle(folder, version).open("rb") as rows:   # streamed, as load_csv reads its file
                    indexes.append({a.key.as_text(): a for a in pickle.load(rows)})
            return tuple(indexes)

        loaded = _measured(load)
        old, new = loaded.pop("result")

        def diff() -> dict:
            changes = diff_lists(old, new, fields=tuple(REPORTED_FIELDS), rules=IdentityRules(dated=True))
            return {"added": len(changes.added), "removed": len(changes.removed), "changed": len(changes.changed),
                    "renamed": len(changes.renamed)}

        step = _measured(diff)
        return {"load": loaded, "diff": step, "whole": _whole(loaded, step)}
    if kind == "csv_diff":
        from csv_diff import compare, load_csv

        def load() -> tuple[dict, dict]:
            with (folder / "v1.csv").open(newline="") as before, (folder / "v2.csv").open(newline="") as after:
                return load_csv(before, key="key"), load_csv(after, key="key")

        loaded = _measured(load)
        old, new = loaded.pop("result")
        step = _measured(lambda: {k: len(v) for k, v in compare(old, new).items()})
        return {"load": loaded, "diff": step, "whole": _whole(loaded, step)}
    if kind == "ingest":
        return _ingest_child(folder)
    raise SystemExit(f"unknown child {kind}")


# The cleaned rows are cached as pickles of diff.records.Agreement: a new name whenever what an
# Agreement holds changes (2: raw texts as RawTexts, the fingerprint made again when read).
ROWS_FORMAT = 2


def _rows_pickle(folder: Path, version: str) -> Path:
    return folder / f"{version}.agreements-{ROWS_FORMAT}.pickle"


def _clean_times(folder: Path) -> Path:
    return folder / f"clean-{ROWS_FORMAT}.json"


def _read_limits() -> dict:
    return {"max_rows": BIG_LIMITS["max_rows"], "max_bytes": BIG_LIMITS["max_file_bytes"],
            "max_uncompressed_bytes": BIG_LIMITS["max_uncompressed_bytes"]}


def _ingest_child(folder: Path) -> dict:
    from crawler.limits import ReadLimits
    from pipeline.ingest import IncomingDocument, IngestOptions, Ingestor
    from storage.database import open_database

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        engine = open_database(f"sqlite:///{Path(scratch) / 'scale.sqlite'}")
        ingestor = Ingestor(engine, IngestOptions(limits=ReadLimits(**BIG_LIMITS)))
        for step, name, day in (("ingest_v1", "v1.xlsx", 1), ("ingest_v2", "v2.xlsx", 2),
                                ("unchanged", "v2-again.xlsx", 3)):
            document = IncomingDocument(
                content=(folder / name).read_bytes(), file_name=f"participatingAgencies{name}",
                declared_list="participating", origin="backfill", as_of=dt.date(2026, 1, day), as_of_basis="bench")
            measured = _measured(lambda document=document: ingestor.ingest(document))
            outcome = measured.pop("result")
            measured["result"] = {"status": outcome.status, **outcome.counts}
            results[step] = measured
            print(json.dumps({step: measured}), flush=True)   # the parent shows each step as it ends
        engine.dispose()
    return results


def run_child(kind: str, folder: Path, floor: float | None = None) -> dict:
    """The child's figures; each step's line is printed as soon as the child reports it."""
    command = [sys.executable, __file__, "--child", kind, str(folder)]
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT, text=True)
        assert process.stdout is not None
        figures: dict = {}
        for line in process.stdout:
            figures = json.loads(line)
            if kind == "ingest" and len(figures) == 1:   # one step just ended (the last line has them all)
                for step, measured in figures.items():
                    print_step(step, measured, floor)
        if process.wait():
            errors.seek(0)
            raise SystemExit(f"{kind} failed:\n{errors.read()[-3000:]}")
    if kind in ("our_diff", "csv_diff"):
        print_step(DIFF_LINES[kind][0], figures["diff"], floor)
        print_step(DIFF_LINES[kind][1], figures["whole"], floor)
    elif kind not in ("ingest", "clean"):
        print_step(kind, figures, floor if floor is not None else figures["seconds"])
    return figures


# Each diff child's two lines: the comparison alone, and the whole child (load, then compare).
DIFF_LINES = {"our_diff": ("our diff", "  +load rows"), "csv_diff": ("csv compare", "  +load CSVs")}


# -- the report ----------------------------------------------------------------------------------------

def mb(value: int) -> str:
    return f"{value / 1e6:,.0f} MB"


def print_step(step: str, f: dict, floor: float | None) -> None:
    ratio = f"{f['seconds'] / floor:>7.1f}×" if floor else f"{'':>8}"
    added = mb(f["added"]) if f["added"] else ""
    print(f"  {step:<13} {f['seconds']:>8.2f}s {f['cpu']:>7.2f}s {ratio} {mb(f['peak']):>10} {added:>10}  "
          f"{f.get('result') or ''}", flush=True)


def print_cleaning(folder: Path) -> None:
    """How our two row sets were made: read and cleaned once, then cached (see ``child``)."""
    times = json.loads(_clean_times(folder).read_text())
    parts = [f"{v} read {t['read']['seconds']:.1f} s ({t['read']['cpu']:.1f} s CPU) + clean "
             f"{t['clean']['seconds']:.1f} s ({t['clean']['cpu']:.1f} s CPU)" for v, t in times.items()]
    print(f"  our row sets, made once and cached: {'; '.join(parts)}; the cleaning builds each agreement "
          f"with its fingerprint, and loading them back (+load rows) makes the fingerprints again", flush=True)


def report(figures: dict) -> None:
    ours, theirs = figures["our_diff"], figures["csv_diff"]
    print(f"  csv-diff (load+compare) / our diff: {theirs['whole']['seconds'] / ours['diff']['seconds']:.1f}× the "
          f"time ({theirs['whole']['cpu'] / ours['diff']['cpu']:.1f}× CPU); compare alone / diff alone: "
          f"{theirs['diff']['cpu'] / ours['diff']['cpu']:.1f}× CPU; load+compare / load+diff: "
          f"{theirs['whole']['cpu'] / ours['whole']['cpu']:.1f}× CPU")
    print(f"  peak RSS of the whole child, csv-diff / ours: {theirs['whole']['peak'] / ours['whole']['peak']:.2f}× "
          f"({mb(theirs['whole']['peak'])} / {mb(ours['whole']['peak'])})")
    if "unchanged" in figures:
        floor = figures["read"]["seconds"]
        print(f"  unchanged ingest / read: {figures['unchanged']['seconds'] / floor:.2f}×;  "
              f"ingest v2 / read: {figures['ingest_v2']['seconds'] / floor:.2f}×")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--seed", type=int, default=287)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "tracker287g-bench-scale")
    parser.add_argument("--diff-only", action="store_true",
                        help="only the calamine read (the floor), our diff and csv-diff; no ingest")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    print(f"bench/scale.py on {os.cpu_count()} cores, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
          f"sizes {', '.join(f'{s:,}' for s in args.sizes)}; cache {args.cache}; load average {load_average()}",
          flush=True)
    for size in args.sizes:
        folder = prepare(size, args.seed, args.cache)
        if not _rows_pickle(folder, "v2").exists():
            run_child("clean", folder)
        expected = json.loads((folder / "expected.json").read_text())
        print(f"\n{size:,} rows; the second version: {expected['added']:,} added, {expected['removed']:,} removed, "
              f"{expected['changed']:,} changed, {expected['renamed']:,} renamed")
        print_cleaning(folder)
        print(f"  {'step':<13} {'time':>9} {'CPU':>8} {'× read':>8} {'peak RSS':>10} {'added':>10}  result")
        figures = {"read": run_child("read", folder)}
        floor = figures["read"]["seconds"]
        kinds = ("our_diff", "csv_diff") if args.diff_only else ("our_read", "our_diff", "csv_diff")
        figures.update({kind: run_child(kind, folder, floor) for kind in kinds})
        if not args.diff_only:
            figures.update(run_child("ingest", folder, floor))
        report(figures)
        print(f"  load average {load_average()}", flush=True)


if __name__ == "__main__":
    main()
