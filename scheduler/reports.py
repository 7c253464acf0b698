"""What each command prints: the same rows as a table for people and as JSON/CSV/Markdown for programs."""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from scheduler.output import print_table, render_csv, render_json, render_markdown
from storage.events import EventFilter, EventRepository
from storage.lists import ListRepository
from storage.review import ReviewRepository

SNAPSHOT_FIELDS = ("id", "list", "file_name", "as_of", "status", "reason", "agreements", "agencies", "states",
                   "origin", "declared_list", "same_as_id", "previous_id", "sha256", "recorded_at")
CHANGE_FIELDS = ("id", "occurred_on", "kind", "list", "state", "subject_key", "field", "old_value", "new_value",
                 "summary", "snapshot_id", "previous_snapshot_id", "evidence")


def _emit(console: Console, text: str) -> None:
    console.file.write(text if text.endswith("\n") else text + "\n")


# -- backfill ---------------------------------------------------------------------------------
def print_backfill(console: Console, results, fmt: str) -> None:
    rows = []
    for r in results:
        o = r.outcome
        rows.append({
            "file": r.planned.path.name,
            "as_of": r.planned.as_of,
            "as_of_basis": r.planned.as_of_basis,
            "list": o.list_name if o else None,
            "status": o.status if o else "error",
            "snapshot_id": o.snapshot_id if o else None,
            "added": o.counts.get("added") if o else None,
            "removed": o.counts.get("removed") if o else None,
            "changed": o.counts.get("changed") if o else None,
            "renamed": o.counts.get("renamed") if o else None,
            "events": o.events if o else 0,
            "reason": (o.reason if o else r.error),
        })
    if fmt == "json":
        _emit(console, render_json("tracker287g.backfill/1", "files", rows))
        return
    columns = ("file", "as_of", "list", "status", "snapshot_id", "added", "removed", "changed", "renamed",
               "events", "reason")
    print_table(console, "Backfill", columns, rows)
    totals = {s: sum(1 for r in rows if r["status"] == s) for s in
              ("accepted", "unchanged", "quarantined", "already_recorded", "error")}
    console.print(", ".join(f"{n} {s.replace('_', ' ')}" for s, n in totals.items() if n) or "nothing to import",
                  highlight=False)


# -- snapshots --------------------------------------------------------------------------------
def snapshot_rows(session: Session, list_name: str | None) -> list[dict]:
    return [
        {
            "id": s.id, "list": s.list_name, "file_name": s.file_name, "as_of": s.as_of, "status": s.status,
            "reason": s.reason, "agreements": s.agreements, "agencies": s.agencies, "states": s.states,
            "origin": s.origin, "declared_list": s.declared_list, "same_as_id": s.same_as_id,
            "previous_id": s.previous_id, "sha256": s.document_sha256, "recorded_at": s.recorded_at,
        }
        for s in ListRepository(session).snapshots(list_name)
    ]


def print_snapshots(console: Console, session: Session, list_name: str | None, fmt: str) -> None:
    rows = snapshot_rows(session, list_name)
    if fmt == "json":
        _emit(console, render_json("tracker287g.snapshots/1", "snapshots", rows))
        return
    print_table(console, "Snapshots", ("id", "list", "file_name", "as_of", "status", "agreements", "agencies",
                                       "states", "reason"), rows)


# -- changes ----------------------------------------------------------------------------------
def change_rows(session: Session, since, until, kinds: Sequence[str], state, list_name,
                review_status: str | None = None) -> list[dict]:
    """``review_status``: a review status, or ``unreviewed`` for events without a decision."""
    repo = EventRepository(session)
    exact = tuple(k for k in kinds if not k.endswith("."))
    prefixes = tuple(k for k in kinds if k.endswith("."))
    events = repo.events(EventFilter(since=since, until=until, kinds=() if prefixes else exact,
                                     state=state.upper() if state else None, list_name=list_name))
    if prefixes:
        events = [e for e in events if e.kind in exact or e.kind.startswith(prefixes)]
    decisions = ReviewRepository(session).latest_decisions()
    if review_status:
        events = [e for e in events if (decisions[e.id].status if e.id in decisions else "unreviewed") == review_status]
    return [
        {
            "id": e.id, "occurred_on": e.occurred_on, "kind": e.kind, "list": e.list_name, "state": e.state,
            "subject_key": e.subject_key, "field": e.field, "old_value": e.old_value, "new_value": e.new_value,
            "summary": e.summary, "snapshot_id": e.snapshot_id, "previous_snapshot_id": e.previous_snapshot_id,
            "evidence": e.evidence or {}, "review": _review_item(decisions.get(e.id)),
        }
        for e in events
    ]


