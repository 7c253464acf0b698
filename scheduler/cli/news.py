"""`tracker287g news` (what has been collected) and `news crawl` (collect now)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from diff.events import figure_text, number_text
from publish.news import ARTICLE_FIELDS, NEWS_SCHEMA, news_rows
from publish.render import print_table, render_csv, render_json, render_markdown
from scheduler.cli.app import App
from scheduler.cli.options import DATE, FORMATS_ALL, contact_option, format_option, require_contact
from scheduler.seeds import load_baseline


@click.group(invoke_without_command=True)
@click.option("--since", type=DATE, help="Only articles dated on or after this day (publication, else first seen).")
@format_option(FORMATS_ALL)
@click.pass_context
def news(ctx: click.Context, since: dt.date | None, fmt: str) -> None:
    """Relevant news and releases about 287(g), each once, with the figures they report beside
    the baseline and the latest participating list.

    Without a subcommand, lists what has been collected (`news crawl` collects now).
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    with app.reading() as session:
        items = news_rows(session, load_baseline(), since)
    if fmt == "json":
        app.emit(render_json(NEWS_SCHEMA, "articles", items, since=since))
        return
    flat = [{**item, "relevance": "; ".join(item["relevance"]),
             "sightings": "; ".join(f"{s['source']} ({s['match']})" for s in item["sightings"]),
             "agencies": "; ".join(f"{a['agency']} ({a['state']})" for a in item["agencies"]),
             "figures": "; ".join(_figure_label(f) for f in item["figures"])} for item in items]
    if fmt == "csv":
        app.emit(render_csv(ARTICLE_FIELDS, flat))
    elif fmt == "markdown":
        app.emit(render_markdown(("dated_on", "publisher", "title", "url", "figures"), flat))
    elif not items:
        app.console.print("No news recorded yet: `tracker287g news crawl --contact you@example.org` collects "
                          "from the news sources in seeds/sources.toml.", highlight=False)
    else:
        print_table(app.console, f"News ({len(items)})", ("id", "dated_on", "publisher", "title", "sightings",
                                                            "agencies"), flat)
        figure_rows = [{"article": item["id"], "figure": _figure_label(f), "as of": _as_of_text(f),
                        "baseline": _baseline_text(f), "list": _measured_text(f), "sentence": f["sentence"]}
                       for item in items for f in item["figures"]]
        if figure_rows:
            print_table(app.console, "Reported figures beside the baseline and the latest participating list",
                        ("article", "figure", "as of", "baseline", "list", "sentence"), figure_rows)


def _figure_label(f: dict[str, Any]) -> str:
    qualifier = f["qualifier"] + " " if f["qualifier"] else ""
    return f"{qualifier}{figure_text(f['unit'], f['value'])} ({f['counts']}), {f['scope']}"


def _as_of_text(f: dict[str, Any]) -> str:
    if not f.get("as_of_end"):
        return ""
    if f["as_of_precision"] == "day":
        return str(f["as_of_end"])
    return f"{f['as_of_start']}/{f['as_of_end']}"


def _baseline_text(f: dict[str, Any]) -> str:
    if not f.get("baseline_id"):
        return ""
    return f"{number_text(f['baseline_value'])} ({f['baseline_id']}, {f['baseline_as_of']})"


def _measured_text(f: dict[str, Any]) -> str:
    if f.get("measured") is None:
        return ""
    return f"{number_text(f['measured'])} ({f['measure']}, {f['snapshot_as_of']})"


@news.command("crawl")
@click.option("--source", "source_ids", multiple=True, metavar="ID",
              help="A news source id of the configuration (repeatable; default: every enabled news source).")
@contact_option
@click.option("--timeout", type=float, default=None,
              help="Seconds before a crawl is abandoned (default: [crawler] run_timeout_seconds, 600).")
@click.pass_context
def news_crawl(ctx: click.Context, source_ids: tuple[str, ...], contact: str | None, timeout: float | None) -> None:
    """Collect from news sources now: feeds and listings, deduplicated, with their figures."""
    from pipeline.news import crawl_news_source

    app = ctx.find_object(App)
    assert app is not None
    config = app.config()
    contact = require_contact(contact or config.contact)
    sources = config.news_sources()
    if source_ids:
        unknown = sorted(set(source_ids) - {s.id for s in sources})
        if unknown:
            raise click.UsageError(f"unknown news source(s): {', '.join(unknown)} "
                                   f"(known: {', '.join(s.id for s in sources)})")
        sources = tuple(s for s in sources if s.id in source_ids)
    else:
        sources = tuple(s for s in sources if s.enabled)
    failed = False
    baseline = load_baseline()
    for source in sources:
        assert source.news is not None
        report = crawl_news_source(app.engine(), source.news, contact=contact, baseline=baseline,
                                   settings=config.crawler.scrapy_settings(),
                                   timeout=timeout or config.crawler.run_timeout_seconds)
        rows = [{"url": line.url, "outcome": line.outcome, "detail": line.detail} for line in report.lines]
        print_table(app.console, f"{source.id} ({source.kind}): {source.url}", ("url", "outcome", "detail"), rows)
        if report.crawl_error:
            app.console.print(f"crawl failed: {report.crawl_error}", highlight=False, markup=False)
        failed = failed or report.failed
    if failed:
        raise SystemExit(1)
