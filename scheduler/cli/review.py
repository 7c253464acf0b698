"""Reviewing changes and sending them out: review, feed, report, serve, notify."""

from __future__ import annotations

import dataclasses
import getpass
from pathlib import Path

import click

from publish.changes import UNREVIEWED, ChangeFilter, change_rows, latest_change_rows
from publish.evidence import event_text
from publish.feed import FEED_LIMIT, build_feed, snapshots_by_id
from publish.notify import notify as send_pending
from publish.notify import notify_test as send_test
from publish.render import visible
from publish.report import SiteCache, write_report
from publish.serve import make_server
from publish.targets import TargetError
from scheduler.cli.app import App, pass_app
from scheduler.cli.options import change_filter_options, check_filter, check_state
from scheduler.seeds import load_baseline
from storage.agencies import AgencyRepository
from storage.models import REGISTRY_REVIEW_STATUSES, REVIEW_STATUSES, Agency
from storage.review import ReviewRepository

STATUS = click.Choice([*REVIEW_STATUSES, *REGISTRY_REVIEW_STATUSES])
MAX_ID = 2**31 - 1    # ids are 32-bit integers on PostgreSQL


@click.command()
@click.argument("event_id", type=click.IntRange(1, MAX_ID), required=False)
@click.option("--status", type=STATUS, help="The decision (required with EVENT_ID): confirmed, false_positive, "
                                            "rename or source_error; with --registry, accepted or rejected.")
@click.option("--registry", is_flag=True,
              help="Review agencies' FBI registry matches instead: EVENT_ID is then an agency id.")
@click.option("--list", "list_only", is_flag=True, help="With --registry: list the matches, ask nothing.")
@click.option("--all", "every", is_flag=True, help="With --registry: reviewed matches too (default: unreviewed).")
@click.option("--note", help="Why, in a sentence.")
@click.option("--reviewer", help="Who decides (default: the login name).")
@click.option("--from-key", help="rename: the old agreement key (default: what the event names).")
@click.option("--to-key", help="rename: the new agreement key (default: what the event names).")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Interactive: only these kinds (or prefixes).")
@click.option("--state", metavar="XX", help="Interactive: only this state.")
@click.option("--limit", type=int, default=20, show_default=True, help="Interactive: at most this many events.")
@pass_app
def review(app: App, event_id: int | None, status: str | None, registry: bool, list_only: bool, every: bool,
           note: str | None, reviewer: str | None, from_key: str | None, to_key: str | None,
           kinds: tuple[str, ...], state: str | None, limit: int) -> None:
    """Mark a change event confirmed, false_positive, rename or source_error.

    With EVENT_ID and --status: records one decision.  Without EVENT_ID: lists unreviewed events
    and asks for a decision on each (s skips, q stops).  A rename links two agreement keys; later
    diffs treat them as one agreement, so it is not reported as removed and added again.

    With --registry: the same for agencies' FBI registry matches (ORI, confidence, basis), least
    confident first; a decision is accepted or rejected, and carries forward (a rejected match
    stays rejected after new lists and after rebuild).
    """
    reviewer = reviewer or getpass.getuser()
    if registry:
        _review_registry(app, event_id, status, note, reviewer, state=check_state(state), limit=limit,
                         list_only=list_only, every=every)
        return
    if status in REGISTRY_REVIEW_STATUSES:
        raise click.UsageError(f"--status {status} is a decision on a registry match: add --registry")
    if event_id is None:
        where = ChangeFilter(kinds=kinds, state=check_state(state), review_status=UNREVIEWED)
        _review_interactively(app, reviewer, where, limit)
        return
    if not status:
        raise click.UsageError("give --status with EVENT_ID")
    with app.session() as session, session.begin():
        try:
            decision = ReviewRepository(session).decide(event_id, status, note=note, reviewer=reviewer,
                                                        from_key=from_key, to_key=to_key)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
        keys = f" ({decision.from_key} -> {decision.to_key})" if decision.status == "rename" else ""
        app.console.print(f"event {event_id}: {decision.status}{keys}", highlight=False, markup=False)


def registry_line(agency: Agency) -> str:
    """One agency's registry match in words, for the reviewer."""
    record = agency.registry_record or {}
    county = f", county {record['county']}" if record.get("county") else ""
    review = f" [{agency.registry_review}]" if agency.registry_review else ""
    return (f"agency {agency.id}: {agency.state} {agency.name} -> {record.get('name')} "
            f"({record.get('agency_type')}{county}) ORI {record.get('ori')}, confidence {record.get('confidence')}, "
            f"basis: {record.get('basis')}{review}")