def _review_item(decision) -> dict | None:
    if decision is None:
        return None
    return {"status": decision.status, "note": decision.note, "reviewer": decision.reviewer,
            "decided_at": decision.decided_at, "from_key": decision.from_key, "to_key": decision.to_key}


def _evidence_text(evidence: dict) -> str:
    parts = []
    if evidence.get("file"):
        parts.append(evidence["file"] + (f" row {evidence['row']}" if evidence.get("row") else ""))
    if evidence.get("previous_file"):
        parts.append("was " + evidence["previous_file"])
    return "; ".join(parts)


def print_changes(console: Console, session: Session, since, until, kinds, state, list_name, fmt: str,
                  review_status: str | None = None) -> None:
    rows = change_rows(session, since, until, kinds, state, list_name, review_status)
    if fmt == "json":
        _emit(console, render_json("tracker287g.changes/1", "changes", rows))
        return
    flat = [{**r, "evidence": _evidence_text(r["evidence"])} for r in rows]
    if fmt == "csv":
        _emit(console, render_csv(CHANGE_FIELDS, flat))
    elif fmt == "markdown":
        _emit(console, render_markdown(("occurred_on", "kind", "state", "summary", "evidence"), flat))
    else:
        print_table(console, f"Changes ({len(rows)})", ("id", "occurred_on", "kind", "state", "summary", "evidence"),
                    flat)


# -- metrics ----------------------------------------------------------------------------------
def current_snapshots(session: Session, as_of: dt.date | None) -> dict[str, object]:
    """The last accepted snapshot of each list, on or before ``as_of`` when given."""
    chosen: dict[str, object] = {}
    for snapshot in ListRepository(session).snapshots():
        if snapshot.status != "accepted":
            continue
        if as_of is not None and (snapshot.as_of is None or snapshot.as_of > as_of):
            continue
        chosen[snapshot.list_name] = snapshot
    return chosen


def print_metrics(console: Console, session: Session, as_of: dt.date | None, fmt: str) -> None:
    chosen = current_snapshots(session, as_of)
    items = [
        {"list": name, "snapshot_id": s.id, "file_name": s.file_name, "as_of": s.as_of, "metrics": s.metrics}
        for name, s in sorted(chosen.items())
    ]
    if fmt == "json":
        _emit(console, render_json("tracker287g.metrics/1", "lists", items, as_of=as_of))
        return
    if not items:
        console.print("No accepted snapshot yet: run `tracker287g backfill` or `tracker287g crawl`.")
        return
    for item in items:
        m = item["metrics"]
        console.print(f"[bold]{item['list']}[/bold] list, snapshot {item['snapshot_id']} "
                      f"({item['file_name']}, as of {item['as_of']})", highlight=False)
        summary = [{"measure": k, "value": m.get(k)} for k in
                   ("agreements", "agencies", "local_agencies", "states", "territories", "jurisdictions")]
        summary += [{"measure": f"model {k}", "value": v} for k, v in m.get("by_model", {}).items()]
        print_table(console, None, ("measure", "value"), summary)
        by_state = m.get("by_state_model", {})
        state_rows = [
            {"state": code, "agreements": m["by_state"].get(code), **by_state.get(code, {})}
            for code in sorted(m.get("by_state", {}), key=lambda c: -m["by_state"][c])
        ]
        print_table(console, "By state", ("state", "agreements", "JEM", "TFM", "WSO", "UNKNOWN"), state_rows)


# -- baseline ---------------------------------------------------------------------------------
def baseline_snapshots(session: Session, figures, as_of_dates: Sequence[dt.date], every: bool = False) -> list:
    """Participating snapshots to compare with: every one, those in force on the given days, or
    by default those in force on each measurable figure's date, and the latest one."""
    accepted = [s for s in ListRepository(session).snapshots("participating") if s.status == "accepted" and s.as_of]
    if not accepted or every:
        return accepted
    days = list(as_of_dates) or sorted({f.as_of for f in figures if f.measure is not None})
    chosen = []
    for day in days:
        in_force = [s for s in accepted if s.as_of <= day]
        if in_force and (as_of_dates or day >= accepted[0].as_of):
            chosen.append(in_force[-1])
    if not as_of_dates:
        chosen.append(accepted[-1])
    return sorted({s.id: s for s in chosen}.values(), key=lambda s: s.id)


