"""News commands: ``tracker287g news`` (and ``news crawl``) and ``tracker287g baseline propose``.

Registered on the groups of scheduler.cli when that module is imported.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from scheduler.cli import DATE, FORMATS_ALL, FORMATS_SIMPLE, App, baseline, main
from scheduler.output import print_table, render_csv, render_json, render_markdown

NEWS_SCHEMA = "tracker287g.news/1"
PROPOSALS_SCHEMA = "tracker287g.baseline-proposals/1"
ARTICLE_FIELDS = ("id", "dated_on", "published_at", "publisher", "title", "url", "canonical_url", "source", "via",
                  "relevance", "sightings", "agencies", "figures")


def _emit(app: App, text: str) -> None:
    app.console.file.write(text if text.endswith("\n") else text + "\n")


# -- news ---------------------------------------------------------------------------------------

@main.group(invoke_without_command=True)
@click.option("--since", type=DATE, help="Only articles dated on or after this day (publication, else first seen).")
@click.option("--format", "fmt", type=FORMATS_ALL, default="table", show_default=True)
@click.pass_context
def news(ctx: click.Context, since: dt.date | None, fmt: str) -> None:
    """Relevant news and releases about 287(g), each once, with the figures they report beside
    the baseline and the latest participating list.

    Without a subcommand, lists what has been collected (`news crawl` collects now).
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    with app.session() as session:
        items = news_rows(session, since)
    if fmt == "json":
        _emit(app, render_json(NEWS_SCHEMA, "articles", items, since=since))
        return
    flat = [{**item, "relevance": "; ".join(item["relevance"]),
             "sightings": "; ".join(f"{s['source']} ({s['match']})" for s in item["sightings"]),
             "agencies": "; ".join(f"{a['agency']} ({a['state']})" for a in item["agencies"]),
             "figures": "; ".join(_figure_label(f) for f in item["figures"])} for item in items]
    if fmt == "csv":
        _emit(app, render_csv(ARTICLE_FIELDS, flat))
    elif fmt == "markdown":
        _emit(app, render_markdown(("dated_on", "publisher", "title", "url", "figures"), flat))
    else:
        if not items:
            app.console.print("No news recorded yet: `tracker287g news crawl --contact you@example.org` collects "
                              "from the news sources in seeds/sources.toml.", highlight=False)
            return
        print_table(app.console, f"News ({len(items)})", ("id", "dated_on", "publisher", "title", "sightings",
                                                            "agencies"), flat)
        figure_rows = [{"article": item["id"], "figure": _figure_label(f), "as of": _as_of_text(f),
                        "baseline": _baseline_text(f), "list": _measured_text(f), "sentence": f["sentence"]}
                       for item in items for f in item["figures"]]
        if figure_rows:
            print_table(app.console, "Reported figures beside the baseline and the latest participating list",
                        ("article", "figure", "as of", "baseline", "list", "sentence"), figure_rows)


def news_rows(session: Session, since: dt.date | None) -> list[dict[str, Any]]:
    from pipeline.news import load_context
    from scheduler.seeds import load_baseline
    from storage.news import NewsRepository

    repo = NewsRepository(session)
    articles = repo.articles(since)
    ids = [a.id for a in articles]
    figures, sightings, agencies = repo.figures(ids), repo.sightings(ids), repo.agencies(ids)
    context = load_context(session, load_baseline())
    baseline = {b.id: b for b in context.baseline}
    rows = []
    for article in articles:
        rows.append({
            "id": article.id, "dated_on": article.dated_on, "published_at": article.published_at,
            "publisher": article.publisher, "title": article.title, "url": article.url,
            "canonical_url": article.canonical_url, "source": article.source, "via": article.via,
            "relevance": list(article.relevance or []),
            "sightings": [{"source": s.source, "url": s.url, "publisher": s.publisher, "title": s.title,
                           "match": s.match, "score": s.score, "seen_at": s.seen_at} for s in sightings[article.id]],
            "agencies": [{"state": a.state, "agency": a.agency, "ambiguous": a.ambiguous}
                         for a in agencies[article.id]],
            "figures": [_figure_row(f, baseline, context) for f in figures[article.id]],
        })
    return rows


