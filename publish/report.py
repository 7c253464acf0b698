"""The HTML report: a static page of charts and tables built from the database.

The page is a Jinja2 template (publish/templates/report.html) with autoescape on: everything
scraped (agency names, file names, news titles, URLs) is escaped, and links are made only of
http(s) addresses.  Nothing is loaded from elsewhere: the charts are inline SVG
(publish.charts), the style sheet is inline, and the Content-Security-Policy forbids the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.orm import Session

from diff.baseline import BaselineFigure
from publish.changes import ChangeRow, change_rows
from publish.charts import Marker, line_chart
from publish.evidence import evidence_lines, safe_url
from storage.lists import ListRepository
from storage.models import Snapshot
from storage.news import NewsRepository

MODELS = ("JEM", "TFM", "WSO")
STATE_HEADINGS = ("state", "agreements", *MODELS, "previous snapshot", "change", "added", "removed", "fields changed",
                  "baseline figure", "difference from baseline")
CHANGE_HEADINGS = ("id", "date", "kind", "status", "state", "summary", "evidence", "review")


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("publish", "templates"), autoescape=True,
                              undefined=StrictUndefined, finalize=lambda value: "" if value is None else value)
    environment.filters["safe_url"] = safe_url
    environment.filters["evidence_lines"] = evidence_lines
    return environment


TEMPLATES = _environment()


@dataclass(frozen=True)
class ChartData:
    by_model: dict[str, list[tuple[dt.date, int]]]
    by_state: dict[str, list[tuple[dt.date, int]]]
    markers_model: list[Marker]
    markers_state: list[Marker]


def baseline_states(figures: Sequence[BaselineFigure]) -> list[str]:
    """The states the baseline gives agreement counts for, in the baseline's order."""
    return [f.measure.state for f in figures
            if f.measure and f.measure.metric == "agreements" and f.measure.state and not f.measure.model]


def chart_data(snapshots: Sequence[Snapshot], figures: Sequence[BaselineFigure]) -> ChartData:
    def points(read: Any) -> list[tuple[dt.date, int]]:
        return [(s.as_of, read(s.metrics)) for s in snapshots if s.as_of and s.metrics]

    by_model = {"all agreements": points(lambda m: m["agreements"])}
    for model in MODELS:
        by_model[model] = points(lambda m, model=model: m["by_model"].get(model, 0))
    by_state = {code: points(lambda m, code=code: m["by_state"].get(code, 0)) for code in baseline_states(figures)}
    agreement_figures = [f for f in figures if f.measure and f.measure.list == "participating"
                         and f.measure.metric == "agreements" and not f.measure.model]
    markers_state = [Marker(f.measure.state, f.as_of, f.value, f"baseline {f.id}")
                     for f in agreement_figures if f.measure and f.measure.state]
    markers_model = [Marker("all agreements", f.as_of, f.value, f"baseline {f.id}")
                     for f in agreement_figures if f.measure and not f.measure.state]
    return ChartData(by_model, by_state, markers_model, markers_state)


def accepted_participating(session: Session) -> list[Snapshot]:
    snapshots = [s for s in ListRepository(session).snapshots("participating")
                 if s.status == "accepted" and s.as_of and s.metrics]
    return sorted(snapshots, key=lambda s: (s.as_of, s.id))


def state_rows(snapshots: Sequence[Snapshot], changes: Sequence[ChangeRow],
               figures: Sequence[BaselineFigure]) -> list[dict[str, Any]]:
    """Per state of the latest snapshot: counts, the change since the previous one, and the
    difference from the baseline figure for that state (measured minus baseline)."""
    if not snapshots:
        return []
    latest, previous = snapshots[-1], (snapshots[-2] if len(snapshots) > 1 else None)
    latest_metrics, previous_metrics = latest.metrics or {}, (previous.metrics or {}) if previous else None
    baseline = {f.measure.state: f for f in figures if f.measure and f.measure.metric == "agreements"
                and f.measure.state and not f.measure.model}
    in_latest = [c for c in changes if c["snapshot_id"] == latest.id]
    rows = []
    for code, count in sorted(latest_metrics["by_state"].items(), key=lambda item: (-item[1], item[0])):
        before = previous_metrics["by_state"].get(code, 0) if previous_metrics is not None else None
        figure = baseline.get(code)
        kinds = [c["kind"] for c in in_latest if c["state"] == code]
        rows.append({
            "state": code, "agreements": count,
            **{m: latest_metrics["by_state_model"].get(code, {}).get(m, 0) for m in MODELS},
            "previous": before, "change": None if before is None else count - before,
            "added": kinds.count("agreement.added"), "removed": kinds.count("agreement.removed"),
            "changed": kinds.count("agreement.changed"),
            "baseline": figure.value if figure else None,
            "baseline_difference": count - figure.value if figure else None,
        })
    return rows


def build_pages(session: Session, figures: Sequence[BaselineFigure], *, recent: int = 100,
                news_limit: int = 30) -> dict[str, str]:
    """The report's pages by file name (one page today: index.html)."""
    snapshots = accepted_participating(session)
    changes = change_rows(session)
    charts = chart_data(snapshots, figures)
    list_changes = [c for c in changes if not c["kind"].startswith("news.")]
    news = NewsRepository(session)
    articles = sorted(news.articles(), key=lambda a: (a.dated_on, a.id), reverse=True)[:news_limit]
    page = TEMPLATES.get_template("report.html").render(
        snapshots=snapshots,
        latest=snapshots[-1] if snapshots else None,
        previous=snapshots[-2] if len(snapshots) > 1 else None,
        baseline_states=baseline_states(figures),
        chart_models=Markup(line_chart("chart-models", "Agreements by support model, per accepted participating "
                                       "snapshot", charts.by_model, charts.markers_model)),
        chart_states=Markup(line_chart("chart-states", "Agreements per state, with the baseline figures as markers",
                                       charts.by_state, charts.markers_state)),
        models=MODELS, state_headings=STATE_HEADINGS, change_headings=CHANGE_HEADINGS,
        states=state_rows(snapshots, changes, figures),
        changes=sorted(list_changes, key=lambda c: c["id"], reverse=True)[:recent],
        articles=articles,
        figures=news.figures([a.id for a in articles]),
    )
    return {"index.html": page}


def write_report(session: Session, figures: Sequence[BaselineFigure], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in build_pages(session, figures).items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
