"""The HTML report: a static page of charts and tables built from the database.

The page is a Jinja2 template (publish/templates/report.html) with autoescape on: everything
scraped (agency names, file names, news titles, URLs) is escaped, and links are made only of
http(s) addresses.  Nothing is loaded from elsewhere: the charts are inline SVG
(publish.charts), the style sheet is inline, and the Content-Security-Policy forbids the rest.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from diff.baseline import BaselineFigure
from diff.records import MODEL_NAMES
from publish.changes import ChangeRow, change_rows
from publish.charts import MOST_POINTS, Marker, last_of_each_day, line_chart
from publish.evidence import evidence_lines, safe_url
from publish.export import build_export, export_files, parquet_available, write_export
from publish.history import History
from publish.maps import legend, small_map, state_map, state_shapes, us_map
from publish.places import state_name
from publish.site import agency_href, agency_pages, dots_by_county, search_index, state_href, state_pages
from storage.agencies import AgencyRepository
from storage.lists import ListRepository
from storage.models import (
    AgreementVersion,
    ChangeEvent,
    NewsArticle,
    NewsArticleAgency,
    RegistryDecision,
    ReviewDecision,
    Snapshot,
)
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
    environment.filters["state_href"] = state_href
    environment.filters["agency_href"] = agency_href
    return environment


TEMPLATES = _environment()


SEARCH_SCRIPT = resources.files("publish").joinpath("templates", "search.js").read_text(encoding="utf-8")
# The Content-Security-Policy allows this one inline script by its hash, and nothing else.
SEARCH_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SEARCH_SCRIPT.encode("utf-8")).digest()).decode()


@dataclass(frozen=True)
class Download:
    title: str
    rows: int
    paths: tuple[str, ...]


@dataclass(frozen=True)
class ChartData:
    by_model: dict[str, list[tuple[dt.date, int]]]
    by_state: dict[str, list[tuple[dt.date, int]]]
    markers_model: list[Marker]
    markers_state: list[Marker]
    thinned: bool = False


def baseline_states(figures: Sequence[BaselineFigure]) -> list[str]:
    """The states the baseline gives agreement counts for, in the baseline's order."""
    return [f.measure.state for f in figures
            if f.measure and f.measure.metric == "agreements" and f.measure.state and not f.measure.model]


def chart_data(snapshots: Sequence[Snapshot], figures: Sequence[BaselineFigure]) -> ChartData:
    thinned = len(snapshots) > MOST_POINTS     # the charts draw the last snapshot of each day (charts.thin)
    if thinned:
        snapshots = last_of_each_day([s for s in snapshots if s.as_of], lambda s: s.as_of)

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
    return ChartData(by_model, by_state, markers_model, markers_state, thinned)


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


@dataclass(frozen=True)
class SmallMap:
    as_of: dt.date
    total: int
    svg: Markup


def _multiples(snapshots: Sequence[Snapshot], count: int = 4) -> list[SmallMap]:
    """Small maps of the lists at evenly spaced accepted snapshots, the first to the latest."""
    if len(snapshots) < 2:
        return []
    picks = sorted({round(i * (len(snapshots) - 1) / (count - 1)) for i in range(count)})
    chosen = [snapshots[i] for i in picks]
    return [SmallMap(s.as_of, s.agreements or 0,
                     Markup(small_map(f"map-{s.as_of.isoformat()}", f"Agreements by state, {s.as_of.isoformat()}",
                                      (s.metrics or {}).get("by_state", {}))))
            for s in chosen if s.as_of]


def _news_by_agency(news: NewsRepository) -> dict[tuple[str, str], list[NewsArticle]]:
    articles = {a.id: a for a in news.articles()}
    named: dict[tuple[str, str], list[NewsArticle]] = defaultdict(list)
    for article_id, agencies in news.agencies(articles).items():
        for agency in agencies:
            named[(agency.state, agency.agency_key)].append(articles[article_id])
    return {pair: sorted(found, key=lambda a: (a.dated_on, a.id), reverse=True) for pair, found in named.items()}


