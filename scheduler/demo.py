"""``tracker287g demo``: the whole pipeline, offline, on real ICE workbooks.

A publisher on 127.0.0.1 plays ICE's 287(g) page through a sequence of real publications
(including the swapped files of 2025-09-22 and an empty pending list); the real spider crawls
it after each step, in a child process, and the diff stage builds the change log.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import shutil
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session

from pipeline.crawl import crawl_and_ingest
from pipeline.ingest import Ingestor
from scheduler.output import print_table
from storage.database import open_database
from storage.events import EventRepository
from storage.lists import ListRepository

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKBOOKS = PROJECT_ROOT / "tests" / "fixtures" / "ice-287g"
PAGE_PATH = "/identify-and-arrest/287g"
DOCLIB = "/doclib/about/offices/ero/287g/"
# Loopback needs no politeness delay; everything else stays as in production.
DEMO_CRAWL_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}


@dataclass(frozen=True)
class Step:
    title: str
    participating: str
    pending: str
    via_file_download: bool = False   # link /file-download/download/public/<id> (name in Content-Disposition)


STEPS = (
    Step("ICE publishes its lists of 2025-05-28", "participatingAgencies05282025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("A new participating list the next morning", "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("Nothing new (conditional requests answer 304)", "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("The lists of 2025-09-22, morning", "participatingAgencies09222025am.xlsx", "pendingAgencies09222025am.xlsx"),
    Step("The afternoon files, which ICE swapped", "participatingAgencies09222025pm.xlsx", "pendingAgencies09222025pm.xlsx"),
    Step("An empty pending list (header only)", "participatingAgencies12312025am.xlsx", "pendingAgencies11142025pm.xlsx"),
    Step("Links in the newer /file-download/ form", "participatingAgencies01262026pm.xlsx",
         "pendingAgencies01262026pm.xlsx", via_file_download=True),
    Step("A week later", "participatingAgencies02022026am.xlsx", "pendingAgencies01262026pm.xlsx",
         via_file_download=True),
)


class Publisher:
    """A tiny stand-in for www.ice.gov on 127.0.0.1: the 287(g) page and the files it links."""

    def __init__(self, workbooks: Path) -> None:
        self.workbooks = workbooks
        self.step: Step | None = None
        self._started = time.time()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{PAGE_PATH}"

    def __enter__(self) -> "Publisher":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _file(self, name: str) -> Path:
        for folder in ("participating", "pending"):
            if (self.workbooks / folder / name).exists():
                return self.workbooks / folder / name
        raise FileNotFoundError(name)

    def _link(self, name: str) -> str:
        if self.step and self.step.via_file_download:
            return f"/file-download/download/public/{int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)}"
        return DOCLIB + name

    def page(self) -> bytes:
        step = self.step
        items = "".join(
            f'<li><a href="{html.escape(self._link(name))}">{label}</a></li>'
            for label, name in (("Participating Agencies", step.participating), ("Pending Agencies", step.pending))
        )
        return (f"<html><head><title>287(g)</title></head><body><main><h1>Delegation of Immigration Authority "
                f"Section 287(g)</h1><h2>Participating and pending agencies</h2><ul>{items}</ul></main>"
                f"</body></html>").encode()

    def resolve(self, path: str) -> tuple[Path, str] | None:
        for name in (self.step.participating, self.step.pending):
            if path == self._link(name):
                return self._file(name), name
        return None

    def _handler(self):
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the demo prints its own summary
                pass

            def do_GET(self) -> None:
                if self.path == "/robots.txt":
                    return self._send(200, b"User-agent: *\nDisallow: /admin/\n", "text/plain")
                if self.path == PAGE_PATH:
                    return self._send(200, publisher.page(), "text/html; charset=utf-8")
                found = publisher.resolve(self.path)
                if found is None:
                    return self._send(404, b"not found", "text/plain")
                path, name = found
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(publisher._started, usegmt=True)}
                if publisher.step.via_file_download:
                    headers["Content-Disposition"] = f'attachment; filename="{name}"'
                return self._send(200, body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                  headers)

            def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


def run_demo(console: Console, *, db: str | None = None, workbooks: Path | None = None) -> str:
    """Run the demo; returns the database URL it wrote to."""
    workbooks = workbooks or DEFAULT_WORKBOOKS
    if not (workbooks / "participating").is_dir():
        raise FileNotFoundError(f"no workbooks in {workbooks} (expected participating/ and pending/ folders)")
    if db is None:
        folder = Path.cwd() / "tracker287g-demo"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        db = f"sqlite:///{folder / 'demo.sqlite'}"
    engine = open_database(db)
    ingestor = Ingestor(engine)
    with Publisher(workbooks) as publisher:
        console.print(f"Publishing real ICE workbooks at {publisher.page_url}", highlight=False)
        for number, step in enumerate(STEPS, start=1):
            publisher.step = step
            report = crawl_and_ingest(engine, publisher.page_url, contact="offline-demo@127.0.0.1",
                                      settings=DEMO_CRAWL_SETTINGS, ingestor=ingestor)
            console.print(f"\n[bold]Step {number}: {step.title}[/bold]")
            for line in report.lines:
                name = line.file_name or line.url.rsplit("/", 1)[-1]
                counts = line.counts
                if "added" in counts:
                    detail = (f" — {counts['added']} added, {counts['removed']} removed, "
                              f"{counts['changed']} field changes, {counts['renamed']} proposed renames")
                else:
                    detail = f" — first {line.list_name} list: {counts['agreements']} agreements" if counts else ""
                detail += f" — {line.detail}" if line.detail else ""
                console.print(f"  {name}: {line.list_name or '?'} {line.outcome}{detail}", highlight=False,
                              markup=False)
            if report.crawl_error:
                console.print(f"  crawl error: {report.crawl_error}", markup=False)
    _summarise(console, engine, db)
    engine.dispose()
    return db


def _summarise(console: Console, engine, db: str) -> None:
    with Session(engine) as session:
        snapshots = ListRepository(session).snapshots()
        events = EventRepository(session).events()
    console.print()
    print_table(console, "Snapshots", ("id", "list", "file", "as of", "status", "agreements", "states"), [
        {"id": s.id, "list": s.list_name, "file": s.file_name, "as of": s.as_of, "status": s.status,
         "agreements": s.agreements, "states": s.states} for s in snapshots
    ])
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    print_table(console, "Change log by kind", ("kind", "events"),
                [{"kind": k, "events": n} for k, n in sorted(kinds.items())])
    shown = [e for e in events if e.kind != "agreement.added"][:12] + [e for e in events if e.kind == "agreement.added"][:5]
    print_table(console, "Some entries", ("date", "kind", "summary"),
                [{"date": e.occurred_on, "kind": e.kind, "summary": e.summary} for e in shown])
    console.print(f"\nExplore it: tracker287g --db {db} changes --kind agreement.changed\n"
                  f"            tracker287g --db {db} baseline", highlight=False, markup=False)
