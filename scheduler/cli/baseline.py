"""`tracker287g baseline` (the article's figures beside the lists) and `baseline propose`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from diff.baseline import Comparison, WindowComparison
from diff.events import number_text
from publish.render import print_table, render_json
from publish.snapshots import baseline_comparisons, baseline_windows
from scheduler.cli.app import App
from scheduler.cli.options import DATE, format_option
from scheduler.seeds import load_baseline
from storage.models import Snapshot


@click.group(invoke_without_command=True)
@click.option("--as-of", "as_of", type=DATE, multiple=True,
              help="Compare with the participating snapshot in force on this day (repeatable). "
                   "Default: the snapshots in force on the figures' dates and the latest one.")
@click.option("--all", "every", is_flag=True, help="Compare with every accepted participating snapshot.")
@click.option("--seeds", "seeds_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Baseline file (default: the project's seeds/baseline.toml).")
@format_option()
@click.pass_context
def baseline(ctx: click.Context, as_of: tuple[dt.date, ...], every: bool, seeds_path: Path | None, fmt: str) -> None:
    """Each baseline figure beside what the lists measure, with how their definitions differ.

    Without a subcommand, prints the comparison.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    if every and as_of:
        raise click.UsageError("--all and --as-of exclude each other")
    try:
        figures = load_baseline(seeds_path)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    with app.reading() as session:
        results = baseline_comparisons(session, figures, as_of, every)
        windows = baseline_windows(session, figures)
    if fmt == "json":
        items = [{"snapshot_id": s.id, "file_name": s.file_name, "as_of": s.as_of,
                  "comparisons": [c.to_dict() for c in comparisons]} for s, comparisons in results]
        unmeasured = [] if results else [f.to_dict() for f in figures]
        app.emit(render_json("tracker287g.baseline/1", "snapshots", items, figures_without_snapshot=unmeasured,
                             windows=[w.to_dict() for w in windows]))
        return
    _print_comparisons(app, results)
    if results:
        _print_windows(app, windows)


def _print_windows(app: App, windows: Sequence[WindowComparison]) -> None:
    """Figures dated to a window: every list in force during it, the nearest count, the range."""
    rows = []
    for w in windows:
        if w.reason is not None:
            continue
        nearest = w.nearest
        rows.append({
            "figure": w.figure.label, "value": _number(w.figure.value),
            "window": f"{w.figure.as_of_start} to {w.figure.as_of_end}",
            "lists in force (days of the window)": ", ".join(
                f"{d.as_of} #{d.snapshot_id}: {_number(c.measured)} ({days} d)"
                for d, c, days in zip(w.lists, w.comparisons, w.days_in_force)),
            "nearest": "" if nearest is None else
            f"{nearest.snapshot_as_of}: {_number(nearest.measured)} ({_signed(nearest.delta)})",
            "range": "" if w.low is None else (_number(w.low) if w.low == w.high
                                               else f"{_number(w.low)} to {_number(w.high)}"),
        })
    if rows:
        print_table(app.console, "Figures dated to a window, against each list in force during it",
                    ("figure", "value", "window", "lists in force (days of the window)", "nearest", "range"), rows)


def _print_comparisons(app: App, results: Sequence[tuple[Snapshot, list[Comparison]]]) -> None:
    console = app.console
    if not results:
        console.print("No accepted participating snapshot yet: run `tracker287g backfill` or `tracker287g crawl`.")
        return
    measurable_ids = [c.figure.id for c in results[0][1] if c.measurable]
    columns = ["figure", "value", "as of"] + [f"{s.as_of} (#{s.id})" for s, _ in results] + ["measured as"]
    rows = []
    for figure_id in measurable_ids:
        first = next(c for c in results[0][1] if c.figure.id == figure_id)
        row: dict[str, Any] = {"figure": first.figure.label, "value": _number(first.figure.value),
                               "as of": first.figure.as_of,
                               "measured as": first.figure.measure.describe() if first.figure.measure else ""}
        for snapshot, comparisons in results:
            c = next(c for c in comparisons if c.figure.id == figure_id)
            percent = f", {c.percent:+.1f}%" if c.percent is not None else ""
            row[f"{snapshot.as_of} (#{snapshot.id})"] = f"{_number(c.measured)} ({_signed(c.delta)}{percent})"
        rows.append(row)
    files = ", ".join(f"#{s.id} {s.file_name}" for s, _ in results)
    print_table(console, f"Baseline figures beside the participating list (measured, delta from the figure); {files}",
                columns, rows)
    console.print("[bold]How each figure's definition differs from what the list counts[/bold]")
    for c in results[0][1]:
        if c.measurable and c.definition_note:
            console.print(f"- {escape(c.figure.label)}: {escape(c.definition_note)}", highlight=False)
    not_measurable = [c for c in results[-1][1] if not c.measurable]
    print_table(console, "Figures the lists cannot measure",
                ("figure", "value", "unit", "as of", "credited to", "why"),
                [{"figure": c.figure.label, "value": _number(c.figure.value), "unit": c.figure.unit,
                  "as of": c.figure.as_of, "credited to": c.figure.credited_to, "why": c.reason}
                 for c in not_measurable])


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:,.2f}"


def _signed(value: float | None) -> str:
    return "" if value is None else ("+" if value > 0 else "") + _number(value)


@baseline.command("propose")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@format_option()
@click.pass_context
def propose(ctx: click.Context, file: Path, fmt: str) -> None:
    """Propose baseline entries from a saved article (HTML or plain text), for a person to review.

    Each proposal gives value, unit, what it counts, scope, as-of date and where the sentence
    stands; nothing is written to seeds/.
    """
    from crawler.news import read_saved_article  # HTML parsing only for this command
    from diff.proposals import PROPOSALS_SCHEMA, propose_entries

    app = ctx.find_object(App)
    assert app is not None
    try:
        document = read_saved_article(file)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    proposals = propose_entries(document.text, load_baseline(), kind=document.kind, published=document.published)
    if fmt == "json":
        app.emit(render_json(PROPOSALS_SCHEMA, "proposals", proposals, file=str(file), title=document.title,
                             published=document.published, kind=document.kind))
        return
    rows = [{"#": n, "value": number_text(p["value"]), "unit": p["unit"], "counts": p["counts"],
             "scope": p["scope"], "as of": _proposal_as_of(p), "where": p["location"]["text"],
             "in baseline": p["in_baseline"] or ""}
            for n, p in enumerate(proposals, start=1)]
    print_table(app.console, f"Proposed baseline entries from {file.name} ({len(rows)})",
                ("#", "value", "unit", "counts", "scope", "as of", "where", "in baseline"), rows)
    app.console.print("Review each figure against its sentence (--format json shows them) before adding it to "
                      "seeds/baseline.toml.", highlight=False)


def _proposal_as_of(p: dict[str, Any]) -> str:
    if p["as_of"] is None:
        return "not stated"
    if isinstance(p["as_of"], dict):
        return f"{p['as_of']['start']}/{p['as_of']['end']}"
    return str(p["as_of"])

