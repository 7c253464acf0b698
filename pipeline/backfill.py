"""Import archived workbooks in date order.

A file whose date cannot be decided (``crawler.list_dates``) or which cannot be read is
reported and left out; the others are imported all the same.  A database fault (disk full,
locked too long, connection lost) stops the import instead: the files after it are reported as
not imported, so that running the backfill again imports them in order.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from crawler.filenames import ListFileName, parse_list_file_name
from crawler.list_dates import decide_list_date
from diff.guards import Anomaly
from pipeline.ingest import IncomingDocument, Ingestor, IngestOutcome, rules_marker
from pipeline.reading import ReadAhead, ReadDocument, Source
from storage.faults import DATABASE_FAULTS, describe_fault

log = logging.getLogger(__name__)

SUFFIXES = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}
MAX_FILE_BYTES = 50_000_000


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    name: ListFileName
    as_of: dt.date | None                    # None: no date could be decided, not imported
    as_of_basis: str
    dates_not_believed: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackfillResult:
    planned: PlannedFile
    outcome: IngestOutcome | None
    error: str | None = None
    skipped: str | None = None               # why the file is not a list file: nothing was stored


class NotAListFile(Exception):
    """A file that is no workbook or saved page at all (a device, a FIFO, junk): not stored."""


_ZIP_SIGNATURE = b"PK\x03\x04"               # every xlsx is a zip package
_HTML_TABLE = re.compile(rb"<table", re.IGNORECASE)


def read_list_file(path: Path, media: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes that can hold a list.

    Raises NotAListFile for anything else: a device (``/dev/zero`` never ends) or a FIFO (it
    blocks) is refused before it is opened for reading, a file growing past the limit while it
    is read is cut off, and bytes that cannot be a workbook or a page with a table are refused.
    Raises OSError when the file cannot be read."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then tells what it is.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotAListFile("not a regular file (a device, FIFO or socket)")
        # Asking for limit + 1 bytes at once would allocate that much for every small file.
        size = os.fstat(handle.fileno()).st_size
        content = handle.read(min(size, limit) + 1)
        if size < len(content) <= limit:                  # it grew while being read
            content += handle.read(limit + 1 - len(content))
    if len(content) > limit:
        raise NotAListFile(f"over the {limit}-byte limit")
    if media == "xlsx" and not content.startswith(_ZIP_SIGNATURE):
        raise NotAListFile("not an xlsx workbook (no zip signature)")
    if media == "html" and not _HTML_TABLE.search(content):
        raise NotAListFile("not a saved page with a table")
    return content


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Workbooks (and saved HTML pages) named directly or found below the given folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [Path(name) for name in sorted(_list_files_below(path), key=lambda name: name.split(os.sep))]
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def _list_files_below(folder: Path) -> Iterable[str]:
    # os.walk, not Path.rglob: a folder of 10,000 files is listed in a fraction of the time (the
    # caller sorts by path components, the order sorted Paths had).
    for directory, _folders, files in os.walk(folder):
        for name in files:
            if os.path.splitext(name)[1].lower() in SUFFIXES:
                full = os.path.join(directory, name)
                if os.path.isfile(full):
                    yield full


def plan_backfill(paths: Iterable[Path], *, as_of: dt.date | None = None,
                  now: dt.datetime | None = None) -> list[PlannedFile]:
    """Files in the order they were published: by date (``crawler.list_dates``: the name, else
    ``as_of``, else the workbook's metadata), then by the half and edition of the day.  Files
    without a date come first, with ``as_of`` None and the reason as their basis."""
    plan = []
    for path in collect_files(paths):
        name = parse_list_file_name(path.name, today=(now or dt.datetime.now(dt.UTC)).date())
        content = None
        if name.as_of is None and as_of is None:
            content = _read_for_metadata(path)
        decided = decide_list_date(name, content, given=as_of, now=now)
        basis = decided.basis
        if decided.as_of is None and name.note:
            basis += f"; {name.note}"
        plan.append(PlannedFile(path, name, decided.as_of, basis, decided.not_believed))
    return sorted(plan, key=lambda p: (p.as_of is not None, p.as_of or dt.date.min, p.name.sort_key))


def _read_for_metadata(path: Path) -> bytes | None:
    try:
        return read_list_file(path, "xlsx")
    except (OSError, NotAListFile):
        return None


def run_backfill(engine: Engine, plan: Sequence[PlannedFile], *, progress_console: Console | None = None,
                 ingestor: Ingestor | None = None, read_ahead: bool = True) -> list[BackfillResult]:
    """Ingest the planned files in order.  ``read_ahead``: read the next workbooks in a child
    process meanwhile (pipeline.reading); the history is the same either way."""
    ingestor = ingestor or Ingestor(engine)
    results: list[BackfillResult] = []
    # The objects alive now (modules, mappers) live as long as the process: keep the cyclic
    # collector from walking them again and again while rows are created (~10% of a backfill).
    gc.freeze()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_console, transient=True,
                  disable=progress_console is None) as progress, \
            ReadAhead(len(plan) if read_ahead else 0, lambda index: _source(plan[index]),
                      caps=ingestor.options.limits.reader_caps(), raw_rules=rules_marker()) as ahead:
        task = progress.add_task("importing", total=len(plan))
        stopped: str | None = None
        for index, planned in enumerate(plan):
            progress.update(task, description=planned.path.name)
            if stopped is not None:
                results.append(BackfillResult(planned, None, stopped))
            else:
                try:
                    results.append(_ingest_file(ingestor, planned, ahead.get(index)))
                except DATABASE_FAULTS as error:
                    # Going on would import later files before this one, and this one would then
                    # be out of order for good: stop, and let a rerun import the rest in order.
                    reason = f"the database failed: {describe_fault(error)}"
                    log.error("backfill stopped at %s: %s", planned.path.name, reason)
                    results.append(BackfillResult(planned, None, f"{reason}; not imported"))
                    stopped = (f"not imported: the backfill stopped at {planned.path.name} ({reason}); "
                               "run it again to import the rest in order")
            progress.advance(task)
    _warn_skipped(results)
    return results


def _warn_skipped(results: Sequence[BackfillResult]) -> None:
    """One line for the files that were no list files, however many (a folder of junk)."""
    reasons: dict[str, int] = {}
    for result in results:
        if result.skipped:
            reasons[result.skipped] = reasons.get(result.skipped, 0) + 1
    if reasons:
        count = sum(reasons.values())
        log.warning("skipped %d file%s that hold no list (nothing of them stored): %s", count,
                    "" if count == 1 else "s", "; ".join(f"{n} {why}" for why, n in reasons.items()))


def _source(planned: PlannedFile) -> Source | None:
    """The file's bytes for the read-ahead (pipeline.reading); None for a file not imported or
    not readable (the ingest says why)."""
    if planned.as_of is None:
        return None
    media = SUFFIXES.get(planned.path.suffix.lower(), "xlsx")
    try:
        return read_list_file(planned.path, media), media, None
    except (OSError, NotAListFile):
        return None


def _ingest_file(ingestor: Ingestor, planned: PlannedFile, ahead: ReadDocument | None = None) -> BackfillResult:
    if planned.as_of is None:
        return BackfillResult(planned, None, f"not imported: {planned.as_of_basis}; give its date with --as-of")
    media = SUFFIXES.get(planned.path.suffix.lower(), "xlsx")
    try:
        content = read_list_file(planned.path, media, ingestor.options.limits.max_file_bytes)
    except NotAListFile as why:
        log.info("skipped %s: %s", planned.path, why)   # run_backfill warns once for all of them
        return BackfillResult(planned, None, skipped=str(why))
    except OSError as error:
        return BackfillResult(planned, None, f"cannot read the file: {error.strerror or error}")
    try:
        document = IncomingDocument(
            content=content,
            file_name=planned.path.name,
            declared_list=planned.name.declared_list,
            origin="backfill",
            as_of=planned.as_of,
            as_of_basis=planned.as_of_basis,
            media=media,
            notes=tuple(Anomaly("date_not_believed", why, blocking=False) for why in planned.dates_not_believed),
            read_ahead=ahead,
        )
        return BackfillResult(planned, ingestor.ingest(document))
    except DATABASE_FAULTS:
        raise                      # the database, not the file: run_backfill stops here
    except SQLAlchemyError as error:  # the database refused this document: one line, not its SQL
        reason = f"the database refused the document: {describe_fault(error)}"
        log.error("ingesting %s failed: %s", planned.path, reason)
        return BackfillResult(planned, None, reason)
    except Exception as error:  # one bad file must not stop the others; the trace goes to the log
        log.exception("ingesting %s failed", planned.path)
        return BackfillResult(planned, None, f"{type(error).__name__}: {error}")
