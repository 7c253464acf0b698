"""Run one crawl in a child process, and read its results back in the parent.

A Twisted reactor cannot be restarted within one process, and the service crawls many times,
so every crawl is a fresh ``python -m crawler.run`` process::

    python -m crawler.run --spider ice_287g --page-url URL --out DIR \\
        [--validators FILE.json] [--contact TEXT] [--setting KEY=VALUE ...]

The child writes into DIR:

* ``<sha256>``: each downloaded body, in a file named by the hex SHA-256 of its bytes;
* ``items.jsonl``: one JSON object per item, ``{"type": "WorkbookDownload" | "HtmlListTable" |
  "FetchFailure" | "NewsPage" | "NewsArticle", <every field>}``; datetimes are ISO 8601 with offset;
  a download's ``body`` is
  the name of its file in DIR (None for a 304); ``table`` is a SourceTable as JSON (see
  ``_table_to_json``);
* ``stats.json``: Scrapy's crawl stats (finish_reason, counts), for diagnosis;
* ``crawl.log``: the child's stdout and stderr (written by ``run_crawl``).

Every file is written to a temporary name and renamed, and ``items.jsonl`` is written last, so
the parent may read it once the child has exited 0.  ``run_crawl()`` is the parent's side.

``--setting`` values are JSON when they parse as JSON (``RETRY_TIMES=0``,
``RETRY_HTTP_CODES=[500]``), else plain text (``LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crawler.items import CrawlItem, FetchFailure, HtmlListTable, NewsArticle, NewsPage, WorkbookDownload
from diff.records import RawRow, RawValue, SourceTable

logger = logging.getLogger(__name__)

ITEMS_FILE = "items.jsonl"
STATS_FILE = "stats.json"
LOG_FILE = "crawl.log"
VALIDATORS_FILE = "validators.json"
CONTACT_ENV = "TRACKER287G_CONTACT"
STDERR_TAIL_CHARS = 4000
_PROJECT_ROOT = Path(__file__).resolve().parents[1]


class CrawlError(RuntimeError):
    """The crawl process itself failed: crashed, timed out, or left no readable results."""

    def __init__(self, message: str, *, exit_code: int | None, stderr_tail: str, timed_out: bool = False):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out

    def __str__(self) -> str:
        tail = self.stderr_tail.strip().splitlines()[-5:]
        return super().__str__() + ("\n  " + "\n  ".join(tail) if tail else "")


@dataclasses.dataclass(frozen=True)
class CrawlResult:
    items: tuple[CrawlItem, ...]
    exit_code: int
    stderr_tail: str
    stats: Mapping[str, Any]
    out_dir: Path

    @property
    def downloads(self) -> list[WorkbookDownload]:
        return [item for item in self.items if isinstance(item, WorkbookDownload)]

    @property
    def tables(self) -> list[HtmlListTable]:
        return [item for item in self.items if isinstance(item, HtmlListTable)]

    @property
    def failures(self) -> list[FetchFailure]:
        return [item for item in self.items if isinstance(item, FetchFailure)]


# -- parent side ----------------------------------------------------------------------------


def run_crawl(
    page_url: str,
    out_dir: Path,
    *,
    validators: Mapping[str, Mapping[str, str | None]] | None = None,
    contact: str,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 600,
    spider: str = "ice_287g",
    stop: threading.Event | None = None,
) -> CrawlResult:
    """Crawl ``page_url`` in a child process and return its items.

    ``validators`` maps a workbook URL to ``{"etag": ..., "last_modified": ...}`` from an
    earlier download, for conditional requests.  ``settings`` override crawler_settings().
    Raises CrawlError when the child fails, or is killed after ``timeout`` seconds or as soon
    as ``stop`` is set (the service is shutting down).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ITEMS_FILE).unlink(missing_ok=True)  # never read a previous run's results
    command = [
        sys.executable, "-m", "crawler.run",
        "--spider", spider,
        "--page-url", page_url,
        "--out", str(out_dir),
        "--contact", contact,
    ]
    if validators:
        _write_atomically(out_dir / VALIDATORS_FILE, json.dumps(validators, indent=1).encode())
        command += ["--validators", str(out_dir / VALIDATORS_FILE)]
    for key, value in (settings or {}).items():
        command += ["--setting", f"{key}={json.dumps(value)}"]

    log_path = out_dir / LOG_FILE
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=_child_env()
        )
        try:
            exit_code = _wait(process, timeout, stop)
        except BaseException as interrupted:  # timeout, or the parent is being stopped
            _stop(process)
            if isinstance(interrupted, _Stopped):
                raise CrawlError(f"crawl of {page_url} stopped: the service is shutting down",
                                 exit_code=process.returncode, stderr_tail=_tail(log_path)) from None
            if not isinstance(interrupted, subprocess.TimeoutExpired):
                raise
            raise CrawlError(
                f"crawl of {page_url} timed out after {timeout:g} s and was killed",
                exit_code=process.returncode, stderr_tail=_tail(log_path), timed_out=True,
            ) from None
    stderr_tail = _tail(log_path)
    if exit_code != 0:
        raise CrawlError(
            f"crawl of {page_url} failed: exit code {exit_code}", exit_code=exit_code, stderr_tail=stderr_tail
        )
    try:
        items = read_items(out_dir)
        stats = json.loads((out_dir / STATS_FILE).read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CrawlError(
            f"crawl of {page_url} left no readable results: {exc}", exit_code=exit_code, stderr_tail=stderr_tail
        ) from exc
    return CrawlResult(tuple(items), exit_code, stderr_tail, stats, out_dir)


def read_items(out_dir: Path) -> list[CrawlItem]:
    """The items of a finished crawl, bodies read back and checked against their SHA-256."""
    lines = (Path(out_dir) / ITEMS_FILE).read_text("utf-8").splitlines()
    return [item_from_json(json.loads(line), Path(out_dir)) for line in lines if line.strip()]


def _child_env() -> dict[str, str]:
    # The child must import this very checkout, not whatever copy is installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


class _Stopped(Exception):
    pass


def _wait(process: subprocess.Popen, timeout: float, stop: threading.Event | None) -> int:
    """The child's exit code; TimeoutExpired after ``timeout``; _Stopped once ``stop`` is set."""
    if stop is None:
        return process.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return process.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if stop.is_set():
                raise _Stopped() from None
            if time.monotonic() >= deadline:
                raise


def _stop(process: subprocess.Popen) -> None:
    # No graceful stop: Scrapy would wait for the very download that hangs, and the results
    # of a crawl that ran out of time are discarded anyway.
    process.kill()
    process.wait()


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - STDERR_TAIL_CHARS))
            return file.read().decode("utf-8", "replace")
    except OSError:
        return ""