def _figure_row(figure, baseline: dict, context) -> dict[str, Any]:
    from diff.baseline import Measure

    measure = Measure(**figure.measure) if figure.measure else None
    measured = measure.read(context.metrics) if measure is not None and context.metrics is not None else None
    matched = baseline.get(figure.baseline_id)
    value = int(figure.value) if float(figure.value).is_integer() else figure.value
    return {
        "value": value, "unit": figure.unit, "counts": figure.counts, "scope": figure.scope, "state": figure.state,
        "as_of_start": figure.as_of_start, "as_of_end": figure.as_of_end, "as_of_precision": figure.as_of_precision,
        "raw": figure.raw, "qualifier": figure.qualifier, "per": figure.per, "change": figure.change,
        "sentence": figure.sentence, "location": figure.location,
        "baseline_id": figure.baseline_id, "baseline_value": matched.value if matched else None,
        "baseline_as_of": matched.as_of if matched else None,
        "measure": measure.describe() if measure else None, "measured": measured,
        "snapshot_id": context.snapshot_id if measured is not None else None,
        "snapshot_as_of": context.snapshot_as_of if measured is not None else None,
    }


def _number(value) -> str:
    from diff.events import number_text

    return number_text(value)


def _figure_label(f: dict) -> str:
    value = _number(f["value"])
    text = {"USD": f"${value}", "percent": f"{value}%"}.get(f["unit"], f"{value} {f['unit']}")
    return f"{(f['qualifier'] + ' ') if f['qualifier'] else ''}{text} ({f['counts']}), {f['scope']}"


def _as_of_text(f: dict) -> str:
    if not f.get("as_of_end"):
        return ""
    if f["as_of_precision"] == "day":
        return str(f["as_of_end"])
    return f"{f['as_of_start']}/{f['as_of_end']}"


def _baseline_text(f: dict) -> str:
    if not f.get("baseline_id"):
        return ""
    return f"{_number(f['baseline_value'])} ({f['baseline_id']}, {f['baseline_as_of']})"


def _measured_text(f: dict) -> str:
    if f.get("measured") is None:
        return ""
    return f"{_number(f['measured'])} ({f['measure']}, {f['snapshot_as_of']})"


@news.command("crawl")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="A news source id from seeds/sources.toml (repeatable; default: every enabled news source).")
@click.option("--contact", envvar="TRACKER287G_CONTACT", default="", help="Contact (URL or e-mail) for the User-Agent.")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds before a crawl is abandoned.")
@click.pass_context
def news_crawl(ctx: click.Context, source_ids: tuple[str, ...], contact: str, timeout: float) -> None:
    """Collect from news sources now: feeds and listings, deduplicated, with their figures."""
    from crawler.sources import NEWS_KINDS, NewsSource
    from pipeline.news import crawl_news_source
    from scheduler.seeds import SEEDS_DIR, load_baseline

    app = ctx.find_object(App)
    if not contact.strip():
        raise click.UsageError("--contact (or TRACKER287G_CONTACT) is required: the User-Agent tells each site who "
                               "is fetching and how to reach them, e.g. --contact you@example.org")
    sources = [s for s in tomllib.loads((SEEDS_DIR / "sources.toml").read_text("utf-8")).get("sources", [])
               if s.get("kind") in NEWS_KINDS]
    if source_ids:
        unknown = sorted(set(source_ids) - {s["id"] for s in sources})
        if unknown:
            raise click.UsageError(f"unknown news source(s): {', '.join(unknown)} "
                                   f"(known: {', '.join(s['id'] for s in sources)})")
        sources = [s for s in sources if s["id"] in source_ids]
    else:
        sources = [s for s in sources if s.get("enabled", True)]
    failed = False
    for source in sources:
        report = crawl_news_source(app.engine(), NewsSource.from_mapping(source), contact=contact,
                                   baseline=load_baseline(), timeout=timeout)
        rows = [{"url": line.url, "outcome": line.outcome, "detail": line.detail} for line in report.lines]
        print_table(app.console, f"{source['id']} ({source['kind']}): {source['url']}", ("url", "outcome", "detail"),
                    rows)
        if report.crawl_error:
            app.console.print(f"crawl failed: {report.crawl_error}", highlight=False, markup=False)
        failed = failed or report.failed
    if failed:
        raise SystemExit(1)


# -- baseline propose ---------------------------------------------------------------------------

