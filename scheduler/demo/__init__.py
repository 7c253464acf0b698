"""``tracker287g demo``: the whole pipeline, offline, on real ICE workbooks.

A publisher on 127.0.0.1 plays ICE's 287(g) page through a sequence of real publications
(including the swapped files of 2025-09-22 and an empty pending list); the real spider crawls
it after each step, in a child process, and the diff stage builds the change log.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import importlib.resources
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipeline.crawl import crawl_and_ingest
from pipeline.ingest import Ingestor
from publish.render import print_table
from scheduler.demo.loopback import LoopbackServer, Reply
from storage.database import open_database
from storage.events import EventRepository
from storage.lists import ListRepository

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
    Step("ICE publishes its lists of 2025-05-28",
         "participatingAgencies05282025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("A new participating list the next morning",
         "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("Nothing new (conditional requests answer 304)",
         "participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx"),
    Step("The lists of 2025-09-22, morning",
         "participatingAgencies09222025am.xlsx", "pendingAgencies09222025am.xlsx"),
    Step("The afternoon files, which ICE swapped",
         "participatingAgencies09222025pm.xlsx", "pendingAgencies09222025pm.xlsx"),
    Step("An empty pending list (header only)",
         "participatingAgencies12312025am.xlsx", "pendingAgencies11142025pm.xlsx"),
    Step("Links in the newer /file-download/ form", "participatingAgencies01262026pm.xlsx",
         "pendingAgencies01262026pm.xlsx", via_file_download=True),
    Step("A week later", "participatingAgencies02022026am.xlsx", "pendingAgencies01262026pm.xlsx",
         via_file_download=True),
)


def packaged_workbooks() -> Path:
    """The real workbooks packaged with tracker287g for the demo (scheduler/demo/workbooks)."""
    return Path(str(importlib.resources.files("scheduler.demo") / "workbooks"))


class Publisher:
    """A stand-in for www.ice.gov on 127.0.0.1: the 287(g) page of the current step and the
    files it links, served by the loopback server (with ETags, so an unchanged file is a 304)."""

    def __init__(self, workbooks: Path) -> None:
        self.workbooks = workbooks
        self.server = LoopbackServer()
        self._published_at = email.utils.formatdate(time.time(), usegmt=True)

    @property
    def page_url(self) -> str:
        return self.server.url(PAGE_PATH)

    def __enter__(self) -> Publisher:
        self.server.start()
        self.server.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def publish(self, step: Step) -> None:
        """Make ``step`` what the page shows: its two files, and the page linking them."""
        self.server.routes.clear()
        self.server.route("/robots.txt", Reply.robots("User-agent: *\nDisallow: /admin/\n"))
        links = []
        for label, name in (("Participating Agencies", step.participating), ("Pending Agencies", step.pending)):
            path = self._link(step, name)
            links.append(f'<li><a href="{html.escape(path)}">{label}</a></li>')
            self.server.route(path, Reply.file(self._file(name), last_modified=self._published_at,
                                               content_disposition=name if step.via_file_download else None))
        self.server.route(PAGE_PATH, Reply.html(
            f"<html><head><title>287(g)</title></head><body><main><h1>Delegation of Immigration Authority "
            f"Section 287(g)</h1><h2>Participating and pending agencies</h2><ul>{''.join(links)}</ul></main>"
            f"</body></html>"))

    def _file(self, name: str) -> Path:
        for folder in ("participating", "pending"):
            if (self.workbooks / folder / name).exists():
                return self.workbooks / folder / name
        raise FileNotFoundError(name)

    @staticmethod
    def _link(step: Step, name: str) -> str:
        if step.via_file_download:
            return f"/file-download/download/public/{int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)}"
        return DOCLIB + name


def run_demo(console: Console, *, db: str | None = None, workbooks: Path | None = None) -> str:
    """Run the demo; returns the database URL it wrote to."""
    workbooks = workbooks or packaged_workbooks()
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
            publisher.publish(step)
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


def _summarise(console: Console, engine: Engine, db: str) -> None:
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
    added = [e for e in events if e.kind == "agreement.added"]
    shown = [e for e in events if e.kind != "agreement.added"][:12] + added[:5]
    print_table(console, "Some entries", ("date", "kind", "summary"),
                [{"date": e.occurred_on, "kind": e.kind, "summary": e.summary} for e in shown])
    console.print(f"\nExplore it: tracker287g --db {db} changes --kind agreement.changed\n"
                  f"            tracker287g --db {db} baseline", highlight=False, markup=False)