# -- items <-> JSON -------------------------------------------------------------------------


def item_to_json(item: CrawlItem, body_file: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(item).__name__}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if field.name == "body":
            value = body_file
        elif field.name == "table":
            value = _table_to_json(value)
        elif isinstance(value, dt.datetime):
            value = value.isoformat()
        data[field.name] = value
    return data


def item_from_json(data: Mapping[str, Any], out_dir: Path) -> CrawlItem:
    fields = {key: value for key, value in data.items() if key != "type"}
    fields["fetched_at"] = dt.datetime.fromisoformat(fields["fetched_at"])
    kind = data["type"]
    if kind == "WorkbookDownload":
        body_file = fields["body"]
        fields["body"] = None if body_file is None else _read_body(out_dir, body_file, fields["sha256"])
        return WorkbookDownload(**fields)
    if kind == "HtmlListTable":
        fields["table"] = _table_from_json(fields["table"])
        return HtmlListTable(**fields)
    if kind == "FetchFailure":
        return FetchFailure(**fields)
    if kind == "NewsPage":
        return NewsPage(**fields)
    if kind == "NewsArticle":
        published = fields["published"]
        fields["published"] = None if published is None else dt.datetime.fromisoformat(published)
        return NewsArticle(**fields)
    raise ValueError(f"unknown item type {kind!r}")


def _read_body(out_dir: Path, name: str, sha256: str | None) -> bytes:
    if Path(name).name != name:
        raise ValueError(f"body file name is not a plain name: {name!r}")
    body = (out_dir / name).read_bytes()
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ValueError(f"body file {name} does not match its sha256")
    return body


def _table_to_json(table: SourceTable) -> dict[str, Any]:
    return {
        "sheet_name": table.sheet_name,
        "header": list(table.header),
        "columns": list(table.columns),
        "rows": [
            {
                "row_number": row.row_number,
                "cells": {key: _value_to_json(value) for key, value in row.cells.items()},
                "links": dict(row.links),
                "extra": {key: _value_to_json(value) for key, value in row.extra.items()},
            }
            for row in table.rows
        ],
        "sheet_names": list(table.sheet_names),
        "header_row": table.header_row,
        "skipped_blank_rows": table.skipped_blank_rows,
    }


