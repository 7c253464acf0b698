"""The HTML report: a static page of charts and tables built from the database.

Everything scraped (agency names, file names, news titles, URLs) goes through ``html.escape``;
links are kept only when they are http(s).  Nothing is loaded from the internet: the charts
are inline SVG (scheduler/charts.py) and the style sheet is inline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Sequence

from sqlalchemy.orm import Session

from diff.baseline import BaselineFigure
from scheduler.charts import Marker, line_chart
from scheduler.reports import change_rows
from storage.news import NewsRepository
from storage.lists import ListRepository

MODELS = ("JEM", "TFM", "WSO")
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
td.n{text-align:right}caption{text-align:left;font-weight:bold}
.muted{color:#666;font-size:0.85em}
"""


@dataclass(frozen=True)
class ChartData:
    by_model: dict[str, list[tuple[dt.date, int]]]
    by_state: dict[str, list[tuple[dt.date, int]]]
    markers_model: list[Marker]
    markers_state: list[Marker]


def e(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _link(url: str | None, text: str) -> str:
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{e(url)}" rel="noopener noreferrer">{e(text)}</a>'
    return e(text if not url else f"{text} ({url})")


def baseline_states(figures: Sequence[BaselineFigure]) -> list[str]:
    """The states the baseline gives agreement counts for, in the baseline's order."""
    return [f.measure.state for f in figures
            if f.measure and f.measure.metric == "agreements" and f.measure.state and not f.measure.model]


def chart_data(snapshots, figures: Sequence[BaselineFigure]) -> ChartData:
    by_model = {"all agreements": [(s.as_of, s.metrics["agreements"]) for s in snapshots]}
    for model in MODELS:
        by_model[model] = [(s.as_of, s.metrics["by_model"].get(model, 0)) for s in snapshots]
    states = baseline_states(figures)
    by_state = {code: [(s.as_of, s.metrics["by_state"].get(code, 0)) for s in snapshots] for code in states}
    agreement_figures = [f for f in figures if f.measure and f.measure.list == "participating"
                         and f.measure.metric == "agreements" and not f.measure.model]
    markers_state = [Marker(f.measure.state, f.as_of, f.value, f"baseline {f.id}")
                     for f in agreement_figures if f.measure.state]
    markers_model = [Marker("all agreements", f.as_of, f.value, f"baseline {f.id}")
                     for f in agreement_figures if not f.measure.state]
    return ChartData(by_model, by_state, markers_model, markers_state)


def accepted_participating(session: Session) -> list:
    snapshots = [s for s in ListRepository(session).snapshots("participating")
                 if s.status == "accepted" and s.as_of and s.metrics]
    return sorted(snapshots, key=lambda s: (s.as_of, s.id))


def state_rows(snapshots, changes: list[dict], figures: Sequence[BaselineFigure]) -> list[dict]:
    """Per state of the latest snapshot: counts, the change since the previous one, and the
    difference from the baseline figure for that state (measured minus baseline)."""
    if not snapshots:
        return []
    latest, previous = snapshots[-1], (snapshots[-2] if len(snapshots) > 1 else None)
    baseline = {f.measure.state: f for f in figures if f.measure and f.measure.metric == "agreements"
                and f.measure.state and not f.measure.model}
    in_latest = [c for c in changes if c["snapshot_id"] == latest.id]
    rows = []
    for code, count in sorted(latest.metrics["by_state"].items(), key=lambda item: (-item[1], item[0])):
        before = previous.metrics["by_state"].get(code, 0) if previous else None
        figure = baseline.get(code)
        kinds = [c["kind"] for c in in_latest if c["state"] == code]
        rows.append({
            "state": code, "agreements": count,
            **{m: latest.metrics["by_state_model"].get(code, {}).get(m, 0) for m in MODELS},
            "previous": before, "change": None if before is None else count - before,
            "added": kinds.count("agreement.added"), "removed": kinds.count("agreement.removed"),
            "changed": kinds.count("agreement.changed"),
            "baseline": figure.value if figure else None,
            "baseline_difference": count - figure.value if figure else None,
        })
    return rows


def _signed(value: int | None) -> str:
    return "" if value is None else f"{value:+d}"


def _state_table(rows: list[dict], latest, previous) -> str:
    head = ("state", "agreements", *MODELS, "previous snapshot", "change", "added", "removed", "fields changed",
            "baseline figure", "difference from baseline")
    body = "".join(
        f'<tr data-state="{e(r["state"])}"><td>{e(r["state"])}</td><td class="n agreements">{r["agreements"]}</td>'
        + "".join(f'<td class="n">{r[m]}</td>' for m in MODELS)
        + f'<td class="n">{e(r["previous"])}</td><td class="n change">{_signed(r["change"])}</td>'
        f'<td class="n">{r["added"]}</td><td class="n">{r["removed"]}</td><td class="n">{r["changed"]}</td>'
        f'<td class="n baseline">{e(r["baseline"])}</td>'
        f'<td class="n baseline-difference">{_signed(r["baseline_difference"])}</td></tr>'
        for r in rows
    )
    since = f" since {e(previous.file_name)} ({previous.as_of})" if previous else ""
    return (f'<table id="states"><caption>Agreements by state, {e(latest.file_name)} ({latest.as_of}); '
            f'change{since}</caption><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{body}</table>')


def _evidence_cell(row: dict) -> str:
    evidence = row["evidence"]
    parts = []
    if evidence.get("file"):
        parts.append(e(evidence["file"]) + (f", row {e(evidence['row'])}" if evidence.get("row") else ""))
    if evidence.get("previous_file"):
        parts.append("was " + e(evidence["previous_file"])
                     + (f", row {e(evidence['previous_row'])}" if evidence.get("previous_row") else ""))
    if evidence.get("moa_url"):
        parts.append(_link(evidence["moa_url"], "MOA document"))
    if evidence.get("url") and not evidence.get("file"):
        parts.append(_link(evidence["url"], "source"))
    return "<br>".join(parts)


def _changes_table(rows: list[dict]) -> str:
    head = ("id", "date", "kind", "state", "summary", "evidence", "review")
    body = "".join(
        f'<tr data-event="{r["id"]}"><td>{r["id"]}</td><td>{e(r["occurred_on"])}</td><td>{e(r["kind"])}</td>'
        f'<td>{e(r["state"])}</td><td>{e(r["summary"])}</td><td>{_evidence_cell(r)}</td>'
        f'<td>{e(r["review"]["status"]) if r["review"] else "not reviewed"}</td></tr>'
        for r in rows
    )
    return (f'<table id="changes"><caption>Recent changes ({len(rows)} newest)</caption>'
            f'<tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{body}</table>')


def _news_section(session: Session, limit: int) -> str:
    news = NewsRepository(session)
    articles = sorted(news.articles(), key=lambda a: (a.dated_on, a.id), reverse=True)[:limit]
    if not articles:
        return '<p id="news-empty" class="muted">No news collected yet.</p>'
    figures = news.figures([a.id for a in articles])
    items = []
    for article in articles:
        reported = "".join(
            f'<li class="figure">{e(f.raw)}: {f.value:g} {e(f.unit)} ({e(f.scope)})'
            + (f' <span class="muted">baseline {e(f.baseline_id)}</span>' if f.baseline_id else "") + "</li>"
            for f in figures.get(article.id, []))
        items.append(f'<li class="article" data-article="{article.id}">{e(article.dated_on)} '
                     f'{e(article.publisher or "")}: {_link(article.canonical_url or article.url, article.title)}'
                     f'{f"<ul>{reported}</ul>" if reported else ""}</li>')
    return f'<ul id="news">{"".join(items)}</ul>'


def build_pages(session: Session, figures: Sequence[BaselineFigure], *, recent: int = 100,
                news_limit: int = 30) -> dict[str, str]:
    """The report's pages by file name (one page today: index.html)."""
    snapshots = accepted_participating(session)
    changes = change_rows(session, None, None, (), None, None)
    charts = chart_data(snapshots, figures)
    list_changes = [c for c in changes if not c["kind"].startswith("news.")]
    newest = sorted(list_changes, key=lambda c: c["id"], reverse=True)[:recent]
    latest = snapshots[-1] if snapshots else None
    previous = snapshots[-2] if len(snapshots) > 1 else None
    states = ", ".join(baseline_states(figures))
    sections = [
        "<h1>287(g) agreements: participating list</h1>",
        f'<p class="muted">{len(snapshots)} accepted snapshots'
        + (f", latest {e(latest.file_name)} ({latest.as_of}): {latest.metrics['agreements']} agreements" if latest
           else "") + ". Figures from ICE's published lists; baseline figures from seeds/baseline.toml.</p>",
        "<h2>Agreements by support model</h2>",
        line_chart("chart-models", "Agreements by support model, per accepted participating snapshot",
                   charts.by_model, charts.markers_model),
        f"<h2>Agreements in the states the baseline names ({e(states)})</h2>",
        line_chart("chart-states", "Agreements per state, with the baseline figures as markers",
                   charts.by_state, charts.markers_state),
        "<h2>By state</h2>",
        _state_table(state_rows(snapshots, changes, figures), latest, previous) if latest else "<p>No data.</p>",
        "<h2>Recent changes</h2>", _changes_table(newest),
        "<h2>News and reported figures</h2>", _news_section(session, news_limit),
    ]
    page = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src 'self' data:\">"
            f"<title>tracker287g report</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")
    return {"index.html": page}


def write_report(session: Session, figures: Sequence[BaselineFigure], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in build_pages(session, figures).items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