def build_pages(session: Session, figures: Sequence[BaselineFigure], *, recent: int = 100, news_limit: int = 30,
                state_recent: int = 150, agency_recent: int = 200, downloads: Sequence[Download] = (),
                export_as_of: dt.date | None = None, history: History | None = None,
                changes: Sequence[ChangeRow] | None = None) -> dict[str, str]:
    """The report's pages by path: index.html, states/<xx>.html, agencies/<id>.html and
    agencies/index.html (the list of every agency, for readers without the search script).
    A state page shows its ``state_recent`` newest changes, an agency page the ``agency_recent``
    latest of its timeline (the downloads hold them all), so no page grows with the log.
    ``history`` and ``changes`` (every change row) when the caller has read them already."""
    snapshots = accepted_participating(session)
    latest = snapshots[-1] if snapshots else None
    changes = change_rows(session) if changes is None else changes
    charts = chart_data(snapshots, figures)
    list_changes = [c for c in changes if not c["kind"].startswith("news.")]
    news = NewsRepository(session)
    history = History.load(session) if history is None else history
    agencies = agency_pages(history, list_changes, _news_by_agency(news), AgencyRepository(session).rejected())
    states = state_pages(latest, snapshots, agencies, list_changes, codes=sorted(state_shapes()))
    slug_of = {(p.record.state, p.record.agency_key): p.slug for p in agencies.values()}
    keys = {(v.list, v.key): (v.state, v.agency_key) for v in history.versions}
    agency_of = {c["id"]: slug_of[keys[(c["list"], c["subject_key"])]] for c in list_changes
                 if (c["list"], c["subject_key"]) in keys}
    counts = (latest.metrics or {}).get("by_state", {}) if latest else {}
    links = {code: state_href(code) for code in states}
    articles = sorted(news.articles(), key=lambda a: (a.dated_on, a.id), reverse=True)[:news_limit]
    common = dict(models=MODELS, change_headings=CHANGE_HEADINGS, agency_of=agency_of, latest=latest)
    pages = {"index.html": TEMPLATES.get_template("report.html").render(
        root="", script_hash=SEARCH_SCRIPT_HASH, search_script=Markup(SEARCH_SCRIPT),
        search_index=search_index(agencies, states),
        snapshots=snapshots, previous=snapshots[-2] if len(snapshots) > 1 else None,
        baseline_states=baseline_states(figures),
        map=Markup(us_map("map", "Agreements by state on the latest participating list, with dots by county", counts,
                          links=links, dots=dots_by_county(states))),
        legend_classes=legend(), multiples=_multiples(snapshots),
        unplaced=sum(len(p.unplaced) for p in states.values()),
        chart_models=Markup(line_chart("chart-models", "Agreements by support model, per accepted participating "
                                       "snapshot", charts.by_model, charts.markers_model,
                                       thinned=charts.thinned)),
        chart_states=Markup(line_chart("chart-states", "Agreements per state, with the baseline figures as markers",
                                       charts.by_state, charts.markers_state, thinned=charts.thinned)),
        state_headings=STATE_HEADINGS, states=state_rows(snapshots, changes, figures),
        changes=sorted(list_changes, key=lambda c: c["id"], reverse=True)[:recent],
        articles=articles, figures=news.figures([a.id for a in articles]),
        downloads=downloads, export_as_of=export_as_of, **common,
    )}
    state_template = TEMPLATES.get_template("state.html")
    for code, state in states.items():
        baseline = [f for f in figures if f.measure and f.measure.metric == "agreements" and f.measure.state == code
                    and not f.measure.model]
        pages[state_href(code)] = state_template.render(
            root="../", script_hash=None, state=state, baseline=baseline, model_names=MODEL_NAMES,
            map=Markup(state_map("state-map", f"{state.name}: participating agreements by county", code,
                                 dots_by_county({code: state}, href_prefix="../"), state.counts["agreements"])),
            state_changes=state.changes[:state_recent],
            chart=Markup(line_chart("chart-state", f"Agreements in {state.name} by support model", state.series,
                                    thinned=state.series_thinned)),
            **common)
    agency_template = TEMPLATES.get_template("agency.html")
    for agency in agencies.values():
        pages[agency_href(agency.slug)] = agency_template.render(
            root="../", script_hash=None, agency=agency, state_name=state_name(agency.state),
            timeline=agency.timeline[-agency_recent:], **common)
    by_state = sorted(states.values(), key=lambda s: s.name)
    pages["agencies/index.html"] = TEMPLATES.get_template("agencies.html").render(
        root="../", script_hash=None, states=by_state, total=len(agencies))
    return pages


def build_site(session: Session, figures: Sequence[BaselineFigure]) -> dict[str, bytes]:
    """Every file of the static site by path: the pages, and under data/ the export they link to."""
    # the history and the change log are read once, for the downloads and the pages alike
    history, changes = History.load(session), change_rows(session)
    export = build_export(session, history=history, changes=changes)
    data = export_files(export)
    downloads = [Download(t.title, len(t.rows), tuple(n for n in data if n.rsplit(".", 1)[0] == t.name))
                 for t in export.tables]
    pages = build_pages(session, figures, downloads=downloads, export_as_of=export.as_of, history=history,
                        changes=changes)
    return {**{name: page.encode("utf-8") for name, page in pages.items()},
            **{f"data/{name}": content for name, content in data.items()}}


DATA_KEY = ".build-key.json"      # in data/: what the downloads there were built from
# The code that shapes the downloads: a new version of it builds them again.
_CODE = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "diff")