def _table_from_json(data: Mapping[str, Any]) -> SourceTable:
    return SourceTable(
        sheet_name=data["sheet_name"],
        header=tuple(data["header"]),
        columns=tuple(data["columns"]),
        rows=tuple(
            RawRow(
                row_number=row["row_number"],
                cells={key: _value_from_json(value) for key, value in row["cells"].items()},
                links=dict(row["links"]),
                extra={key: _value_from_json(value) for key, value in row["extra"].items()},
            )
            for row in data["rows"]
        ),
        sheet_names=tuple(data["sheet_names"]),
        header_row=data["header_row"],
        skipped_blank_rows=data["skipped_blank_rows"],
    )


def _value_to_json(value: RawValue) -> Any:
    # Dates are tagged so that they do not come back as the text of a date.
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _value_from_json(value: Any) -> RawValue:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        return dt.date.fromisoformat(value["date"])
    return value


# -- child side -----------------------------------------------------------------------------


class _Collector:
    """Keeps every scraped item, and turns exceptions raised in callbacks into failures."""

    def __init__(self, page_url: str):
        self.page_url = page_url
        self.items: list[CrawlItem] = []

    def item_scraped(self, item: Any) -> None:
        self.items.append(item)

    def spider_error(self, failure: Any, response: Any) -> None:
        request = getattr(response, "request", None)
        stage = request.meta.get("stage", "page") if request is not None else "page"
        self.items.append(
            FetchFailure(
                url=response.url,
                source_page=self.page_url,
                stage=stage,
                http_status=response.status,
                error=f"parse error: {type(failure.value).__name__}: {failure.value}"[:300],
                fetched_at=dt.datetime.now(dt.UTC),
            )
        )


def write_results(out_dir: Path, items: Sequence[CrawlItem], stats: Mapping[str, Any]) -> None:
    """Bodies first, then stats, then items.jsonl: its presence means the rest is there."""
    lines = []
    for item in items:
        body_file = None
        if isinstance(item, WorkbookDownload) and item.body is not None:
            body_file = item.sha256 or hashlib.sha256(item.body).hexdigest()
            if not (out_dir / body_file).exists():
                _write_atomically(out_dir / body_file, item.body)
        lines.append(json.dumps(item_to_json(item, body_file), ensure_ascii=False))
    _write_atomically(out_dir / STATS_FILE, json.dumps(stats, default=str, indent=1).encode())
    _write_atomically(out_dir / ITEMS_FILE, "".join(line + "\n" for line in lines).encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; these are plain public records
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _setting_value(text: str) -> tuple[str, Any]:
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        return key.strip(), raw


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m crawler.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spider", default="ice_287g")
    parser.add_argument("--page-url", required=True)
    parser.add_argument("--out", required=True, type=Path, help="directory for items.jsonl and bodies")
    parser.add_argument("--validators", type=Path, help="JSON file: url -> {etag, last_modified}")
    parser.add_argument("--contact", default=os.environ.get(CONTACT_ENV),
                        help=f"URL or e-mail for the User-Agent (default: ${CONTACT_ENV})")
    parser.add_argument("--setting", action="append", default=[], type=_setting_value, metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if not args.contact:
        parser.error(f"--contact (or ${CONTACT_ENV}) is required: the User-Agent must say who is asking")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    # Imported here: the parent side of this module must not pull in Scrapy and Twisted.
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawler.settings import crawler_settings

    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ITEMS_FILE).unlink(missing_ok=True)
    validators = json.loads(args.validators.read_text("utf-8")) if args.validators else {}

    process = CrawlerProcess(crawler_settings(args.contact, **dict(args.setting)))
    crawler = process.create_crawler(args.spider)
    collector = _Collector(args.page_url)
    crawler.signals.connect(collector.item_scraped, signal=signals.item_scraped)
    crawler.signals.connect(collector.spider_error, signal=signals.spider_error)
    process.crawl(crawler, page_url=args.page_url, validators=validators)
    process.start()

    stats = crawler.stats.get_stats() if crawler.stats else {}
    write_results(out_dir, collector.items, stats)
    logger.info("Wrote %d items to %s", len(collector.items), out_dir / ITEMS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