def _review_registry(app: App, agency_id: int | None, status: str | None, note: str | None, reviewer: str,
                     *, state: str | None, limit: int, list_only: bool, every: bool) -> None:
    if agency_id is not None:
        if status not in REGISTRY_REVIEW_STATUSES:
            raise click.UsageError("give --status accepted or --status rejected with an agency id and --registry")
        with app.session() as session, session.begin():
            try:
                AgencyRepository(session).decide(agency_id, status, note=note, reviewer=reviewer)
            except ValueError as error:
                raise click.ClickException(str(error)) from error
            agency = session.get(Agency, agency_id)
            assert agency is not None
            click.echo(visible(registry_line(agency)))
        return
    with app.session() as session:
        agencies = AgencyRepository(session).matches(state=state, review=None if every else "unreviewed")
        session.expunge_all()
    if list_only:
        for agency in agencies:
            click.echo(visible(registry_line(agency)))
        click.echo(f"{len(agencies)} registry match(es).")
        return
    agencies = sorted(agencies, key=lambda a: ((a.registry_record or {}).get("confidence") or 0, a.state, a.name))
    if not agencies:
        app.console.print("No registry match to review.")
        return
    decided = 0
    for agency in agencies[:limit]:
        click.echo(visible(registry_line(agency)))
        answer = click.prompt("decision (a accept, r reject; s skip, q quit)", type=click.Choice(["a", "r", "s", "q"]),
                              default="s", show_choices=False)
        if answer == "q":
            break
        if answer == "s":
            continue
        typed_note = click.prompt("note", default="", show_default=False) or None
        with app.session() as session, session.begin():
            AgencyRepository(session).decide(agency.id, "accepted" if answer == "a" else "rejected",
                                             note=typed_note, reviewer=reviewer)
        decided += 1
    click.echo(f"{decided} decision(s) recorded.")


def _review_interactively(app: App, reviewer: str, where: ChangeFilter, limit: int) -> None:
    with app.session() as session:
        check_filter(session, where)
        rows = change_rows(session, where)[:limit]
    if not rows:
        app.console.print("No unreviewed change matches.")
        return
    choices = click.Choice([*REVIEW_STATUSES, "s", "q"])
    decided = 0
    for row in rows:
        click.echo(visible(event_text(row)))
        answer = click.prompt("decision (confirmed, false_positive, rename, source_error; s skip, q quit)",
                              type=choices, default="s", show_choices=False)
        if answer == "q":
            break
        if answer == "s":
            continue
        note = click.prompt("note", default="", show_default=False) or None
        with app.session() as session, session.begin():
            try:
                ReviewRepository(session).decide(row["id"], answer, note=note, reviewer=reviewer)
            except ValueError as error:
                click.echo(f"  not recorded: {error}")
                continue
        decided += 1
    click.echo(f"{decided} decision(s) recorded.")


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Feed file.")
@click.option("--per", type=click.Choice(["change", "snapshot"]), default="change", show_default=True,
              help="One entry per change, or one digest per snapshot.")
@click.option("--limit", type=click.IntRange(min=0), default=FEED_LIMIT, show_default=True,
              help="The newest N entries (0: every change); feed readers keep what they have seen.")
@change_filter_options
@pass_app
def feed(app: App, out: Path, per: str, limit: int, where: ChangeFilter) -> None:
    """Write an Atom 1.0 feed of the change log, newest entries first (entry ids are stable
    across rebuilds); confirmed changes unless --status says otherwise."""
    if where.status is None:
        where = dataclasses.replace(where, status="confirmed")
    with app.reading() as session:
        check_filter(session, where)
        # a digest holds every change of its snapshot: per snapshot, the entries are chosen from the log
        page = latest_change_rows(session, where, limit if per == "change" else 0, by_id=True)
        snapshots = snapshots_by_id(session, {r["snapshot_id"] for r in page.rows}) if per == "snapshot" else {}
        document, entries = build_feed(page.rows, per=per, snapshots=snapshots, limit=limit)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(document)
    except OSError as error:
        raise click.BadParameter(f"cannot write {out}: {error.strerror or error}", param_hint="--out") from error
    shown = f"{len(page.rows)} changes" if len(page.rows) == page.total else \
        f"the newest {len(page.rows)} of {page.total} changes"
    app.console.print(f"{out}: {entries} entries, {shown}" if per == "snapshot" else f"{out}: {shown}",
                      highlight=False, markup=False)


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the static site.")
@pass_app
def report(app: App, out: Path) -> None:
    """Write the HTML report as a static site: the front page (map, search, charts, states,
    recent changes, news), a page per state and per agency, and the downloads under data/."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.BadParameter(f"cannot create the folder {out}: {error.strerror or error}",
                                 param_hint="--out") from error
    with app.reading() as session:
        try:
            written = write_report(session, load_baseline(), out)
        except OSError as error:
            raise click.ClickException(f"cannot write the report to {out}: {error.strerror or error}") from error
    pages = sum(1 for path in written if path.suffix == ".html")
    app.console.print(f"{out}: {pages} pages, {len(written) - pages} data files, "
                      f"{sum(p.stat().st_size for p in written):,} bytes", highlight=False, markup=False)


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8287, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@pass_app
def serve(app: App, port: int) -> None:
    """Serve the HTML report read-only on 127.0.0.1 until interrupted (rebuilt when the history changes)."""
    try:
        server = make_server(SiteCache(app.reading, load_baseline()), port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}") from error
    app.err.print(f"serving the report on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command()
@click.option("--test", "test_target", metavar="TARGET",
              help="Send a test message to one target (its name, or 'webhook') and nothing else.")
@pass_app
def notify(app: App, test_target: str | None) -> None:
    """Send pending notifications now (a digest goes even if not yet due, a target backing off
    after failures is tried at once); each event still goes once per target."""
    settings = app.config().notifications
    if test_target:
        try:
            results = [send_test(settings, test_target)]
        except TargetError as error:
            raise click.UsageError(str(error)) from error
    else:
        results = send_pending(app.engine(), settings, force=True)
    if not results:
        app.console.print("No notification target is configured (see [notifications]).")
    for result in results:
        text = result.error or result.skipped or (
            "test message sent" if test_target else f"{result.sent} change(s) sent")
        app.console.print(f"{result.channel} ({result.address}): {text}", highlight=False, markup=False)
    if any(r.error for r in results):
        raise SystemExit(1)
