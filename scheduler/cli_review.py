"""Review commands: review, feed, report, serve, notify (issue: reviewing changes).

Registered on ``scheduler.cli.main`` when that module is imported.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from scheduler.cli import DATE, App, main, pass_app
from storage.models import REVIEW_STATUSES

STATUS = click.Choice(REVIEW_STATUSES)


def _filters(function):
    """The filters of `changes`, shared by `feed`."""
    options = [
        click.option("--since", type=DATE, help="Only changes dated on or after this day."),
        click.option("--until", type=DATE, help="Only changes dated on or before this day."),
        click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Event kind or prefix (repeatable)."),
        click.option("--state", metavar="XX", help="Two-letter state code."),
        click.option("--list", "list_name", type=click.Choice(["participating", "pending"])),
        click.option("--review-status", type=click.Choice([*REVIEW_STATUSES, "unreviewed"])),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _event_text(row: dict) -> str:
    evidence = row["evidence"]
    lines = [f"#{row['id']} {row['occurred_on']} {row['kind']} {row['state'] or ''}", f"  {row['summary']}"]
    if evidence.get("file"):
        lines.append(f"  evidence: {evidence['file']}" + (f", row {evidence['row']}" if evidence.get("row") else ""))
    if evidence.get("moa_url"):
        lines.append(f"  MOA: {evidence['moa_url']}")
    return "\n".join(lines)


@main.command()
@click.argument("event_id", type=int, required=False)
@click.option("--status", type=STATUS, help="The decision (required with EVENT_ID).")
@click.option("--note", help="Why, in a sentence.")
@click.option("--reviewer", help="Who decides (default: the login name).")
@click.option("--from-key", help="rename: the old agreement key (default: what the event names).")
@click.option("--to-key", help="rename: the new agreement key (default: what the event names).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Interactive: only these kinds (or prefixes).")
@click.option("--state", metavar="XX", help="Interactive: only this state.")
@click.option("--limit", type=int, default=20, show_default=True, help="Interactive: at most this many events.")
@pass_app
def review(app: App, event_id, status, note, reviewer, from_key, to_key, kinds, state, limit) -> None:
    """Mark a change event confirmed, false_positive, rename or source_error.

    With EVENT_ID and --status: records one decision.  Without EVENT_ID: lists unreviewed events
    and asks for a decision on each (s skips, q stops).  A rename links two agreement keys; later
    diffs treat them as one agreement, so it is not reported as removed and added again.
    """
    from scheduler.review import record_review

    reviewer = reviewer or getpass.getuser()
    if event_id is not None:
        if not status:
            raise click.UsageError("give --status with EVENT_ID")
        with app.session() as session, session.begin():
            try:
                decision = record_review(session, event_id, status, note=note, reviewer=reviewer,
                                         from_key=from_key, to_key=to_key)
            except ValueError as error:
                raise click.ClickException(str(error)) from error
            keys = f" ({decision.from_key} -> {decision.to_key})" if decision.status == "rename" else ""
            app.console.print(f"event {event_id}: {decision.status}{keys}", highlight=False, markup=False)
        return
    _review_interactively(app, reviewer, kinds, state, limit)


def _review_interactively(app: App, reviewer: str, kinds, state, limit: int) -> None:
    from scheduler.reports import change_rows
    from scheduler.review import record_review

    with app.session() as session:
        rows = change_rows(session, None, None, kinds, state, None, "unreviewed")[:limit]
    if not rows:
        app.console.print("No unreviewed change matches.")
        return
    choices = click.Choice([*REVIEW_STATUSES, "s", "q"])
    decided = 0
    for row in rows:
        click.echo(_event_text(row))
        answer = click.prompt("decision (confirmed, false_positive, rename, source_error; s skip, q quit)",
                              type=choices, default="s", show_choices=False)
        if answer == "q":
            break
        if answer == "s":
            continue
        note = click.prompt("note", default="", show_default=False) or None
        with app.session() as session, session.begin():
            try:
                record_review(session, row["id"], answer, note=note, reviewer=reviewer)
            except ValueError as error:
                click.echo(f"  not recorded: {error}")
                continue
        decided += 1
    click.echo(f"{decided} decision(s) recorded.")


@main.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Feed file.")
@click.option("--per", type=click.Choice(["change", "snapshot"]), default="change", show_default=True,
              help="One entry per change, or one digest per snapshot.")
@_filters
@pass_app
def feed(app: App, out: Path, per: str, since, until, kinds, state, list_name, review_status) -> None:
    """Write an Atom 1.0 feed of the change log (entry ids are stable across rebuilds)."""
    from scheduler.feed import build_feed
    from scheduler.reports import change_rows
    from storage.lists import ListRepository

    with app.session() as session:
        rows = change_rows(session, since, until, kinds, state, list_name, review_status)
        snapshots = {s.id: s for s in ListRepository(session).snapshots()}
        document = build_feed(rows, per=per, snapshots=snapshots)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(document)
    app.console.print(f"{out}: {len(rows)} changes", highlight=False, markup=False)


def _figures():
    from scheduler.seeds import load_baseline

    return load_baseline()


@main.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the static site.")
@pass_app
def report(app: App, out: Path) -> None:
    """Write the HTML report (charts, per-state table, recent changes, news) as a static site."""
    from scheduler.report import write_report

    with app.session() as session:
        written = write_report(session, _figures(), out)
    for path in written:
        app.console.print(str(path), highlight=False, markup=False)


@main.command()
@click.option("--port", type=int, default=8287, show_default=True)
@pass_app
def serve(app: App, port: int) -> None:
    """Serve the HTML report read-only on 127.0.0.1 until interrupted."""
    from scheduler.report import build_pages
    from scheduler.serve import make_server

    figures = _figures()

    def pages():
        with app.session() as session:
            return build_pages(session, figures)

    server = make_server(pages, port)
    app.err.print(f"serving the report on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command()
@pass_app
def notify(app: App) -> None:
    """Send pending notifications now (webhook, e-mail; a digest is sent even if not yet due)."""
    from scheduler.notify import notify as send_pending

    settings = app.config().section("notifications")
    results = send_pending(app.engine(), settings, force_digest=True)
    if not results:
        app.console.print("No notification channel is configured (see [notifications]).")
    for result in results:
        text = result.error or result.skipped or f"{result.sent} change(s) sent"
        app.console.print(f"{result.channel}: {text}", highlight=False, markup=False)
    if any(r.error for r in results):
        raise SystemExit(1)