@baseline.command("propose")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@click.pass_context
def propose(ctx: click.Context, file: Path, fmt: str) -> None:
    """Propose baseline entries from a saved article (HTML or plain text), for a person to review.

    Each proposal gives value, unit, what it counts, scope, as-of date and where the sentence
    stands; nothing is written to seeds/.
    """
    from scheduler.seeds import load_baseline

    app = ctx.find_object(App)
    try:
        document = read_saved_article(file)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    proposals = propose_entries(document, load_baseline())
    if fmt == "json":
        _emit(app, render_json(PROPOSALS_SCHEMA, "proposals", proposals, file=str(file), title=document["title"],
                               published=document["published"], kind=document["kind"]))
        return
    rows = [{"#": n, "value": _number(p["value"]), "unit": p["unit"], "counts": p["counts"], "scope": p["scope"],
             "as of": _proposal_as_of(p), "where": p["location"]["text"], "in baseline": p["in_baseline"] or ""}
            for n, p in enumerate(proposals, start=1)]
    print_table(app.console, f"Proposed baseline entries from {file.name} ({len(rows)})",
                ("#", "value", "unit", "counts", "scope", "as of", "where", "in baseline"), rows)
    app.console.print("Review each figure against its sentence (--format json shows them) before adding it to "
                      "seeds/baseline.toml.", highlight=False)


def read_saved_article(path: Path, max_bytes: int = 20 * 1024 * 1024) -> dict[str, Any]:
    """Text, title and publication date of a saved article: HTML (by name or content) or plain text."""
    from crawler.news import parse_article

    data = path.read_bytes()
    if len(data) > max_bytes:
        raise ValueError(f"{path} is {len(data):,} bytes; the limit is {max_bytes:,}")
    head = data[:2048].lstrip().lower()
    if path.suffix.lower() in (".html", ".htm", ".xhtml") or head.startswith((b"<!doctype html", b"<html")):
        page = parse_article(data, url=path.resolve().as_uri(), max_bytes=max_bytes)
        return {"kind": "html", "text": page.text, "title": page.title,
                "published": page.published.date() if page.published else None}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return {"kind": "text", "text": text, "title": None, "published": None}


def propose_entries(document: dict[str, Any], baseline_figures) -> list[dict[str, Any]]:
    from diff.baseline import UNITS as BASELINE_UNITS
    from diff.figures import extract_figures, link_figure

    text = document["text"]
    proposals = []
    for figure in extract_figures(text, reference_date=document["published"]):
        link = link_figure(figure, baseline_figures)
        location = figure.location
        where = f"paragraph {location.paragraph}, sentence {location.sentence}"
        if document["kind"] == "text":
            where = f"line {text.count(chr(10), 0, location.start) + 1}, " + where
        if figure.as_of is not None:
            as_of: Any = (figure.as_of.start if figure.as_of.precision == "day"
                          else {"start": figure.as_of.start, "end": figure.as_of.end})
            precision = figure.as_of.precision
            note = f"from \"{figure.as_of.text}\"" + (" in the dated line that closes an embedded post"
                                                      if figure.as_of.basis == "dated line" else "")
        elif document["published"] is not None:
            as_of, precision, note = document["published"], "day", "not stated in the sentence: the publication date"
        else:
            as_of, precision, note = None, None, "not stated in the sentence, and the text has no publication date"
        proposals.append({
            "value": figure.value, "unit": figure.unit, "counts": figure.counts, "scope": figure.scope,
            "as_of": as_of, "as_of_precision": precision, "as_of_note": note,
            "raw": figure.raw, "qualifier": figure.qualifier, "per": figure.per, "change": figure.change,
            "sentence": figure.sentence,
            "location": {"paragraph": location.paragraph, "sentence": location.sentence, "start": location.start,
                         "end": location.end, "text": where},
            "unit_in_baseline_format": figure.unit in BASELINE_UNITS,
            "measure": link.measure.describe() if link.measure else None,
            "in_baseline": link.baseline_id if link.basis == "same value, unit and scope" else None,
        })
    return proposals


def _proposal_as_of(p: dict) -> str:
    if p["as_of"] is None:
        return "not stated"
    if isinstance(p["as_of"], dict):
        return f"{p['as_of']['start']}/{p['as_of']['end']}"
    return str(p["as_of"])