def print_baseline(console: Console, session: Session, figures, as_of_dates: Sequence[dt.date], fmt: str,
                   every: bool = False) -> None:
    from diff.baseline import compare
    from diff.metrics import ListMetrics

    snapshots = baseline_snapshots(session, figures, as_of_dates, every)
    earliest = min((s.as_of for s in ListRepository(session).snapshots("participating")
                    if s.status == "accepted" and s.as_of), default=None)
    results = []
    for snapshot in snapshots:
        comparisons = compare(figures, ListMetrics.from_dict(snapshot.metrics), list_name="participating",
                              snapshot_as_of=snapshot.as_of, **({"earliest_list": earliest} if earliest else {}))
        results.append((snapshot, comparisons))
    if fmt == "json":
        items = [
            {"snapshot_id": s.id, "file_name": s.file_name, "as_of": s.as_of,
             "comparisons": [c.to_dict() for c in comparisons]}
            for s, comparisons in results
        ]
        unmeasured = [] if results else [f.to_dict() for f in figures]
        _emit(console, render_json("tracker287g.baseline/1", "snapshots", items, figures_without_snapshot=unmeasured))
        return
    if not results:
        console.print("No accepted participating snapshot yet: run `tracker287g backfill` or `tracker287g crawl`.")
        return
    measurable_ids = [c.figure.id for c in results[0][1] if c.measurable]
    columns = ["figure", "value", "as of"] + [f"{s.as_of} (#{s.id})" for s, _ in results] + ["measured as"]
    rows = []
    for figure_id in measurable_ids:
        first = next(c for c in results[0][1] if c.figure.id == figure_id)
        row = {"figure": first.figure.label, "value": _number(first.figure.value), "as of": first.figure.as_of,
               "measured as": first.figure.measure.describe()}
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


def _number(value) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:,.2f}"


def _signed(value) -> str:
    return "" if value is None else ("+" if value > 0 else "") + _number(value)


# -- crawl ------------------------------------------------------------------------------------
def print_crawl(console: Console, report) -> None:
    rows = [{"url": line.url, "list": line.list_name, "outcome": line.outcome, "snapshot_id": line.snapshot_id,
             "detail": line.detail} for line in report.lines]
    print_table(console, f"Crawl of {report.page_url}", ("url", "list", "outcome", "snapshot_id", "detail"), rows)
    if report.crawl_error:
        console.print(f"[red]crawl failed:[/red] {escape(report.crawl_error)}")


# -- status -----------------------------------------------------------------------------------
def status_rows(session: Session, config) -> list[dict]:
    from storage.runs import RunRepository
    from storage.types import utcnow

    runs = RunRepository(session)
    now = utcnow()
    stale_after = dt.timedelta(hours=float(config.section("health")["stale_after_hours"]))
    known = {s.id: s for s in config.sources}
    states = runs.source_states()
    rows = []
    for source_id in list(known) + sorted(set(states) - set(known)):
        state, source = states.get(source_id), known.get(source_id)
        last_run = runs.last_run(source_id)
        success = state.last_success_at if state else None
        age = (now - success) if success else None
        rows.append({
            "source": source_id,
            "kind": source.kind if source else None,
            "enabled": bool(source and source.enabled),
            "schedule": source.schedule.describe() if source else "(not configured)",
            "last_success": success,
            "last_attempt": state.last_attempt_at if state else None,
            "last_outcome": state.last_outcome if state else None,
            "consecutive_failures": state.consecutive_failures if state else 0,
            "last_error": state.last_error if state else None,
            "next_run": state.next_run_at if state else None,
            "hours_since_success": round(age.total_seconds() / 3600, 2) if age else None,
            "stale": bool(source and source.enabled and (age is None or age > stale_after) and state is not None),
            "last_run_id": last_run.id if last_run else None,
            "last_run_ms": last_run.duration_ms if last_run else None,
        })
    return rows


def print_status(console: Console, session: Session, config, fmt: str) -> None:
    rows = status_rows(session, config)
    if fmt == "json":
        _emit(console, render_json("tracker287g.status/1", "sources", rows))
        return
    shown = [{**r, "last_success": _minute(r["last_success"]), "last_attempt": _minute(r["last_attempt"]),
              "next_run": _minute(r["next_run"]), "stale": "yes" if r["stale"] else ""} for r in rows]
    print_table(console, "Sources", ("source", "enabled", "schedule", "last_success", "last_attempt", "last_outcome",
                                     "consecutive_failures", "next_run", "hours_since_success", "stale", "last_error"),
                shown)


def _minute(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""