def write_report(session: Session, figures: Sequence[BaselineFigure], out_dir: Path) -> list[Path]:
    """The files of ``build_site`` in ``out_dir``; returns their paths.  A file whose bytes are
    already there is not written again, and the downloads (data/) are not built again when
    ``data/.build-key.json`` says they were built from the same database state and code
    (``export_key``) and each is still there with its size: only the pages are built then."""
    data_dir = out_dir / "data"
    key = export_key(session)
    recorded = _recorded_downloads(data_dir, key)
    history = changes = None
    if recorded is None:
        history, changes = History.load(session), change_rows(session)
        export = build_export(session, history=history, changes=changes)
        (data_dir / DATA_KEY).unlink(missing_ok=True)      # until every download is in place
        names = [path.name for path in write_export(export, data_dir)]     # as export_files gives them
        downloads = [Download(t.title, len(t.rows), tuple(n for n in names if n.rsplit(".", 1)[0] == t.name))
                     for t in export.tables]
        as_of = export.as_of
        del export
        files = {name: (data_dir / name).stat().st_size for name in names}
        record = {"key": key, "as_of": as_of.isoformat() if as_of else None, "files": files,
                  "downloads": [[d.title, d.rows, list(d.paths)] for d in downloads]}
        _write_if_changed(data_dir / DATA_KEY, json.dumps(record, indent=1).encode("utf-8"))
    else:
        downloads, as_of, files = recorded
    pages = build_pages(session, figures, downloads=downloads, export_as_of=as_of, history=history, changes=changes)
    written = []
    for name, page in pages.items():
        written.append(_write_if_changed(out_dir / name, page.encode("utf-8")))
    return written + [data_dir / name for name in files]


def _write_if_changed(path: Path, content: bytes) -> Path:
    """Writes ``content`` to ``path`` unless the file holds those bytes already (its time then stays)."""
    try:
        if path.stat().st_size == len(content) and path.read_bytes() == content:
            return path
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _recorded_downloads(data_dir: Path, key: dict[str, Any]
                        ) -> tuple[list[Download], dt.date | None, dict[str, int]] | None:
    """The downloads ``data_dir`` holds, when its record says they were built with ``key`` and
    every file it names is there with its size; else None."""
    try:
        record = json.loads((data_dir / DATA_KEY).read_text(encoding="utf-8"))
        if record["key"] != key:
            return None
        files: dict[str, int] = record["files"]
        if any((data_dir / name).stat().st_size != size for name, size in files.items()):
            return None
        downloads = [Download(title, rows, tuple(paths)) for title, rows, paths in record["downloads"]]
        as_of = dt.date.fromisoformat(record["as_of"]) if record["as_of"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return downloads, as_of, files


def export_key(session: Session) -> dict[str, Any]:
    """What the downloads are built from, in a few aggregate queries: the newest row of each
    table they read, the change events by review status and their last status change, the
    snapshots by status, and a digest of the code that shapes them (publish/ and diff/)."""
    events = session.execute(select(ChangeEvent.status, func.count(), func.max(ChangeEvent.id),
                                    func.max(ChangeEvent.status_changed_at)).group_by(ChangeEvent.status)).all()
    snapshots = session.execute(select(Snapshot.status, func.count(), func.max(Snapshot.id))
                                .group_by(Snapshot.status)).all()
    versions = session.execute(select(func.count(), func.max(AgreementVersion.id))).one()
    reviews = session.execute(select(func.count(), func.max(ReviewDecision.id))).one()
    registry = session.execute(select(func.count(), func.max(RegistryDecision.id))).one()
    return {"events": [[s, n, i, str(t) if t else None] for s, n, i, t in sorted(events)],
            "snapshots": [list(row) for row in sorted(snapshots)], "versions": list(versions),
            "reviews": list(reviews), "registry": list(registry), "parquet": parquet_available(),
            "code": _code_digest()}


@lru_cache(maxsize=1)
def _code_digest() -> str:
    digest = hashlib.sha256()
    for folder in _CODE:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def history_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever anything the site shows may have changed (for ``SiteCache``)."""
    return tuple(session.execute(select(
        select(func.max(Snapshot.id)).scalar_subquery(), select(func.max(ChangeEvent.id)).scalar_subquery(),
        select(func.max(ReviewDecision.id)).scalar_subquery(), select(func.max(NewsArticle.id)).scalar_subquery(),
        select(func.count(NewsArticleAgency.id)).scalar_subquery(),
        select(func.max(RegistryDecision.id)).scalar_subquery())).one())


class SiteCache:
    """``build_site``, built again only when the history has changed: what ``serve`` serves,
    which is always what ``report`` would write at that moment."""

    def __init__(self, sessions: Callable[[], Session], figures: Sequence[BaselineFigure]) -> None:
        self.sessions = sessions
        self.figures = figures
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._files: dict[str, bytes] = {}

    def __call__(self) -> dict[str, bytes]:
        with self._lock, self.sessions() as session:
            key = history_fingerprint(session)
            if key != self._key:
                self._files = build_site(session, self.figures)
                self._key = key
            return self._files
