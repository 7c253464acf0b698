"""The lists' history: backfill and crawl bring documents in; snapshots, changes and metrics
show what they became."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
from rich.markup import escape

from crawler.sources import ICE_287G_PAGE_URL, LIST_SOURCE_KIND
from publish.changes import CHANGE_FIELDS, ChangeFilter, latest_change_rows
from publish.evidence import evidence_text
from publish.render import print_table, render_json, render_markdown, visible, write_csv, write_json
from publish.snapshots import metrics_items, snapshot_rows
from scheduler.cli.app import App, pass_app
from scheduler.cli.options import (
    DATE,
    FORMATS_ALL,
    LISTS,
    change_filter_options,
    check_filter,
    contact_option,
    format_option,
    require_contact,
)

if TYPE_CHECKING:
    from pipeline.backfill import BackfillResult
    from pipeline.crawl import CrawlReport

# The rows a `changes` table shows unless --limit says otherwise: a terminal table is read, not
# searched (JSON and CSV, for programs, hold every change).
TABLE_LIMIT = 100


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as-of", type=DATE, help="Date for files whose name carries none (YYYY-MM-DD); "
              "without it, the workbook's own metadata date is used.")
@format_option()
@pass_app
def backfill(app: App, paths: tuple[Path, ...], as_of: dt.date | None, fmt: str) -> None:
    """Import archived workbooks (files or folders), oldest first.

    The date of each file comes from its name (ICE's typos are handled), else from --as-of,
    else from the workbook's metadata (docProps/core.xml); the basis is recorded.  A file that
    cannot be dated or read is reported and the others are imported (exit status 1).  Files
    already imported are skipped, so running the same backfill twice changes nothing.  Anything
    that is not a workbook or a saved page with a table (a device, a FIFO, junk bytes) is
    reported as skipped and not stored (exit status 1).
    """
    from pipeline.backfill import plan_backfill, run_backfill  # the pipeline only for commands that ingest

    plan = plan_backfill(paths, as_of=as_of)
    results = run_backfill(app.engine(), plan, progress_console=app.err, ingestor=app.ingestor())
    _print_backfill(app, results, fmt)
    if any(r.error or r.skipped for r in results):
        raise SystemExit(1)


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option()
@pass_app
def rebuild(app: App, yes: bool, fmt: str) -> None:
    """Replay every stored document, oldest first, into a fresh change log with today's rules.

    Snapshots, agreements and the lists' events are recomputed; review decisions and sent
    notifications move to the events that replace theirs; news, runs and fetches stay. One
    transaction: a failure changes nothing. Stop the service first (see the README,
    "Upgrading a running database").
    """
    from pipeline.rebuild import rebuild as rebuild_history  # the pipeline only for commands that ingest

    if not yes:
        click.confirm("Rebuild the lists' history from the stored documents?", abort=True, err=True)
    ingestor = app.ingestor()
    result = rebuild_history(app.engine(), ingestor.options)
    data = {"documents": result.documents, "snapshots_before": result.snapshots_before,
            "events_before": result.events_before, "events_after": result.events_after,
            "decisions_kept": result.decisions_kept, "decisions_moved_loosely": result.decisions_moved_loosely,
            "decisions_dropped": result.decisions_dropped, "notifications_kept": result.notifications_kept,
            "notification_history_marked": result.notification_history_marked}
    if fmt == "json":
        app.emit(render_json("tracker287g.rebuild/1", "rebuilds", [data]))
        return
    app.console.print(
        f"Rebuilt {result.documents} documents: {result.events_before} list events before, {result.events_after} "
        f"now; {result.decisions_kept} review decisions kept, {len(result.decisions_dropped)} without an event, "
        f"{result.notifications_kept} sent notifications kept.", highlight=False)
    for reason in result.decisions_dropped:
        app.console.print(f"  not kept: {escape(reason)}", highlight=False)


MAX_SKIPPED_ROWS = 20


@click.command()
@pass_app
def upgrade(app: App) -> None:
    """Upgrade the database's schema to this version's, and nothing else (every command that
    writes does it first; the commands that only read never do)."""
    from storage.database import current_revision

    app.console.print(f"schema at revision {current_revision(app.engine())}", highlight=False, markup=False)


def _print_backfill(app: App, results: Sequence[BackfillResult], fmt: str) -> None:
    rows = []
    for r in results:
        o = r.outcome
        rows.append({
            "file": r.planned.path.name, "as_of": r.planned.as_of, "as_of_basis": r.planned.as_of_basis,
            "list": o.list_name if o else None, "status": o.status if o else "skipped" if r.skipped else "error",
            "snapshot_id": o.snapshot_id if o else None,
            "added": o.counts.get("added") if o else None, "removed": o.counts.get("removed") if o else None,
            "changed": o.counts.get("changed") if o else None, "renamed": o.counts.get("renamed") if o else None,
            "events": o.events if o else 0, "reason": (o.reason if o else r.error or r.skipped),
        })
    if fmt == "json":
        app.emit(render_json("tracker287g.backfill/1", "files", rows))
        return
    skipped = [r for r in rows if r["status"] == "skipped"]
    many_skipped = len(skipped) > MAX_SKIPPED_ROWS   # a folder of junk: counted by reason, not listed
    print_table(app.console, "Backfill", ("file", "as_of", "list", "status", "snapshot_id", "added", "removed",
                                          "changed", "renamed", "events", "reason"),
                [r for r in rows if not (many_skipped and r["status"] == "skipped")])
    if many_skipped:
        by_reason: dict[str, list[str]] = {}
        for r in skipped:
            by_reason.setdefault(r["reason"], []).append(r["file"])
        for reason, files in by_reason.items():
            examples = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
            app.console.print(f"skipped, not stored: {len(files)} files, {reason} ({examples})",
                              highlight=False, markup=False)
    totals = {s: sum(1 for r in rows if r["status"] == s) for s in
              ("accepted", "unchanged", "quarantined", "already_recorded", "skipped", "error")}
    app.console.print(", ".join(f"{n} {s.replace('_', ' ')}" for s, n in totals.items() if n) or "nothing to import",
                      highlight=False)


@click.command()
@click.option("--page-url", envvar="TRACKER287G_PAGE_URL", help="The ICE 287(g) page that links the lists "
              f"(default: [sources.{LIST_SOURCE_KIND}] url of the configuration, {ICE_287G_PAGE_URL}).")
@contact_option
@click.option("--timeout", type=float, default=None,
              help="Seconds before the crawl is abandoned (default: [crawler] run_timeout_seconds, 600).")
@pass_app
def crawl(app: App, page_url: str | None, contact: str | None, timeout: float | None) -> None:
    """One crawl of the ICE 287(g) page now, then the diff stage."""
    from pipeline.crawl import crawl_and_ingest

    config = app.config()
    contact = require_contact(contact or config.contact)
    source = config.source(LIST_SOURCE_KIND)
    page_url = page_url or (source.url if source else ICE_287G_PAGE_URL)
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{page_url!r} is not an http(s) URL", param_hint="--page-url")
    report = crawl_and_ingest(app.engine(), page_url, contact=contact, settings=config.crawler.scrapy_settings(),
                              timeout=timeout or config.crawler.run_timeout_seconds, ingestor=app.ingestor())
    _print_crawl(app, report)
    if report.failed or report.warnings:   # a date not believed is no failure, but must not pass unseen
        raise SystemExit(1)


def _print_crawl(app: App, report: CrawlReport) -> None:
    rows = [{"url": line.url, "list": line.list_name, "outcome": line.outcome, "snapshot_id": line.snapshot_id,
             "detail": line.detail} for line in report.lines]
    print_table(app.console, f"Crawl of {report.page_url}", ("url", "list", "outcome", "snapshot_id", "detail"), rows)
    if report.crawl_error:
        app.console.print(f"[red]crawl failed:[/red] {escape(visible(report.crawl_error))}")
    for warning in report.warnings:
        app.console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


@click.command()
@click.option("--list", "list_name", type=LISTS)
@format_option()
@pass_app
def snapshots(app: App, list_name: str | None, fmt: str) -> None:
    """One row per snapshot: list, file, as-of, status (and why), agreements, agencies, states."""
    with app.reading() as session:
        rows = snapshot_rows(session, list_name)
    if fmt == "json":
        app.emit(render_json("tracker287g.snapshots/1", "snapshots", rows))
        return
    print_table(app.console, "Snapshots", ("id", "list", "file_name", "as_of", "status", "agreements", "agencies",
                                           "states", "reason"), rows)


@click.command()
@change_filter_options
@format_option(FORMATS_ALL)
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"Show only the latest N changes (0: all). Default: the latest {TABLE_LIMIT} in a table, "
                   "every change in JSON, CSV and Markdown.")
@pass_app
def changes(app: App, where: ChangeFilter, fmt: str, limit: int | None) -> None:
    """The change log, oldest first, with evidence (file and row)."""
    if where.since and where.until and where.since > where.until:
        raise click.UsageError("--since is after --until")
    if limit is None:
        limit = TABLE_LIMIT if fmt == "table" else 0
    with app.reading() as session:
        check_filter(session, where)
        page = latest_change_rows(session, where, limit)
    rows = page.rows
    if fmt == "json":       # written as encoded (the same bytes as render_json)
        write_json(app.console.file, "tracker287g.changes/1", "changes", rows)
        return
    flat = ({**r, "evidence": evidence_text(r["evidence"]), "earlier_names": "; ".join(r["earlier_names"])}
            for r in rows)
    if fmt == "csv":
        write_csv(app.console.file, CHANGE_FIELDS, flat)
    elif fmt == "markdown":
        app.emit(render_markdown(("occurred_on", "kind", "status", "state", "summary", "evidence"), flat))
    else:
        shown = len(rows) < page.total
        title = f"Changes (the latest {len(rows)} of {page.total})" if shown else f"Changes ({len(rows)})"
        print_table(app.console, title, ("id", "occurred_on", "kind", "status", "state", "summary", "evidence"), flat)
        if shown:
            app.console.print(f"{len(rows):,} of {page.total:,} changes shown, the latest; --limit 0 shows all, "
                              "--format csv or json writes all", highlight=False, markup=False)


@click.command()
@click.option("--as-of", type=DATE, help="Use the last accepted snapshots on or before this day.")
@format_option()
@pass_app
def metrics(app: App, as_of: dt.date | None, fmt: str) -> None:
    """Counts of the current lists: agreements, agencies, states, by model and by state."""
    with app.reading() as session:
        items = metrics_items(session, as_of)
    if fmt == "json":
        app.emit(render_json("tracker287g.metrics/1", "lists", items, as_of=as_of))
        return
    if not items:
        app.console.print("No accepted snapshot yet: run `tracker287g backfill` or `tracker287g crawl`.")
        return
    for item in items:
        m = item["metrics"]
        app.console.print(f"[bold]{item['list']}[/bold] list, snapshot {item['snapshot_id']} "
                          f"({item['file_name']}, as of {item['as_of']})", highlight=False)
        summary = [{"measure": k, "value": m.get(k)} for k in
                   ("agreements", "agencies", "local_agencies", "states", "territories", "jurisdictions")]
        summary += [{"measure": f"model {k}", "value": v} for k, v in m.get("by_model", {}).items()]
        print_table(app.console, None, ("measure", "value"), summary)
        by_state = m.get("by_state_model", {})
        state_rows = [
            {"state": code, "agreements": m["by_state"].get(code), **by_state.get(code, {})}
            for code in sorted(m.get("by_state", {}), key=lambda c: -m["by_state"][c])
        ]
        print_table(app.console, "By state", ("state", "agreements", "JEM", "TFM", "WSO", "UNKNOWN"), state_rows)


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the files (created if missing).")
@click.option("--as-of", type=DATE, help="The lists in force on this day (default: the latest).")
@pass_app
def export(app: App, out: Path, as_of: dt.date | None) -> None:
    """Write citable downloads: agreements in force, their history, the change log, the agencies
    and the source files, as CSV and JSON (and Parquet with pyarrow), with datapackage.json."""
    from publish.export import build_export, write_export

    with app.reading() as session:
        built = build_export(session, as_of)
    for path in write_export(built, out):
        app.console.print(str(path), highlight=False, markup=False)
    rows = ", ".join(f"{len(t.rows)} {t.name}" for t in built.tables)
    app.err.print(f"as of {built.as_of}: {rows}", highlight=False, markup=False)
